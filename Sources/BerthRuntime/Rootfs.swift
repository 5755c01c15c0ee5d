#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// Mount targets resolved safely inside the container's rootfs.
///
/// Every mount target is opened with `openat2(RESOLVE_IN_ROOT)` relative to an `BERTH_O_PATH` fd of
/// the rootfs, created component by component with `mkdirat` when missing, and mounted onto
/// through `/proc/self/fd/N` (containerization `secureResolveInRoot`, crun `safe_openat`).
/// A symlink planted in the image (`/data -> /etc` or `-> ../../../host`) is therefore
/// resolved as if the rootfs were `/`: it can redirect a mount only to another place inside
/// the rootfs, never to the host.
struct RootfsFD {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = try Sys.check("open rootfs", path: path) { Glibc.open(path, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC) }
    }

    func close() { _ = Glibc.close(fd) }

    static let resolve = UInt64(RESOLVE_IN_ROOT) | UInt64(RESOLVE_NO_MAGICLINKS)

    /// Opens `inside` (an absolute container path) as BERTH_O_PATH, or returns nil for ENOENT.
    func open(_ inside: String) throws -> Int32? {
        let relative = inside.drop(while: { $0 == "/" })
        let target = relative.isEmpty ? "." : String(relative)
        let fd = berth_openat2(self.fd, target, BERTH_O_PATH | O_CLOEXEC, 0, RootfsFD.resolve)
        if fd >= 0 { return fd }
        let code = errno
        if code == ENOENT { return nil }
        throw SystemError("resolve", path: "\(inside) in \(path)", errno: code)
    }

    /// Opens `inside`, creating what is missing inside the rootfs: directories on the way,
    /// and the last component as a directory or an empty file. Symlinks met on the way —
    /// dangling ones included, which `openat2` alone cannot create through — are resolved
    /// by hand with the rootfs as `/` (securejoin's MkdirAll): an absolute target restarts
    /// at the rootfs, `..` stops at it, at most 40 links are followed.
    func openCreating(_ inside: String, directory: Bool) throws -> Int32 {
        if let fd = try open(inside) { return fd }
        if let fd = createInExistingParent(inside, directory: directory) { return fd }
        var remaining = inside.split(separator: "/").map(String.init)
        var resolved: [String] = []
        var links = 0
        while !remaining.isEmpty {
            let component = remaining.removeFirst()
            if component == "." || component.isEmpty { continue }
            if component == ".." {
                if !resolved.isEmpty { resolved.removeLast() }
                continue
            }
            let isLast = remaining.isEmpty
            let parentPath = resolved.isEmpty ? "." : resolved.joined(separator: "/")
            let parentFD = berth_openat2(fd, parentPath, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RootfsFD.resolve)
            if parentFD < 0 {
                throw SystemError("resolve", path: "/\(resolved.joined(separator: "/")) in \(path)", errno: errno)
            }
            defer { _ = Glibc.close(parentFD) }
            var st = stat()
            if fstatat(parentFD, component, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                if (st.st_mode & S_IFMT) == S_IFLNK {
                    links += 1
                    if links > 40 { throw SystemError("resolve", path: "\(inside) in \(path)", errno: ELOOP) }
                    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
                    let n = readlinkat(parentFD, component, &buffer, buffer.count - 1)
                    if n < 0 { throw SystemError("readlink", path: "/\((resolved + [component]).joined(separator: "/")) in \(path)", errno: errno) }
                    let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    if target.hasPrefix("/") { resolved = [] }
                    remaining = target.split(separator: "/").map(String.init) + remaining
                    continue
                }
                resolved.append(component)
                continue
            }
            if errno != ENOENT {
                throw SystemError("stat", path: "/\((resolved + [component]).joined(separator: "/")) in \(path)", errno: errno)
            }
            let shown = "/\((resolved + [component]).joined(separator: "/")) in \(path)"
            if isLast && !directory {
                let created = openat(parentFD, component, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o644)
                if created < 0 && errno != EEXIST { throw SystemError("create mount target", path: shown, errno: errno) }
                if created >= 0 { _ = Glibc.close(created) }
            } else {
                let (_, code) = Sys.attempt { mkdirat(parentFD, component, 0o755) }
                if code != 0 && code != EEXIST { throw SystemError("mkdir", path: shown, errno: code) }
            }
            resolved.append(component)
        }
        let final = resolved.isEmpty ? "." : resolved.joined(separator: "/")
        let result = berth_openat2(fd, final, BERTH_O_PATH | O_CLOEXEC, 0, RootfsFD.resolve)
        if result < 0 { throw SystemError("resolve", path: "/\(final) in \(path)", errno: errno) }
        return result
    }

    /// The common case of a missing target (/dev/pts on the new /dev, /sys/fs/cgroup/cpu,
    /// /etc/hosts): its parent exists. The parent is resolved in the root and the last
    /// component created in it with `mkdirat` or `O_CREAT|O_EXCL|O_NOFOLLOW`, which never
    /// follow a symlink there: 4 syscalls instead of the walk's two per component. nil
    /// (missing parents, a symlink in the way, a race) leaves it to the walk.
    private func createInExistingParent(_ inside: String, directory: Bool) -> Int32? {
        let relative = inside.drop(while: { $0 == "/" })
        let slash = relative.lastIndex(of: "/")
        let name = slash.map { relative[relative.index(after: $0)...] } ?? relative
        guard !name.isEmpty, name != ".", name != ".." else { return nil }
        let parent = slash.map { String(relative[..<$0]) } ?? "."
        let parentFD = berth_openat2(fd, parent.isEmpty ? "." : parent, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RootfsFD.resolve)
        guard parentFD >= 0 else { return nil }
        defer { _ = Glibc.close(parentFD) }
        let leaf = String(name)
        if directory {
            guard mkdirat(parentFD, leaf, 0o755) == 0 else { return nil }
        } else {
            let created = openat(parentFD, leaf, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o644)
            guard created >= 0 else { return nil }
            _ = Glibc.close(created)
        }
        let result = berth_openat2(fd, String(relative), BERTH_O_PATH | O_CLOEXEC, 0, RootfsFD.resolve)
        return result >= 0 ? result : nil
    }

    /// Mounts onto `inside` through its fd. `directory` decides what to create if missing.
    func mount(
        source: String, inside: String, type: String?, flags: UInt, data: String? = nil, directory: Bool = true
    ) throws {
        let target = try openCreating(inside, directory: directory)
        defer { _ = Glibc.close(target) }
        try Mounts.mount(
            source: source, target: "/proc/self/fd/\(target)", type: type, flags: flags, data: data,
            displayTarget: path + inside)
    }

    /// Remounts the mount now on top of `inside` with `flags` (a bind remount keeps the
    /// locked nosuid/nodev/noexec flags read back with statfs, as runc does).
    func remountBind(inside: String, flags: UInt) throws {
        guard let target = try open(inside) else { return }
        defer { _ = Glibc.close(target) }
        let fdPath = "/proc/self/fd/\(target)"
        let locked = Mounts.lockedFlags(of: fdPath) & ~MountFlags.readOnly
        try Mounts.mount(
            source: "none", target: fdPath, type: nil,
            flags: MountFlags.remount | MountFlags.bind | flags | locked, displayTarget: path + inside)
    }

    /// Makes the mount on `inside` and every mount below it read-only with
    /// `mount_setattr(AT_RECURSIVE)`. Returns false when the kernel lacks it and it is not
    /// `required` (the caller then remounts the top mount only).
    func setRecursiveReadOnly(inside: String, required: Bool) throws -> Bool {
        guard let target = try open(inside) else { return false }
        defer { _ = Glibc.close(target) }
        if berth_mount_setattr(target, 1, BERTH_MOUNT_ATTR_RDONLY, 0, 0) == 0 { return true }
        let code = errno
        if !required && (code == ENOSYS || code == EINVAL) { return false }
        throw RuntimeError("read-only bind on \(path + inside) with read-only submounts (bind.recursive: readonly): mount_setattr: \(SystemError.errnoName(code)) (\(SystemError.strerror(code))); use bind.recursive: enabled or writable on this kernel")
    }

    /// `bind.propagation`: private, shared or slave, recursively for the r- forms.
    func setPropagation(inside: String, _ propagation: ContainerSpec.Mount.Propagation) throws {
        guard let target = try open(inside) else { return }
        defer { _ = Glibc.close(target) }
        let (type, recursive) = propagation.flags
        try Mounts.mount(source: "none", target: "/proc/self/fd/\(target)", type: nil,
                         flags: type | (recursive ? MountFlags.recursive : 0), displayTarget: path + inside + " (propagation \(propagation.rawValue))")
    }

    /// Opens a directory inside the rootfs for reading, or nil when it is missing or not a
    /// directory.
    func openDirectory(_ inside: String) throws -> Int32? {
        let relative = inside.drop(while: { $0 == "/" })
        let fd = berth_openat2(self.fd, relative.isEmpty ? "." : String(relative), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, RootfsFD.resolve)
        if fd >= 0 { return fd }
        let code = errno
        if code == ENOENT || code == ENOTDIR { return nil }
        throw SystemError("open", path: "\(inside) in \(path)", errno: code)
    }

    func isDirectory(fd: Int32) -> Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}

