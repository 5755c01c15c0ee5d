import ComposeSpec
import Testing
@testable import BerthOrchestrator

/// The rolling-update planner on a fake clock: a simulated service of 4 replicas whose old
/// containers take 1 s to stop, new ones 2 s to become ready, reverts 3 s; answers come back at
/// those times. Seconds below are fake. Replica n's containers are "na" (before the update)
/// and "nb" (the update's); a rollback swaps the roles of the two.
struct UpdateSimulation {
    enum Fate: Equatable { case ok, failsToStart, failsWhileMonitored }

    static let second: Int64 = 1_000_000_000
    let replicas = [1, 2, 3, 4]
    var fates: [Int: Fate] = [:]
    /// How the previous container of a rolled back replica fares when it starts again.
    var rollbackFates: [Int: Fate] = [:]

    struct Result {
        var outcome: RollingUpdate.Outcome?
        /// Which replicas end on their new container.
        var updated: Set<Int>
        var seconds: Int64
        /// The fewest replicas serving (a container ready and not stopping) at any time.
        var minimumServing: Int
        /// The most containers running at once.
        var maximumRunning: Int
        var trace: [String]
    }

    func run(_ policy: UpdatePolicy, rollback: UpdatePolicy = UpdatePolicy()) -> Result {
        var clock: Int64 = 0
        var machine = RollingUpdate(replicas: replicas, policy: policy, rollback: rollback, now: 0)
        var queue: [(at: Int64, seq: Int, event: RollingUpdate.Event)] = []
        var seq = 0
        var old = Dictionary(uniqueKeysWithValues: replicas.map { ($0, "\($0)a") })
        var new = Dictionary(uniqueKeysWithValues: replicas.map { ($0, "\($0)b") })
        var rollingBack = Set<Int>()
        var serving = Set(old.values), running = Set(old.values)
        var minimumServing = replicas.count, maximumRunning = replicas.count
        var trace: [String] = []
        var finished: RollingUpdate.Outcome?
        func observe() {
            minimumServing = min(minimumServing, replicas.filter { n in serving.contains { $0.hasPrefix("\(n)") } }.count)
            maximumRunning = max(maximumRunning, running.count)
        }
        func later(_ seconds: Int64, _ event: RollingUpdate.Event) {
            seq += 1
            queue.append((clock + seconds * Self.second, seq, event))
        }
        func fate(_ n: Int) -> Fate? { rollingBack.contains(n) ? rollbackFates[n] : fates[n] }
        func perform(_ actions: [RollingUpdate.Action]) {
            for action in actions {
                trace.append("\(clock / Self.second)s \(action)")
                switch action {
                case .stopOld(let n):
                    serving.remove(old[n] ?? "")
                    later(1, .stopped(n))
                case .startNew(let n):
                    running.insert(new[n] ?? "")
                    later(2, fate(n) == .failsToStart ? .failed(n, "\(new[n] ?? "") exited (1)") : .ready(n))
                case .monitor(let n, let until):
                    if fate(n) == .failsWhileMonitored && until - clock > Self.second {
                        later(1, .failed(n, "\(new[n] ?? "") is unhealthy"))
                    } else {
                        seq += 1
                        queue.append((until, seq, .held(n)))
                    }
                case .commit(let n): later(0, .committed(n))
                case .revert(let n):
                    // The old container is ready again before the new one goes.
                    later(3, .reverted(n))
                case .rollBack(let numbers):
                    for n in numbers {
                        rollingBack.insert(n)
                        (old[n], new[n]) = (new[n], old[n])
                    }
                case .finish(let outcome): finished = outcome
                }
            }
        }
        func apply(_ event: RollingUpdate.Event) {
            switch event {
            case .stopped(let n): running.remove(old[n] ?? "")
            case .ready(let n): serving.insert(new[n] ?? "")
            case .failed(let n, _): serving.remove(new[n] ?? "")
            case .reverted(let n):
                running.remove(new[n] ?? "")
                serving.remove(new[n] ?? "")
                running.insert(old[n] ?? "")
                serving.insert(old[n] ?? "")
            case .held, .committed: break
            }
            observe()
        }
        perform(machine.step(nil, now: clock))
        observe()
        for _ in 0..<10_000 where finished == nil {
            queue.sort { ($0.at, $0.seq) < ($1.at, $1.seq) }
            let due = queue.first?.at ?? Int64.max
            let wake = machine.wakeup ?? Int64.max
            if due == Int64.max && wake == Int64.max { break }
            if due <= wake {
                let item = queue.removeFirst()
                clock = item.at
                apply(item.event)
                perform(machine.step(item.event, now: clock))
            } else {
                clock = wake
                perform(machine.step(nil, now: clock))
            }
        }
        return Result(
            outcome: finished, updated: Set(replicas.filter { running.contains("\($0)b") }), seconds: clock / Self.second,
            minimumServing: minimumServing, maximumRunning: maximumRunning, trace: trace)
    }
}

