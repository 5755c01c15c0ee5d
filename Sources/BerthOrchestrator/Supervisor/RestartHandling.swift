import BerthSystem
import ComposeSpec
import Foundation

/// What the supervisor does when a container ends: the `die` event, the restart policy's
/// decision, the restart after the back-off, the dependents with `depends_on: restart: true`,
/// and the `x-berth: on-unhealthy` actions.
extension ContainerLifecycle {
    /// A run that ended: logs `die` and lets the restart policy decide (once per run — a
    /// stop and the supervisor's loop may both see the same end). Called under the
    /// container's lock, with the state brought up to date.
    func handleExit(_ id: String, _ state: ContainerState) {
        guard state.status == .exited, let run = state.startedAt, let container = try? engine.store.record(id) else { return }
        var record = engine.store.restartRecord(id)
        guard record.handledRun != run else { return }
        record.handledRun = run
        let code = state.exitCode ?? 0
        let started = Self.nanoseconds(run)
        let finished = state.finishedAt.flatMap(Self.nanoseconds) ?? EventLog.now()
        let ranFor = started.map { max(0, finished - $0) } ?? 0
        events.record("die", container, extra: ["exitCode": "\(code)", "execDuration": "\(ranFor / 1_000_000_000)"], time: finished)

        var policy = (try? LaunchConfig.load(directory: engine.store.path(id)))?.restart
        if forcedRestart(id, take: true) {
            policy = RestartPolicy(condition: .always, maxAttempts: policy?.maxAttempts ?? 0, delay: policy?.delay, window: policy?.window)
        }
        let now = EventLog.now()
        if let policy, let delay = record.tracker.decide(policy, exitCode: code, stoppedByHand: state.stoppedByUser, ranFor: ranFor, now: now) {
            // The delay counts from the end (long past for an end found at adoption).
            let due = max(now, finished + delay)
            record.pending = .init(run: run, exitCode: code, due: due)
            restarts.schedule(id, at: Clock.monotonicNanoseconds() + (due - now))
            Self.log("container \(container.name) exited (\(code)): restart \(record.tracker.count) in \(ComposeSpec.Duration(nanoseconds: due - now))")
        }
        do { try engine.store.saveRestartRecord(record, for: id) } catch {
            Self.log("container \(container.name): cannot record its restart state: \(error)")
        }
    }

    /// At adoption, for a container that does not run: the restart its predecessor had
    /// scheduled, or the end nobody handled (it ended while no supervisor ran).
    func resumeRestart(_ id: String, _ state: ContainerState) {
        if let pending = engine.store.pendingRestart(id, state: state) {
            restarts.schedule(id, at: Clock.monotonicNanoseconds() + max(0, pending.due - EventLog.now()))
        } else {
            handleExit(id, state)
        }
    }

    /// A stop by hand of a container that waits for its restart: the restart is dropped
    /// and the run marked stopped by hand. Under the container's lock.
    func cancelRestart(_ id: String, run: String?) throws {
        restarts.cancel(id)
        var record = engine.store.restartRecord(id)
        if record.pending != nil {
            record.pending = nil
            try engine.store.saveRestartRecord(record, for: id)
        }
        try engine.markStoppedByUser(id, run: run)
    }

