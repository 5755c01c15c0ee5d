import ComposeSpec

/// Docker's `State.Health`, as `inspect` shows it: the verdict, the failures in a row, and
/// the last results.
public struct ContainerHealth: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case starting, healthy, unhealthy
    }

    public var status: Status
    public var failingStreak: Int
    /// The last `maxLogEntries` results, oldest first.
    public var log: [HealthLogEntry]

    /// moby's `maxLogEntries`.
    public static let maxLogEntries = 5

    public init(status: Status = .starting, failingStreak: Int = 0, log: [HealthLogEntry] = []) {
        self.status = status
        self.failingStreak = failingStreak
        self.log = log
    }

    enum CodingKeys: String, CodingKey {
        case status = "Status"
        case failingStreak = "FailingStreak"
        case log = "Log"
    }
}

/// One probe's result (Docker's `HealthcheckResult`).
public struct HealthLogEntry: Codable, Sendable, Equatable {
    /// RFC 3339 wall-clock times of the probe's start and end.
    public var start: String
    public var end: String
    /// 0 healthy, anything else a failure; -1 when the probe timed out or could not run.
    public var exitCode: Int
    /// stdout and stderr together, at most 4096 bytes (then `...`).
    public var output: String

    public init(start: String, end: String, exitCode: Int, output: String) {
        self.start = start
        self.end = end
        self.exitCode = exitCode
        self.output = output
    }

    enum CodingKeys: String, CodingKey {
        case start = "Start"
        case end = "End"
        case exitCode = "ExitCode"
        case output = "Output"
    }
}

/// A probe's output as Docker keeps it (moby's `limitedBuffer`): the first 4096 bytes of
/// stdout and stderr together; anything beyond is dropped and marked with `...`.
public struct ProbeOutput: Sendable, Equatable {
    /// moby's `maxOutputLen`.
    public static let limit = 4096
    public private(set) var bytes: [UInt8] = []
    public private(set) var truncated = false

    public init() {}

    public mutating func append(_ chunk: some Collection<UInt8>) {
        let keep = min(Self.limit - bytes.count, chunk.count)
        if keep > 0 { bytes += chunk.prefix(keep) }
        if keep < chunk.count { truncated = true }
    }

    /// Invalid UTF-8 becomes U+FFFD, as Go's JSON encoding does.
    public var text: String { String(decoding: bytes, as: UTF8.self) + (truncated ? "..." : "") }
}

/// How a probe ended, before it becomes a log entry.
public enum ProbeEnding: Sendable, Equatable {
    /// The command's exit code (the exec's own: 126 not executable, 127 not found).
    case exited(Int32)
    /// Killed after the check's timeout.
    case timedOut
    /// The exec could not be started; the text says why.
    case failedToRun(String)
}

extension HealthLogEntry {
    /// Docker's result for a probe: a timeout is exit -1 with "Health check exceeded timeout
    /// (30s)"; an exec that could not start is exit -1 with the error.
    public init(_ ending: ProbeEnding, output: ProbeOutput, start: String, end: String, timeout: Int64) {
        switch ending {
        case .exited(let code):
            self.init(start: start, end: end, exitCode: Int(code), output: output.text)
        case .timedOut:
            self.init(start: start, end: end, exitCode: -1, output: "Health check exceeded timeout (\(ComposeSpec.Duration(nanoseconds: timeout)))")
        case .failedToRun(let message):
            self.init(start: start, end: end, exitCode: -1, output: message)
        }
    }
}

/// Docker's health state machine for one run of a container (moby `daemon/health.go`:
/// `initHealthMonitor`, `handleProbeResult`, and the monitor's interval rule). Pure: times
/// are given on a monotonic clock in nanoseconds, so tests drive it on a fake clock.
public struct HealthMachine: Sendable, Equatable {
    public let config: HealthConfig
    /// When the container started, on the same clock as the probes' times.
    public let containerStart: Int64
    public private(set) var health: ContainerHealth

    /// `restored`: the state a previous supervisor left for this same run of the container
    /// (kept, not reset: see `HealthProber.track`); nil starts at `starting`.
    public init(config: HealthConfig, containerStart: Int64, restored: ContainerHealth? = nil) {
        self.config = config
        self.containerStart = containerStart
        health = restored ?? ContainerHealth()
    }

    public var status: ContainerHealth.Status { health.status }

    /// The wait before the next probe, decided at `now`: `start_interval` while the
    /// container is within its start period and still `starting`, else `interval`.
    public func interval(at now: Int64) -> Int64 {
        if now - containerStart >= config.effectiveStartPeriod { return config.effectiveInterval }
        return health.status == .starting ? config.effectiveStartInterval : config.effectiveInterval
    }

    /// When the probe after `reference` is due: the first one interval after the start, the
    /// next ones one interval after the previous probe finished.
    public func nextProbe(after reference: Int64) -> Int64 {
        reference + interval(at: reference)
    }

    /// Applies a probe's result (begun at `probeStart`); returns true when the status changed.
    /// Success: healthy, streak 0. Failure: not counted while `starting` within the start
    /// period; otherwise the streak grows and reaching `retries` makes it unhealthy.
    @discardableResult
    public mutating func record(_ entry: HealthLogEntry, probeStart: Int64) -> Bool {
        let old = health.status
        health.log.append(entry)
        if health.log.count > ContainerHealth.maxLogEntries {
            health.log.removeFirst(health.log.count - ContainerHealth.maxLogEntries)
        }
        if entry.exitCode == 0 {
            health.failingStreak = 0
            health.status = .healthy
        } else if !(health.status == .starting && probeStart - containerStart < config.effectiveStartPeriod) {
            health.failingStreak += 1
            if health.failingStreak >= config.effectiveRetries { health.status = .unhealthy }
        }
        return health.status != old
    }

    /// The monitor stopped with the container: Docker marks it unhealthy ("for compatibility
    /// reasons", `CloseMonitorChannel`), without an event.
    public mutating func stop() {
        health.status = .unhealthy
    }
}
