import ComposeSpec
import Testing
@testable import BerthOrchestrator

private let ms: Int64 = 1_000_000
private let s: Int64 = 1_000_000_000

@Suite("healthcheck config") struct HealthConfigTests {
    func resolve(_ healthcheck: String, image: HealthConfig? = nil, shell: [String]? = nil) throws -> HealthConfig? {
        let project = try loadProject("services:\n  web:\n    image: busybox\n" + healthcheck)
        return try HealthConfig.resolve(service: "web", project.services["web"]?.healthcheck, image: image, imageShell: shell)
    }

    @Test func testFormsBecomeTheProbeCommand() throws {
        let cmd = try #require(try resolve("    healthcheck:\n      test: [CMD, pg_isready, -U, app]\n"))
        #expect(cmd.test == ["CMD", "pg_isready", "-U", "app"])
        #expect(cmd.probeCommand == ["pg_isready", "-U", "app"])
        let shell = try #require(try resolve("    healthcheck:\n      test: [CMD-SHELL, \"test -e /tmp/ok\"]\n"))
        #expect(shell.probeCommand == ["/bin/sh", "-c", "test -e /tmp/ok"])
        // A string is CMD-SHELL.
        let string = try #require(try resolve("    healthcheck:\n      test: curl -f http://localhost\n"))
        #expect(string.test == ["CMD-SHELL", "curl -f http://localhost"])
        #expect(string.probeCommand == ["/bin/sh", "-c", "curl -f http://localhost"])
        // The image's SHELL runs CMD-SHELL checks.
        let bash = try #require(try resolve("    healthcheck:\n      test: exit 0\n", shell: ["/bin/bash", "-eo", "pipefail", "-c"]))
        #expect(bash.probeCommand == ["/bin/bash", "-eo", "pipefail", "-c", "exit 0"])
    }

    @Test func noneAndDisableTurnTheCheckOffEvenOverTheImage() throws {
        let image = HealthConfig(test: ["CMD", "check"], interval: 5 * s)
        #expect(try resolve("    healthcheck:\n      test: [NONE]\n", image: image) == nil)
        #expect(try resolve("    healthcheck:\n      disable: true\n", image: image) == nil)
        #expect(try resolve("    healthcheck:\n      disable: true\n      test: [CMD, x]\n") == nil)
        #expect(try resolve("") == nil)
        #expect(try resolve("", image: HealthConfig(test: ["NONE"])) == nil)
    }

