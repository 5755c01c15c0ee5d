import Foundation

extension SupervisorClient {
    /// Starts the project's supervisor if a container needs one: a restart is pending (its
    /// supervisor was killed during the back-off), or a container with a restart policy
    /// ended while no supervisor ran and its monitor could not wake one. Stack commands and
    /// `ps`, `logs` and `events` call it: the next berth command on the project is what
    /// revives such a container — berth has no daemon that would.
    public func wakeIfNeeded(engine: ContainerEngine) {
        let needed = engine.store.records().contains { record in
            guard record.project == project, let state = try? engine.observe(record.id), state.status == .exited,
                  let run = state.startedAt else { return false }
            let restart = engine.store.restartRecord(record.id)
            if restart.pending?.run == run { return true }
            return restart.handledRun != run && !state.stoppedByUser
                && (try? LaunchConfig.load(directory: engine.store.path(record.id)))?.restart != nil
        }
        if needed { _ = try? send(.init(op: .hello)) }
    }
}
