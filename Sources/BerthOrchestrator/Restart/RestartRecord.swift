import BerthSystem

/// `<root>/containers/<id>/restart.json`: the restart policy's memory for one container —
/// the tracker (count, back-off, recent restarts), the run whose exit was last decided, and
/// the restart that is waiting for its delay. Written by the supervisor alone (like
/// health.json); read by `ps` (`Restarting (1) 2 seconds ago`), by `inspect`, and by the
/// next supervisor, which resumes a pending restart where its predecessor left it.
public struct RestartRecord: Codable, Sendable, Equatable {
    /// A restart decided and not yet done.
    public struct Pending: Codable, Sendable, Equatable {
        /// The run (its `startedAt`) that ended.
        public var run: String
        public var exitCode: Int32
        /// When it is due: wall clock, Unix nanoseconds.
        public var due: Int64

        public init(run: String, exitCode: Int32, due: Int64) {
            self.run = run
            self.exitCode = exitCode
            self.due = due
        }
    }

    public var tracker = RestartTracker()
    /// The `startedAt` of the last run whose end was handled (decided, and a `die` event
    /// written): an exit the supervisor did not see (it was down) has another.
    public var handledRun: String?
    public var pending: Pending?

    public init() {}

    static let fileName = "restart.json"
}

extension ContainerStore {
    /// The container's restart record (an empty one if it has none).
    public func restartRecord(_ id: String) -> RestartRecord {
        (try? Self.decode(RestartRecord.self, from: path(id) + "/" + RestartRecord.fileName)) ?? RestartRecord()
    }

    /// Atomic; fsynced, since a lost pending restart would leave an `always` container down.
    public func saveRestartRecord(_ record: RestartRecord, for id: String) throws {
        try FS.writeAtomically(path(id) + "/" + RestartRecord.fileName, Self.encode(record), mode: 0o600)
    }

    /// The restart waiting for the current run's end, if any: a pending record of the run
    /// the container's state last knew (`state` brought up to date by `observe`).
    public func pendingRestart(_ id: String, state: ContainerState) -> RestartRecord.Pending? {
        guard state.status == .exited, let run = state.startedAt, let pending = restartRecord(id).pending, pending.run == run else { return nil }
        return pending
    }
}