/// The mount plan of one container, before `pivot_root` (runc `prepareRootfs`).
struct RootfsSetup {
    var spec: ContainerSpec
    var rootfs: String
    var stateDir: String
    var cgroupLayout: CgroupLayout

    static let devices: [(name: String, major: UInt32, minor: UInt32)] = [
        ("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0),
    ]

    func run() throws {
        let privileged = spec.security.privileged
        let root = try RootfsFD(path: rootfs)
        defer { root.close() }
        let nosuidNodevNoexec = MountFlags.noSuid | MountFlags.noDev | MountFlags.noExec

        // Default mounts (moby DefaultLinuxSpec), in order.
        try root.mount(source: "proc", inside: "/proc", type: "proc", flags: nosuidNodevNoexec)
        try root.mount(source: "tmpfs", inside: "/dev", type: "tmpfs", flags: MountFlags.noSuid | MountFlags.strictAtime, data: "mode=755,size=65536k")
        try root.mount(source: "devpts", inside: "/dev/pts", type: "devpts", flags: MountFlags.noSuid | MountFlags.noExec, data: "newinstance,ptmxmode=0666,mode=0620,gid=5")
        if spec.namespaces.ipc == .host {
            // ipc: host shares the host's POSIX shared memory too (Docker binds /dev/shm).
            try root.mount(source: "/dev/shm", inside: "/dev/shm", type: nil, flags: MountFlags.bind | MountFlags.recursive)
        } else {
            try root.mount(source: "shm", inside: "/dev/shm", type: "tmpfs", flags: nosuidNodevNoexec, data: "mode=1777,size=\(spec.shmSize)")
        }
        try root.mount(source: "mqueue", inside: "/dev/mqueue", type: "mqueue", flags: nosuidNodevNoexec)
        try root.mount(source: "sysfs", inside: "/sys", type: "sysfs", flags: nosuidNodevNoexec | (privileged ? 0 : MountFlags.readOnly))
        // /sys/fs/cgroup comes after pivot_root, once the cgroup namespace exists.

        // Devices and /dev symlinks (runc rootfs_linux.go), with umask 0 for exact modes.
        let oldMask = umask(0)
        defer { umask(oldMask) }
        guard let devFD = try root.open("/dev") else { throw RuntimeError("/dev vanished in \(rootfs)") }
        defer { _ = close(devFD) }
        if privileged {
            try copyHostDevices(devFD)
        }
        for device in RootfsSetup.devices {
            let (_, code) = Sys.attempt {
                mknodat(devFD, device.name, S_IFCHR | 0o666, dev_t(berth_makedev(device.major, device.minor)))
            }
            if code != 0 && code != EEXIST {
                throw SystemError("mknod", path: "\(rootfs)/dev/\(device.name)", errno: code)
            }
        }
        let links: [(String, String)] = [
            ("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
            ("/proc/self/fd/2", "stderr"), ("pts/ptmx", "ptmx"), ("/proc/kcore", "core"),
        ]
        for (target, name) in links {
            let (_, code) = Sys.attempt { symlinkat(target, devFD, name) }
            if code != 0 && code != EEXIST {
                throw SystemError("symlink", path: "\(rootfs)/dev/\(name)", errno: code)
            }
        }

        // User mounts, parents before children (Docker sorts by destination depth).
        let sorted = spec.mounts.enumerated().sorted {
            let a = $0.element.destination.split(separator: "/").count
            let b = $1.element.destination.split(separator: "/").count
            return a != b ? a < b : $0.offset < $1.offset
        }.map(\.element)
        for mount in sorted {
            try userMount(root, mount)
        }

        // /etc/hosts, /etc/hostname, /etc/resolv.conf from per-container files, unless the
        // user mounted something there.
        for name in ["hosts", "hostname", "resolv.conf"] where !spec.mounts.contains(where: { $0.destination == "/etc/" + name }) {
            try root.mount(source: stateDir + "/" + name, inside: "/etc/" + name, type: nil, flags: MountFlags.bind, directory: false)
        }
    }

    /// `privileged: true`: every device node of the host's /dev (not its pts, shm, mqueue
    /// or console), like Docker's `--privileged`; the device cgroup then allows them all.
    func copyHostDevices(_ devFD: Int32) throws {
        func walk(_ hostDir: String, _ inside: String) throws {
            for name in (try? FS.listDirectory(hostDir)) ?? [] {
                let hostPath = hostDir + "/" + name
                let relative = inside.isEmpty ? name : inside + "/" + name
                if ["pts", "shm", "mqueue", "console", "ptmx", "fd", "stdin", "stdout", "stderr", "core"].contains(relative) { continue }
                var st = stat()
                if lstat(hostPath, &st) != 0 { continue }
                let type = st.st_mode & S_IFMT
                if type == S_IFDIR {
                    let (_, code) = Sys.attempt { mkdirat(devFD, relative, 0o755) }
                    if code != 0 && code != EEXIST { throw SystemError("mkdir", path: "\(rootfs)/dev/\(relative)", errno: code) }
                    try walk(hostPath, relative)
                } else if type == S_IFCHR || type == S_IFBLK {
                    let (_, code) = Sys.attempt { mknodat(devFD, relative, st.st_mode, st.st_rdev) }
                    if code != 0 && code != EEXIST { throw SystemError("mknod", path: "\(rootfs)/dev/\(relative)", errno: code) }
                    _ = fchownat(devFD, relative, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW)
                }
            }
        }
        try walk("/dev", "")
    }

    func userMount(_ root: RootfsFD, _ mount: ContainerSpec.Mount) throws {
        switch mount.kind {
        case .bind(let source):
            if !FS.exists(source) {
                throw RuntimeError("bind mount source \(source) does not exist on the host: create it first or fix the volume's path")
            }
            try bind(root, source: source, isDirectory: FS.isDirectory(source), mount)
        case .volume(let volume):
            let data = open(volume.data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if data < 0 {
                throw RuntimeError("volume \(volume.name): cannot open its data directory \(volume.data): \(SystemError.strerror(errno)); was the volume removed? `berth volume ls` lists the volumes")
            }
            defer { _ = close(data) }
            if volume.copyUp && volume.subpath == nil {
                try VolumeCopyUp(volume: volume, data: data).run(from: root, destination: mount.destination)
            }
            var source = data
            if let subpath = volume.subpath {
                // Resolved inside the volume: a symlink there cannot lead out of it.
                source = berth_openat2(data, subpath, BERTH_O_PATH | O_CLOEXEC, 0, RootfsFD.resolve)
                if source < 0 {
                    throw RuntimeError("volume \(volume.name): subpath \(subpath): \(SystemError.strerror(errno)); the subpath must exist in the volume")
                }
            }
            defer { if source != data { _ = close(source) } }
            try bind(root, source: "/proc/self/fd/\(source)", isDirectory: root.isDirectory(fd: source), mount)
        case .tmpfs(let options):
            var (flags, data) = Mounts.parseOptions(options, flags: mount.flags)
            if mount.readOnly { flags |= MountFlags.readOnly }
            try root.mount(source: "tmpfs", inside: mount.destination, type: "tmpfs", flags: flags, data: data)
        }
    }

    /// A bind of `source` (a host path, or `/proc/self/fd/N`) at the mount's destination,
    /// then its read-only state, extra flags and propagation (`bind.recursive`,
    /// `bind.propagation`).
    func bind(_ root: RootfsFD, source: String, isDirectory: Bool, _ mount: ContainerSpec.Mount) throws {
        let recursive = mount.recursion != .disabled
        try root.mount(source: source, inside: mount.destination, type: nil,
                       flags: MountFlags.bind | (recursive ? MountFlags.recursive : 0), directory: isDirectory)
        var readOnlyDone = false
        if mount.readOnly && recursive && mount.recursion != .writable {
            // Submounts read-only too, where the kernel has mount_setattr (≥ 5.12).
            readOnlyDone = try root.setRecursiveReadOnly(inside: mount.destination, required: mount.recursion == .readonly)
        }
        // A bind remount sets all flags at once: read-only must be repeated with nosuid etc.
        if mount.flags != 0 || (mount.readOnly && !readOnlyDone) {
            try root.remountBind(inside: mount.destination, flags: mount.flags | (mount.readOnly ? MountFlags.readOnly : 0))
        }
        if let propagation = mount.propagation {
            try root.setPropagation(inside: mount.destination, propagation)
        }
    }

    /// `/sys/fs/cgroup`: cgroup2 on a v2 host; on v1, a tmpfs with one cgroup mount per
    /// hierarchy (seen through the container's cgroup namespace), then made read-only.
    static func mountCgroups(root: RootfsFD, layout: CgroupLayout, privileged: Bool) throws {
        defer { root.close() }
        let ro = privileged ? 0 : MountFlags.readOnly
        let flags = MountFlags.noSuid | MountFlags.noDev | MountFlags.noExec
        switch layout {
        case .v2:
            try root.mount(source: "cgroup", inside: "/sys/fs/cgroup", type: "cgroup2", flags: flags | ro)
        case .v1(let hierarchies):
            try root.mount(source: "tmpfs", inside: "/sys/fs/cgroup", type: "tmpfs", flags: flags, data: "mode=755")
            for hierarchy in hierarchies {
                let name = hierarchy.controllers.joined(separator: ",")
                try root.mount(source: "cgroup", inside: "/sys/fs/cgroup/" + name, type: "cgroup", flags: flags | ro, data: name)
            }
            if ro != 0 {
                try root.remountBind(inside: "/sys/fs/cgroup", flags: ro)
            }
        }
    }
}

/// Steps after `pivot_root`, on the container's own view of `/`.
enum FinalizeRootfs {
    static func pivot(into rootfs: String) throws {
        _ = try Sys.check("chdir", path: rootfs) { chdir(rootfs) }
        // pivot_root(".", ".") stacks the old root under the new one; detach it.
        _ = try Sys.check("pivot_root", path: rootfs) { berth_pivot_root(".", ".") }
        try Mounts.mount(source: "none", target: ".", type: nil, flags: MountFlags.slave | MountFlags.recursive, displayTarget: "old root")
        try Mounts.unmount(".", detach: true)
        _ = try Sys.check("chdir", path: "/") { chdir("/") }
    }

    static func readOnlyRoot() throws {
        let locked = Mounts.lockedFlags(of: "/") & ~MountFlags.readOnly
        try Mounts.mount(source: "none", target: "/", type: nil, flags: MountFlags.remount | MountFlags.bind | MountFlags.readOnly | locked, displayTarget: "/ (read-only rootfs)")
    }

    /// The masked paths to apply: the default list gets each CPU's thermal_throttle.
    static func expandMasked(_ paths: [String]) -> [String] {
        var all = paths
        if paths == ContainerSpec.Security.defaultMaskedPaths,
           let cpus = try? FS.listDirectory("/sys/devices/system/cpu") {
            for cpu in cpus.sorted() where cpu.hasPrefix("cpu") && cpu.dropFirst(3).allSatisfy(\.isNumber) {
                let path = "/sys/devices/system/cpu/\(cpu)/thermal_throttle"
                if FS.exists(path) { all.append(path) }
            }
        }
        return all
    }

    /// Whether a masked or read-only path is /sys/fs/cgroup, below it or above it: it must
    /// be applied after the cgroup file systems are mounted there.
    static func touchesCgroupMount(_ path: String) -> Bool {
        let cgroup = "/sys/fs/cgroup"
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        return trimmed == cgroup || trimmed.hasPrefix(cgroup + "/") || cgroup.hasPrefix(trimmed == "/" ? "/" : trimmed + "/")
    }

    /// Masked paths (after `expandMasked`): /dev/null over files, a read-only tmpfs over
    /// directories; missing paths are skipped (runc `maskPaths`).
    static func mask(_ all: [String]) throws {
        for path in all {
            var st = stat()
            if stat(path, &st) != 0 { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try Mounts.mount(source: "tmpfs", target: path, type: "tmpfs", flags: MountFlags.readOnly, data: "nr_blocks=1,nr_inodes=1")
            } else {
                try Mounts.mount(source: "/dev/null", target: path, type: nil, flags: MountFlags.bind)
            }
        }
    }

    /// Read-only paths: bind onto themselves, then remount read-only (runc `readonlyPath`).
    static func readOnly(_ paths: [String]) throws {
        for path in paths {
            if access(path, F_OK) != 0 { continue }
            try Mounts.mount(source: path, target: path, type: nil, flags: MountFlags.bind | MountFlags.recursive)
            let locked = Mounts.lockedFlags(of: path) & ~MountFlags.readOnly
            try Mounts.mount(source: path, target: path, type: nil, flags: MountFlags.remount | MountFlags.bind | MountFlags.readOnly | locked)
        }
    }
}
