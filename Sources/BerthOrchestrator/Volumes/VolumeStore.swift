import BerthRuntime
import BerthSystem
import CBerthSys
import Foundation

/// berth's volumes under `<root>/volumes`, laid out as Docker's `/var/lib/docker/volumes`:
/// `<name>/_data` holds the data (what containers mount), `<name>/volume.json` the metadata
/// (`VolumeRecord`). A volume with `driver_opts` also has `users/` and `lock` there (see
/// `VolumeLease`), and `copy-up` while the image's content is being copied in.
///
/// Crash safety: `volume.json` is written (atomically) last, so a directory without it is
/// a creation that was cut short, invisible and completed by the next create of that name;
/// removal first renames the volume directory to `.removing-<name>-<random>` (atomic), so a
/// removal cut short never leaves a half-deleted volume under its name, and the leftover is
/// swept by the next list or create.
public struct VolumeStore: Sendable {
    public let directory: String
    let containers: ContainerStore

    public init(root: String) {
        directory = root + "/volumes"
        containers = ContainerStore(root: root)
    }

    public func path(_ name: String) -> String { directory + "/" + name }

    /// The driver options Docker's local driver accepts (moby `volume/local`).
    public static let validOptions: Set<String> = ["type", "o", "device"]

    /// Docker's volume name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
    public static func validate(name: String) throws(VolumeError) {
        let scalars = Array(name.unicodeScalars)
        func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
        }
        let valid = scalars.count >= 2 && isAlphanumeric(scalars[0])
            && scalars.dropFirst().allSatisfy { isAlphanumeric($0) || $0 == "_" || $0 == "." || $0 == "-" }
        if !valid {
            throw VolumeError(.invalid, "create \(name): \"\(name)\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")
        }
    }

    /// moby's local driver checks: known keys only; `type` and `device` go together, `o`
    /// needs both.
    public static func validate(options: [String: String]) throws(VolumeError) {
        for key in options.keys.sorted() where !validOptions.contains(key) {
            let hint = key == "size" ? " (berth has no xfs project quotas; use type: tmpfs with o: size=… for a size-limited volume)" : ""
            throw VolumeError(.invalid, "invalid option key: \"\(key)\"\(hint)")
        }
        let required: [(String, [String])] = [("device", ["type"]), ("type", ["device"]), ("o", ["device", "type"])]
        for (key, needs) in required where options[key] != nil {
            for need in needs where options[need] == nil {
                throw VolumeError(.invalid, "missing required option: \"\(need)\"")
            }
        }
    }

    /// A 64-hex name, as Docker gives anonymous and unnamed volumes.
    public static func randomName() -> String {
        (0..<4).map { _ in
            let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }

    /// Creates a volume, or returns the existing one of that name unchanged (Docker's
    /// `volume create` is idempotent for the local driver).
    @discardableResult
    public func create(name: String, labels: [String: String] = [:], options: [String: String] = [:]) throws -> VolumeRecord {
        try Self.validate(name: name)
        try Self.validate(options: options)
        if let existing = try? get(name) { return existing }
        sweepRemovals()
        let dir = path(name)
        do {
            try FS.makeDirectories(directory, mode: 0o701)
            let (_, code) = Sys.attempt { mkdir(dir, 0o755) }
            if code != 0 && code != EEXIST { throw SystemError("mkdir", path: dir, errno: code) }
            let (_, dataCode) = Sys.attempt { mkdir(dir + "/_data", 0o755) }
            if dataCode != 0 && dataCode != EEXIST { throw SystemError("mkdir", path: dir + "/_data", errno: dataCode) }
            if let existing = try? get(name) { return existing }  // created meanwhile
            var seconds: Int64 = 0
            var nanoseconds = 0
            berth_realtime(&seconds, &nanoseconds)
            let record = VolumeRecord(
                name: name, labels: labels, options: options, createdAt: Clock.rfc3339Nano(seconds: seconds, nanoseconds: 0),
                mountpoint: dir + "/_data")
            try FS.writeAtomically(dir + "/volume.json", Self.encode(record), mode: 0o600)
            return record
        } catch let error as SystemError {
            throw VolumeError(.system, "create \(name): \(error)")
        }
    }

    /// An anonymous volume (a container's mount without a source, or an image `VOLUME`).
    @discardableResult
    public func createAnonymous(name: String) throws -> VolumeRecord {
        try create(name: name, labels: [VolumeRecord.anonymousLabel: ""])
    }

    public func get(_ name: String) throws -> VolumeRecord {
        let file = path(name) + "/volume.json"
        guard !name.isEmpty, !name.contains("/"), let bytes = try? FS.read(file) else {
            throw VolumeError(.notFound, "get \(name): no such volume")
        }
        do {
            return try JSONDecoder().decode(VolumeRecord.self, from: Data(bytes))
        } catch {
            throw VolumeError(.system, "get \(name): \(file) is unreadable: \(error); remove the directory \(path(name)) if the volume is not needed")
        }
    }

    /// Every volume, sorted by name.
    public func list() -> [VolumeRecord] {
        sweepRemovals()
        let names = (try? FS.listDirectory(directory)) ?? []
        return names.filter { !$0.hasPrefix(".") }.compactMap { try? get($0) }.sorted { $0.name < $1.name }
    }

    /// For each volume name, the ids of the containers (any state) whose spec mounts it:
    /// Docker's notion of "in use" for `volume rm`, `prune` and `dangling=`.
    public func usage() -> [String: [String]] {
        var users: [String: [String]] = [:]
        for record in containers.records() {
            guard let spec = try? containers.spec(record.id) else { continue }
            for mount in spec.mounts {
                if case .volume(let volume) = mount.kind, users[volume.name]?.contains(record.id) != true {
                    users[volume.name, default: []].append(record.id)
                }
            }
        }
        return users
    }

    /// Removes a volume that no container uses (Docker refuses even a stopped container's
    /// volume: remove the container first).
    public func remove(_ name: String) throws {
        let record = try get(name)
        if let ids = usage()[name], !ids.isEmpty {
            throw VolumeError(.inUse, "remove \(name): volume is in use - [\(ids.sorted().joined(separator: ", "))]")
        }
        let volume = record.runtimeVolume()
        do {
            if volume.filesystem != nil {
                let holders = try VolumeLease.unmountIfUnused(volume)
                if !holders.isEmpty {
                    throw VolumeError(.inUse, "remove \(name): volume is in use - [\(holders.joined(separator: ", "))]")
                }
            }
            let dir = path(name)
            if let mounted = try Mounts.mountInfo().first(where: { $0.mountPoint.hasPrefix(FS.realPath(dir) + "/") }) {
                throw VolumeError(.inUse, "remove \(name): \(mounted.mountPoint) is still mounted; unmount it first")
            }
            let doomed = directory + "/.removing-\(name)-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
            _ = try Sys.check("rename", path: "\(dir) to \(doomed)") { rename(dir, doomed) }
            try Self.removeTree(doomed)
        } catch let error as SystemError {
            throw VolumeError(.system, "remove \(name): \(error)")
        }
    }

    /// Removes the volumes nobody uses: anonymous ones only, or all with `all` (Docker ≥ 23's
    /// `volume prune [-a]`), those `matching` too. Returns the names removed and the bytes
    /// their data took.
    public func prune(all: Bool, matching: (VolumeRecord) -> Bool = { _ in true }) throws -> (removed: [String], reclaimed: Int64) {
        let users = usage()
        var removed: [String] = []
        var reclaimed: Int64 = 0
        for record in list() where (all || record.isAnonymous) && (users[record.name] ?? []).isEmpty && matching(record) {
            let size = Self.size(of: record.mountpoint)
            do {
                try remove(record.name)
                removed.append(record.name)
                reclaimed += size
            } catch let error as VolumeError where error.code == .inUse || error.code == .notFound {
                continue  // taken or removed meanwhile
            }
        }
        return (removed, reclaimed)
    }

    /// Unmounts the file systems of volumes no live container holds any more (a container
    /// whose monitor was killed releases nothing itself). For a supervisor's periodic sweep
    /// and `down`.
    public func releaseUnusedMounts() {
        for record in list() where record.options["type"] != nil {
            _ = try? VolumeLease.unmountIfUnused(record.runtimeVolume())
        }
    }

    /// The bytes of the regular files under `path`, each inode counted once (Docker's
    /// `directory.Size`).
    public static func size(of path: String) -> Int64 {
        var seen = Set<[UInt64]>()
        func walk(_ dir: String) -> Int64 {
            var total: Int64 = 0
            for name in (try? FS.listDirectory(dir)) ?? [] {
                var st = stat()
                let child = dir + "/" + name
                guard lstat(child, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR: total += walk(child)
                case S_IFREG:
                    if seen.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted { total += Int64(st.st_size) }
                default: break
                }
            }
            return total
        }
        return walk(path)
    }

    /// Finishes removals that a crash cut short.
    func sweepRemovals() {
        for name in (try? FS.listDirectory(directory)) ?? [] where name.hasPrefix(".removing-") {
            try? Self.removeTree(directory + "/" + name)
        }
    }

    /// `rm -rf` that never follows a symlink nor crosses into a mounted file system. Another
    /// process's `sweepRemovals` may be removing the same `.removing-` directory at once (it
    /// cannot tell an interrupted removal from one under way): what vanishes meanwhile is gone,
    /// as wanted, so ENOENT only means to look again.
    static func removeTree(_ path: String) throws {
        for _ in 0..<8 {
            do {
                try removeTreeOnce(path)
                return
            } catch let error as SystemError where error.errno == ENOENT {
                continue
            }
        }
        try removeTreeOnce(path)
    }

    private static func removeTreeOnce(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return }
            throw SystemError("open", path: path, errno: errno)
        }
        do {
            try TreeCopy.removeContents(of: fd, display: path)
        } catch {
            close(fd)
            throw error
        }
        close(fd)
        let (_, code) = Sys.attempt { rmdir(path) }
        if code != 0 && code != ENOENT { throw SystemError("rmdir", path: path, errno: code) }
    }

    static func encode(_ record: VolumeRecord) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(record)) + [0x0a]
    }
}
