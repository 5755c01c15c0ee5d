#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// The host's cgroup layout, detected at run time from /proc/self/mountinfo.
///
/// - `v1`: one hierarchy per controller (or co-mounted ones such as `cpu,cpuacct`). A
///   "hybrid" host (v1 controllers plus a cgroup2 mount at `/sys/fs/cgroup/unified`, like this
///   project's machine) is driven as v1: the controllers that matter live on the v1 side.
/// - `v2`: the unified hierarchy only.
public enum CgroupLayout: Sendable, Equatable {
    case v1([V1Hierarchy])
    case v2(mountPoint: String)

    public struct V1Hierarchy: Sendable, Equatable {
        public var mountPoint: String
        public var controllers: [String]
        public init(mountPoint: String, controllers: [String]) {
            self.mountPoint = mountPoint
            self.controllers = controllers
        }
    }

    /// v1 controllers berth creates a cgroup in (named hierarchies like name=systemd are
    /// left alone).
    public static let v1Controllers: Set<String> = [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
    ]

    public static func detect(mountInfo: [MountInfo]) -> CgroupLayout? {
        var v1: [V1Hierarchy] = []
        var v2: String?
        for mount in mountInfo {
            if mount.fsType == "cgroup" {
                let controllers = mount.superOptions.filter { v1Controllers.contains($0) }
                if !controllers.isEmpty && !v1.contains(where: { $0.controllers == controllers }) {
                    v1.append(V1Hierarchy(mountPoint: mount.mountPoint, controllers: controllers))
                }
            } else if mount.fsType == "cgroup2" {
                if v2 == nil || mount.mountPoint == "/sys/fs/cgroup" { v2 = mount.mountPoint }
            }
        }
        if !v1.isEmpty { return .v1(v1) }
        if let v2 { return .v2(mountPoint: v2) }
        return nil
    }

    public static func detect() throws -> CgroupLayout {
        // Test hook: drive the v2 code path on a hybrid host's unified hierarchy.
        if let forced = getenv("BERTH_CGROUP2_ROOT") {
            let path = String(cString: forced)
            if !path.isEmpty { return .v2(mountPoint: path) }
        }
        // Only the cgroup lines, picked out in C: splitting all of mountinfo into Swift
        // strings cost ~0.2 ms of the start path.
        var buffer = [CChar](repeating: 0, count: 1 << 16)
        let length = berth_cgroup_mounts(&buffer, buffer.count)
        if length < 0 {
            throw SystemError("read", path: "/proc/self/mountinfo", errno: errno)
        }
        var mounts: [MountInfo] = []
        let text = buffer.withUnsafeBufferPointer { raw in
            String(decoding: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(raw)[0..<length]), as: UTF8.self)
        }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { continue }
            mounts.append(MountInfo(root: "/", mountPoint: String(fields[0]), fsType: String(fields[1]), source: "",
                                    superOptions: fields[2].split(separator: ",").map(String.init)))
        }
        guard let layout = detect(mountInfo: mounts) else {
            throw RuntimeError("no cgroup file system is mounted: mount cgroup2 on /sys/fs/cgroup (or the v1 controllers under it) and retry")
        }
        return layout
    }
}

/// One container's cgroup: `berth/<project>/<container>` below each controller root.
///
/// All paths are relative to the mount points in `layout`, so unit tests drive this against
/// a temporary directory that stands in for /sys/fs/cgroup.
public struct Cgroup: Sendable {
    public var layout: CgroupLayout
    public var relativePath: String

    public init(layout: CgroupLayout, project: String, name: String) {
        self.layout = layout
        self.relativePath = "berth/\(project)/\(name)"
    }

    /// Directories of this cgroup, one per v1 hierarchy or the single v2 one.
    public var directories: [String] {
        switch layout {
        case .v1(let hierarchies): return hierarchies.map { $0.mountPoint + "/" + relativePath }
        case .v2(let mount): return [mount + "/" + relativePath]
        }
    }

    func directory(for controller: String) -> String? {
        switch layout {
        case .v1(let hierarchies):
            return hierarchies.first { $0.controllers.contains(controller) }.map { $0.mountPoint + "/" + relativePath }
        case .v2(let mount):
            return mount + "/" + relativePath
        }
    }

