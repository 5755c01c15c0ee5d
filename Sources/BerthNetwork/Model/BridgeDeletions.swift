#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// Bridges of removed networks whose deletion is left to a background process.
///
/// The kernel takes 30-50 ms to unregister a bridge (RCU grace periods and an rcu_barrier
/// in `netdev_run_todo`), most of `down`'s time. A network removed this way is gone from
/// berth at once (record and firewall rules), and its bridge, attached to nothing, is
/// deleted by a detached `berth reap-bridges` that holds this directory's lock from before
/// `down` returns until the deletion is done. Nothing is left if that process dies: the
/// marker file stays, and the next network creation (which waits for the lock first, so a
/// new network never meets a half-deleted bridge: same subnet or same custom name) or reap
/// on this run root deletes the bridge. Markers live under the run root: bridges do not
/// survive a reboot either.
public struct BridgeDeletions: Sendable {
    /// `<runRoot>/bridges-deleting`: one empty file per bridge, named after it; `.lock`, and
    /// the reaper's `.reaper.log`.
    public let directory: String

    public init(runRoot: String) {
        directory = runRoot + "/bridges-deleting"
    }

    var lockPath: String { directory + "/.lock" }

    /// Bridges waiting to be deleted.
    public func scheduled() -> [String] {
        ((try? FS.listDirectory(directory)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// Records `bridge` for deletion (before its network's record goes: a crash in between
    /// leaves a marker that `deleteScheduled` drops, since a stored network still uses it).
    func schedule(_ bridge: String) throws {
        try FS.makeDirectories(directory, mode: 0o700)
        try FS.write(directory + "/" + bridge, [])
    }

    /// Takes the lock (waiting for a reaper at work): the returned fd holds it until closed,
    /// also in a process it is passed to.
    public func lock() throws -> Int32 {
        try FS.makeDirectories(directory, mode: 0o700)
        let path = lockPath
        let fd = try Sys.check("open", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        do {
            _ = try Sys.check("flock", path: path) { flock(fd, LOCK_EX) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Deletes the scheduled bridges that no stored network uses (a network that still
    /// names one was not removed after all: its marker is dropped), then their markers.
    /// The caller holds the lock. Returns the bridges deleted.
    func deleteScheduled(store: NetworkStore) throws -> [String] {
        let markers = scheduled()
        guard !markers.isEmpty else { return [] }
        let inUse = Set(try store.locked { try store.all() }.map(\.bridge))
        let netlink = try RouteNetlink()
        var deleted: [String] = []
        for bridge in markers {
            if !inUse.contains(bridge) {
                do {
                    if try netlink.deleteLink(name: bridge) { deleted.append(bridge) }
                } catch {
                    throw NetworkError.system("delete bridge \(bridge) of a removed network", error)
                }
            }
            unlink(directory + "/" + bridge)
        }
        return deleted
    }
}
