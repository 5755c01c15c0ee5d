#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// What a container leaves when its monitor is SIGKILLed: the monitor cleans up its state
/// directory, cgroup and share of the state tmpfs when the container ends, but a SIGKILL
/// gives it no chance. The next container started in the project sweeps such leftovers;
/// removing the container (`rm`, `down`) reclaims them at once, so that nothing is left
/// when no container follows.
public enum ContainerLeftovers {
    /// Removes the state directory and cgroup of container `name` of `project` if its
    /// monitor is gone (the state directory's lock is free); processes still in the cgroup
    /// (children of a `pid: host` container, or a first process whose parent-death signal
    /// is in flight) are killed and waited for first. Nothing happens while the monitor
    /// lives. The project's cgroup parents and the state tmpfs go when they are empty.
    public static func reclaim(runRoot: String, project: String, name: String) throws {
        let projectDir = "\(runRoot)/runtime/\(project)"
        let stateDir = "\(projectDir)/\(name)"
        let layout = try CgroupLayout.detect()
        let cgroup = Cgroup(layout: layout, project: project, name: name)
        let fd = open(stateDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { return }  // its monitor still runs
        }
        try killAll(in: cgroup, container: name)
        if fd >= 0 { try FS.removeTree(stateDir) }
        try cgroup.remove()
        if rmdir(projectDir) == 0 || errno == ENOENT { Cgroup.removeParents(layout: layout, project: project) }
        StateTmpfs.unmountIfUnused(runRoot: runRoot)
    }

    /// The processes still in the cgroup of container `name` of `project` (none when its
    /// cgroup is gone or cannot be found).
    public static func processes(project: String, name: String) -> [Int32] {
        guard let layout = try? CgroupLayout.detect() else { return [] }
        return Cgroup(layout: layout, project: project, name: name).processes()
    }

    /// Blocks until the processes `pids` have all ended (their pidfds turn readable), at
    /// most `milliseconds`; processes already gone count as ended.
    public static func waitUntilGone(_ pids: [Int32], milliseconds: Int) {
        var entries = pids.compactMap { pid -> pollfd? in
            let fd = berth_pidfd_open(pid)
            return fd >= 0 ? pollfd(fd: fd, events: Int16(POLLIN), revents: 0) : nil
        }
        defer { entries.forEach { close($0.fd) } }
        let deadline = Clock.monotonicNanoseconds() + Int64(milliseconds) * 1_000_000
        while entries.contains(where: { $0.revents == 0 }) {
            let left = (deadline - Clock.monotonicNanoseconds()) / 1_000_000
            if left <= 0 { return }
            var pending = entries.filter { $0.revents == 0 }
            if poll(&pending, nfds_t(pending.count), Int32(left)) < 0 && errno != EINTR { return }
            for entry in pending where entry.revents != 0 {
                if let index = entries.firstIndex(where: { $0.fd == entry.fd }) { entries[index].revents = entry.revents }
            }
        }
    }

    /// SIGKILLs every process of the cgroup and waits (pidfds, up to 10 s) until they are gone.
    static func killAll(in cgroup: Cgroup, container: String) throws {
        for _ in 0..<3 {
            let pids = cgroup.processes()
            if pids.isEmpty { return }
            for pid in pids { kill(pid, SIGKILL) }
            waitUntilGone(pids, milliseconds: 10_000)
        }
        if !cgroup.processes().isEmpty {
            throw RuntimeError("container \(container): processes \(cgroup.processes().map(String.init).joined(separator: ", ")) survived SIGKILL (a frozen cgroup? see \(cgroup.processesDirectory ?? "its cgroup")/cgroup.procs)")
        }
    }
}
