import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation

/// Does what a `RollingUpdate` says, for one service of an `up` or one berth pod: creates and
/// starts the new containers (under Compose's temporary name `<id12>_<name>` while the old one
/// still has the name), waits for them through the supervisor (ready: healthy, or running
/// without a healthcheck; monitored: still so), stops old ones (kept until the update is
/// over, for a revert), renames, reverts, and finally removes the old containers of the
/// updated replicas. A replica is one container, or a pod replica's: its infra, its init
/// members (run to completion) and its other members, started in that order and stopped in
/// the reverse one. Each action runs on its own thread; the answers come back through a
/// queue the loop waits on, with the plan's next deadline.
struct RollingUpdater: Sendable {
    let stack: Stack
    /// What the update is about in messages: `service "web"`, `pod "app"`.
    let subject: String
    let policy: RolloutPolicy
    let timeout: Int?
    /// Creates the new container of a slot: (the slot, the replica's number, the temporary
    /// name, the id to give it, the ids created so far in this replica by service) → id.
    let create: @Sendable (Replica.Slot, Int, String, String, [String: String]) throws -> String
    let progress: StackProgress

    /// A replica being updated: its containers, old and new.
    struct Replica: Sendable {
        struct Slot: Sendable {
            var service: String
            /// The name the container ends with.
            var name: String
            var old: ContainerRecord?
            var new: String?
            /// An init member: started, and waited for until it has exited 0.
            var runsToCompletion = false
            /// A pod's infra: started, nothing to wait for.
            var holdsNamespaces = false

            init(service: String, name: String, old: ContainerRecord?, runsToCompletion: Bool = false, holdsNamespaces: Bool = false) {
                self.service = service
                self.name = name
                self.old = old
                self.runsToCompletion = runsToCompletion
                self.holdsNamespaces = holdsNamespaces
            }

            /// Its readiness is the replica's (not an infra, not an init member).
            var servesTraffic: Bool { !runsToCompletion && !holdsNamespaces }
        }

        /// In start order.
        var slots: [Slot]
        /// The old containers were renamed away (`<id12>_<name>`) when the replica was committed.
        var oldRenamed = false
        /// Rolled back: `old` is the updated container, `new` the previous one (which exists).
        var rollingBack = false

        /// For messages: the container's name, the pod replica's names.
        var name: String { slots.map(\.name).joined(separator: ", ") }

        /// The committed replica to roll back: its updated containers become the old ones, its
        /// previous containers the new ones (a slot the update added has no previous one).
        func rolledBack(_ store: ContainerStore) -> Replica {
            var back = Replica(slots: slots.map { slot in
                var swapped = Slot(
                    service: slot.service, name: slot.name, old: slot.new.flatMap { try? store.record($0) },
                    runsToCompletion: slot.runsToCompletion, holdsNamespaces: slot.holdsNamespaces)
                swapped.new = slot.old?.id
                return swapped
            })
            back.rollingBack = true
            return back
        }

        /// Progress words: (under way, done) — `Updating`/`Updated` or `Rolling back`/`Rolled back`.
        var progressWords: (String, String) { rollingBack ? ("Rolling back", "Rolled back") : ("Updating", "Updated") }
    }

    /// Updates `replicas` (by number). Returns warnings for failures that were tolerated;
    /// throws when the update paused or rolled back.
    func run(_ replicas: [Int: Replica]) throws -> [String] {
        let replicas = LockedBox(replicas)
        let answers = AnswerQueue()
        let problems = LockedBox<[String]>([])
        var machine = RollingUpdate(
            replicas: replicas.value.keys.sorted(), policy: policy.update, rollback: policy.rollback, now: Clock.monotonicNanoseconds())
        var actions = machine.step(nil, now: Clock.monotonicNanoseconds())
        var inFlight = 0
        while true {
            for action in actions {
                if case .finish(let outcome) = action {
                    finish(outcome, replicas: replicas.value)
                    return try report(outcome, replicas: replicas.value, problems: problems.value)
                }
                if case .rollBack(let numbers) = action {
                    let store = stack.engine.store
                    replicas.update { all in for n in numbers { all[n] = all[n]?.rolledBack(store) } }
                    continue
                }
                inFlight += 1
                let work = self
                Thread { answers.post(work.perform(action, replicas: replicas, problems: problems)) }.start()
            }
            guard inFlight > 0 || machine.wakeup != nil else {
                throw EngineError("\(subject): the rolling update stopped without an outcome (a bug): \(machine)")
            }
            let event = answers.next(before: machine.wakeup)
            if event != nil { inFlight -= 1 }
            actions = machine.step(event, now: Clock.monotonicNanoseconds())
        }
    }

