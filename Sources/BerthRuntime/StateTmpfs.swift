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
/// for their whole life; mounting and unmounting happen under the exclusive lock, and the
/// tmpfs is only unmounted when it is empty (a SIGKILLed monitor's state dir keeps it until
/// the next run sweeps that dir).
struct StateTmpfs {
    /// The lock file's descriptor, or -1 when the run root is tmpfs already.
    private let lockFD: Int32
    private let directory: String

    static let tmpfsMagic: Int64 = 0x0102_1994
    static let ramfsMagic: Int64 = 0x8584_58f6

    /// Takes a share of `<runRoot>/runtime`, mounting the tmpfs first when needed.
    static func acquire(runRoot: String) throws -> StateTmpfs {
        let directory = runRoot + "/runtime"
        try FS.makeDirectories(runRoot, mode: 0o700)
        let type = berth_statfs_type(runRoot)
        if type == tmpfsMagic || type == ramfsMagic {
            return StateTmpfs(lockFD: -1, directory: directory)
        }
        let lockPath = runRoot + "/runtime.lock"
        let fd = try Sys.check("open", path: lockPath) { open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        do {
            let (_, code) = Sys.attempt { mkdir(directory, 0o700) }
            if code != 0 && code != EEXIST { throw SystemError("mkdir", path: directory, errno: code) }
            // flock conversions are not atomic: an unmounter may slip in between our
            // exclusive and shared lock, so check again under the shared one.
            for _ in 0..<16 {
                _ = try Sys.check("flock", path: lockPath) { flock(fd, LOCK_SH) }
                if isMountPoint(directory, parent: runRoot) { return StateTmpfs(lockFD: fd, directory: directory) }
                _ = flock(fd, LOCK_UN)
                _ = try Sys.check("flock", path: lockPath) { flock(fd, LOCK_EX) }
                if !isMountPoint(directory, parent: runRoot) {
                    try Mounts.mount(
                        source: "tmpfs", target: directory, type: "tmpfs",
                        flags: MountFlags.noSuid | MountFlags.noDev | MountFlags.noExec, data: "mode=0700")
                }
                _ = flock(fd, LOCK_UN)
            }
            throw RuntimeError("cannot keep the state tmpfs on \(directory) mounted: other berth processes unmount it as fast as it is mounted")
        } catch {
            close(fd)
            throw error
        }
    }

    /// Gives the share back; the last user unmounts an empty tmpfs.
    func release() {
        guard lockFD >= 0 else { return }
        if flock(lockFD, LOCK_EX | LOCK_NB) == 0, (try? FS.listDirectory(directory))?.isEmpty == true {
            _ = umount2(directory, Int32(MNT_DETACH))
        }
        close(lockFD)
    }

    private static func isMountPoint(_ path: String, parent: String) -> Bool {
        var mine = stat(), theirs = stat()
        guard stat(path, &mine) == 0, stat(parent, &theirs) == 0 else { return false }
        return mine.st_dev != theirs.st_dev
    }
}
