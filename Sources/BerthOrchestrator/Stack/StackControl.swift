import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation

/// Commands that act on the project's existing containers one by one (`kill`, `rm`,
/// `pause`, `unpause`, `wait`): each container concurrently, Compose's progress per
/// container, the first error thrown once all are done.
extension Stack {
    /// The project's containers that are running (paused ones included).
    public func runningContainers() -> [ContainerRecord] {
        containers().filter { (try? engine.observe($0.id))?.status == .running }
    }

    /// The container's cgroup: `berth/<project>/<name its run started under>` (a container
    /// renamed while it runs keeps its cgroup).
    public func cgroup(of record: ContainerRecord, layout: CgroupLayout) -> Cgroup {
        Cgroup(layout: layout, project: record.project, name: (try? engine.store.spec(record.id).name) ?? record.name)
    }

    /// Whether the container's processes are frozen (`pause`).
    public func isPaused(_ record: ContainerRecord) -> Bool {
        guard let layout = try? CgroupLayout.detect() else { return false }
        return cgroup(of: record, layout: layout).isFrozen
    }

    /// Sends `signal` to each container's main process (Compose's `kill`).
    public func kill(_ records: [ContainerRecord], signal: Int32, progress: @escaping StackProgress) throws {
        try each(records, op: .kill, signal: signal, working: "Killing", done: "Killed", failed: "Error while Killing", progress: progress)
    }

    public func pause(_ records: [ContainerRecord], progress: @escaping StackProgress) throws {
        try each(records, op: .pause, working: "Pausing", done: "Paused", failed: "Error while Pausing", progress: progress)
    }

    public func unpause(_ records: [ContainerRecord], progress: @escaping StackProgress) throws {
        try each(records, op: .unpause, working: "Unpausing", done: "Unpaused", failed: "Error while Unpausing", progress: progress)
    }

    /// Removes stopped containers; `removeVolumes`: their anonymous volumes too (`rm -v`).
    public func remove(_ records: [ContainerRecord], removeVolumes: Bool, progress: @escaping StackProgress) throws {
        let specs = Dictionary(records.compactMap { record in (try? engine.store.spec(record.id)).map { (record.id, $0) } }, uniquingKeysWith: { a, _ in a })
        try each(records, op: .remove, working: "Removing", done: "Removed", failed: "Error while Removing", progress: progress) { record in
            if removeVolumes, let spec = specs[record.id] { _ = volumes.removeAnonymousVolumes(of: spec) }
        }
    }

    /// Blocks until every container has exited; returns each exit code as it comes, in
    /// the order they end (`report` is called from several threads).
    public func wait(_ records: [ContainerRecord], report: @escaping @Sendable (ContainerRecord, Int32) -> Void) throws {
        try concurrently(records) { record in
            let response = try request(.wait, [record])
            report(record, response.results.first?.exitCode ?? 0)
        }
    }

    private func each(
        _ records: [ContainerRecord], op: SupervisorProtocol.Request.Operation, signal: Int32? = nil, working: String, done: String,
        failed: String, progress: @escaping StackProgress, after: @escaping @Sendable (ContainerRecord) -> Void = { _ in }
    ) throws {
        try concurrently(records) { record in
            progress(.init(.container, record.name, working, .working))
            do {
                try request(op, [record], signal: signal)
            } catch {
                progress(.init(.container, record.name, failed, .failed))
                throw error
            }
            after(record)
            progress(.init(.container, record.name, done, .done))
        }
    }
}