    /// Updates a service's running containers `olds` (each with the name its replica ends with).
    func run(service: String, _ olds: [(record: ContainerRecord, name: String)]) throws -> [String] {
        try run(Dictionary(olds.map { ($0.record.number, Replica(slots: [.init(service: service, name: $0.name, old: $0.record)])) }, uniquingKeysWith: { a, _ in a }))
    }

    /// One action, start to answer.
    private func perform(_ action: RollingUpdate.Action, replicas: LockedBox<[Int: Replica]>, problems: LockedBox<[String]>) -> RollingUpdate.Event {
        guard let replica = replicas.value[action.replica] else { return .failed(action.replica, "no replica \(action.replica)") }
        let n = action.replica
        switch action {
        case .startNew:
            do {
                try startNew(n, replica, replicas: replicas)
                return .ready(n)
            } catch {
                return .failed(n, "\(error)")
            }
        case .stopOld:
            if order(replica) == .stopFirst { for slot in replica.slots { progress(.init(.container, slot.name, replica.progressWords.0, .working)) } }
            for slot in replica.slots.reversed() where !slot.runsToCompletion {
                guard let old = slot.old else { continue }
                progress(.init(.container, slot.name, "Stopping", .working))
                do {
                    try stack.request(.stop, [old], timeout: timeout)
                } catch {
                    return .failed(n, "\(error)")
                }
                progress(.init(.container, slot.name, "Stopped", .done))
            }
            return .stopped(n)
        case .monitor(_, let until):
            let watched = replica.slots.filter(\.servesTraffic).compactMap(\.new)
            guard !watched.isEmpty else { return .failed(n, "no new container for replica \(n)") }
            // Each until the end of the period: the first that is no longer ready fails it.
            let failures = LockedBox<[String]>([])
            try? concurrently(watched) { id in
                let milliseconds = Int(max(0, (until - Clock.monotonicNanoseconds()) / 1_000_000))
                let name = (try? stack.engine.store.record(id).name) ?? id
                do {
                    let response = try stack.client.send(.init(op: .waitCondition, containers: [id], condition: .unready, waitMilliseconds: milliseconds))
                    guard let result = response.results.first, result.timedOut != true else { return }
                    let reason = result.error ?? result.exitCode.map { "container \(name) exited (\($0))" } ?? "container \(name) is unhealthy"
                    failures.update { $0.append(reason) }
                } catch {
                    failures.update { $0.append("\(error)") }
                }
            }
            if let failure = failures.value.first { return .failed(n, failure) }
            return .held(n)
        case .commit:
            var committed = replica
            do {
                for slot in replica.slots {
                    guard let old = slot.old else { continue }
                    try stack.request(.rename, [old], name: "\(old.id.prefix(12))_\(slot.name)")
                }
                committed.oldRenamed = true
                replicas.update { $0[n] = committed }
                for slot in replica.slots {
                    guard let new = slot.new else { continue }
                    try stack.request(.rename, [try stack.engine.store.record(new)], name: slot.name)
                }
            } catch {
                return .failed(n, "\(error)")
            }
            for slot in replica.slots { progress(.init(.container, slot.name, replica.progressWords.1, .done)) }
            return .committed(n)
        case .revert:
            for slot in replica.slots { progress(.init(.container, slot.name, "Reverting", .working)) }
            do {
                try revert(replica)
                for slot in replica.slots { progress(.init(.container, slot.name, "Reverted", .done)) }
            } catch {
                problems.update { $0.append("replica \(replica.name) could not be reverted: \(error)") }
                for slot in replica.slots { progress(.init(.container, slot.name, "Error", .failed)) }
            }
            return .reverted(n)
        case .finish, .rollBack:
            return .reverted(0)  // handled by the loop
        }
    }