    /// A restart whose delay has passed (on a thread of its own). A start that fails counts
    /// as a run that ended at once with its exit code (125 when it never ran): the policy
    /// decides again, with a longer delay — the container is not given up on as Docker
    /// does, but the back-off keeps the attempts apart.
    public func restartDue(_ id: String) {
        defer { restarts.finished(id) }
        let containerLock = containerLock(id)
        containerLock.lock()
        var restarted = false
        if let state = try? engine.observe(id), state.status != .running, let pending = engine.store.pendingRestart(id, state: state) {
            do {
                _ = try startLocked(id, byPolicy: true)
                restarted = true
            } catch {
                let name = (try? engine.store.record(id))?.name ?? id
                Self.log("container \(name): restart failed: \(error)")
                var record = engine.store.restartRecord(id)
                let policy = (try? LaunchConfig.load(directory: engine.store.path(id)))?.restart ?? RestartPolicy(condition: .always)
                let now = EventLog.now()
                let code = engine.store.state(id).exitCode ?? 125
                if let delay = record.tracker.decide(policy, exitCode: code == 0 ? 125 : code, stoppedByHand: false, ranFor: 0, now: now) {
                    record.pending = .init(run: pending.run, exitCode: pending.exitCode, due: now + delay)
                    restarts.schedule(id, at: Clock.monotonicNanoseconds() + delay)
                } else {
                    record.pending = nil
                }
                try? engine.store.saveRestartRecord(record, for: id)
            }
        }
        containerLock.unlock()
        if restarted {
            restartDependents(of: id)
            restartPodMembers(of: id)
        }
    }

    /// A pod's infra that died and was restarted holds new namespaces: the members of its pod
    /// replica that still run, in the old ones, are restarted into the new (Kubernetes
    /// recreates a pod's containers with its sandbox).
    func restartPodMembers(of id: String) {
        guard let infra = try? engine.store.record(id), infra.label(Label.podInfra) == "True",
              let replica = PodReplica.of(infra, among: engine.store.records()) else { return }
        for member in replica.appMembers where (try? engine.observe(member.id))?.status == .running {
            restart(member, with: infra, why: "into the new namespaces of \(infra.name)")
        }
    }

    /// Stops and starts a running container that `cause` was restarted under, with a `restart`
    /// event; `why` completes the log line.
    func restart(_ container: ContainerRecord, with cause: ContainerRecord, why: String) {
        do {
            _ = try stop(container.id, signal: nil, timeout: nil)
            _ = try start(container.id)
            events.record("restart", container)
            Self.log("container \(container.name) restarted \(why)")
        } catch {
            Self.log("container \(container.name): restart with \(cause.name) failed: \(error)")
        }
    }

    /// Compose's `depends_on: {X: {restart: true}}`: once a container of X has been
    /// restarted, the running containers that declare it are restarted too (stopped and
    /// started, as `berth restart` does), and theirs after them.
    func restartDependents(of id: String, visited: Set<String> = []) {
        guard let container = try? engine.store.record(id) else { return }
        let all = engine.store.records().filter { $0.project == project && !$0.oneOff }
        for dependent in all where !visited.contains(dependent.id) && Label.restartsWith(dependent).contains(container.service) {
            guard (try? engine.observe(dependent.id))?.status == .running else { continue }
            restart(dependent, with: container, why: "with \(container.name) (depends_on restart: true)")
            restartDependents(of: dependent.id, visited: visited.union([id, dependent.id]))
        }
    }

    /// `x-berth: on-unhealthy`, once the health check has turned the container unhealthy.
    func actOnUnhealthy(_ id: String) {
        guard let action = (try? LaunchConfig.load(directory: engine.store.path(id)))?.onUnhealthy, action != .none,
              (try? engine.observe(id))?.status == .running else { return }
        let name = (try? engine.store.record(id))?.name ?? id
        Self.log("container \(name) is unhealthy: on-unhealthy: \(action.rawValue)")
        do {
            switch action {
            case .none: return
            case .restart:
                _ = forcedRestart(id, take: false)
                _ = try stop(id, signal: nil, timeout: nil, byUser: false)
            case .stop:
                _ = try stop(id, signal: nil, timeout: nil)
            case .kill:
                try kill(id, signal: SIGKILL, byUser: false)
            }
        } catch {
            Self.log("container \(name): on-unhealthy: \(action.rawValue) failed: \(error)")
        }
    }

    static func nanoseconds(_ rfc3339: String) -> Int64? {
        LogTime(rfc3339: rfc3339).map { $0.seconds * 1_000_000_000 + Int64($0.nanoseconds) }
    }

    static func log(_ line: String) {
        FileHandle.standardError.write(Data("berth supervise: \(line)\n".utf8))
    }
}
