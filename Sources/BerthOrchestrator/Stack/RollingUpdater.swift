import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation

/// Does what a `RollingUpdate` says, for one service of an `up`: creates and starts the new
/// containers (under Compose's temporary name `<id12>_<name>` while the old one still has the
/// name), waits for them through the supervisor (ready: healthy, or running without a
/// healthcheck; monitored: still so), stops old ones (kept until the update is over, for a
/// revert), renames, reverts, and finally removes the old containers of the updated replicas.
/// Each action runs on its own thread; the answers come back through a queue the loop waits
/// on, with the plan's next deadline.
struct RollingUpdater: Sendable {
    let stack: Stack
    let service: String
    let policy: UpdatePolicy
    let timeout: Int?
    /// Creates the new container of a replica: (number, name, id, the old container's spec) → id.
    let create: @Sendable (Int, String, String, ContainerSpec?) throws -> String
    let progress: StackProgress

    /// A replica being updated: its old container, and its new one once created.
    struct Replica: Sendable {
        var name: String
        var old: ContainerRecord
        var new: String?
        /// The old container was renamed away (`<id12>_<name>`) when the replica was committed.
        var oldRenamed = false
    }

    /// Updates `olds` (the running containers to replace, with the name each replica ends
    /// with). Returns warnings for failures that were tolerated; throws when the update paused
    /// or rolled back.
    func run(_ olds: [(record: ContainerRecord, name: String)]) throws -> [String] {
        let replicas = LockedBox(Dictionary(olds.map { ($0.record.number, Replica(name: $0.name, old: $0.record)) }, uniquingKeysWith: { a, _ in a }))
        let answers = AnswerQueue()
        let problems = LockedBox<[String]>([])
        var machine = RollingUpdate(replicas: olds.map(\.record.number).sorted(), policy: policy, now: Clock.monotonicNanoseconds())
        var actions = machine.step(nil, now: Clock.monotonicNanoseconds())
        var inFlight = 0
        while true {
            for action in actions {
                if case .finish(let outcome) = action {
                    finish(outcome, replicas: replicas.value)
                    return try report(outcome, replicas: replicas.value, problems: problems.value)
                }
                inFlight += 1
                let work = self
                Thread { answers.post(work.perform(action, replicas: replicas, problems: problems)) }.start()
            }
            guard inFlight > 0 || machine.wakeup != nil else {
                throw EngineError("service \"\(service)\": the rolling update stopped without an outcome (a bug): \(machine)")
            }
            let event = answers.next(before: machine.wakeup)
            if event != nil { inFlight -= 1 }
            actions = machine.step(event, now: Clock.monotonicNanoseconds())
        }
    }

    /// One action, start to answer.
    private func perform(_ action: RollingUpdate.Action, replicas: LockedBox<[Int: Replica]>, problems: LockedBox<[String]>) -> RollingUpdate.Event {
        switch action {
        case .startNew(let n):
            guard var replica = replicas.value[n] else { return .failed(n, "no replica \(n)") }
            let id = ContainerFactory.newID()
            let temporary = "\(id.prefix(12))_\(replica.name)"
            if policy.order == .startFirst { progress(.init(.container, replica.name, "Updating", .working)) }
            do {
                progress(.init(.container, temporary, "Creating", .working))
                let oldSpec = try? stack.engine.store.spec(replica.old.id)
                replica.new = try create(n, temporary, id, oldSpec)
                replicas.update { $0[n] = replica }
                progress(.init(.container, temporary, "Created", .done))
                progress(.init(.container, temporary, "Starting", .working))
                try stack.request(.start, [try stack.engine.store.record(id)])
                progress(.init(.container, temporary, "Started", .done))
                progress(.init(.container, temporary, "Waiting", .working))
                let response = try stack.client.send(.init(op: .waitCondition, containers: [id], condition: .runningOrHealthy))
                if let failure = response.results.compactMap(\.error).first {
                    progress(.init(.container, temporary, "Error", .failed))
                    return .failed(n, failure)
                }
                progress(.init(.container, temporary, "Healthy", .done))
                return .ready(n)
            } catch {
                progress(.init(.container, temporary, "Error", .failed))
                return .failed(n, "\(error)")
            }
        case .stopOld(let n):
            guard let replica = replicas.value[n] else { return .failed(n, "no replica \(n)") }
            if policy.order == .stopFirst { progress(.init(.container, replica.name, "Updating", .working)) }
            progress(.init(.container, replica.name, "Stopping", .working))
            do {
                try stack.request(.stop, [replica.old], timeout: timeout)
            } catch {
                return .failed(n, "\(error)")
            }
            progress(.init(.container, replica.name, "Stopped", .done))
            return .stopped(n)
        case .monitor(let n, let until):
            guard let new = replicas.value[n]?.new, let record = try? stack.engine.store.record(new) else { return .failed(n, "no new container for replica \(n)") }
            let milliseconds = Int(max(0, (until - Clock.monotonicNanoseconds()) / 1_000_000))
            do {
                let response = try stack.client.send(.init(op: .waitCondition, containers: [new], condition: .unready, waitMilliseconds: milliseconds))
                guard let result = response.results.first, result.timedOut != true else { return .held(n) }
                if let error = result.error { return .failed(n, error) }
                if let code = result.exitCode { return .failed(n, "container \(record.name) exited (\(code))") }
                return .failed(n, "container \(record.name) is unhealthy")
            } catch {
                return .failed(n, "\(error)")
            }
        case .commit(let n):
            guard var replica = replicas.value[n], let new = replica.new else { return .failed(n, "no new container for replica \(n)") }
            do {
                try stack.request(.rename, [replica.old], name: "\(replica.old.id.prefix(12))_\(replica.name)")
                replica.oldRenamed = true
                replicas.update { $0[n] = replica }
                try stack.request(.rename, [try stack.engine.store.record(new)], name: replica.name)
            } catch {
                return .failed(n, "\(error)")
            }
            progress(.init(.container, replica.name, "Updated", .done))
            return .committed(n)
        case .revert(let n):
            guard let replica = replicas.value[n] else { return .reverted(n) }
            progress(.init(.container, replica.name, "Reverting", .working))
            do {
                try revert(replica)
                progress(.init(.container, replica.name, "Reverted", .done))
            } catch {
                problems.update { $0.append("replica \(replica.name) could not be reverted: \(error)") }
                progress(.init(.container, replica.name, "Error", .failed))
            }
            return .reverted(n)
        case .finish:
            return .reverted(0)  // handled by the loop
        }
    }