@Suite("rolling update planner")
struct RollingUpdateTests {
    static let parallelisms = [1, 2, 0]
    static let delays: [Int64] = [0, 10]
    static let monitors: [Int64] = [0, 5]
    static let ratios = [0.0, 0.5]

    /// Every combination of update_config (parallelism, delay, order, failure_action,
    /// monitor, max_failure_ratio) against three fates of a 4-replica service: all new
    /// containers work; replica 2's does not start; replica 3's turns unhealthy while
    /// monitored. The expected result of each row comes from the rules, worked out here.
    @Test(arguments: UpdatePolicy.Order.allCases)
    func everyUpdateConfigCombination(order: UpdatePolicy.Order) {
        var rows = 0
        for parallelism in Self.parallelisms {
            for delay in Self.delays {
                for action in UpdatePolicy.FailureAction.allCases {
                    for monitor in Self.monitors {
                        for ratio in Self.ratios {
                            let policy = UpdatePolicy(
                                parallelism: parallelism, delayNanoseconds: delay * UpdateSimulation.second, order: order, failureAction: action,
                                monitorNanoseconds: monitor * UpdateSimulation.second, maxFailureRatio: ratio)
                            check(policy, parallelism: parallelism, delay: delay, monitor: monitor)
                            rows += 1
                        }
                    }
                }
            }
        }
        #expect(rows == 3 * 2 * 3 * 2 * 2)
    }

    func check(_ policy: UpdatePolicy, parallelism: Int, delay: Int64, monitor: Int64) {
        let row = "\(policy)"
        let width = parallelism == 0 ? 4 : parallelism
        let batches = (4 + width - 1) / width
        func batch(of n: Int) -> Int { (n - 1) / width }
        // Fewest serving: start-first never drops below 4; stop-first loses a batch at a time.
        // Most running: start-first adds a batch at a time; stop-first never exceeds 4.
        let floor = policy.order == .startFirst ? 4 : 4 - width
        let ceiling = policy.order == .startFirst ? 4 + width : 4

        // All work: every replica updated; each takes stop 1 s + ready 2 s + monitor.
        let ok = UpdateSimulation().run(policy)
        #expect(ok.outcome == .updated(reverted: [:]), "\(row)")
        #expect(ok.updated == [1, 2, 3, 4], "\(row)")
        #expect(ok.seconds == Int64(batches) * (3 + monitor) + Int64(batches - 1) * delay, "\(row)")
        #expect(ok.minimumServing == floor && ok.maximumRunning == ceiling, "\(row)")
        #expect(!ok.trace.contains { $0.contains("revert(") }, "\(row)")

        // One failure in 4 is a ratio of 0.25: tolerated with 0.5 or continue.
        let halts = policy.failureAction != .continue && policy.maxFailureRatio < 0.25
        for (failing, fate) in [(2, UpdateSimulation.Fate.failsToStart), (3, .failsWhileMonitored)] {
            if fate == .failsWhileMonitored && monitor == 0 { continue }  // nothing is monitored
            let reason = fate == .failsToStart ? "2b exited (1)" : "3b is unhealthy"
            // Rolled back in the update's order and batches: the same floor and ceiling.
            let rollback = UpdatePolicy(parallelism: parallelism, order: policy.order, monitorNanoseconds: monitor * UpdateSimulation.second)
            let result = UpdateSimulation(fates: [failing: fate]).run(policy, rollback: rollback)
            let label = "\(row), replica \(failing) \(fate)"
            #expect(result.minimumServing >= floor && result.maximumRunning <= ceiling, "\(label)")
            if !halts {
                #expect(result.outcome == .updated(reverted: [failing: reason]), "\(label)")
                #expect(result.updated == Set([1, 2, 3, 4]).subtracting([failing]), "\(label)")
            } else if policy.failureAction == .rollback {
                #expect(result.outcome == .rolledBack(failed: [failing: reason]), "\(label)")
                #expect(result.updated == [], "\(label)")
            } else {
                // Paused: what was in the failing replica's batch or before is updated.
                let updated = [1, 2, 3, 4].filter { $0 != failing && batch(of: $0) <= batch(of: failing) }
                #expect(result.outcome == .paused(updated: updated, failed: [failing: reason]), "\(label)")
                #expect(result.updated == Set(updated), "\(label)")
            }
        }
    }

