import ComposeSpec

/// A service's `deploy.update_config`, with Docker Swarm's defaults for what it leaves out
/// (parallelism 1, delay 0, order stop-first, failure_action pause, monitor 5s,
/// max_failure_ratio 0), as the compose-spec's deploy.md describes them.
public struct UpdatePolicy: Sendable, Equatable {
    public enum Order: String, Sendable, CaseIterable {
        /// The old container stops before the new one starts (never more than the wanted
        /// number run).
        case stopFirst = "stop-first"
        /// The new container starts, and the old one stops once the new one is ready (never
        /// fewer ready than wanted: the service answers throughout).
        case startFirst = "start-first"
    }

    public enum FailureAction: String, Sendable, CaseIterable {
        /// Stop updating: updated replicas stay updated, the others keep their version.
        case pause
        /// Put every replica the update touched back on its previous container.
        case rollback
        /// Go on with the other replicas.
        case `continue`
    }

    /// Replicas replaced at once; 0: all.
    public var parallelism: Int
    /// Wait between two batches.
    public var delayNanoseconds: Int64
    public var order: Order
    public var failureAction: FailureAction
    /// How long a new container must stay ready (running, healthy) after it became ready.
    public var monitorNanoseconds: Int64
    /// The share of failed replicas tolerated before `failureAction` applies.
    public var maxFailureRatio: Double

    public init(
        parallelism: Int = 1, delayNanoseconds: Int64 = 0, order: Order = .stopFirst, failureAction: FailureAction = .pause,
        monitorNanoseconds: Int64 = 5_000_000_000, maxFailureRatio: Double = 0
    ) {
        self.parallelism = parallelism
        self.delayNanoseconds = delayNanoseconds
        self.order = order
        self.failureAction = failureAction
        self.monitorNanoseconds = monitorNanoseconds
        self.maxFailureRatio = maxFailureRatio
    }

    /// From the Compose file's `deploy.update_config`, or `deploy.rollback_config` with
    /// `section: "rollback_config"` (a rollback cannot roll back: its failure action is pause
    /// or continue); errors name the service and the key.
    public init(service: String, _ config: DeployConfig.UpdateConfig, section: String = "update_config") throws(ServiceConfigError) {
        self.init()
        func fail(_ key: String, _ message: String) -> ServiceConfigError {
            ServiceConfigError(service: service, key: "deploy.\(section).\(key)", message: message)
        }
        if let value = config.parallelism {
            guard value >= 0 else { throw fail("parallelism", "\(value) is negative; use 0 (all at once) or more") }
            parallelism = value
        }
        if let value = config.delay {
            guard value.nanoseconds >= 0 else { throw fail("delay", "a negative duration is not a delay") }
            delayNanoseconds = value.nanoseconds
        }
        if let value = config.monitor {
            guard value.nanoseconds >= 0 else { throw fail("monitor", "a negative duration is not a monitoring period") }
            monitorNanoseconds = value.nanoseconds
        }
        if let value = config.order {
            guard let parsed = Order(rawValue: value) else { throw fail("order", "\"\(value)\" is not an order; use stop-first or start-first") }
            order = parsed
        }
        if let value = config.failure_action {
            let rollingBack = section == "rollback_config"
            guard let parsed = FailureAction(rawValue: value), !(rollingBack && parsed == .rollback) else {
                throw fail("failure_action", "\"\(value)\" is not a failure action\(rollingBack ? " of a rollback; use pause or continue" : "; use pause, rollback or continue")")
            }
            failureAction = parsed
        }
        if let value = config.max_failure_ratio {
            guard (0...1).contains(value) else { throw fail("max_failure_ratio", "\(value) is not a ratio from 0 to 1") }
            maxFailureRatio = value
        }
    }
}

/// How a service's replicas are updated (`deploy.update_config`) and how the replicas
/// updated so far go back when the update fails with failure_action rollback
/// (`deploy.rollback_config`, with Swarm's rollback defaults — the same as the update's —
/// for what it leaves out).
public struct RolloutPolicy: Sendable, Equatable {
    public var update: UpdatePolicy
    public var rollback: UpdatePolicy

    public init(update: UpdatePolicy = UpdatePolicy(), rollback: UpdatePolicy = UpdatePolicy()) {
        self.update = update
        self.rollback = rollback
    }

    /// From a service's `deploy` (nil without `update_config`: no rolling update).
    public init?(service: String, _ deploy: DeployConfig?) throws(ServiceConfigError) {
        guard let update = deploy?.update_config else { return nil }
        self.update = try UpdatePolicy(service: service, update)
        rollback = try deploy?.rollback_config.map { config throws(ServiceConfigError) in
            try UpdatePolicy(service: service, config, section: "rollback_config")
        } ?? UpdatePolicy()
    }
}
