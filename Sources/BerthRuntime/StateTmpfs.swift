#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// Container state directories (`<runRoot>/runtime/…`: state.json, exec.conf, hosts,
/// resolv.conf, overlay mount points) belong on tmpfs. `/run` is tmpfs on most hosts, and
/// then this does nothing. Where the run root sits on a disk file system (this project's
/// machines: ext4 with `discard`, where a mkdir costs 0.45 ms and an rmdir 0.75 ms — about
/// 7 ms of a container's start-to-exit), berth mounts a tmpfs on `<runRoot>/runtime` for
/// as long as anything lives there, and the last one out unmounts it, so that nothing
/// stays mounted while no container runs.
///
/// Users hold a shared `flock` on `<runRoot>/runtime.lock` (on the underlying file system)
/// for their whole life. Mounting, and the last user's check-and-unmount, happen under an
/// exclusive flock on `<runRoot>/runtime.mount.lock`, held only for that moment: an
/// acquirer mounts if needed and takes its share while holding it, so no releaser can
/// unmount in between, and nobody ever waits for an exclusive lock on runtime.lock while
/// others hold shares for their whole life (which deadlocked two containers starting at
/// once: the one that wanted to mount waited forever on the other's share). The tmpfs is
/// only unmounted when it is empty (a SIGKILLed monitor's state dir keeps it until the next
/// run sweeps that dir).
struct StateTmpfs {
    /// The lock file's descriptor, or -1 when the run root is tmpfs already.
    private let lockFD: Int32
    private let runRoot: String

    static let tmpfsMagic: Int64 = 0x0102_1994
    static let ramfsMagic: Int64 = 0x8584_58f6


    /// Takes a share of `<runRoot>/runtime`, mounting the tmpfs first when needed.
    static func acquire(runRoot: String) throws -> StateTmpfs {
        let directory = runRoot + "/runtime"
        try FS.makeDirectories(runRoot, mode: 0o700)
        let type = berth_statfs_type(runRoot)
        if type == tmpfsMagic || type == ramfsMagic {
            return StateTmpfs(lockFD: -1, runRoot: runRoot)
        }
        let mountLock = try openLock(runRoot + "/runtime.mount.lock")
        defer { close(mountLock) }
        let lockPath = runRoot + "/runtime.lock"
        let fd = try openLock(lockPath)
        do {
            _ = try Sys.check("flock", path: runRoot + "/runtime.mount.lock") { flock(mountLock, LOCK_EX) }
            let (_, code) = Sys.attempt { mkdir(directory, 0o700) }
            if code != 0 && code != EEXIST { throw SystemError("mkdir", path: directory, errno: code) }
            if !isMountPoint(directory, parent: runRoot) {
                try Mounts.mount(
                    source: "tmpfs", target: directory, type: "tmpfs",
                    flags: MountFlags.noSuid | MountFlags.noDev | MountFlags.noExec, data: "mode=0700")
            }
            // Does not wait: only a releaser holding the mount lock takes runtime.lock exclusively.
            _ = try Sys.check("flock", path: lockPath) { flock(fd, LOCK_SH) }
            return StateTmpfs(lockFD: fd, runRoot: runRoot)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Gives the share back; the last user unmounts an empty tmpfs.
    func release() {
        guard lockFD >= 0 else { return }
        Self.unmountIfUnused(runRoot: runRoot, share: lockFD)
        close(lockFD)
    }

    /// Unmounts `<runRoot>/runtime` when nobody holds a share and it is empty. `share`: the
    /// caller's own share of runtime.lock (upgraded in place), or -1 for a caller without one
    /// (removing a container whose monitor was killed).
    static func unmountIfUnused(runRoot: String, share: Int32 = -1) {
        let directory = runRoot + "/runtime"
        let mountLock = open(runRoot + "/runtime.mount.lock", O_RDWR | O_CLOEXEC)
        guard mountLock >= 0 else { return }  // never mounted by berth
        defer { close(mountLock) }
        _ = flock(mountLock, LOCK_EX)
        let lock = share >= 0 ? share : open(runRoot + "/runtime.lock", O_RDWR | O_CLOEXEC)
        guard lock >= 0 else { return }
        defer { if share < 0 { close(lock) } }
        let type = berth_statfs_type(directory)
        if type == tmpfsMagic, isMountPoint(directory, parent: runRoot),
           flock(lock, LOCK_EX | LOCK_NB) == 0, (try? FS.listDirectory(directory))?.isEmpty == true {
            _ = umount2(directory, Int32(MNT_DETACH))
        }
    }

    private static func openLock(_ path: String) throws -> Int32 {
        try Sys.check("open", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
    }

    private static func isMountPoint(_ path: String, parent: String) -> Bool {
        var mine = stat(), theirs = stat()
        guard stat(path, &mine) == 0, stat(parent, &theirs) == 0 else { return false }
        return mine.st_dev != theirs.st_dev
    }
}
