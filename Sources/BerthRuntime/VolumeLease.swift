#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// The mount of a volume with its own file system (`driver_opts` `type`/`device`/`o`),
/// shared by the containers that use it: mounted on `<volume>/_data` by the first user, as
/// Docker's local driver does, and unmounted when the last user has stopped.
///
/// ## Reference counting that survives SIGKILL
/// Docker keeps the count in the daemon's memory; berth has no daemon, and any of its
/// processes may be killed at any moment. So the count is a directory of user entries,
/// `<volume>/users/<boot-id>-<monitor-pid>-<start-time>`, one per container, each naming
/// what holds the volume: the container's monitor (`berth-runtime run`) and, once cloned,
/// the container's first process, both by pid *and* start time (a recycled pid never
/// passes), and the container's cgroup; under the boot id (after a reboot no entry is
/// alive, and nothing is mounted either). An entry is alive while any of them is (a cgroup
/// is, while it has processes): a monitor killed with SIGKILL takes its container's first
/// process along (pdeathsig), but with `pid: host` the container's other processes live on
/// in its cgroup, and they still use the volume.
///
/// Every change happens under an exclusive `flock` of `<volume>/lock`, held only for the
/// change itself (the kernel drops it when its holder dies, so a killed process never
/// blocks the others):
/// - acquire: drop dead entries, mount if nothing is mounted on `_data`, add our entry;
/// - release (the monitor, when its container has ended): remove our entry, drop dead
///   ones, unmount when none is left;
/// - `unmountIfUnused` (volume rm, prune, a supervisor's sweep): the same without an entry
///   of its own — how a mount whose last user died with its monitor is finally released.
///
/// The host's mount is made private, so that it never propagates into other namespaces;
/// containers bind it from their own mount namespaces, which keep the file system alive
/// until they end even if the host's mount is gone.
public struct VolumeLease {
    let volume: ContainerSpec.Volume
    let entry: String
    let monitor: ProcessIdentity

    /// Takes a share of `volume`'s file system for this process (the monitor), mounting it
    /// when nobody holds it yet.
    static func acquire(_ volume: ContainerSpec.Volume) throws -> VolumeLease {
        guard let filesystem = volume.filesystem else { throw RuntimeError("volume \(volume.name) has no file system to mount") }
        guard let monitor = ProcessIdentity.of(getpid()) else { throw RuntimeError("cannot read /proc/\(getpid())/stat") }
        let boot = try bootID()
        let lease = VolumeLease(volume: volume, entry: "\(boot)-\(monitor.pid)-\(monitor.startTime)", monitor: monitor)
        try withLock(volume) {
            // Dead entries go first. A mount that no live entry holds (its users were all
            // killed) is reused as it is: the same driver_opts made it.
            _ = try liveUsers(volume, boot: boot)
            if !isMounted(volume.data) {
                try mount(filesystem, on: volume.data, volume: volume.name)
            }
            try lease.write(container: nil, cgroup: nil)
        }
        return lease
    }

    /// Adds the container's first process and cgroup to our entry, so that the volume
    /// stays held while any process of the container lives, whatever becomes of us.
    func record(container pid: Int32, cgroup: String?) {
        try? write(container: ProcessIdentity.of(pid), cgroup: cgroup)
    }

    /// Gives our share back; the last user unmounts. Errors are reported, never thrown:
    /// this runs on the way out, after the container has ended.
    func release() {
        do {
            try Self.withLock(volume) {
                _ = unlink(Self.usersDirectory(volume) + "/" + entry)
                try Self.unmountIfNobodyHolds(volume)
            }
        } catch {
            let message = "berth-runtime: releasing volume \(volume.name): \(error)\n"
            _ = message.withCString { Glibc.write(2, $0, strlen($0)) }
        }
    }

    /// Unmounts the volume's file system if no live process holds it. Returns the users
    /// still alive (their entries' names) — empty when it is (now) unmounted.
    public static func unmountIfUnused(_ volume: ContainerSpec.Volume) throws -> [String] {
        guard volume.filesystem != nil else { return [] }
        var users: [String] = []
        try withLock(volume) {
            users = try unmountIfNobodyHolds(volume)
        }
        return users
    }

