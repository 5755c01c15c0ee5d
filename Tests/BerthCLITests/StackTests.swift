import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end: the built binary brings busybox stacks up and down (root tier).
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct StackTests {
    static func webAndWorker(port: UInt16) -> String {
        """
        services:
          web:
            image: busybox
            command: [httpd, -f, -p, "80", -h, /www]
            ports: ["\(port):80"]
          worker:
            image: busybox
            command: [sh, -c, "echo worker up; mkfifo /tmp/f; read line < /tmp/f; echo bye; exit 3"]
            depends_on: [web]

        """
    }

    @Test func upExecStopStartRestartDown() throws {
        let port = StackFixture.freePort()
        let stack = try StackFixture(Self.webAndWorker(port: port))
        let p = stack.project

        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        #expect(up.stderr == """
             Network \(p)_default  Creating
             Network \(p)_default  Created
             Container \(p)-web-1  Creating
             Container \(p)-web-1  Created
             Container \(p)-web-1  Starting
             Container \(p)-web-1  Started
             Container \(p)-worker-1  Creating
             Container \(p)-worker-1  Created
             Container \(p)-worker-1  Starting
             Container \(p)-worker-1  Started

            """)
        #expect(StackFixture.httpGet(port: port, path: "/index.html") == "hello from berth\n")

        // Service DNS from one container to the other, and exit codes through exec.
        let lookup = try stack.run(["exec", "-T", "worker", "wget", "-q", "-O-", "http://web/index.html"])
        #expect(lookup.code == 0 && lookup.stdout == "hello from berth\n", "\(lookup.stderr)")
        #expect(try stack.run(["exec", "-T", "worker", "sh", "-c", "exit 7"]).code == 7)
        #expect(try stack.run(["exec", "-T", "worker", "nosuchcommand"]).code == 127)
        let notRunning = try stack.run(["exec", "-T", "nosuch", "true"])
        #expect(notRunning.code == 1 && notRunning.stderr == "Error: no such service: nosuch\n")

        // up again: nothing changes.
        let webPid = try stack.container("web").state.pid
        let again = try stack.run(["up", "-d"])
        #expect(again.code == 0)
        #expect(again.stderr == " Container \(p)-web-1  Running\n Container \(p)-worker-1  Running\n")
        #expect(try stack.container("web").state.pid == webPid)

        let stop = try stack.run(["stop", "-t", "0"])
        #expect(stop.code == 0)
        #expect(stop.stderr == " Container \(p)-worker-1  Stopping\n Container \(p)-worker-1  Stopped\n Container \(p)-web-1  Stopping\n Container \(p)-web-1  Stopped\n")
        #expect(try stack.container("web").state.status == .exited)
        #expect(StackFixture.httpGet(port: port, path: "/index.html") == nil)
        stack.waitForSupervisorExit()
        #expect(stack.supervisorPid == nil)

        let start = try stack.run(["start"])
        #expect(start.code == 0)
        #expect(start.stderr == " Container \(p)-web-1  Starting\n Container \(p)-web-1  Started\n Container \(p)-worker-1  Starting\n Container \(p)-worker-1  Started\n")
        #expect(StackFixture.httpGet(port: port, path: "/index.html") == "hello from berth\n")

        let before = try stack.container("web").state.pid
        let restart = try stack.run(["restart", "-t", "0", "web"])
        #expect(restart.code == 0, "\(restart.stderr)")
        #expect(try stack.container("web").state.pid != before)
        #expect(StackFixture.httpGet(port: port, path: "/index.html") == "hello from berth\n")

        let (down, left) = try stack.close()
        #expect(down.code == 0)
        #expect(down.stderr.hasSuffix(" Container \(p)-web-1  Removed\n Network \(p)_default  Removing\n Network \(p)_default  Removed\n"))
        #expect(left == [])
    }

    /// The supervisor is SIGKILLed while `up` waits on it, and again while the stack runs: the
    /// containers keep running with the same pids, a container that exits meanwhile gets its
    /// real exit code, logs keep every line; and a CLI killed mid-`up` is converged by the next.
    @Test func supervisorAndCLIKilled() throws {
        let stack = try StackFixture("""
            services:
              setup:
                image: busybox
                command: [sh, -c, "echo setup waiting; mkfifo /tmp/f; read line < /tmp/f; echo setup done"]
              app:
                image: busybox
                command: [sh, -c, "echo app up; mkfifo /tmp/f; read line < /tmp/f; echo app bye; exit 3"]
                depends_on:
                  setup: {condition: service_completed_successfully}

            """)
        let p = stack.project
        // `up` blocks on setup; kill -9 the CLI once it waits.
        let first = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up", "-d"],
                                    environment: stack.environment)
        try first.waitForStderr(containing: " Container \(p)-setup-1  Waiting\n")
        first.kill(SIGKILL)
        #expect(first.wait() == 128 + SIGKILL)

        // A second `up` converges: setup is running (not started twice), app gets created.
        let setupPid = try stack.container("setup").state.pid
        let second = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up", "-d"],
                                     environment: stack.environment)
        try second.waitForStderr(containing: " Container \(p)-setup-1  Waiting\n")
        // Kill the supervisor while it serves the wait: the CLI asks a new one.
        let supervisor = try #require(stack.supervisorPid)
        #expect(Glibc.kill(supervisor, SIGKILL) == 0)
        try stack.run(["exec", "-T", "setup", "sh", "-c", "echo go > /tmp/f"])
        #expect(second.wait() == 0, "\(second.stderr)")
        #expect(second.stderr.hasSuffix(" Container \(p)-setup-1  Exited\n Container \(p)-app-1  Creating\n Container \(p)-app-1  Created\n Container \(p)-app-1  Starting\n Container \(p)-app-1  Started\n"))
        #expect(try stack.container("setup").state.pid == setupPid)
        #expect(try stack.container("setup").state.exitCode == 0)

        // SIGKILL the supervisor while the stack runs; app exits meanwhile with code 3.
        let appPid = try stack.container("app").state.pid
        let second_supervisor = try #require(stack.supervisorPid)
        #expect(Glibc.kill(second_supervisor, SIGKILL) == 0)
        try stack.run(["exec", "-T", "app", "sh", "-c", "echo go > /tmp/f"])
        try stack.waitForExit("app")
        let app = try stack.container("app")
        #expect(app.state.pid == appPid)
        #expect(app.state.status == .exited && app.state.exitCode == 3)
        let log = try FS.readString(stack.engine.store.path(app.record.id) + "/\(app.record.id)-json.log")
        #expect(log.components(separatedBy: "\n").compactMap { line in
            line.range(of: "\"log\":\"").map { String(line[$0.upperBound...].prefix { $0 != "\\" }) }
        } == ["app up", "app bye"])

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// samples/web-worker, as `make demo` runs it (on a free port): the worker's page, written
    /// into the shared volume, is served by web on the published port; logs and ps show it.
    @Test func webWorkerSample() throws {
        let sample = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("samples/web-worker/compose.yaml").path
        let port = StackFixture.freePort()
        let text = try String(contentsOfFile: sample, encoding: .utf8)
            .replacingOccurrences(of: "name: berth-demo\n", with: "")
            .replacingOccurrences(of: "127.0.0.1:8080:8080", with: "127.0.0.1:\(port):8080")
        let stack = try StackFixture(text)
        let p = stack.project
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        // The worker's first round: page written, fetched back from web by name.
        let logs = try LiveProcess(
            ["/usr/bin/env", "-C", stack.directory, berthBinary, "logs", "-f", "--no-log-prefix", "worker"], environment: stack.environment)
        try logs.waitForStdout(containing: "web answered\n")
        let page = try #require(StackFixture.httpGet(port: port, path: "/index.html"))
        #expect(page.hasPrefix("<p>written at ") && page.hasSuffix(", served by web</p>\n"), "\(page)")
        let ps = try stack.run(["ps", "--format", "{{.Name}} {{.State}} {{.Health}} {{.Ports}}"])
        #expect(ps.stdout == "\(p)-web-1 running healthy 127.0.0.1:\(port)->8080/tcp\n\(p)-worker-1 running  \n")
        #expect(up.stderr.contains(" Container \(p)-web-1  Healthy\n"), "\(up.stderr)")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
        #expect(logs.wait() == 0, "logs -f ends with the stack")
    }

    /// A named volume keeps its data across a supervisor SIGKILL and `down` + `up`; `down -v`
    /// removes it.
    @Test func volumeDataSurvivesUntilDownV() throws {
        let stack = try StackFixture("""
            services:
              app:
                image: busybox
                command: [sleep, "1000"]
                volumes: [data:/data]
            volumes:
              data: {}

            """)
        let p = stack.project
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        #expect(up.stderr.hasPrefix(" Network \(p)_default  Creating\n Network \(p)_default  Created\n Volume \"\(p)_data\"  Created\n"), "\(up.stderr)")
        #expect(try stack.run(["exec", "-T", "app", "sh", "-c", "echo kept > /data/file"]).code == 0)
        let supervisor = try #require(stack.supervisorPid)
        #expect(Glibc.kill(supervisor, SIGKILL) == 0)
        #expect(try stack.run(["exec", "-T", "app", "cat", "/data/file"]).stdout == "kept\n")

        let down = try stack.run(["down", "-t", "0"])
        #expect(down.code == 0, "\(down.stderr)")
        #expect(FS.exists(stack.root + "/volumes/\(p)_data/_data/file"))
        #expect(try stack.run(["up", "-d"]).code == 0)
        #expect(try stack.run(["exec", "-T", "app", "cat", "/data/file"]).stdout == "kept\n")

        let downV = try stack.run(["down", "-v", "-t", "0"])
        #expect(downV.code == 0, "\(downV.stderr)")
        #expect(downV.stderr.hasSuffix(" Volume \"\(p)_data\"  Removed\n Network \(p)_default  Removing\n Network \(p)_default  Removed\n"), "\(downV.stderr)")
        #expect(!FS.exists(stack.root + "/volumes/\(p)_data"))
        let (_, left) = try stack.close()
        #expect(left == [])
    }

    @Test func failuresNameTheServiceAndLeaveNothingBehind() throws {
        let port = StackFixture.freePort()
        let stack = try StackFixture("""
            services:
              web:
                image: busybox
                command: [httpd, -f, -p, "80", -h, /www]
                ports: ["\(port):80"]
                healthcheck: {test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1/index.html"], interval: 100ms}

            """)
        let p = stack.project
        // Port in use.
        // Closed once, below, while the test runs: a second close at its end would close
        // whatever descriptor another test running in parallel got under that number.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(holder, 1)
        let busy = try stack.run(["up", "-d"])
        #expect(busy.code == 1)
        #expect(busy.stderr.contains("Error: container \(p)-web-1: host port 0.0.0.0:\(port)/tcp is already in use"), "\(busy.stderr)")
        close(holder)
        // --wait: until httpd answers its health check (up -d returns once it runs).
        #expect(try stack.run(["up", "-d", "--wait"]).code == 0)
        #expect(StackFixture.httpGet(port: port, path: "/index.html") == "hello from berth\n")

        // A command that does not exist, a missing image.
        try stack.write("""
            services:
              web:
                image: busybox
                command: [/no/such/binary]
              db:
                image: nosuchimage
                pull_policy: never

            """)
        let missing = try stack.run(["up", "-d", "db"])
        #expect(missing.code == 1)
        #expect(missing.stderr == "Error: service \"db\": image nosuchimage is not present locally and pull_policy is never: pull it (berth pull db) or change pull_policy\n")
        let bad = try stack.run(["up", "-d", "-t", "0", "web"])
        #expect(bad.code == 1)
        #expect(bad.stderr.contains(" Container \(p)-web-1  Recreate\n"))
        #expect(bad.stderr.hasSuffix("Error: container \(p)-web-1: exec /no/such/binary: no such file or directory\n"), "\(bad.stderr)")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }
}

/// A `berth` process the test watches while it runs: its stdout and stderr are read as
/// they come.
final class LiveProcess: @unchecked Sendable {
    let process = Process()
    private let lock = NSCondition()
    private var collected = (out: "", err: "")
    private var open = 2

    init(_ argv: [String], environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle.nullDevice
        let outPipe = Foundation.Pipe(), errPipe = Foundation.Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        try process.run()
        for (pipe, isErr) in [(outPipe, false), (errPipe, true)] {
            let handle = pipe.fileHandleForReading
            Thread { [self] in
                while true {
                    let data = handle.availableData
                    lock.lock()
                    if data.isEmpty {
                        open -= 1
                    } else if isErr {
                        collected.err += String(decoding: data, as: UTF8.self)
                    } else {
                        collected.out += String(decoding: data, as: UTF8.self)
                    }
                    lock.broadcast()
                    lock.unlock()
                    if data.isEmpty { return }
                }
            }.start()
        }
    }

    var stdout: String { lock.withLock { collected.out } }
    var stderr: String { lock.withLock { collected.err } }

    /// Blocks until stderr contains `text`; throws if the process ends first.
    func waitForStderr(containing text: String) throws {
        try waitFor(text, in: \.err)
    }

    /// Blocks until stdout contains `text`; throws if the process ends first.
    func waitForStdout(containing text: String) throws {
        try waitFor(text, in: \.out)
    }

    private func waitFor(_ text: String, in stream: KeyPath<(out: String, err: String), String>) throws {
        lock.lock()
        defer { lock.unlock() }
        while !collected[keyPath: stream].contains(text) {
            if open == 0 { throw TestSupportError("the process ended before printing \(text.debugDescription); it printed: \(collected)") }
            lock.wait()
        }
    }

    func kill(_ signal: Int32) { Glibc.kill(process.processIdentifier, signal) }

    /// The exit code (128 + signal when killed), once its output is drained.
    func wait() -> Int32 {
        process.waitUntilExit()
        lock.lock()
        while open > 0 { lock.wait() }
        lock.unlock()
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }
}