    /// The order of the policy the replica is under (the update's, or the rollback's).
    private func order(_ replica: Replica) -> UpdatePolicy.Order {
        replica.rollingBack ? policy.rollback.order : policy.update.order
    }

    /// Creates the replica's new containers, starts them in order (an init member must
    /// complete), and waits until those that serve are ready.
    private func startNew(_ n: Int, _ initial: Replica, replicas: LockedBox<[Int: Replica]>) throws {
        var replica = initial
        if order(replica) == .startFirst { for slot in replica.slots { progress(.init(.container, slot.name, replica.progressWords.0, .working)) } }
        var created: [String: String] = [:]
        // A rollback starts the previous containers again: nothing to create.
        for index in replica.slots.indices where !replica.rollingBack {
            let slot = replica.slots[index]
            let id = ContainerFactory.newID()
            let temporary = "\(id.prefix(12))_\(slot.name)"
            progress(.init(.container, temporary, "Creating", .working))
            do {
                replica.slots[index].new = try create(slot, n, temporary, id, created)
            } catch {
                progress(.init(.container, temporary, "Error", .failed))
                throw error
            }
            created[slot.service] = id
            replicas.update { $0[n] = replica }
            progress(.init(.container, temporary, "Created", .done))
        }
        for slot in replica.slots {
            guard let new = slot.new else { continue }
            let temporary = "\(new.prefix(12))_\(slot.name)"
            do {
                progress(.init(.container, temporary, "Starting", .working))
                try stack.request(.start, [try stack.engine.store.record(new)])
                progress(.init(.container, temporary, "Started", .done))
                if slot.runsToCompletion {
                    progress(.init(.container, temporary, "Waiting", .working))
                    let response = try stack.client.send(.init(op: .wait, containers: [new]))
                    if let error = response.results.first?.error { throw EngineError(error) }
                    let code = response.results.first?.exitCode ?? 0
                    if code != 0 { throw EngineError("init member \(slot.service) of the new pod replica exited with code \(code)") }
                    progress(.init(.container, temporary, "Exited", .done))
                }
            } catch {
                progress(.init(.container, temporary, "Error", .failed))
                throw error
            }
        }
        let serving = replica.slots.filter(\.servesTraffic).compactMap(\.new)
        for id in serving { progress(.init(.container, "\(id.prefix(12))_\(slotName(id, replica))", "Waiting", .working)) }
        let response = try stack.client.send(.init(op: .waitCondition, containers: serving, condition: .runningOrHealthy))
        if let failure = response.results.compactMap(\.error).first {
            for id in serving { progress(.init(.container, "\(id.prefix(12))_\(slotName(id, replica))", "Error", .failed)) }
            throw EngineError(failure)
        }
        for id in serving { progress(.init(.container, "\(id.prefix(12))_\(slotName(id, replica))", "Healthy", .done)) }
    }

    private func slotName(_ id: String, _ replica: Replica) -> String {
        replica.slots.first { $0.new == id }?.name ?? id
    }

    /// The old containers run (and are ready) again before the new ones go; then they get
    /// their names back.
    private func revert(_ replica: Replica) throws {
        for slot in replica.slots where !slot.runsToCompletion {
            guard let old = slot.old.flatMap({ try? stack.engine.store.record($0.id) }) else { continue }
            if (try? stack.engine.observe(old.id))?.status != .running { try stack.request(.start, [old]) }
        }
        let serving = replica.slots.filter(\.servesTraffic).compactMap(\.old?.id)
        if !serving.isEmpty {
            let response = try stack.client.send(.init(op: .waitCondition, containers: serving, condition: .runningOrHealthy))
            if let failure = response.results.compactMap(\.error).first { throw EngineError(failure) }
        }
        for slot in replica.slots.reversed() {
            guard let new = slot.new, let record = try? stack.engine.store.record(new) else { continue }
            if (try? stack.engine.observe(new))?.status == .running { try stack.request(.stop, [record], timeout: timeout) }
            try stack.request(.remove, [record])
        }
        for slot in replica.slots {
            guard let old = slot.old.flatMap({ try? stack.engine.store.record($0.id) }) else { continue }
            if replica.oldRenamed || old.name != slot.name { try stack.request(.rename, [old], name: slot.name) }
        }
    }

