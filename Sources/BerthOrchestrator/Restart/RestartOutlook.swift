/// What follows the end of a container's run as far as its restart policy goes, for those
/// who wait for its next run (`logs -f`) without being the supervisor that decides: read
/// from restart.json and state.json, which the supervisor rewrites (by rename) at each step.
public enum RestartOutlook: Sendable, Equatable {
    /// Decided: it starts again once its back-off delay has passed.
    case restart
    /// Not decided yet: the supervisor has not handled the end of a container whose policy
    /// (or `x-berth: on-unhealthy: restart`) may start it again.
    case undecided
    /// It stays down: it runs no more (or never ran), was stopped by hand, its policy let it
    /// go, or it has none.
    case stopped

    /// The outlook of container `id` whose state (brought up to date) is `state`.
    public static func of(_ store: ContainerStore, _ id: String, state: ContainerState) -> RestartOutlook {
        guard state.status == .exited, let run = state.startedAt, !state.stoppedByUser else { return .stopped }
        let record = store.restartRecord(id)
        if record.handledRun == run { return record.pending?.run == run ? .restart : .stopped }
        let launch = try? LaunchConfig.load(directory: store.path(id))
        return launch?.restart != nil || launch?.onUnhealthy == .restart ? .undecided : .stopped
    }
}