    @Test func durationsAndRetriesAreKeptAsGivenWithDockersDefaults() throws {
        let c = try #require(try resolve("""
                healthcheck:
                  test: [CMD, check]
                  interval: 1m30s
                  timeout: 200ms
                  start_period: 10s
                  start_interval: 1s
                  retries: 5

            """))
        #expect((c.interval, c.timeout, c.startPeriod, c.startInterval, c.retries) == (90 * s, 200 * ms, 10 * s, 1 * s, 5))
        #expect((c.effectiveInterval, c.effectiveTimeout, c.effectiveStartPeriod, c.effectiveStartInterval, c.effectiveRetries) == (90 * s, 200 * ms, 10 * s, 1 * s, 5))
        let d = try #require(try resolve("    healthcheck:\n      test: [CMD, check]\n"))
        #expect((d.interval, d.timeout, d.startPeriod, d.startInterval, d.retries) == (0, 0, 0, 0, 0))
        #expect((d.effectiveInterval, d.effectiveTimeout, d.effectiveStartPeriod, d.effectiveStartInterval, d.effectiveRetries) == (30 * s, 30 * s, 0, 5 * s, 3))
        let zero = try #require(try resolve("    healthcheck:\n      test: [CMD, check]\n      retries: 0\n"))
        #expect(zero.effectiveRetries == 3)
    }

    @Test func theServiceIsMergedOverTheImageFieldByField() throws {
        let image = HealthConfig(test: ["CMD-SHELL", "image-check"], interval: 7 * s, timeout: 3 * s, startPeriod: 4 * s, startInterval: 2 * s, retries: 9)
        // No healthcheck key: the image's, whole.
        #expect(try resolve("", image: image) == HealthConfig(
            test: ["CMD-SHELL", "image-check"], interval: 7 * s, timeout: 3 * s, startPeriod: 4 * s, startInterval: 2 * s, retries: 9,
            shell: ["/bin/sh", "-c"]))
        // Only some keys: the others from the image.
        #expect(try resolve("    healthcheck:\n      interval: 1s\n      retries: 2\n", image: image) == HealthConfig(
            test: ["CMD-SHELL", "image-check"], interval: 1 * s, timeout: 3 * s, startPeriod: 4 * s, startInterval: 2 * s, retries: 2,
            shell: ["/bin/sh", "-c"]))
        #expect(try resolve("    healthcheck:\n      test: [CMD, mine]\n", image: image)?.test == ["CMD", "mine"])
        // Keys without a test anywhere: no check.
        #expect(try resolve("    healthcheck:\n      interval: 1s\n") == nil)
    }

    @Test func invalidChecksAreRefusedWithTheKey() throws {
        func failure(_ yaml: String) -> String? {
            do {
                _ = try resolve(yaml)
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(failure("    healthcheck:\n      test: [CMD, x]\n      interval: 500us\n")
            == "service \"web\": healthcheck.interval: 500µs is less than the minimum of 1ms; give 1ms or more, or leave it out for the default")
        #expect(failure("    healthcheck:\n      test: [CMD, x]\n      timeout: -1s\n")
            == "service \"web\": healthcheck.timeout: -1s is less than the minimum of 1ms; give 1ms or more, or leave it out for the default")
        #expect(failure("    healthcheck:\n      test: [curl, -f, http://localhost]\n")
            == "service \"web\": healthcheck.test: must start with CMD, CMD-SHELL, HTTP-GET, TCP-SOCKET or NONE (as in [\"CMD\", \"curl\", ...]), or be a string run by the shell")
        #expect(failure("    healthcheck:\n      test: [CMD]\n")
            == "service \"web\": healthcheck.test: CMD needs a command, as in [\"CMD\", \"pg_isready\"]")
        #expect(failure("    healthcheck:\n      test: [HTTP-GET, \"https://127.0.0.1/\"]\n")
            == "service \"web\": healthcheck.test: HTTP-GET https://127.0.0.1/: the URL must start with http:// (berth's prober does not speak TLS)")
        #expect(failure("    healthcheck:\n      test: [TCP-SOCKET, \"db:5432\"]\n")
            == "service \"web\": healthcheck.test: TCP-SOCKET db:5432: give an IPv4 address (default 127.0.0.1, the container's own loopback) and a port")
    }

    /// berth's own checks run `berth-runtime probe` instead of an exec in the container.
    @Test func httpAndTcpChecksRunAsNativeProbes() throws {
        let http = try #require(try resolve("    healthcheck:\n      test: [HTTP-GET, \"http://127.0.0.1:8080/healthz\", \"X-A: b\"]\n"))
        #expect(http.isNative && http.probeCommand == nil)
        #expect(http.probeArguments(runtime: "/b/berth-runtime", project: "p", runRoot: "/run/b", container: "p-web-1")
            == ["/b/berth-runtime", "probe", "--project", "p", "--run-root", "/run/b", "p-web-1", "--", "HTTP-GET", "http://127.0.0.1:8080/healthz", "X-A: b"])
        let exec = try #require(try resolve("    healthcheck:\n      test: [CMD, check]\n"))
        #expect(exec.probeArguments(runtime: "/b/berth-runtime", project: "p", runRoot: "/run/b", container: "p-web-1")
            == ["/b/berth-runtime", "exec", "--project", "p", "--run-root", "/run/b", "p-web-1", "--", "check"])
        #expect(try resolve("    healthcheck:\n      test: [TCP-SOCKET, \":6379\"]\n")?.test == ["TCP-SOCKET", ":6379"])
    }
}

@Suite("health state machine") struct HealthMachineTests {
    /// Whether recording `entry` changed the status (outside `#expect`, which cannot mutate).
    func changed(_ m: inout HealthMachine, _ entry: HealthLogEntry, at start: Int64) -> Bool {
        let changed = m.record(entry, probeStart: start)
        return changed
    }

    static func entry(_ code: Int, _ output: String = "") -> HealthLogEntry {
        HealthLogEntry(start: "s", end: "e", exitCode: code, output: output)
    }

    @Test func successIsHealthyAndRetriesFailuresInARowAreUnhealthy() {
        var m = HealthMachine(config: HealthConfig(test: ["CMD", "x"], retries: 2), containerStart: 0)
        #expect(m.status == .starting && m.health.failingStreak == 0)
        var result = changed(&m, Self.entry(1), at: 1 * s)
        #expect(!result)  // counted (no start period), not yet at retries
        #expect(m.status == .starting && m.health.failingStreak == 1)
        result = changed(&m, Self.entry(0), at: 2 * s)
        #expect(result)
        #expect(m.status == .healthy && m.health.failingStreak == 0)
        result = changed(&m, Self.entry(1), at: 3 * s)
        #expect(!result)
        #expect(m.status == .healthy && m.health.failingStreak == 1)
        result = changed(&m, Self.entry(2), at: 4 * s)
        #expect(result)
        #expect(m.status == .unhealthy && m.health.failingStreak == 2)
        result = changed(&m, Self.entry(-1), at: 5 * s)
        #expect(!result)
        #expect(m.status == .unhealthy && m.health.failingStreak == 3)
        result = changed(&m, Self.entry(0), at: 6 * s)
        #expect(result)
        #expect(m.status == .healthy && m.health.failingStreak == 0)
    }

    @Test func retriesZeroOrLessMeansThree() {
        for retries in [0, -4] {
            var m = HealthMachine(config: HealthConfig(test: ["CMD", "x"], retries: retries), containerStart: 0)
            m.record(Self.entry(1), probeStart: 1 * s)
            m.record(Self.entry(1), probeStart: 2 * s)
            #expect(m.status == .starting)
            m.record(Self.entry(1), probeStart: 3 * s)
            #expect(m.status == .unhealthy && m.health.failingStreak == 3)
        }
    }

    @Test func failuresInTheStartPeriodDoNotCountWhileStarting() {
        let config = HealthConfig(test: ["CMD", "x"], startPeriod: 10 * s, retries: 1)
        var m = HealthMachine(config: config, containerStart: 100 * s)
        m.record(Self.entry(1), probeStart: 105 * s)
        m.record(Self.entry(1), probeStart: 109 * s + 999_999_999)
        #expect(m.status == .starting && m.health.failingStreak == 0 && m.health.log.count == 2)
        // The probe's start decides, not its end: one begun at exactly the period's end counts.
        m.record(Self.entry(1), probeStart: 110 * s)
        #expect(m.status == .unhealthy && m.health.failingStreak == 1)

        // Once healthy, the start period no longer shields failures.
        var h = HealthMachine(config: config, containerStart: 0)
        h.record(Self.entry(0), probeStart: 1 * s)
        h.record(Self.entry(1), probeStart: 2 * s)
        #expect(h.status == .unhealthy && h.health.failingStreak == 1)
    }

    @Test func theLogKeepsTheLastFiveResults() {
        var m = HealthMachine(config: HealthConfig(test: ["CMD", "x"]), containerStart: 0)
        for i in 1...7 { m.record(Self.entry(i % 2, "run \(i)"), probeStart: Int64(i) * s) }
        #expect(m.health.log.map(\.output) == ["run 3", "run 4", "run 5", "run 6", "run 7"])
    }

    @Test func intervalIsStartIntervalOnlyWhileStartingInTheStartPeriod() {
        let config = HealthConfig(test: ["CMD", "x"], interval: 30 * s, startPeriod: 60 * s, startInterval: 2 * s)
        var m = HealthMachine(config: config, containerStart: 1000 * s)
        // First probe: one (start) interval after the start.
        #expect(m.nextProbe(after: 1000 * s) == 1002 * s)
        #expect(m.interval(at: 1059 * s) == 2 * s)
        #expect(m.interval(at: 1060 * s) == 30 * s)
        m.record(Self.entry(0), probeStart: 1002 * s)
        // Healthy within the start period: the normal interval, from the probe's end.
        #expect(m.nextProbe(after: 1003 * s) == 1033 * s)
        // Defaults: no start period, so always the interval (30s).
        let d = HealthMachine(config: HealthConfig(test: ["CMD", "x"]), containerStart: 0)
        #expect(d.nextProbe(after: 0) == 30 * s)
        // start_interval defaults to 5s within a start period.
        let e = HealthMachine(config: HealthConfig(test: ["CMD", "x"], startPeriod: 20 * s), containerStart: 0)
        #expect(e.nextProbe(after: 0) == 5 * s && e.nextProbe(after: 20 * s) == 50 * s)
    }

    @Test func stoppingMarksUnhealthyAsDockerDoes() {
        var m = HealthMachine(config: HealthConfig(test: ["CMD", "x"]), containerStart: 0)
        m.record(Self.entry(0), probeStart: 1 * s)
        m.stop()
        #expect(m.status == .unhealthy && m.health.failingStreak == 0)
    }

    @Test func aRestoredStateContinuesWhereItWas() {
        let restored = ContainerHealth(status: .healthy, failingStreak: 1, log: [Self.entry(1, "x")])
        var m = HealthMachine(config: HealthConfig(test: ["CMD", "x"], retries: 2), containerStart: 0, restored: restored)
        #expect(m.status == .healthy)
        m.record(Self.entry(1), probeStart: 10 * s)
        #expect(m.status == .unhealthy && m.health.log.count == 2)
    }

    /// A whole run on a fake clock: the prober's scheduling (next probe one interval after
    /// the previous one finished) with probes that take time.
    @Test func scheduleOnAFakeClock() {
        let config = HealthConfig(test: ["CMD", "x"], interval: 10 * s, startPeriod: 15 * s, startInterval: 1 * s, retries: 2)
        var m = HealthMachine(config: config, containerStart: 0)
        var now: Int64 = 0
        var starts: [Int64] = []
        var statuses: [ContainerHealth.Status] = []
        // Each probe takes 500ms; results: fail, fail (in start period), ok, fail, fail, ok.
        for code in [1, 1, 0, 1, 1, 0] {
            now = m.nextProbe(after: now)
            starts.append(now)
            let start = now
            now += 500 * ms
            m.record(Self.entry(code), probeStart: start)
            statuses.append(m.status)
        }
        #expect(starts == [1 * s, 2500 * ms, 4 * s, 14500 * ms, 25 * s, 35500 * ms])
        #expect(statuses == [.starting, .starting, .healthy, .healthy, .unhealthy, .healthy])
    }
}

@Suite("health probe output") struct ProbeOutputTests {
    @Test func outputIsCutAt4096BytesWithDots() {
        var out = ProbeOutput()
        out.append(Array(repeating: UInt8(ascii: "a"), count: 4000))
        out.append(Array(repeating: UInt8(ascii: "b"), count: 200))
        out.append([UInt8(ascii: "c")])
        #expect(out.bytes.count == 4096 && out.truncated)
        #expect(out.text == String(repeating: "a", count: 4000) + String(repeating: "b", count: 96) + "...")
        var exact = ProbeOutput()
        exact.append(Array(repeating: UInt8(ascii: "x"), count: 4096))
        #expect(exact.text.count == 4096 && !exact.truncated)
        var invalid = ProbeOutput()
        invalid.append([0x6f, 0x6b, 0xff, 0x0a])
        #expect(invalid.text == "ok\u{FFFD}\n")
    }

    @Test func endingsBecomeDockersLogEntries() {
        var out = ProbeOutput()
        out.append(Array("not ready\n".utf8))
        #expect(HealthLogEntry(.exited(1), output: out, start: "a", end: "b", timeout: 30 * s)
            == HealthLogEntry(start: "a", end: "b", exitCode: 1, output: "not ready\n"))
        #expect(HealthLogEntry(.timedOut, output: out, start: "a", end: "b", timeout: 200 * ms)
            == HealthLogEntry(start: "a", end: "b", exitCode: -1, output: "Health check exceeded timeout (200ms)"))
        #expect(HealthLogEntry(.timedOut, output: ProbeOutput(), start: "a", end: "b", timeout: 90 * s).output
            == "Health check exceeded timeout (1m30s)")
        #expect(HealthLogEntry(.failedToRun("spawn: ENOENT"), output: ProbeOutput(), start: "a", end: "b", timeout: s)
            == HealthLogEntry(start: "a", end: "b", exitCode: -1, output: "spawn: ENOENT"))
    }
}