    /// The containers no replica runs on any more go: the old containers of the updated
    /// replicas, the updated containers of the rolled back ones, and the previous containers
    /// of those that stayed updated after a rollback (gone already for those whose previous
    /// container failed).
    private func finish(_ outcome: RollingUpdate.Outcome, replicas: [Int: Replica]) {
        var leftovers: [Int: [Replica.Slot]] = [:]
        func olds(_ numbers: [Int]) { for n in numbers { leftovers[n] = replicas[n]?.slots.map { $0 } } }
        switch outcome {
        case .updated(let reverted): olds(replicas.keys.filter { reverted[$0] == nil })
        case .paused(let done, _): olds(done)
        case .rolledBack: olds(replicas.keys.filter { replicas[$0]?.rollingBack == true })
        case .partlyRolledBack(_, _, let stayed):
            olds(replicas.keys.filter { replicas[$0]?.rollingBack == true && !stayed.contains($0) })
            for n in stayed {
                // The previous containers, as the old ones to remove.
                leftovers[n] = replicas[n]?.slots.map { slot in
                    Replica.Slot(service: slot.service, name: slot.name, old: slot.new.flatMap { try? stack.engine.store.record($0) })
                }
            }
        }
        let gone = leftovers
        try? concurrently(gone.keys.sorted()) { n in
            for slot in gone[n]?.reversed() ?? [] {
                guard let old = slot.old.flatMap({ try? stack.engine.store.record($0.id) }) else { continue }
                progress(.init(.container, old.name, "Removing", .working))
                do {
                    try stack.request(.remove, [old])
                    progress(.init(.container, old.name, "Removed", .done))
                } catch {
                    progress(.init(.container, old.name, "Error", .failed))
                }
            }
        }
    }

    private func report(_ outcome: RollingUpdate.Outcome, replicas: [Int: Replica], problems: [String]) throws -> [String] {
        func reasons(_ failed: [Int: String]) -> String {
            failed.sorted { $0.key < $1.key }.map { "\(replicas[$0.key]?.name ?? "replica \($0.key)"): \($0.value)" }.joined(separator: "; ")
        }
        let extra = problems.isEmpty ? "" : " (" + problems.joined(separator: "; ") + ")"
        let kept = replicas.values.first.map { $0.slots.count > 1 } == true ? "containers" : "container"
        switch outcome {
        case .updated(let reverted):
            return reverted.sorted { $0.key < $1.key }.map { n, reason in
                "\(subject): \(replicas[n]?.name ?? "replica \(n)") keeps its previous \(kept), the new one failed: \(reason)"
            } + problems
        case .paused(let updated, let failed):
            throw EngineError("\(subject): update paused due to failure of \(reasons(failed)); \(updated.count) of \(replicas.count) replicas updated, the others keep their previous \(kept): fix the \(subject.hasPrefix("pod") ? "pod" : "service") and run up again to resume\(extra)")
        case .rolledBack(let failed):
            throw EngineError("\(subject): update rolled back due to failure of \(reasons(failed)); every replica is back on its previous \(kept)\(extra)")
        case .partlyRolledBack(let failed, let rollbackFailed, let stayed):
            let names = stayed.map { replicas[$0]?.name ?? "replica \($0)" }.joined(separator: ", ")
            let why = rollbackFailed.isEmpty ? "" : " (the rollback failed for \(reasons(rollbackFailed)))"
            throw EngineError(
                "\(subject): update failed due to failure of \(reasons(failed)) and was rolled back only in part\(why): \(names) \(stayed.count == 1 ? "keeps its" : "keep their") updated \(kept): fix the \(subject.hasPrefix("pod") ? "pod" : "service") and run up again\(extra)")
        }
    }
}

extension RollingUpdate.Action {
    /// The replica the action is about (0 for `finish`).
    var replica: Int {
        switch self {
        case .startNew(let n), .stopOld(let n), .monitor(let n, _), .commit(let n), .revert(let n): return n
        case .finish, .rollBack: return 0
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
