import BerthOrchestrator
import BerthSystem
import CBerthSys
import BerthTestSupport
import Foundation
import Testing

/// End-to-end: `berth run` one-off containers with the built binary (root tier).
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct RunCommandTests {
    static let appAndDatabase = """
        services:
          db:
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 1; done"]
          app:
            image: busybox
            command: [sh, -c, "echo service command"]
            depends_on: [db]

        """

    /// `run --rm` passes the exit code through, starts the missing dependency first, and
    /// leaves no container; stdin, -e, -w, -u, -v, --entrypoint reach the command.
    @Test func oneOffExitCodeDependencyAndRemoval() throws {
        let stack = try StackFixture(Self.appAndDatabase)
        let p = stack.project
        let run = try stack.run(["run", "--rm", "app", "sh", "-c", "echo one-off; echo to-stderr >&2; exit 3"])
        #expect(run.code == 3, "\(run.stderr)")
        #expect(run.stdout == "one-off\n")
        #expect(run.stderr == """
             Network \(p)_default  Creating
             Network \(p)_default  Created
             Container \(p)-db-1  Creating
             Container \(p)-db-1  Created
             Container \(p)-db-1  Starting
             Container \(p)-db-1  Started
            to-stderr

            """)
        #expect(try stack.container("db").state.status == .running)
        #expect(stack.engine.store.records().filter { $0.project == p && $0.oneOff } == [])

        // The dependency runs: not started again. Standard input is passed through.
        let cat = try stack.run(["run", "--rm", "app", "cat"], stdin: "piped in\n")
        #expect(cat.code == 0 && cat.stdout == "piped in\n" && cat.stderr == " Container \(p)-db-1  Running\n", "\(cat.stderr)")

        let shared = stack.base + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try "from the host\n".write(toFile: shared + "/file", atomically: true, encoding: .utf8)
        let flags = try stack.run([
            "run", "--rm", "--no-deps", "-e", "GREETING=hi there", "-w", "/tmp", "-u", "0:0", "-v", shared + ":/data:ro",
            "--entrypoint", "sh -c", "app", "echo \"$GREETING\" $(pwd) $(id -u); cat /data/file; touch /data/x 2>/dev/null || echo read-only",
        ])
        #expect(flags.code == 0, "\(flags.stderr)")
        #expect(flags.stdout == "hi there /tmp 0\nfrom the host\nread-only\n")
        #expect(flags.stderr == "")

        let missing = try stack.run(["run", "--rm", "-T", "app", "no-such-command"])
        #expect(missing.code == 127)
        #expect(missing.stderr.hasSuffix("executable file not found in $PATH (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)\n"), "\(missing.stderr)")
        #expect(stack.engine.store.records().filter { $0.project == p && $0.oneOff } == [])

        let unknown = try stack.run(["run", "nosuch"])
        #expect(unknown.code == 1 && unknown.stderr == "Error: no such service: nosuch\n")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// `run -d` prints the new container's id; the container carries Compose's one-off labels
    /// and name, publishes -p ports, and is kept after it ends (no --rm) until `down`.
    @Test func detachedOneOffWithPublishedPort() throws {
        let port = StackFixture.freePort()
        let stack = try StackFixture(Self.appAndDatabase)
        let p = stack.project
        let run = try stack.run(["run", "-d", "--no-deps", "-p", "\(port):80", "-l", "purpose=test", "app", "httpd", "-f", "-p", "80", "-h", "/www"])
        #expect(run.code == 0, "\(run.stderr)")
        let id = run.stdout.trimmingCharacters(in: .newlines)
        #expect(id.count == 64 && id.allSatisfy(\.isHexDigit))
        let record = try stack.engine.store.record(id)
        #expect(record.oneOff && record.service == "app" && record.number == -1)
        let slug = try #require(record.label(Label.slug))
        #expect(record.name == "\(p)-app-run-\(slug.prefix(12))" && slug.count == 64)
        #expect(record.label(Label.oneOff) == "True" && record.label("purpose") == "test" && record.label(Label.containerNumber) == "-1")
        #expect(StackFixture.httpGet(port: port, path: "/index.html") == "hello from berth\n")
        #expect((try? stack.container("db")) == nil, "--no-deps starts no dependency")
        #expect(try stack.run(["port", "app", "80"]).stdout == "0.0.0.0:\(port)\n")
        let unpublished = try stack.run(["port", "app", "81"])
        #expect(unpublished.code == 1 && unpublished.stderr == "Error: no port 81/tcp for container \(record.name)\n")

        let ps = try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}}"])
        #expect(ps.stdout == "\(record.name) running\n")

        let named = try stack.run(["run", "--name", "\(p)-job", "--no-deps", "-T", "app", "sh", "-c", "exit 5"])
        #expect(named.code == 5)
        let job = try #require(stack.engine.store.records().first { $0.name == "\(p)-job" })
        #expect(try stack.engine.observe(job.id).exitCode == 5)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(down.stderr.contains(" Container \(p)-job  Removed\n") && down.stderr.contains(" Container \(record.name)  Removed\n"), "\(down.stderr)")
        #expect(left == [])
    }

    /// Ctrl-C (SIGINT to berth) reaches the one-off's command; its exit code comes back.
    @Test func interruptIsForwarded() throws {
        let stack = try StackFixture(Self.appAndDatabase)
        let run = try LiveProcess(
            ["/usr/bin/env", "-C", stack.directory, berthBinary, "run", "--rm", "--no-deps", "app", "sh", "-c",
             "trap 'echo got INT; exit 9' INT; echo ready; while :; do sleep 1; done"],
            environment: stack.environment)
        try run.waitForStdout(containing: "ready\n")
        run.kill(SIGINT)
        #expect(run.wait() == 9)
        #expect(run.stdout == "ready\ngot INT\n")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// With a terminal as stdin, the one-off gets a pseudo-terminal of the terminal's size,
    /// and its exit code comes back.
    @Test func terminal() throws {
        let stack = try StackFixture(Self.appAndDatabase)
        var master: Int32 = -1, number: Int32 = -1
        #expect(berth_open_ptmx("/dev/ptmx", &master, &number) == 0)
        defer { Glibc.close(master) }
        var size = winsize(ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0)
        #expect(ioctl(master, UInt(TIOCSWINSZ), &size) == 0)
        let slavePath = "/dev/pts/\(number)"
        let slave = FileHandle(forUpdatingAtPath: slavePath)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["-C", stack.directory, berthBinary, "--progress", "quiet", "run", "--rm", "--no-deps", "app", "sh", "-c", "tty; stty size; exit 4"]
        process.environment = ProcessInfo.processInfo.environment.merging(stack.environment) { $1 }
        process.standardInput = slave
        process.standardOutput = slave
        process.standardError = slave
        try process.run()
        try slave?.close()
        // Everything the terminal shows, until the last holder of the slave side is gone (EIO).
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = Glibc.read(master, &buffer, buffer.count)
            if n <= 0 { break }
            output += buffer[0..<n]
        }
        process.waitUntilExit()
        #expect(process.terminationStatus == 4)
        let text = String(decoding: output, as: UTF8.self)
        #expect(text.contains("/dev/pts/0\r\n30 100\r\n"), "\(text.debugDescription)")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }
}
