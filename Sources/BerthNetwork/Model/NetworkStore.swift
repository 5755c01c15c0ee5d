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
        guard FS.exists(file) else { return nil }
        do {
            return try JSONDecoder().decode(NetworkRecord.self, from: Data(try FS.read(file)))
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
        try FS.writeAtomically(path(of: record.name), sync: sync, Array(data) + [UInt8(ascii: "\n")], mode: 0o600)
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
