import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end: `berth up` without -d, attached to the containers' output (root tier).
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct ForegroundUpTests {
    /// The lines of `text` that `container`'s prefix starts, and its exit line, in order.
    static func lines(of container: String, in text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            .filter { $0.hasPrefix(container + " ") }
    }

    @Test func streamsPrefixedLinesAndEndsWithTheContainers() throws {
        let stack = try StackFixture("""
            services:
              first:
                image: busybox
                command: [sh, -c, "echo one; echo to stderr >&2; echo two"]
              second:
                image: busybox
                command: [sh, -c, "echo three; exit 3"]
                depends_on:
                  first: {condition: service_completed_successfully}

            """)
        let p = stack.project
        let up = try stack.run(["up"])
        // Compose exits 0 without an abort flag, whatever the containers' codes.
        #expect(up.code == 0, "\(up.stderr)")
        #expect(up.stdout.hasPrefix("Attaching to first-1, second-1\n"), "\(up.stdout)")
        #expect(Self.lines(of: "first-1", in: up.stdout) == ["first-1   | one", "first-1   | two", "first-1 exited with code 0"], "\(up.stdout)")
        #expect(Self.lines(of: "second-1", in: up.stdout) == ["second-1  | three", "second-1 exited with code 3"], "\(up.stdout)")
        #expect(up.stdout.split(separator: "\n").count == 6, "\(up.stdout)")
        // Created first (progress), then started while attached; container stderr on stderr.
        #expect(up.stderr == """
             Network \(p)_default  Creating
             Network \(p)_default  Created
             Container \(p)-first-1  Creating
             Container \(p)-first-1  Created
             Container \(p)-second-1  Creating
             Container \(p)-second-1  Created
            first-1   | to stderr

            """)
        #expect(try stack.container("first").state.exitCode == 0)
        #expect(try stack.container("second").state.exitCode == 3)

        // --no-log-prefix, --attach: only first's lines, bare; up returns when first exits.
        let bare = try stack.run(["up", "--no-log-prefix", "--attach", "first"])
        #expect(bare.code == 0, "\(bare.stderr)")
        #expect(bare.stdout == "Attaching to first-1\none\ntwo\nfirst-1 exited with code 0\n")
        #expect(bare.stderr == " Container \(p)-first-1  Created\n Container \(p)-second-1  Created\nto stderr\n")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// A restart policy's runs are followed, each with its exit line, until the container
    /// stays down (Compose's monitor keeps a restarting container watched).
    @Test func followsTheRestartsOfARestartPolicy() throws {
        let stack = try StackFixture("""
            services:
              flaky:
                image: busybox
                command: [sh, -c, "echo run; exit 1"]
                restart: on-failure:2

            """)
        let up = try stack.run(["up"])
        #expect(up.code == 0, "\(up.stderr)")
        #expect(up.stdout == "Attaching to flaky-1\n" + String(repeating: "flaky-1  | run\nflaky-1 exited with code 1\n", count: 3))
        #expect(try stack.container("flaky").state.exitCode == 1)
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func abortOnExitAndExitCodeFrom() throws {
        // The sleeper ignores SIGTERM as PID 1: stop_signal SIGKILL ends it at once (137).
        let stack = try StackFixture("""
            services:
              fail:
                image: busybox
                command: [sh, -c, "echo failing; exit 3"]
              sleeper:
                image: busybox
                command: [sleep, "1000"]
                stop_signal: SIGKILL

            """)
        let p = stack.project
        // The first exit stops the stack and gives up its code.
        let exit = try stack.run(["up", "--abort-on-container-exit"])
        #expect(exit.code == 3, "\(exit.stderr)")
        #expect(exit.stdout == "Attaching to fail-1, sleeper-1\nfail-1     | failing\nfail-1 exited with code 3\n")
        // fail-1 may still count as running when the stop lists the containers (its exit is
        // being reported): then it gets its own Stopping/Stopped pair, as in Compose.
        let afterAbort = exit.stderr.components(separatedBy: "Aborting on container exit...\n").last ?? ""
        #expect(afterAbort.split(separator: "\n").filter { !$0.contains("\(p)-fail-1 ") }
            == [" Container \(p)-sleeper-1  Stopping", " Container \(p)-sleeper-1  Stopped"], "\(exit.stderr)")
        #expect(try stack.container("sleeper").state.status == .exited)
        #expect(try stack.container("sleeper").state.exitCode == 137)

        // --exit-code-from: the code of the sleeper, which the abort stopped.
        let from = try stack.run(["up", "--exit-code-from", "sleeper"])
        #expect(from.code == 137, "\(from.stderr)")
        #expect(from.stdout == "Attaching to fail-1, sleeper-1\nfail-1     | failing\nfail-1 exited with code 3\n")
        #expect(from.stderr.contains("Aborting on container exit...\n"))

        // --abort-on-container-failure: the failing container's code.
        let failure = try stack.run(["up", "--abort-on-container-failure", "--no-color"])
        #expect(failure.code == 3, "\(failure.stderr)")

        // Flag errors, as Compose words them.
        let unknown = try stack.run(["up", "--exit-code-from", "nosuch"])
        #expect(unknown.code == 1 && unknown.stderr == "Error: no such service: nosuch\n")
        let detached = try stack.run(["up", "-d", "--abort-on-container-exit"])
        #expect(detached.code == 64)
        #expect(detached.stderr.hasPrefix("Error: --detach cannot be combined with --abort-on-container-exit"))

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// Ctrl-C: the first stops the stack (containers kept, Exited), the second kills what is
    /// still stopping; up exits 130 after "canceled".
    @Test func interruptStopsThenKills() throws {
        let stack = try StackFixture("""
            services:
              web:
                image: busybox
                command: [sh, -c, "trap 'echo caught TERM; exit 4' TERM; echo web ready; sleep 1000 & wait"]
              worker:
                image: busybox
                command: [sh, -c, "echo worker ready; exec sleep 1000"]
                stop_grace_period: 10m

            """)
        let p = stack.project
        let up = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up"], environment: stack.environment)
        try up.waitForStdout(containing: "web-1     | web ready\n")
        try up.waitForStdout(containing: "worker-1  | worker ready\n")
        up.kill(SIGINT)
        // web stops on SIGTERM; worker (PID 1 sleep) ignores it and would wait 10 minutes.
        try up.waitForStderr(containing: " Container \(p)-web-1  Stopped\n")
        try up.waitForStderr(containing: " Container \(p)-worker-1  Stopping\n")
        #expect(up.stderr.contains("Gracefully stopping... (press Ctrl+C again to force)\n Container"), "\(up.stderr)")
        up.kill(SIGINT)
        #expect(up.wait() == 130)
        #expect(up.stderr.hasSuffix(" Container \(p)-worker-1  Stopped\ncanceled\n"), "\(up.stderr)")
        // Nothing printed after the interrupt: not web's trap, not the exit lines.
        // (web and worker run side by side: their lines come in either order.)
        #expect(up.stdout.hasPrefix("Attaching to web-1, worker-1\n"))
        #expect(up.stdout.split(separator: "\n").dropFirst().sorted() == ["web-1     | web ready", "worker-1  | worker ready"], "\(up.stdout)")
        #expect(try stack.container("web").state.status == .exited)
        #expect(try stack.container("web").state.exitCode == 4)
        #expect(try stack.container("worker").state.exitCode == 137)
        let ps = try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}}"])
        #expect(ps.stdout == "\(p)-web-1 exited\n\(p)-worker-1 exited\n")
        let logs = try stack.run(["logs", "--no-log-prefix", "web"])
        #expect(logs.stdout == "web ready\ncaught TERM\n")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// SIGTERM acts as Ctrl-C, also while up waits on a depends_on condition: the dependent
    /// is never started, and up does not wait for it.
    @Test func terminateWhileWaitingForADependency() throws {
        let stack = try StackFixture("""
            services:
              setup:
                image: busybox
                command: [sh, -c, "echo setup waiting; mkfifo /tmp/f; read line < /tmp/f"]
                stop_grace_period: 0s
              app:
                image: busybox
                command: [sh, -c, "echo app up"]
                depends_on:
                  setup: {condition: service_completed_successfully}

            """)
        let p = stack.project
        let up = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up"], environment: stack.environment)
        try up.waitForStdout(containing: "setup-1  | setup waiting\n")
        up.kill(SIGTERM)
        #expect(up.wait() == 130, "\(up.stderr)")
        // setup is stopped (killed at once: no grace period), app never started.
        #expect(up.stderr.hasSuffix("canceled\n"), "\(up.stderr)")
        #expect(try stack.container("setup").state.status == .exited)
        #expect(try stack.container("app").state.status == .created)
        #expect(up.stdout == "Attaching to app-1, setup-1\nsetup-1  | setup waiting\n")
        #expect(up.stderr.contains(" Container \(p)-setup-1  Stopping\n"))

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }
}