    /// The old container runs (and is ready) again before the new one goes; then it gets its
    /// name back.
    private func revert(_ replica: Replica) throws {
        let old = try stack.engine.store.record(replica.old.id)
        if (try? stack.engine.observe(old.id))?.status != .running {
            try stack.request(.start, [old])
            let response = try stack.client.send(.init(op: .waitCondition, containers: [old.id], condition: .runningOrHealthy))
            if let failure = response.results.compactMap(\.error).first { throw EngineError(failure) }
        }
        if let new = replica.new, let record = try? stack.engine.store.record(new) {
            if (try? stack.engine.observe(new))?.status == .running { try stack.request(.stop, [record], timeout: timeout) }
            try stack.request(.remove, [record])
        }
        if replica.oldRenamed || old.name != replica.name { try stack.request(.rename, [old], name: replica.name) }
    }

    /// The old containers of the updated replicas go.
    private func finish(_ outcome: RollingUpdate.Outcome, replicas: [Int: Replica]) {
        let updated: [Int]
        switch outcome {
        case .updated(let reverted): updated = replicas.keys.filter { reverted[$0] == nil }
        case .paused(let done, _): updated = done
        case .rolledBack: updated = []
        }
        let olds = updated.sorted().compactMap { replicas[$0]?.old.id }.compactMap { try? stack.engine.store.record($0) }
        try? concurrently(olds) { old in
            progress(.init(.container, old.name, "Removing", .working))
            do {
                try stack.request(.remove, [old])
                progress(.init(.container, old.name, "Removed", .done))
            } catch {
                progress(.init(.container, old.name, "Error", .failed))
            }
        }
    }

    private func report(_ outcome: RollingUpdate.Outcome, replicas: [Int: Replica], problems: [String]) throws -> [String] {
        func reasons(_ failed: [Int: String]) -> String {
            failed.sorted { $0.key < $1.key }.map { "\(replicas[$0.key]?.name ?? "replica \($0.key)"): \($0.value)" }.joined(separator: "; ")
        }
        let extra = problems.isEmpty ? "" : " (" + problems.joined(separator: "; ") + ")"
        switch outcome {
        case .updated(let reverted):
            return reverted.sorted { $0.key < $1.key }.map { n, reason in
                "service \"\(service)\": \(replicas[n]?.name ?? "replica \(n)") keeps its previous container, the new one failed: \(reason)"
            } + problems
        case .paused(let updated, let failed):
            throw EngineError("service \"\(service)\": update paused due to failure of \(reasons(failed)); \(updated.count) of \(replicas.count) replicas updated, the others keep their previous container: fix the service and run up again to resume\(extra)")
        case .rolledBack(let failed):
            throw EngineError("service \"\(service)\": update rolled back due to failure of \(reasons(failed)); every replica is back on its previous container\(extra)")
        }
    }
}

/// Answers of the actions under way, waited for with a deadline.
final class AnswerQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [RollingUpdate.Event] = []

    func post(_ event: RollingUpdate.Event) {
        condition.withLock {
            events.append(event)
            condition.signal()
        }
    }

    /// The next answer, or nil once `deadline` (monotonic nanoseconds) has passed first.
    func next(before deadline: Int64?) -> RollingUpdate.Event? {
        condition.lock()
        defer { condition.unlock() }
        while events.isEmpty {
            guard let deadline else {
                condition.wait()
                continue
            }
            let left = deadline - Clock.monotonicNanoseconds()
            if left <= 0 { return nil }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(left) / 1e9))
        }
        return events.removeFirst()
    }
}
