#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import Foundation

/// Network state on disk: `<root>/networks/<name>.json`, one file per network, written
/// atomically (temp + fsync + rename); every read-modify-write runs under an exclusive flock
/// of `<root>/networks/.lock`, so several supervisors and CLI calls can share the store.
public struct NetworkStore: Sendable {
    public let directory: String
    /// The records this store last read or wrote, by name, with the identity of their file:
    /// a supervisor attaching containers one after the other decodes a network's state only
    /// when another process has replaced the file.
    private let cache = RecordCache()

    public init(root: String) {
        directory = root + "/networks"
    }

    func path(of name: String) -> String { "\(directory)/\(name).json" }

    /// Runs `body` holding the store lock (re-entrant use is a caller bug: flock on a new fd
    /// of the same file would wait for itself, so `body` gets no way to lock again).
    public func locked<T>(_ body: () throws -> T) throws -> T {
        try FS.makeDirectories(directory, mode: 0o700)
        let lockPath = directory + "/.lock"
        let fd = try Sys.check("open", path: lockPath) { open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        _ = try Sys.check("flock", path: lockPath) { flock(fd, LOCK_EX) }
        return try body()
    }

    public func load(_ name: String) throws -> NetworkRecord? {
        let file = path(of: name)
        guard let identity = FileIdentity(file) else { return nil }
        if let cached = cache.record(name, identity) { return cached }
        do {
            let record = try JSONDecoder().decode(NetworkRecord.self, from: Data(try FS.read(file)))
            cache.store(name, identity, record)
            return record
        } catch let error as DecodingError {
            throw NetworkError(.system, "network state \(file) is unreadable (\(Self.describe(error))): remove the file and recreate the network")
        }
    }

    /// Writes a record atomically. `sync: false` skips the fsync: for endpoint changes, whose
    /// only readers are processes on this boot (containers do not survive a reboot), so a
    /// rename is enough; network definitions are synced.
    public func save(_ record: NetworkRecord, sync: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(record)
        let file = path(of: record.name)
        try FS.writeAtomically(file, sync: sync, Array(data) + [UInt8(ascii: "\n")], mode: 0o600)
        if let identity = FileIdentity(file) { cache.store(record.name, identity, record) }
    }

    public func delete(_ name: String) throws {
        let (_, code) = Sys.attempt { unlink(path(of: name)) }
        if code != 0 && code != ENOENT { throw SystemError("unlink", path: path(of: name), errno: code) }
    }

    /// Every stored network, by name.
    public func all() throws -> [NetworkRecord] {
        guard FS.isDirectory(directory) else { return [] }
        return try FS.listDirectory(directory).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted()
            .compactMap { try load(String($0.dropLast(5))) }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context), .valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }
}

/// What tells two versions of a state file apart: every write replaces the file (a new inode),
/// and the change time and size come along.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var changed: timespec

    init?(_ path: String) {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
        size = Int64(st.st_size)
        changed = st.st_ctim
    }

    static func == (a: FileIdentity, b: FileIdentity) -> Bool {
        a.device == b.device && a.inode == b.inode && a.size == b.size
            && a.changed.tv_sec == b.changed.tv_sec && a.changed.tv_nsec == b.changed.tv_nsec
    }
}

/// Decoded records by network name, valid while their file has the same identity.
final class RecordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (identity: FileIdentity, record: NetworkRecord)] = [:]

    func record(_ name: String, _ identity: FileIdentity) -> NetworkRecord? {
        lock.withLock { entries[name].flatMap { $0.identity == identity ? $0.record : nil } }
    }

    func store(_ name: String, _ identity: FileIdentity, _ record: NetworkRecord) {
        lock.withLock { entries[name] = (identity, record) }
    }
}