    /// One row written out: start-first, 2 at a time, 10 s apart, 5 s of monitoring.
    @Test func startFirstTimeline() {
        let policy = UpdatePolicy(parallelism: 2, delayNanoseconds: 10 * UpdateSimulation.second, order: .startFirst, monitorNanoseconds: 5 * UpdateSimulation.second)
        let result = UpdateSimulation().run(policy)
        #expect(result.trace == [
            "0s startNew(1)", "0s startNew(2)",
            "2s monitor(1, until: 7000000000)", "2s monitor(2, until: 7000000000)",
            "7s stopOld(1)", "7s stopOld(2)",
            "8s commit(1)", "8s commit(2)",
            "18s startNew(3)", "18s startNew(4)",
            "20s monitor(3, until: 25000000000)", "20s monitor(4, until: 25000000000)",
            "25s stopOld(3)", "25s stopOld(4)",
            "26s commit(3)", "26s commit(4)",
            "26s finish(BerthOrchestrator.RollingUpdate.Outcome.updated(reverted: [:]))",
        ])
    }

    /// A rollback: replica 1 updated, replica 2 unhealthy while monitored (stop-first, one at
    /// a time): 2 is reverted at once, then 1; nothing else starts.
    @Test func rollbackTimeline() {
        let policy = UpdatePolicy(failureAction: .rollback, monitorNanoseconds: 5 * UpdateSimulation.second)
        let result = UpdateSimulation(fates: [2: .failsWhileMonitored]).run(policy)
        #expect(result.trace == [
            "0s stopOld(1)", "1s startNew(1)", "3s monitor(1, until: 8000000000)", "8s commit(1)",
            "8s stopOld(2)", "9s startNew(2)", "11s monitor(2, until: 16000000000)",
            "12s revert(2)", "15s rollBack([1])", "15s stopOld(1)", "16s startNew(1)", "18s monitor(1, until: 23000000000)", "23s commit(1)",
            "23s finish(BerthOrchestrator.RollingUpdate.Outcome.rolledBack(failed: [2: \"2b is unhealthy\"]))",
        ])
    }

    /// deploy.rollback_config, row by row: replicas 1, 2, 3 are updated (start-first, one at a
    /// time, no monitoring), replica 4's new container does not start (reverted at once, 11 s
    /// to 14 s), and the update rolls back 3, 2, 1 from 14 s — in the rollback's batches,
    /// delay, order and monitoring; a previous container that fails again stops (pause) or
    /// not (continue, or a tolerated ratio) the rollback, and its replica stays updated.
    @Test func rollbackConfigTable() {
        let s = UpdateSimulation.second
        let update = UpdatePolicy(order: .startFirst, failureAction: .rollback, monitorNanoseconds: 0)
        let failed = [4: "4b exited (1)"]
        typealias Outcome = RollingUpdate.Outcome
        let rows: [(rollback: UpdatePolicy, fates: [Int: UpdateSimulation.Fate], trace: [String], outcome: Outcome, end: Int64, updated: Set<Int>)] = [
            // Swarm's defaults: one at a time, stop-first, 5 s of monitoring.
            (UpdatePolicy(), [:], [
                "14s stopOld(3)", "15s startNew(3)", "17s monitor(3, until: 22s)", "22s commit(3)",
                "22s stopOld(2)", "23s startNew(2)", "25s monitor(2, until: 30s)", "30s commit(2)",
                "30s stopOld(1)", "31s startNew(1)", "33s monitor(1, until: 38s)", "38s commit(1)",
            ], .rolledBack(failed: failed), 38, []),
            // All at once, start-first.
            (UpdatePolicy(parallelism: 0, order: .startFirst, monitorNanoseconds: 0), [:], [
                "14s startNew(3)", "14s startNew(2)", "14s startNew(1)", "16s stopOld(3)", "16s stopOld(2)", "16s stopOld(1)",
                "17s commit(3)", "17s commit(2)", "17s commit(1)",
            ], .rolledBack(failed: failed), 17, []),
            // Two at a time, 10 s apart.
            (UpdatePolicy(parallelism: 2, delayNanoseconds: 10 * s, monitorNanoseconds: 0), [:], [
                "14s stopOld(3)", "14s stopOld(2)", "15s startNew(3)", "15s startNew(2)", "17s commit(3)", "17s commit(2)",
                "27s stopOld(1)", "28s startNew(1)", "30s commit(1)",
            ], .rolledBack(failed: failed), 30, []),
            // Replica 2's previous container does not start again: it stays updated, and the
            // rollback pauses before replica 1.
            (UpdatePolicy(order: .startFirst, monitorNanoseconds: 0), [2: .failsToStart], [
                "14s startNew(3)", "16s stopOld(3)", "17s commit(3)", "17s startNew(2)", "19s revert(2)",
            ], .partlyRolledBack(failed: failed, rollbackFailed: [2: "2a exited (1)"], stayed: [1, 2]), 22, [1, 2]),
            // … or goes on with continue …
            (UpdatePolicy(order: .startFirst, failureAction: .continue, monitorNanoseconds: 0), [2: .failsToStart], [
                "14s startNew(3)", "16s stopOld(3)", "17s commit(3)", "17s startNew(2)", "19s revert(2)",
                "22s startNew(1)", "24s stopOld(1)", "25s commit(1)",
            ], .partlyRolledBack(failed: failed, rollbackFailed: [2: "2a exited (1)"], stayed: [2]), 25, [2]),
            // … or when 1 failure in 3 is within max_failure_ratio.
            (UpdatePolicy(order: .startFirst, monitorNanoseconds: 0, maxFailureRatio: 0.4), [2: .failsToStart], [
                "14s startNew(3)", "16s stopOld(3)", "17s commit(3)", "17s startNew(2)", "19s revert(2)",
                "22s startNew(1)", "24s stopOld(1)", "25s commit(1)",
            ], .partlyRolledBack(failed: failed, rollbackFailed: [2: "2a exited (1)"], stayed: [2]), 25, [2]),
            // Replica 3's previous container turns unhealthy while monitored (stop-first):
            // back on its updated one, and nothing else rolls back.
            (UpdatePolicy(), [3: .failsWhileMonitored], [
                "14s stopOld(3)", "15s startNew(3)", "17s monitor(3, until: 22s)", "18s revert(3)",
            ], .partlyRolledBack(failed: failed, rollbackFailed: [3: "3a is unhealthy"], stayed: [1, 2, 3]), 21, [1, 2, 3]),
        ]
        let updateTrace = [
            "0s startNew(1)", "2s stopOld(1)", "3s commit(1)", "3s startNew(2)", "5s stopOld(2)", "6s commit(2)",
            "6s startNew(3)", "8s stopOld(3)", "9s commit(3)", "9s startNew(4)", "11s revert(4)", "14s rollBack([3, 2, 1])",
        ]
        for row in rows {
            let result = UpdateSimulation(fates: [4: .failsToStart], rollbackFates: row.fates).run(update, rollback: row.rollback)
            let trace = result.trace.map { $0.replacingOccurrences(of: "000000000)", with: "s)") }
            #expect(Array(trace.prefix(updateTrace.count)) == updateTrace, "\(row.rollback)")
            #expect(Array(trace.dropFirst(updateTrace.count).dropLast()) == row.trace, "\(row.rollback)")
            #expect(result.outcome == row.outcome && result.seconds == row.end, "\(row.rollback)")
            #expect(result.updated == row.updated, "\(row.rollback)")
        }
    }

    /// Swarm's defaults, and the values a Compose file may not hold.
    @Test func policyFromTheComposeFile() throws {
        #expect(try UpdatePolicy(service: "web", DeployConfig.UpdateConfig()) == UpdatePolicy(
            parallelism: 1, delayNanoseconds: 0, order: .stopFirst, failureAction: .pause, monitorNanoseconds: 5_000_000_000, maxFailureRatio: 0))
        var config = DeployConfig.UpdateConfig()
        config.parallelism = 0
        config.delay = ComposeSpec.Duration.seconds(2)
        config.order = "start-first"
        config.failure_action = "rollback"
        config.monitor = ComposeSpec.Duration(nanoseconds: 500_000_000)
        config.max_failure_ratio = 0.3
        #expect(try UpdatePolicy(service: "web", config) == UpdatePolicy(
            parallelism: 0, delayNanoseconds: 2_000_000_000, order: .startFirst, failureAction: .rollback, monitorNanoseconds: 500_000_000, maxFailureRatio: 0.3))
        config.order = "first-start"
        #expect(throws: ServiceConfigError(service: "web", key: "deploy.update_config.order", message: "\"first-start\" is not an order; use stop-first or start-first")) {
            try UpdatePolicy(service: "web", config)
        }
        config.order = nil
        config.failure_action = "retry"
        #expect(throws: ServiceConfigError(service: "web", key: "deploy.update_config.failure_action", message: "\"retry\" is not a failure action; use pause, rollback or continue")) {
            try UpdatePolicy(service: "web", config)
        }
        config.failure_action = nil
        config.max_failure_ratio = 1.5
        #expect(throws: ServiceConfigError(service: "web", key: "deploy.update_config.max_failure_ratio", message: "1.5 is not a ratio from 0 to 1")) {
            try UpdatePolicy(service: "web", config)
        }
    }
}
