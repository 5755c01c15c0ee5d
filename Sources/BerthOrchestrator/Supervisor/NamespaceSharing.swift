import BerthRuntime
import BerthSystem
import Foundation

/// Namespaces shared between containers, set up by the supervisor at each start: joins
/// (`network_mode: service:a`, `ipc: container:b`, a pod member's network, IPC and UTS)
/// point at the namespaces of the target's current process, and a shareable IPC namespace
/// (`ipc: shareable`, a pod's infra) gets a `/dev/shm` on the host side that the joiners of
/// its IPC namespace see too, as Docker's shareable IPC does.
extension ContainerLifecycle {
    /// The running container a join names, with its first process.
    func joinTarget(_ join: NamespaceJoin, of record: ContainerRecord) throws -> (record: ContainerRecord, pid: Int32) {
        let records = engine.store.records()
        let candidates: [ContainerRecord]
        if let service = join.service {
            candidates = records.filter { other in
                other.project == record.project && other.service == service && !other.oneOff && (join.replica.map { other.number == $0 } ?? true)
            }.sorted { $0.number < $1.number }
        } else {
            let wanted = join.container ?? ""
            candidates = records.filter { $0.name == wanted || $0.id == wanted || (wanted.count >= 12 && $0.id.hasPrefix(wanted)) }
        }
        for candidate in candidates where candidate.id != record.id {
            if let state = try? engine.observe(candidate.id), state.status == .running, let pid = state.pid {
                return (candidate, pid)
            }
        }
        // A pod member joins its infra by id: named by its name.
        let target = join.container != nil ? candidates.first.map { "container \($0.name)" } ?? join.reference : join.reference
        let what = join.replica.map { "replica \($0) of " } ?? ""
        let missing = candidates.isEmpty ? "there is no \(what)\(target)" : "\(what)\(target) is not running"
        throw EngineError("container \(record.name): cannot join the \(join.namespace.rawValue) namespace of \(target) (\(join.namespace.key)): \(missing); start it first")
    }

    /// Points the spec's namespaces at the join targets' processes; a joiner of an IPC
    /// namespace gets its target's `/dev/shm`. Returns the targets by namespace.
    func applyJoins(_ launch: LaunchConfig, record: ContainerRecord, spec: inout ContainerSpec) throws -> [NamespaceJoin.Kind: ContainerRecord] {
        var targets: [NamespaceJoin.Kind: ContainerRecord] = [:]
        for join in launch.joins ?? [] {
            let (target, pid) = try joinTarget(join, of: record)
            let mode = ContainerSpec.NamespaceMode.path("/proc/\(pid)/ns/\(join.namespace.file)")
            switch join.namespace {
            case .network: spec.namespaces.network = mode
            case .ipc:
                let targetLaunch = try? LaunchConfig.load(directory: engine.store.path(target.id))
                guard targetLaunch?.shareableIPC == true, FS.exists(shmDirectory(target.id)) else {
                    throw EngineError("container \(record.name): cannot join the IPC namespace of \(join.reference): container \(target.name) does not share it (non-shareable IPC); set ipc: shareable on its service")
                }
                spec.namespaces.ipc = mode
                spec.mounts.removeAll { $0.destination == "/dev/shm" }
                spec.mounts.append(Self.shmMount(shmDirectory(target.id)))
            case .pid: spec.namespaces.pid = mode
            case .uts: spec.namespaces.uts = mode
            case .cgroup: spec.namespaces.cgroup = mode
            }
            targets[join.namespace] = target
        }
        return targets
    }

    /// The host side of a shareable container's `/dev/shm`.
    func shmDirectory(_ id: String) -> String { engine.runRoot + "/shm/" + id }

    /// Mounts a shareable container's `/dev/shm` (a tmpfs of its `shm_size`, mode 1777,
    /// nosuid, nodev, noexec, as Docker's) on the host side and binds it into the container.
    func shareIPC(_ id: String, spec: inout ContainerSpec) throws {
        let directory = shmDirectory(id)
        releaseSharedIPC(id)
        try FS.makeDirectories(directory, mode: 0o700)
        try Mounts.mount(
            source: "shm", target: directory, type: "tmpfs", flags: MountFlags.noSuid | MountFlags.noDev | MountFlags.noExec,
            data: "mode=1777,size=\(spec.shmSize)")
        spec.mounts.removeAll { $0.destination == "/dev/shm" }
        spec.mounts.append(Self.shmMount(directory))
    }

    static func shmMount(_ directory: String) -> ContainerSpec.Mount {
        .init(kind: .bind(source: directory), destination: "/dev/shm", flags: MountFlags.noSuid | MountFlags.noDev | MountFlags.noExec)
    }

    /// Unmounts a shareable container's `/dev/shm` (its joiners keep theirs until they end).
    /// Safe to repeat.
    func releaseSharedIPC(_ id: String) {
        let directory = shmDirectory(id)
        guard FS.exists(directory) else { return }
        try? Mounts.unmount(directory)
        _ = rmdir(directory)
    }
}
