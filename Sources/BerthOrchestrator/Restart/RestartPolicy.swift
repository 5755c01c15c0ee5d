import ComposeSpec

/// When the supervisor starts a container again after it ended by itself: Docker's restart
/// policies (`restart:`), or the swarm-style `deploy.restart_policy` (which wins, as in
/// Compose). Stored in the container's launch config; nil there means `no`.
public struct RestartPolicy: Codable, Sendable, Equatable {
    public enum Condition: String, Codable, Sendable {
        /// Never (Docker's `no`, deploy's `none`).
        case no
        /// Whatever the exit code (deploy's `any`).
        case always
        /// When the exit code is not 0.
        case onFailure = "on-failure"
        /// As `always`, unless stopped by hand (a supervisor restart does not bring back a
        /// container stopped by hand under any policy in berth; see `RestartTracker`).
        case unlessStopped = "unless-stopped"
    }

    public var condition: Condition
    /// Restarts allowed (`on-failure:N`, `max_attempts`); 0: no limit. With `window`, only
    /// the restarts of the last `window` count (swarmkit's sliding window).
    public var maxAttempts: Int
    /// The first delay of the back-off (`deploy.restart_policy.delay`); nil: Docker's 100 ms.
    public var delay: Int64?
    /// `deploy.restart_policy.window`, nanoseconds; nil: every restart since the last start
    /// by hand counts toward `maxAttempts`.
    public var window: Int64?

    public init(condition: Condition, maxAttempts: Int = 0, delay: Int64? = nil, window: Int64? = nil) {
        self.condition = condition
        self.maxAttempts = maxAttempts
        self.delay = delay
        self.window = window
    }

    /// Docker's back-off: 100 ms, doubled at each restart, at most one minute (moby
    /// `restartmanager`).
    public static let defaultDelay: Int64 = 100_000_000
    public static let maximumDelay: Int64 = 60_000_000_000
    /// A run at least this long resets the back-off to its first delay.
    public static let resetAfter: Int64 = 10_000_000_000

    /// The service's policy: `deploy.restart_policy` when given (condition `none`, `on-failure`,
    /// `any` — the default — or Docker's own names), else `restart:`; nil for `no`.
    public static func of(service name: String, _ service: Service) throws(ServiceConfigError) -> RestartPolicy? {
        if let deploy = service.deploy?.restart_policy {
            let key = "deploy.restart_policy"
            let condition: Condition
            switch deploy.condition ?? "any" {
            case "none", "no": condition = .no
            case "any", "always": condition = .always
            case "on-failure": condition = .onFailure
            case "unless-stopped": condition = .unlessStopped
            case let other:
                throw ServiceConfigError(service: name, key: key + ".condition", message: "\"\(other)\" is not a restart condition; use none, on-failure or any")
            }
            if let delay = deploy.delay, delay.nanoseconds < 0 {
                throw ServiceConfigError(service: name, key: key + ".delay", message: "\(delay) is negative; give 0s or more")
            }
            if let window = deploy.window, window.nanoseconds < 0 {
                throw ServiceConfigError(service: name, key: key + ".window", message: "\(window) is negative; give 0s or more")
            }
            guard condition != .no else { return nil }
            let window = deploy.window.map(\.nanoseconds).flatMap { $0 > 0 ? $0 : nil }
            return RestartPolicy(
                condition: condition, maxAttempts: Int(clamping: deploy.max_attempts ?? 0), delay: deploy.delay?.nanoseconds, window: window)
        }
        guard let text = service.restart else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
        var maxAttempts = 0
        if parts.count == 2 {
            guard parts[0] == "on-failure", let count = Int(parts[1]), count >= 0 else {
                throw ServiceConfigError(service: name, key: "restart", message: "\"\(text)\" is not a restart policy; use \"no\", always, on-failure[:max-retries] or unless-stopped")
            }
            maxAttempts = count
        }
        switch parts.first ?? "" {
        case "", "no": return nil
        case "always": return RestartPolicy(condition: .always)
        case "unless-stopped": return RestartPolicy(condition: .unlessStopped)
        case "on-failure": return RestartPolicy(condition: .onFailure, maxAttempts: maxAttempts)
        default:
            throw ServiceConfigError(service: name, key: "restart", message: "\"\(text)\" is not a restart policy; use \"no\", always, on-failure[:max-retries] or unless-stopped")
        }
    }
}

/// One container's restart history and back-off, as Docker's restart manager keeps it
/// (moby `restartmanager.ShouldRestart`), on an injected clock. Reset by a start by hand.
public struct RestartTracker: Codable, Sendable, Equatable {
    /// Restarts by policy since the last start by hand (Docker's `RestartCount`).
    public var count = 0
    /// The last back-off delay, nanoseconds; nil before the first restart and after a run
    /// long enough to reset the back-off (Docker's `timeout == 0`).
    public var delay: Int64?
    /// When the last restarts were decided (wall clock, Unix nanoseconds), for `window`.
    public var restartTimes: [Int64] = []

    public init() {}

    /// Keeps this many restart times at most.
    static let keptTimes = 64

    /// Whether the container that ended with `exitCode` after running `ranFor` nanoseconds
    /// is started again, and after how long (nil: it is not). `stoppedByHand`: it ended
    /// because of `stop`, `kill` or `down` — no policy restarts it then (Docker cancels the
    /// restart manager). `now` is the wall clock in Unix nanoseconds.
    ///
    /// As in moby: the delay grows even when the answer is no, a run of 10 s or more
    /// resets it, and the count grows with each restart decided. berth's additions: the
    /// back-off starts at `policy.delay` when given (a `delay` of 0 restarts at once the
    /// first time, then continues from 100 ms), its cap is the larger of one minute and
    /// `delay`, and `maxAttempts` (with its `window`) limits every condition.
    public mutating func decide(_ policy: RestartPolicy, exitCode: Int32, stoppedByHand: Bool, ranFor: Int64, now: Int64) -> Int64? {
        if stoppedByHand || policy.condition == .no { return nil }
        let first = policy.delay ?? RestartPolicy.defaultDelay
        let cap = max(RestartPolicy.maximumDelay, first)
        if ranFor >= RestartPolicy.resetAfter { delay = nil }
        let next = delay.map { min(max($0 * 2, RestartPolicy.defaultDelay), cap) } ?? first
        delay = next

        var restart: Bool
        switch policy.condition {
        case .no: restart = false
        case .always, .unlessStopped: restart = true
        case .onFailure: restart = exitCode != 0
        }
        if restart && policy.maxAttempts > 0 {
            restart = attempts(within: policy.window, now: now) < policy.maxAttempts
        }
        guard restart else { return nil }
        count += 1
        restartTimes.append(now)
        if restartTimes.count > Self.keptTimes { restartTimes.removeFirst(restartTimes.count - Self.keptTimes) }
        return next
    }

    /// The restarts that count toward the maximum: all since the last start by hand, or
    /// those of the last `window`.
    func attempts(within window: Int64?, now: Int64) -> Int {
        guard let window else { return count }
        return restartTimes.filter { now - $0 < window }.count
    }
}
