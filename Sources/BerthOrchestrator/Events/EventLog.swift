import BerthSystem
import CBerthSys
import Foundation

/// A project's event log: `<run-root>/projects/<project>/events.jsonl`, one JSON event per
/// line, appended by whoever changes a container — the supervisor (start, die, kill, stop,
/// destroy, health) and the CLI (create, restart) — and followed by `berth events`. berth
/// has no daemon to stream events from, so the log is the stream.
///
/// Each event is one `write` of one line of less than `PIPE_BUF` bytes on a descriptor
/// opened with `O_APPEND`: lines of concurrent writers never interleave. The log is bounded:
/// past `maxBytes` it is renamed to `events.jsonl.1` (replacing the older one) and a new
/// file begins. Writers hold a shared `flock` on the file while they check that it is still
/// the current one and write; the rotation takes it exclusively, so once the rename is
/// visible nothing more is written to the old file, and a follower that has read it to its
/// end has every line of it.
///
/// Under the run root: the log lives on tmpfs and goes with `down` (which removes the
/// project's run directory) or a reboot, as Docker's in-memory event buffer does.
public struct EventLog: Sendable {
    public let path: String

    public init(runRoot: String, project: String) {
        path = SupervisorPaths(runRoot: runRoot, project: project).directory + "/events.jsonl"
    }

    /// The rotated file.
    public var previousPath: String { path + ".1" }
    public var directory: String { (path as NSString).deletingLastPathComponent }

    /// Size past which the log is rotated.
    public static let maxBytes: Int64 = 1 << 20
    /// `PIPE_BUF`: an event line is shorter.
    static let maxLine = 4096

    /// Appends the event of `action` for `container` now (or at `time`, Unix nanoseconds).
    public func record(_ action: String, _ container: ContainerRecord, extra: [String: String] = [:], time: Int64? = nil) {
        append(ContainerEvent(action, container, extra: extra, time: time ?? Self.now()))
    }

    /// Appends `event`. Best effort: an event that cannot be written is reported on stderr
    /// and dropped — it never fails the operation it describes.
    public func append(_ event: ContainerEvent) {
        do {
            try write(event.encodedLine())
        } catch {
            FileHandle.standardError.write(Data("berth: event \(event.action) of container \(event.attributes["name"] ?? event.id) not logged: \(error)\n".utf8))
        }
    }

    func write(_ line: [UInt8]) throws {
        for _ in 0..<8 {
            let fd = try open()
            defer { close(fd) }
            _ = flock(fd, LOCK_SH)
            // Rotated between our open and our lock: write to the new file instead.
            guard isCurrent(fd) else { continue }
            try FS.writeAll(fd: fd, line, path: path)
            var st = stat()
            let size = fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
            _ = flock(fd, LOCK_UN)
            if size > Self.maxBytes { rotate(fd) }
            return
        }
        throw EngineError("\(path) was rotated under us 8 times in a row")
    }

    private func open() throws -> Int32 {
        let flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC
        var fd = Glibc.open(path, flags, 0o600)
        if fd < 0 && errno == ENOENT {
            try FS.makeDirectories(directory, mode: 0o700)
            fd = Glibc.open(path, flags, 0o600)
        }
        guard fd >= 0 else { throw SystemError("open", path: path, errno: errno) }
        return fd
    }

    private func isCurrent(_ fd: Int32) -> Bool {
        var mine = stat(), current = stat()
        return fstat(fd, &mine) == 0 && stat(path, &current) == 0 && mine.st_ino == current.st_ino && mine.st_dev == current.st_dev
    }

    /// Renames the full log away, unless another writer already did.
    private func rotate(_ fd: Int32) {
        _ = flock(fd, LOCK_EX)
        defer { _ = flock(fd, LOCK_UN) }
        var st = stat()
        guard isCurrent(fd), fstat(fd, &st) == 0, Int64(st.st_size) > Self.maxBytes else { return }
        _ = Glibc.rename(path, previousPath)
    }

    static func now() -> Int64 {
        let time = LogTime.now()
        return time.seconds * 1_000_000_000 + Int64(time.nanoseconds)
    }
}