    /// Writes one cgroup file. `O_CREAT` lets the same code run against a plain temp dir;
    /// on cgroupfs every knob already exists after `mkdir`.
    static func write(_ directory: String, _ file: String, _ value: String) throws {
        let path = directory + "/" + file
        let fd = try Sys.check("open", path: path) { open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        do {
            try FS.writeAll(fd: fd, Array(value.utf8), path: path)
        } catch let error as SystemError {
            throw RuntimeError("cannot set cgroup \(file) to \(value.split(separator: "\n").first ?? "") at \(path): \(SystemError.errnoName(error.errno)) (\(SystemError.strerror(error.errno)))")
        }
    }

    /// Writes several values to one cgroup file through one descriptor, each with its own
    /// `write` at offset 0 (the kernel takes one rule per write, as `devices.allow` needs; a
    /// plain file in unit tests keeps the last one).
    static func write(_ directory: String, _ file: String, lines: [String]) throws {
        let path = directory + "/" + file
        let fd = try Sys.check("open", path: path) { open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        for value in lines {
            let bytes = Array(value.utf8)
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
            if written != bytes.count {
                let code = written < 0 ? errno : EIO
                throw RuntimeError("cannot set cgroup \(file) to \(value) at \(path): \(SystemError.errnoName(code)) (\(SystemError.strerror(code)))")
            }
        }
    }

    /// Creates the cgroup in every hierarchy and applies `resources`; `deviceRules` are the
    /// allowed devices (`Cgroup.deviceRules`, or `["a *:* rwm"]` for a privileged container).
    public func create(resources: ContainerSpec.Resources, deviceRules: [String] = Cgroup.deviceRules) throws {
        // The project's parents may be removed by its last exiting container between our
        // mkdirs (removeParents): that shows as a missing parent, and a second pass wins.
        for attempt in 1...3 {
            do {
                return try createOnce(resources: resources, deviceRules: deviceRules)
            } catch where attempt < 3 && !parentsExist() {
                continue
            }
        }
    }

    /// Whether `berth/<project>` exists in every hierarchy.
    func parentsExist() -> Bool {
        let parent = relativePath.split(separator: "/").dropLast().joined(separator: "/")
        switch layout {
        case .v1(let hierarchies): return hierarchies.allSatisfy { FS.isDirectory($0.mountPoint + "/" + parent) }
        case .v2(let mount): return FS.isDirectory(mount + "/" + parent)
        }
    }

    func createOnce(resources: ContainerSpec.Resources, deviceRules: [String]) throws {
        switch layout {
        case .v1(let hierarchies):
            // The project's parents are missing in every hierarchy or in none (they come and
            // go together): once the first leaf mkdir says ENOENT, the others start at the top.
            var parentsMissing = false
            for hierarchy in hierarchies {
                let dir = hierarchy.mountPoint + "/" + relativePath
                try createV1Directory(root: hierarchy.mountPoint, parentsMissing: &parentsMissing)
                if hierarchy.controllers.contains("cpuset") { try fillCpusetLevels(root: hierarchy.mountPoint) }
                try applyV1(hierarchy: hierarchy, directory: dir, resources: resources, deviceRules: deviceRules)
            }
        case .v2(let mount):
            try createV2Levels(root: mount)
            try applyV2(directory: mount + "/" + relativePath, resources: resources)
            // Only a real cgroup2 file system takes the program (unit tests use a temp dir).
            if berth_statfs_type(mount) == 0x6367_7270 {  // CGROUP2_SUPER_MAGIC
                try Cgroup.attachDeviceFilter(directory: mount + "/" + relativePath, rules: deviceRules)
            }
        }
    }

    /// `mkdir` of this cgroup below one v1 hierarchy root: the leaf alone when its parents
    /// exist (the common case, one syscall), else every level from the top.
    func createV1Directory(root: String, parentsMissing: inout Bool) throws {
        let leaf = root + "/" + relativePath
        if !parentsMissing {
            let (_, code) = Sys.attempt { mkdir(leaf, 0o755) }
            if code == 0 || code == EEXIST { return }  // EEXIST: left by a run whose rmdir failed
            if code != ENOENT { throw SystemError("mkdir", path: leaf, errno: code) }
            parentsMissing = true
        }
        // A parent may vanish in between: the last container of another project removes an
        // empty `berth` (removeParents). Then the levels are made again from the top.
        var attempts = 0
        var current = root
        var components = relativePath.split(separator: "/")[...]
        while let component = components.first {
            let next = current + "/" + component
            let (_, code) = Sys.attempt { mkdir(next, 0o755) }
            if code == ENOENT && current != root && attempts < 3 {
                attempts += 1
                current = root
                components = relativePath.split(separator: "/")[...]
                continue
            }
            if code != 0 && code != EEXIST { throw SystemError("mkdir", path: next, errno: code) }
            current = next
            components = components.dropFirst()
        }
    }

    /// v1 cpuset: a new cgroup starts with empty cpus/mems and refuses tasks. `berth` gets
    /// `cgroup.clone_children`, which the kernel passes on to every cgroup created below it
    /// and which makes it copy the parent's cpus/mems at mkdir: one read per start checks
    /// that the leaf has them. A leaf without (the first start ever, or parents made by an
    /// older berth) gets the parent's values copied down each level by hand (runc
    /// `cpusetCopyIfNeeded`), and `berth` the flag for the next ones.
    func fillCpusetLevels(root: String) throws {
        let leafCpus = (try? FS.readString(root + "/" + relativePath + "/cpuset.cpus")) ?? ""
        if !leafCpus.trimmingWhitespace().isEmpty { return }
        var current = root
        for (index, component) in relativePath.split(separator: "/").enumerated() {
            let parent = current
            current += "/" + component
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let mine = (try? FS.readString(current + "/" + file)) ?? ""
                if mine.trimmingWhitespace().isEmpty {
                    let theirs = ((try? FS.readString(parent + "/" + file)) ?? "").trimmingWhitespace()
                    if !theirs.isEmpty { try Cgroup.write(current, file, theirs) }
                }
            }
            if index == 0 { try Cgroup.write(current, "cgroup.clone_children", "1") }
        }
    }

    /// cgroup v2 has no devices.allow: the same rules become an eBPF program
    /// (BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's cgroup, as runc does.
    public static func attachDeviceFilter(directory: String, rules: [String] = Cgroup.deviceRules) throws {
        var parsed: [berth_device_rule] = []
        for rule in rules {
            let parts = rule.split(separator: " ")
            guard parts.count == 3, let type = parts[0].utf8.first else { continue }
            let numbers = parts[1].split(separator: ":")
            guard numbers.count == 2 else { continue }
            var access: UInt32 = 0
            if parts[2].contains("m") { access |= 1 }
            if parts[2].contains("r") { access |= 2 }
            if parts[2].contains("w") { access |= 4 }
            parsed.append(berth_device_rule(
                type: CChar(bitPattern: type), major: Int64(numbers[0]) ?? -1, minor: Int64(numbers[1]) ?? -1,
                access: access, allow: 1))
        }
        let fd = try Sys.check("open", path: directory) { open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(fd) }
        var log = [CChar](repeating: 0, count: 4096)
        let rc = parsed.withUnsafeBufferPointer { rulesPointer in
            berth_cgroup2_device_filter(fd, rulesPointer.baseAddress, Int32(rulesPointer.count), &log, log.count)
        }
        if rc != 0 {
            let code = errno
            let verifier = String(decoding: log.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw RuntimeError("cannot attach the device filter to cgroup \(directory): \(SystemError.errnoName(code)) (\(SystemError.strerror(code)))\(verifier.isEmpty ? "" : "; verifier: " + verifier)")
        }
    }

    /// v2: enable the controllers for the children of each level (`cgroup.subtree_control`).
    func createV2Levels(root: String) throws {
        var current = root
        let available = Set(((try? FS.readString(root + "/cgroup.controllers")) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
        let wanted = ["cpu", "cpuset", "io", "memory", "pids"].filter { available.contains($0) }
        let components = relativePath.split(separator: "/")
        for (index, component) in components.enumerated() {
            if !wanted.isEmpty {
                let enabled = ((try? FS.readString(current + "/cgroup.subtree_control")) ?? "")
                let missing = wanted.filter { !enabled.contains($0) }
                if !missing.isEmpty {
                    try Cgroup.write(current, "cgroup.subtree_control", missing.map { "+" + $0 }.joined(separator: " "))
                }
            }
            current += "/" + component
            let (_, code) = Sys.attempt { mkdir(current, 0o755) }
            if code != 0 && code != EEXIST { throw SystemError("mkdir", path: current, errno: code) }
            _ = index
        }
    }

    /// Docker's device cgroup rules (deny all, allow the defaults, deny fuse) plus runc's
    /// `AllowedDevices` (SEMANTICS.md §2a).
    public static let deviceRules: [String] = [
        "c *:* m", "b *:* m",
        "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
        "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
    ]

    func applyV1(hierarchy: CgroupLayout.V1Hierarchy, directory dir: String, resources r: ContainerSpec.Resources, deviceRules: [String]) throws {
        for controller in hierarchy.controllers {
            switch controller {
            case "memory":
                if let limit = r.memoryLimit {
                    try Cgroup.write(dir, "memory.limit_in_bytes", String(limit))
                    if FS.exists(dir + "/memory.memsw.limit_in_bytes") {
                        // Docker: unset swap means "as much swap as memory" (2×limit).
                        let swap = r.memorySwapLimit ?? (limit * 2)
                        try Cgroup.write(dir, "memory.memsw.limit_in_bytes", String(swap < 0 ? -1 : swap))
                    }
                }
                if let reservation = r.memoryReservation {
                    try Cgroup.write(dir, "memory.soft_limit_in_bytes", String(reservation))
                }
            case "cpu":
                if let cpus = r.cpus {
                    let period = 100_000
                    try Cgroup.write(dir, "cpu.cfs_period_us", String(period))
                    try Cgroup.write(dir, "cpu.cfs_quota_us", String(Int((cpus * Double(period)).rounded())))
                }
                if let shares = r.cpuShares { try Cgroup.write(dir, "cpu.shares", String(shares)) }
            case "cpuset":
                if let cpus = r.cpusetCpus { try Cgroup.write(dir, "cpuset.cpus", cpus) }
                if let mems = r.cpusetMems { try Cgroup.write(dir, "cpuset.mems", mems) }
            case "pids":
                if let limit = r.pidsLimit { try Cgroup.write(dir, "pids.max", limit <= 0 ? "max" : String(limit)) }
            case "blkio":
                if let weight = r.blkioWeight {
                    let file = FS.exists(dir + "/blkio.weight") || !FS.exists(dir + "/blkio.bfq.weight") ? "blkio.weight" : "blkio.bfq.weight"
                    try Cgroup.write(dir, file, String(weight))
                }
            case "devices":
                if deviceRules != ["a *:* rwm"] {  // a new cgroup allows everything already
                    try Cgroup.write(dir, "devices.deny", "a")
                    try Cgroup.write(dir, "devices.allow", lines: deviceRules)
                }
            default:
                break
            }
        }
    }

    func applyV2(directory dir: String, resources r: ContainerSpec.Resources) throws {
        if let limit = r.memoryLimit {
            try Cgroup.write(dir, "memory.max", String(limit))
            if let swap = r.memorySwapLimit {
                try Cgroup.write(dir, "memory.swap.max", swap < 0 ? "max" : String(max(0, swap - limit)))
            } else if FS.exists(dir + "/memory.swap.max") {
                try Cgroup.write(dir, "memory.swap.max", String(limit))
            }
        }
        if let reservation = r.memoryReservation { try Cgroup.write(dir, "memory.low", String(reservation)) }
        if let cpus = r.cpus {
            let period = 100_000
            try Cgroup.write(dir, "cpu.max", "\(Int((cpus * Double(period)).rounded())) \(period)")
        }
        if let shares = r.cpuShares {
            // runc's conversion of cpu.shares [2, 262144] to cpu.weight [1, 10000].
            let weight = 1 + ((max(2, min(shares, 262_144)) - 2) * 9999) / 262_142
            try Cgroup.write(dir, "cpu.weight", String(weight))
        }
        if let cpus = r.cpusetCpus { try Cgroup.write(dir, "cpuset.cpus", cpus) }
        if let mems = r.cpusetMems { try Cgroup.write(dir, "cpuset.mems", mems) }
        if let limit = r.pidsLimit { try Cgroup.write(dir, "pids.max", limit <= 0 ? "max" : String(limit)) }
        if let weight = r.blkioWeight {
            // blkio.weight [10, 1000] → io.weight [1, 10000] (runc).
            let ioWeight = 1 + (max(10, min(weight, 1000)) - 10) * 9999 / 990
            let file = FS.exists(dir + "/io.bfq.weight") && !FS.exists(dir + "/io.weight") ? "io.bfq.weight" : "io.weight"
            try Cgroup.write(dir, file, file == "io.weight" ? "default \(ioWeight)" : String(weight))
        }
    }

    /// Moves the calling (single-threaded) process into the cgroup: on v1 by writing "0" to
    /// each hierarchy's `tasks` file. A single-thread migration of `current` skips the
    /// global `cgroup_threadgroup_rwsem`, whose write side costs an RCU grace period
    /// (4–20 ms here after an idle gap) — `cgroup.procs` writes by the parent paid that on
    /// every container start. On v2 `cgroup.procs` is the only choice for a domain cgroup.
    public func attachSelf(rootFDs: [Int32]) throws {
        let file: String
        switch layout {
        case .v1: file = "tasks"
        case .v2: file = "cgroup.procs"
        }
        for (index, rootFD) in rootFDs.enumerated() {
            let relative = relativePath + "/" + file
            let shown = directories.indices.contains(index) ? directories[index] + "/" + file : relative
            let fd = try Sys.check("open", path: shown) { openat(rootFD, relative, O_WRONLY | O_CLOEXEC) }
            defer { close(fd) }
            do {
                try FS.writeAll(fd: fd, Array("0".utf8), path: shown)
            } catch let error as SystemError {
                throw RuntimeError("cannot join cgroup \(shown): \(SystemError.errnoName(error.errno)) (\(SystemError.strerror(error.errno)))")
            }
        }
    }

    /// O_PATH fds of the hierarchy roots, opened before `pivot_root` so that the child can
    /// still reach its cgroup files afterwards.
    public func openRoots() throws -> [Int32] {
        let roots: [String]
        switch layout {
        case .v1(let hierarchies): roots = hierarchies.map(\.mountPoint)
        case .v2(let mount): roots = [mount]
        }
        return try roots.map { root in
            try Sys.check("open", path: root) { open(root, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC) }
        }
    }

    /// Moves `pid` into the cgroup in every hierarchy.
    public func attach(pid: Int32) throws {
        for dir in directories {
            try Cgroup.write(dir, "cgroup.procs", String(pid))
        }
    }

    /// Whether the kernel OOM-killed a process of this cgroup (v1 `memory.oom_control`
    /// `oom_kill`, v2 `memory.events` `oom_kill`).
    public func oomKilled() -> Bool {
        let file: String
        switch layout {
        case .v1:
            guard let dir = directory(for: "memory") else { return false }
            file = dir + "/memory.oom_control"
        case .v2(let mount):
            file = mount + "/" + relativePath + "/memory.events"
        }
        guard let text = try? FS.readString(file) else { return false }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, parts[0] == "oom_kill", let n = Int(parts[1]), n > 0 { return true }
        }
        return false
    }

    /// Process ids still in the cgroup.
    public func processes() -> [Int32] {
        guard let dir = processesDirectory, let text = try? FS.readString(dir + "/cgroup.procs") else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    /// The directory whose `cgroup.procs` lists every process of the container.
    public var processesDirectory: String? {
        switch layout {
        case .v1: return directory(for: "pids") ?? directory(for: "memory") ?? directories.first
        case .v2: return directories.first
        }
    }

    /// Removes the container's cgroup directories. The `berth/<project>` parents stay while
    /// other containers of the project run (re-creating them, and copying cpuset values down,
    /// on every start cost ~1.5 ms); the project's last container drops them (`removeParents`).
    public func remove() throws {
        var firstError: Error?
        for dir in directories {
            let (_, code) = Sys.attempt { rmdir(dir) }
            if code != 0 && code != ENOENT && firstError == nil {
                firstError = RuntimeError("cannot remove cgroup \(dir): \(SystemError.errnoName(code)) (\(SystemError.strerror(code))); processes may still run in it (see \(dir)/cgroup.procs)")
            }
        }
        if let firstError { throw firstError }
    }

    /// Removes `berth/<project>`, and `berth` when that was the last project, in every
    /// hierarchy; a busy or non-empty one is left alone. Docker keeps its empty `docker`
    /// cgroup; berth leaves nothing on the host once no container of it runs, at ~0.35 ms
    /// of a lone container's start-to-exit (re-creating `berth` and its cpuset
    /// `cgroup.clone_children`, see `fillCpusetLevels`, at the next start).
    public static func removeParents(layout: CgroupLayout, project: String) {
        let roots: [String]
        switch layout {
        case .v1(let hierarchies): roots = hierarchies.map(\.mountPoint)
        case .v2(let mount): roots = [mount]
        }
        for root in roots where rmdir("\(root)/berth/\(project)") == 0 || errno == ENOENT {
            _ = rmdir("\(root)/berth")
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\n" || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\n" || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
