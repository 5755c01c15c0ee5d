/// The plan of a rolling update of one service's replicas, as a pure state machine over
/// time: it says what to do next (`Action`), is told what happened (`Event`) and when (a
/// monotonic clock in nanoseconds, given by the caller — tests give a fake one), and decides
/// batches, delays, monitoring, failures and the failure action. `RollingUpdater` does the work.
///
/// Per replica (its old container keeps running or is kept stopped until the whole update is
/// over, so that any replica can go back to it):
/// - stop-first: stop the old, start the new, wait until it is ready, monitor it, commit;
/// - start-first: start the new, wait until it is ready, monitor it, stop the old, commit —
///   the old one serves until the new one has held for the monitoring period.
///
/// A replica whose new container fails (does not start, exits, or turns unhealthy before it
/// is ready or while it is monitored) is reverted at once: its old container runs again and the
/// new one goes. When failures exceed `maxFailureRatio` of the replicas, `pause` stops the
/// update (what was updated stays), `rollback` rolls back every replica the update touched,
/// `continue` goes on. Batches of `parallelism` replicas follow each other `delay` apart.
///
/// A rollback waits for the replicas under way (those not yet updated go back at once), then
/// rolls the updated replicas, last updated first, back to their previous containers as an
/// update of its own under the rollback policy (`deploy.rollback_config`: its batches, delay,
/// order, monitoring; its failure action, pause or continue, when a previous container fails
/// — that replica then stays on its updated container).
public struct RollingUpdate: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Create and start the new container of replica `n` and wait until it is ready:
        /// answer `.ready(n)` or `.failed(n, reason)`.
        case startNew(Int)
        /// Stop replica `n`'s old container (it is kept for a revert): answer `.stopped(n)`.
        case stopOld(Int)
        /// Watch replica `n`'s new container until `until`: answer `.held(n)` then, or
        /// `.failed(n, reason)` as soon as it is no longer ready.
        case monitor(Int, until: Int64)
        /// Replica `n` is updated: its new container takes the replica's name; `.committed(n)`.
        case commit(Int)
        /// Put replica `n` back on its old container (started again, and ready) and remove the
        /// new one: `.reverted(n)`.
        case revert(Int)
        /// The update failed and rolls back these replicas (in this order): from now on, for
        /// them, "old" is the updated container and "new" the previous one — `startNew`
        /// starts the previous container again, `stopOld` stops the updated one, `commit` gives
        /// the previous one the replica's name back, `revert` keeps the updated one. No answer.
        case rollBack([Int])
        /// The update is over: remove the old containers of the updated (or rolled back)
        /// replicas.
        case finish(Outcome)
    }

    public enum Event: Sendable, Equatable {
        case ready(Int)
        case stopped(Int)
        case held(Int)
        case committed(Int)
        case failed(Int, String)
        case reverted(Int)
    }

    public enum Outcome: Sendable, Equatable {
        /// Every replica updated, except those that failed while failures were tolerated
        /// (`maxFailureRatio`, `continue`), which were reverted: replica → reason.
        case updated(reverted: [Int: String])
        /// Stopped by `pause`: `updated` replicas have the new version, the failed ones were
        /// reverted, the rest were not touched.
        case paused(updated: [Int], failed: [Int: String])
        /// Every replica touched went back to its previous container.
        case rolledBack(failed: [Int: String])
        /// The rollback itself failed for some replicas (`rollbackFailed`: their previous
        /// container did not come back) and paused or went on: `stayed` keep their updated
        /// container (those that failed, and those the paused rollback did not reach).
        case partlyRolledBack(failed: [Int: String], rollbackFailed: [Int: String], stayed: [Int])
    }

    enum Mode: Sendable, Equatable { case updating, rollingBack }

    enum Phase: Sendable, Equatable {
        case stoppingOld, starting, monitoring, committing, done, reverting, reverted
    }

    public let policy: UpdatePolicy
    public let rollbackPolicy: UpdatePolicy
    public let replicas: [Int]
    private var mode = Mode.updating
    /// The replicas rolled back, in order (once `mode` is `rollingBack`).
    private var rollingBack: [Int] = []
    private var pending: [Int]
    private var phases: [Int: Phase] = [:]
    private var batch: [Int] = []
    private var nextBatchAt: Int64
    private var failures: [Int: String] = [:]
    private var rollbackFailures: [Int: String] = [:]
    /// The failure action that stopped the current mode's batches.
    private var halted: UpdatePolicy.FailureAction?
    public private(set) var outcome: Outcome?

    /// `replicas`: the numbers of the replicas to update, in the order to update them.
    public init(replicas: [Int], policy: UpdatePolicy, rollback: UpdatePolicy = UpdatePolicy(), now: Int64) {
        self.replicas = replicas
        self.policy = policy
        rollbackPolicy = rollback
        pending = replicas
        nextBatchAt = now
    }

    /// The policy of what is under way: the update's, or the rollback's.
    private var active: UpdatePolicy { mode == .updating ? policy : rollbackPolicy }

    /// When the machine wants to be stepped without an event (the end of a delay), if ever.
    public var wakeup: Int64? {
        guard outcome == nil, halted == nil, batch.isEmpty, !pending.isEmpty else { return nil }
        return nextBatchAt
    }

    /// Whether work is under way (an action was given and its answer has not come).
    public var busy: Bool {
        phases.values.contains { [.stoppingOld, .starting, .monitoring, .committing, .reverting].contains($0) }
    }

    /// Takes `event` (nil: only time passed) at `now`; returns what to do now. Each action is
    /// given once.
    public mutating func step(_ event: Event?, now: Int64) -> [Action] {
        guard outcome == nil else { return [] }
        var actions: [Action] = []
        if let event { actions += handle(event, now: now) }
        if batch.allSatisfy({ phases[$0] == .done || phases[$0] == .reverted }) && !batch.isEmpty {
            batch = []
            nextBatchAt = now + active.delayNanoseconds
        }
        if mode == .updating && halted == .rollback && !busy {
            let updated = replicas.filter { phases[$0] == .done }.reversed()
            if !updated.isEmpty {
                mode = .rollingBack
                rollingBack = Array(updated)
                pending = rollingBack
                halted = nil
                nextBatchAt = now
                for n in updated { phases[n] = nil }
                actions.append(.rollBack(rollingBack))
            }
        }
        if halted == nil && batch.isEmpty && !pending.isEmpty && now >= nextBatchAt {
            let size = active.parallelism == 0 ? pending.count : min(active.parallelism, pending.count)
            batch = Array(pending.prefix(size))
            pending.removeFirst(size)
            for n in batch {
                if active.order == .stopFirst {
                    phases[n] = .stoppingOld
                    actions.append(.stopOld(n))
                } else {
                    phases[n] = .starting
                    actions.append(.startNew(n))
                }
            }
        }
        if !busy {
            if mode == .rollingBack {
                if halted != nil || (pending.isEmpty && batch.isEmpty) {
                    let stayed = rollingBack.filter { phases[$0] != .done }.sorted()
                    outcome = stayed.isEmpty
                        ? .rolledBack(failed: failures) : .partlyRolledBack(failed: failures, rollbackFailed: rollbackFailures, stayed: stayed)
                }
            } else if halted == .rollback {
                outcome = .rolledBack(failed: failures)  // nothing was updated: nothing to roll back
            } else if halted == .pause {
                outcome = .paused(updated: replicas.filter { phases[$0] == .done }, failed: failures)
            } else if pending.isEmpty && batch.isEmpty {
                outcome = .updated(reverted: failures)
            }
            if let outcome { actions.append(.finish(outcome)) }
        }
        return actions
    }

    private mutating func handle(_ event: Event, now: Int64) -> [Action] {
        // About to roll back: a replica still on its way goes back instead of going on.
        if mode == .updating && halted == .rollback, let n = Self.progressed(event), let phase = phases[n], [Phase.stoppingOld, .starting, .monitoring].contains(phase) {
            phases[n] = .reverting
            return [.revert(n)]
        }
        switch event {
        case .stopped(let n):
            guard phases[n] == .stoppingOld else { return [] }
            if active.order == .stopFirst {
                phases[n] = .starting
                return [.startNew(n)]
            }
            phases[n] = .committing
            return [.commit(n)]
        case .ready(let n):
            guard phases[n] == .starting else { return [] }
            if active.monitorNanoseconds > 0 {
                phases[n] = .monitoring
                return [.monitor(n, until: now + active.monitorNanoseconds)]
            }
            return held(n)
        case .held(let n):
            guard phases[n] == .monitoring else { return [] }
            return held(n)
        case .committed(let n):
            guard phases[n] == .committing else { return [] }
            phases[n] = .done
            return []
        case .reverted(let n):
            guard phases[n] == .reverting else { return [] }
            phases[n] = .reverted
            return []
        case .failed(let n, let reason):
            guard [.stoppingOld, .starting, .monitoring, .committing].contains(phases[n]) else { return [] }
            let count: Int
            if mode == .updating {
                failures[n] = reason
                count = failures.count
            } else {
                rollbackFailures[n] = reason
                count = rollbackFailures.count
            }
            phases[n] = .reverting
            let total = mode == .updating ? replicas.count : rollingBack.count
            if halted == nil && active.failureAction != .continue && Double(count) / Double(max(1, total)) > active.maxFailureRatio {
                // A rollback cannot roll back: it pauses.
                halted = mode == .updating ? active.failureAction : .pause
            }
            return [.revert(n)]
        }
    }

    /// The replica an answer of progress (not a failure, not the end of a revert) is about.
    static func progressed(_ event: Event) -> Int? {
        switch event {
        case .stopped(let n), .ready(let n), .held(let n): return n
        case .committed, .failed, .reverted: return nil
        }
    }

    /// Replica `n`'s new container is ready and held: start-first stops the old one now.
    private mutating func held(_ n: Int) -> [Action] {
        if active.order == .startFirst {
            phases[n] = .stoppingOld
            return [.stopOld(n)]
        }
        phases[n] = .committing
        return [.commit(n)]
    }
}
