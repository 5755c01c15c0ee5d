import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end health checks (root tier): probes run by the supervisor as execs in busybox
/// containers, flipped with `berth exec`; what `ps`, DNS, `depends_on: service_healthy` and
/// `up --wait` make of them.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct HealthStackTests {
    /// A check on a file the test creates and removes; 200ms apart, one failure is unhealthy.
    static let fileCheck = """
            healthcheck:
              test: ["CMD-SHELL", "test -e /tmp/ok"]
              interval: 200ms
              timeout: 5s
              retries: 1

        """

    @Test func flippingCheckDrivesPsAndDNSAndSurvivesASupervisorKill() throws {
        let stack = try StackFixture("""
            services:
              web:
                image: busybox
                command: [sh, -c, "touch /tmp/ok; exec sleep 1000"]
            \(Self.fileCheck)  client:
                image: busybox
                command: [sleep, "1000"]

            """)
        let p = stack.project

        // up --wait returns once web is healthy (client has no check: running is enough).
        let up = try stack.run(["up", "--wait"])
        #expect(up.code == 0, "\(up.stderr)")
        #expect(up.stderr.hasSuffix("""
             Container \(p)-client-1  Waiting
             Container \(p)-web-1  Waiting
             Container \(p)-client-1  Healthy
             Container \(p)-web-1  Healthy

            """) || up.stderr.hasSuffix("""
             Container \(p)-client-1  Waiting
             Container \(p)-web-1  Waiting
             Container \(p)-web-1  Healthy
             Container \(p)-client-1  Healthy

            """), "\(up.stderr)")
        #expect(try health(stack, "web") == "healthy")
        #expect(try stack.run(["ps", "--format", "{{.Name}} {{.Health}}"]).stdout == "\(p)-client-1 \n\(p)-web-1 healthy\n")
        #expect(try stack.run(["ps", "--format", "{{.Status}}", "web"]).stdout.hasSuffix(" (healthy)\n"))
        #expect(try lookup(stack, "web") == "found")

        // Unhealthy: out of DNS, shown by ps, with Docker's log entry.
        #expect(try stack.run(["exec", "-T", "web", "rm", "/tmp/ok"]).code == 0)
        try waitForHealth(stack, "web", .unhealthy)
        #expect(try stack.run(["ps", "--format", "{{.Status}}", "web"]).stdout.hasSuffix(" (unhealthy)\n"))
        #expect(try lookup(stack, "web") == "NXDOMAIN")
        let web = try stack.container("web")
        let record = try #require(stack.engine.store.health(web.record.id, startedAt: web.state.startedAt))
        #expect(record.failingStreak >= 1 && (1...5).contains(record.log.count))
        #expect(record.log.last?.exitCode == 1 && record.log.last?.output == "")

        // Healthy again: back in DNS.
        #expect(try stack.run(["exec", "-T", "web", "touch", "/tmp/ok"]).code == 0)
        try waitForHealth(stack, "web", .healthy)
        #expect(try lookup(stack, "web") == "found")

        // A new supervisor adopts web healthy (no reset to starting): DNS answers at once.
        let supervisor = try #require(stack.supervisorPid)
        #expect(Glibc.kill(supervisor, SIGKILL) == 0)
        let again = try stack.run(["up", "--wait"])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(again.stderr.contains(" Container \(p)-web-1  Healthy\n"))
        #expect(try lookup(stack, "web") == "found")
        #expect(try stack.run(["exec", "-T", "web", "rm", "/tmp/ok"]).code == 0)
        try waitForHealth(stack, "web", .unhealthy)
        let failing = try stack.run(["up", "--wait"])
        #expect(failing.code == 1)
        #expect(failing.stderr.hasSuffix("Error: container \(p)-web-1 is unhealthy\n"), "\(failing.stderr)")

        // A stopped container's health is unhealthy, as Docker leaves it.
        #expect(try stack.run(["exec", "-T", "web", "touch", "/tmp/ok"]).code == 0)
        try waitForHealth(stack, "web", .healthy)
        #expect(try stack.run(["stop", "-t", "0", "web"]).code == 0)
        let stopped = try stack.container("web")
        #expect(stack.engine.store.health(stopped.record.id, startedAt: stopped.state.startedAt)?.status == .unhealthy)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func serviceHealthyBlocksTheDependentUntilHealthy() throws {
        let stack = try StackFixture("""
            services:
              db:
                image: busybox
                command: [sleep, "1000"]
                healthcheck:
                  test: ["CMD-SHELL", "test -e /tmp/ok"]
                  interval: 200ms
                  retries: 1000
              app:
                image: busybox
                command: [sleep, "1000"]
                depends_on:
                  db: {condition: service_healthy}

            """)
        let p = stack.project
        let up = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up", "-d"], environment: stack.environment)
        try up.waitForStderr(containing: " Container \(p)-db-1  Waiting\n")
        #expect(try health(stack, "db") == "starting")
        #expect(throws: (any Error).self) { try stack.container("app") }
        #expect(try stack.run(["exec", "-T", "db", "touch", "/tmp/ok"]).code == 0)
        #expect(up.wait() == 0, "\(up.stderr)")
        #expect(up.stderr.hasSuffix("""
             Container \(p)-db-1  Waiting
             Container \(p)-db-1  Healthy
             Container \(p)-app-1  Creating
             Container \(p)-app-1  Created
             Container \(p)-app-1  Starting
             Container \(p)-app-1  Started

            """), "\(up.stderr)")
        #expect(try stack.container("app").state.status == .running)

        // start, as Compose's, waits for the condition too (db's /tmp/ok survives its restart).
        #expect(try stack.run(["stop", "-t", "0"]).code == 0)
        let start = try stack.run(["start"])
        #expect(start.code == 0, "\(start.stderr)")
        #expect(start.stderr == """
             Container \(p)-db-1  Starting
             Container \(p)-db-1  Started
             Container \(p)-db-1  Waiting
             Container \(p)-db-1  Healthy
             Container \(p)-app-1  Starting
             Container \(p)-app-1  Started

            """)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func anUnhealthyDependencyFailsUpUnlessOptional() throws {
        func compose(required: Bool) -> String {
            """
            services:
              db:
                image: busybox
                command: [sleep, "1000"]
            \(Self.fileCheck)  app:
                image: busybox
                command: [sleep, "1000"]
                depends_on:
                  db: {condition: service_healthy, required: \(required)}
              plain:
                image: busybox
                command: [sleep, "1000"]
              needsCheck:
                image: busybox
                command: [sleep, "1000"]
                depends_on:
                  plain: {condition: service_healthy}

            """
        }
        let stack = try StackFixture(compose(required: true))
        let p = stack.project
        let failed = try stack.run(["up", "-d", "app"])
        #expect(failed.code == 1)
        #expect(failed.stderr.hasSuffix("""
             Container \(p)-db-1  Waiting
             Container \(p)-db-1  Error
            Error: dependency failed to start: container \(p)-db-1 is unhealthy

            """), "\(failed.stderr)")
        #expect(throws: (any Error).self) { try stack.container("app") }

        let noCheck = try stack.run(["up", "-d", "needsCheck"])
        #expect(noCheck.code == 1)
        #expect(noCheck.stderr.hasSuffix("Error: dependency failed to start: container \(p)-plain-1 has no healthcheck configured\n"), "\(noCheck.stderr)")

        try stack.write(compose(required: false))
        let optional = try stack.run(["up", "-d", "app"])
        #expect(optional.code == 0, "\(optional.stderr)")
        #expect(optional.stderr.contains("""
             Container \(p)-db-1  Skipped
            WARN[0000] optional dependency "db" failed to start: container \(p)-db-1 is unhealthy
             Container \(p)-app-1  Creating

            """), "\(optional.stderr)")
        #expect(try stack.container("app").state.status == .running)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func upWaitFailsOnExitsAndTimesOut() throws {
        let stack = try StackFixture("""
            services:
              slow:
                image: busybox
                command: [sleep, "1000"]
                healthcheck:
                  test: ["CMD", "false"]
                  interval: 200ms
                  retries: 1000000
              quitter:
                image: busybox
                command: [sh, -c, "mkfifo /tmp/f; read x < /tmp/f; exit 3"]
                healthcheck:
                  test: ["CMD", "false"]
                  interval: 200ms
                  retries: 1000000

            """)
        let p = stack.project
        let timeout = try stack.run(["up", "--wait", "--wait-timeout", "1", "slow"])
        #expect(timeout.code == 1)
        #expect(timeout.stderr.hasSuffix(" Container \(p)-slow-1  Waiting\nError: application not healthy after 1s\n"), "\(timeout.stderr)")
        #expect(try health(stack, "slow") == "starting")

        // A container that exits while up --wait waits for it fails it.
        let exited = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up", "--wait", "quitter"], environment: stack.environment)
        try exited.waitForStderr(containing: " Container \(p)-quitter-1  Waiting\n")
        #expect(try stack.run(["exec", "-T", "quitter", "sh", "-c", "echo go > /tmp/f"]).code == 0)
        #expect(exited.wait() == 1)
        #expect(exited.stderr.hasSuffix(" Container \(p)-quitter-1  Waiting\nError: container \(p)-quitter-1 exited (3)\n"), "\(exited.stderr)")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func probesKeepOutputAndAreKilledAtTheirTimeout() throws {
        let stack = try StackFixture("""
            services:
              noisy:
                image: busybox
                command: [sleep, "1000"]
                healthcheck:
                  test: ["CMD-SHELL", "echo out; echo err >&2; exit 2"]
                  interval: 200ms
                  retries: 1
              hang:
                image: busybox
                command: [sleep, "1000"]
                healthcheck:
                  test: ["CMD", "sleep", "77"]
                  interval: 200ms
                  timeout: 300ms
                  retries: 1

            """)
        let upNoisy = try stack.run(["up", "-d"])
        #expect(upNoisy.code == 0, "\(upNoisy.stderr)")
        try waitForHealth(stack, "noisy", .unhealthy)
        try waitForHealth(stack, "hang", .unhealthy)
        let noisy = try stack.container("noisy")
        let noisyLog = try #require(stack.engine.store.health(noisy.record.id, startedAt: noisy.state.startedAt)?.log.first)
        #expect(noisyLog.exitCode == 2 && noisyLog.output == "out\nerr\n")
        let hang = try stack.container("hang")
        let hangLog = try #require(stack.engine.store.health(hang.record.id, startedAt: hang.state.startedAt)?.log.first)
        #expect(hangLog.exitCode == -1 && hangLog.output == "Health check exceeded timeout (300ms)")
        // The timed-out probe is gone from the container (only its command and ps remain,
        // unless the next probe happens to run).
        let processes = try stack.run(["exec", "-T", "hang", "ps", "-o", "args"]).stdout
        #expect(processes.split(separator: "\n").filter { $0 == "sleep 77" }.count <= 1, "\(processes)")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    // MARK: helpers

    /// `ps`'s Health field of the service's container.
    func health(_ stack: StackFixture, _ service: String) throws -> String {
        try stack.run(["ps", "--format", "{{.Health}}", service]).stdout.trimmingCharacters(in: .newlines)
    }

    /// What `client` gets for `name` from berth's DNS server (busybox nslookup): "found" or
    /// "NXDOMAIN"; anything else is an error that shows the output.
    func lookup(_ stack: StackFixture, _ name: String) throws -> String {
        let result = try stack.run(["exec", "-T", "client", "nslookup", "-type=a", name])
        if result.code == 0 && result.stdout.contains("Name:\t\(name)\nAddress: ") { return "found" }
        if result.code == 1 && result.stdout.contains("** server can't find \(name): NXDOMAIN") { return "NXDOMAIN" }
        throw TestSupportError("nslookup \(name): exit \(result.code): \(result.stdout)\(result.stderr)")
    }

    /// Blocks until the container's health.json says `status`: woken by inotify on its
    /// directory (health.json is replaced by rename), no polling.
    func waitForHealth(_ stack: StackFixture, _ service: String, _ status: ContainerHealth.Status) throws {
        let (record, state) = try stack.container(service)
        let directory = stack.engine.store.path(record.id)
        let fd = inotify_init1(Int32(O_CLOEXEC | O_NONBLOCK))
        guard fd >= 0 else { throw TestSupportError("inotify_init1 failed") }
        defer { Glibc.close(fd) }
        guard inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO)) >= 0 else { throw TestSupportError("cannot watch \(directory)") }
        let deadline = Clock.monotonicNanoseconds() + 60_000_000_000
        var buffer = [UInt8](repeating: 0, count: 4096)
        while stack.engine.store.health(record.id, startedAt: state.startedAt)?.status != status {
            let left = Int32(max(0, (deadline - Clock.monotonicNanoseconds()) / 1_000_000))
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, left) == 1 else { throw TestSupportError("\(service) did not turn \(status) within 60 s") }
            while read(fd, &buffer, buffer.count) > 0 {}
        }
    }
}