    @discardableResult
    static func unmountIfNobodyHolds(_ volume: ContainerSpec.Volume) throws -> [String] {
        let live = try liveUsers(volume, boot: try bootID())
        if live.isEmpty && isMounted(volume.data) {
            let (_, code) = Sys.attempt { umount2(volume.data, 0) }
            if code == EBUSY {
                // A host process has its cwd or a file there: let the kernel finish later.
                try Mounts.unmount(volume.data, detach: true)
            } else if code != 0 && code != EINVAL {
                throw SystemError("umount", path: volume.data, errno: code)
            }
        }
        return live
    }

    private func write(container: ProcessIdentity?, cgroup: String?) throws {
        var text = "monitor \(monitor.pid) \(monitor.startTime)\n"
        if let container { text += "container \(container.pid) \(container.startTime)\n" }
        if let cgroup { text += "cgroup \(cgroup)\n" }
        let directory = Self.usersDirectory(volume)
        try FS.makeDirectories(directory, mode: 0o700)
        try FS.writeAtomically(directory + "/" + entry, sync: false, Array(text.utf8), mode: 0o600)
    }

    static func usersDirectory(_ volume: ContainerSpec.Volume) -> String { volume.directory + "/users" }

    /// Entries whose processes live; dead ones are removed on the way.
    static func liveUsers(_ volume: ContainerSpec.Volume, boot: String) throws -> [String] {
        let directory = usersDirectory(volume)
        var live: [String] = []
        for name in (try? FS.listDirectory(directory)) ?? [] where !name.hasSuffix(".tmp") {
            let path = directory + "/" + name
            if name.hasPrefix(boot + "-"), let text = try? FS.readString(path), isAlive(entry: text) {
                live.append(name)
            } else {
                _ = unlink(path)
            }
        }
        return live.sorted()
    }

    static func isAlive(entry text: String) -> Bool {
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2 else { continue }
            if fields[0] == "cgroup" {
                let procs = (try? FS.readString(String(fields[1]) + "/cgroup.procs")) ?? ""
                if procs.contains(where: \.isNumber) { return true }
                continue
            }
            let identity = fields[1].split(separator: " ")
            guard identity.count == 2, let pid = Int32(identity[0]), let start = UInt64(identity[1]) else { continue }
            if ProcessIdentity(pid: pid, startTime: start).isAlive { return true }
        }
        return false
    }

    static func withLock(_ volume: ContainerSpec.Volume, _ body: () throws -> Void) throws {
        let path = volume.directory + "/lock"
        let fd = try Sys.check("open", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        _ = try Sys.check("flock", path: path) { flock(fd, LOCK_EX) }
        try body()
    }

    static func bootID() throws -> String {
        let text = try FS.readString("/proc/sys/kernel/random/boot_id")
        return String(text.filter { $0 != "\n" && $0 != "-" })
    }

    static func isMounted(_ path: String) -> Bool {
        guard let mounts = try? Mounts.mountInfo() else { return false }
        let real = FS.realPath(path)
        return mounts.contains { $0.mountPoint == real }
    }

    /// `mount -t type -o options device data`, as moby's `mount.Mount`: option words that
    /// are mount flags become flags, the rest is the file system's data; a read-only bind
    /// needs a second, remounting call.
    static func mount(_ filesystem: ContainerSpec.Filesystem, on data: String, volume: String) throws {
        try FS.makeDirectories(data)
        let (flags, rest) = Mounts.parseOptions(filesystem.options)
        let isBind = flags & MountFlags.bind != 0
        let type = filesystem.type == "none" || isBind ? nil : filesystem.type
        do {
            try Mounts.mount(source: filesystem.device, target: data, type: type, flags: isBind ? flags & ~MountFlags.readOnly : flags,
                             data: rest.isEmpty ? nil : rest, displayTarget: "\(data) (volume \(volume))")
            if isBind && flags & MountFlags.readOnly != 0 {
                try Mounts.mount(source: "none", target: data, type: nil, flags: MountFlags.remount | MountFlags.bind | MountFlags.readOnly)
            }
            try Mounts.mount(source: "none", target: data, type: nil, flags: MountFlags.privatePropagation)
        } catch let error as SystemError {
            if isMounted(data) { _ = umount2(data, Int32(MNT_DETACH)) }
            throw RuntimeError("volume \(volume): \(error); check its driver_opts (type \(filesystem.type), device \(filesystem.device), o \(filesystem.options))")
        }
    }
}
