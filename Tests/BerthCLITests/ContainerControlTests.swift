import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end: `kill`, `pause`/`unpause`, `rm`, `wait` on running busybox stacks (root tier).
/// Containers report through files in a directory shared with the test, which waits on
/// their changes (inotify), never on a timer.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct ContainerControlTests {
    /// A service that renames a fresh count into /shared/NAME every few milliseconds.
    static func counter(_ name: String) -> String {
        """
          \(name):
            image: busybox
            command: [sh, -c, "trap 'echo got USR1 > /shared/\(name).usr1' USR1; i=0; while :; do i=$$((i+1)); echo $$i > /shared/\(name).tmp; mv /shared/\(name).tmp /shared/\(name); usleep 2000; done"]
            volumes: [SHARED:/shared]

        """
    }

    static func sharedStack() throws -> (StackFixture, DirectoryWatch) {
        let stack = try StackFixture("services:\n")
        let shared = stack.base + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try stack.write(("services:\n" + counter("counter") + counter("reference")).replacingOccurrences(of: "SHARED", with: shared))
        return (stack, try DirectoryWatch(shared))
    }

    /// `pause` freezes the counter: the reference counts on 20 times while the paused one
    /// stays put; `ps` shows it paused; exec is refused; `unpause` lets it count again.
    /// `kill -s USR1` reaches the process; `kill` then stops everything (137).
    @Test func pauseUnpauseAndKill() throws {
        let (stack, watch) = try Self.sharedStack()
        let p = stack.project
        #expect(try stack.run(["up", "-d"]).code == 0)
        try watch.waitFor("counter")

        let pause = try stack.run(["pause", "counter"])
        #expect(pause.code == 0, "\(pause.stderr)")
        #expect(pause.stderr == " Container \(p)-counter-1  Pausing\n Container \(p)-counter-1  Paused\n")
        let frozenAt = watch.read("counter")
        try watch.waitFor("reference", count: 20)
        #expect(watch.read("counter") == frozenAt && !frozenAt.isEmpty)
        let ps = try stack.run(["ps", "--format", "{{.Name}} {{.State}} {{.Status}}"])
        #expect(ps.stdout.contains("\(p)-counter-1 paused Up ") && ps.stdout.contains(" (Paused)\n\(p)-reference-1 running Up "), "\(ps.stdout)")
        let exec = try stack.run(["exec", "-T", "counter", "true"])
        #expect(exec.code == 1 && exec.stderr == "Error: container \(p)-counter-1 is paused, unpause the container before exec\n")
        let again = try stack.run(["pause", "counter"])
        #expect(again.code == 1 && again.stderr.hasSuffix("Error: container \(p)-counter-1 is already paused\n"), "\(again.stderr)")

        let unpause = try stack.run(["unpause", "counter"])
        #expect(unpause.code == 0 && unpause.stderr == " Container \(p)-counter-1  Unpausing\n Container \(p)-counter-1  Unpaused\n", "\(unpause.stderr)")
        try watch.waitFor("counter", count: 2)
        #expect((Int(watch.read("counter").trimmingCharacters(in: .newlines)) ?? 0) > (Int(frozenAt.trimmingCharacters(in: .newlines)) ?? Int.max))

        let usr1 = try stack.run(["kill", "-s", "USR1", "reference"])
        #expect(usr1.code == 0 && usr1.stderr == " Container \(p)-reference-1  Killing\n Container \(p)-reference-1  Killed\n", "\(usr1.stderr)")
        try watch.waitFor("reference.usr1")
        #expect(watch.read("reference.usr1") == "got USR1\n")
        #expect(try stack.container("reference").state.status == .running)

        // A paused container is killed too (it is thawed for SIGKILL).
        #expect(try stack.run(["pause", "counter"]).code == 0)
        let kill = try stack.run(["kill"])
        #expect(kill.code == 0, "\(kill.stderr)")
        try stack.waitForExit("counter")
        try stack.waitForExit("reference")
        #expect(try stack.container("counter").state.exitCode == 137 && stack.container("reference").state.exitCode == 137)
        let none = try stack.run(["kill"])
        #expect(none.code == 0 && none.stderr == "no container to kill")
        let bad = try stack.run(["kill", "-s", "NOPE"])
        #expect(bad.code == 64)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// `rm` removes stopped containers only (after a confirmation, or -f), `-s` stops first,
    /// `-v` takes the anonymous volumes; `wait` prints each exit and returns the last code.
    @Test func rmAndWait() throws {
        let stack = try StackFixture("""
            services:
              job:
                image: busybox
                command: [sh, -c, "mkfifo /tmp/go; read line < /tmp/go; exit 4"]
                volumes: [/scratch]
              idle:
                image: busybox
                command: [sh, -c, "trap 'exit 0' TERM; while :; do usleep 100000; done"]

            """)
        let p = stack.project
        #expect(try stack.run(["up", "-d"]).code == 0)
        let volume = try #require(try stack.engine.store.spec(stack.container("job").record.id).mounts.compactMap { mount -> String? in
            if case .volume(let volume) = mount.kind { return volume.name }
            return nil
        }.first)
        #expect(FS.exists(stack.root + "/volumes/" + volume))

        let nothing = try stack.run(["rm", "-f"])
        #expect(nothing.code == 0 && nothing.stderr == "No stopped containers\n" && nothing.stdout == "")

        let waiter = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "wait", "job"], environment: stack.environment)
        // It picks its containers, then asks the supervisor: an exit from then on is one it sees.
        try waitForConnection(to: stack.runRoot + "/projects/\(p)/supervisor.sock")
        #expect(try stack.run(["exec", "-T", "job", "sh", "-c", "echo go > /tmp/go"]).code == 0)
        #expect(waiter.wait() == 4, "\(waiter.stderr)")
        #expect(waiter.stdout == "container \"/\(p)-job-1\" exited with status code 4\n")

        let declined = try stack.run(["rm"], stdin: "n\n")
        #expect(declined.code == 0 && declined.stdout == "Going to remove \(p)-job-1")
        #expect(try stack.container("job").state.status == .exited)
        let confirmed = try stack.run(["rm", "-v"], stdin: "y\n")
        #expect(confirmed.code == 0, "\(confirmed.stderr)")
        #expect(confirmed.stdout == "Going to remove \(p)-job-1")
        #expect(confirmed.stderr == " Container \(p)-job-1  Removing\n Container \(p)-job-1  Removed\n")
        #expect((try? stack.container("job")) == nil)
        #expect(!FS.exists(stack.root + "/volumes/" + volume), "rm -v removes the anonymous volume")

        let stopAndRemove = try stack.run(["rm", "-s", "-f", "idle"])
        #expect(stopAndRemove.code == 0, "\(stopAndRemove.stderr)")
        #expect(stopAndRemove.stdout == "Going to remove \(p)-idle-1\n")
        #expect(stopAndRemove.stderr == " Container \(p)-idle-1  Stopping\n Container \(p)-idle-1  Stopped\n Container \(p)-idle-1  Removing\n Container \(p)-idle-1  Removed\n")
        #expect(stack.engine.store.records().filter { $0.project == p } == [])

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// `wait --down-project` takes the project down once its containers have ended.
    @Test func waitDownProject() throws {
        let stack = try StackFixture("""
            services:
              job:
                image: busybox
                command: [sh, -c, "mkfifo /tmp/go; read line < /tmp/go; exit 0"]

            """)
        let p = stack.project
        #expect(try stack.run(["up", "-d"]).code == 0)
        let waiter = try LiveProcess(
            ["/usr/bin/env", "-C", stack.directory, berthBinary, "wait", "--down-project", "job"], environment: stack.environment)
        try waitForConnection(to: stack.runRoot + "/projects/\(p)/supervisor.sock")
        #expect(try stack.run(["exec", "-T", "job", "sh", "-c", "echo go > /tmp/go"]).code == 0)
        #expect(waiter.wait() == 0, "\(waiter.stderr)")
        #expect(waiter.stdout == "container \"/\(p)-job-1\" exited with status code 0\n")
        #expect(stack.leftovers() == [])
        let (_, left) = try stack.close()
        #expect(left == [])
    }
}
