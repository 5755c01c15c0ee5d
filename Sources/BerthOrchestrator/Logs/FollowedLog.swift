import BerthSystem
import Glibc

/// One container's log on the streaming thread: the initial entries, then the current file
/// read from where the last read ended, through rotations, while its monitor runs.
final class FollowedLog {
    enum Phase {
        /// Waits for the container to start (`nextRun`, or between runs for `untilFinished`).
        case waitingForStart
        /// Its monitor runs: `monitor` is a pidfd that becomes readable when it ends.
        case following
        case done
    }

    let prepared: PreparedLog
    var id: String { prepared.id }
    var name: String { prepared.name }
    var options: LogOptions { prepared.options }

    var phase = Phase.waitingForStart
    var initial: LogSegmentReader
    /// The current log file and the offset read up to.
    private var fd: Int32?
    private var offset: Int64 = 0
    private var lines = LogLineBuffer()
    /// A message logged in pieces (no newline yet): joined into one line.
    private var partial: (stream: LogEntry.Stream, time: LogTime, bytes: [UInt8])?
    /// The pidfd of the monitor being watched, and who it is.
    private(set) var monitorFD: Int32?
    private var monitor: ProcessIdentity?
    /// The finish time of the state at the last look: a new one means a run ended.
    var lastFinishedAt: String?
    /// Waits between two runs for the restart its policy has decided, or has yet to decide:
    /// a change of restart.json or state.json may end it.
    var awaitingRestart = false

    init(_ prepared: PreparedLog) {
        self.prepared = prepared
        initial = LogSegmentReader(prepared.segments)
        if let current = prepared.current {
            fd = current.fd
            offset = current.offset
        }
    }

    deinit { closeAll() }

    /// Turns an entry into a line event when it completes a line; applies since/until.
    /// Returns false when the entry is past `until` (the log ends there).
    func take(_ entry: LogEntry, into events: inout [LogEvent]) -> Bool {
        if let until = options.until, entry.time > until { return false }
        if let since = options.since, entry.time < since { return true }
        if var piece = partial {
            piece.bytes += entry.message
            partial = piece
        } else {
            partial = (entry.stream, entry.time, entry.message)
        }
        if entry.endsLine { emitPartial(into: &events) }
        return true
    }

    /// A last piece without a newline becomes a line of its own.
    func emitPartial(into events: inout [LogEvent]) {
        guard let piece = partial else { return }
        partial = nil
        var bytes = piece.bytes
        if bytes.last == 0x0a { bytes.removeLast() }
        events.append(.line(LogLine(containerID: id, name: name, stream: piece.stream, time: piece.time, text: String(decoding: bytes, as: UTF8.self))))
    }

    /// Reads what was appended since the last read, following rotations to the newer files.
    /// Returns false when `until` has passed.
    func readNew(into events: inout [LogEvent]) -> Bool {
        let path = prepared.files.path
        if fd == nil {
            let opened = open(path, O_RDONLY | O_CLOEXEC)
            guard opened >= 0 else { return true }  // not created yet: IN_CREATE announces it
            fd = opened
            offset = 0
        }
        while let current = fd {
            guard drain(current, into: &events) else { return false }
            guard let pathInode = LogScan.inode(path: path), let currentInode = LogScan.inode(current) else { return true }
            if pathInode == currentInode {
                guard let size = LogScan.size(current), size < offset else { return true }
                // Truncated in place (max-file 1): start again from its beginning.
                offset = 0
                lines.reset()
                continue
            }
            // Rotated away, and complete (the writer closes a file before renaming it): go
            // on with the file written after it.
            guard let next = nextFile(after: currentInode) else { return true }
            close(current)
            fd = next
            offset = 0
            lines.reset()
        }
        return true
    }

    /// The file that followed the rotated file `inode`: the one rotated after it (`.1` after
    /// `.2`, the current file after `.1`), or — when it has left the set — the oldest kept.
    private func nextFile(after inode: ino_t) -> Int32? {
        let path = prepared.files.path
        let rotated = (1..<max(1, prepared.files.maxFiles)).map { "\(path).\($0)" }
        let candidates: [String]
        if let position = rotated.firstIndex(where: { LogScan.inode(path: $0) == inode }) {
            candidates = [position == 0 ? path : rotated[position - 1]]
        } else {
            candidates = rotated.reversed() + [path]
        }
        for candidate in candidates {
            let opened = open(candidate, O_RDONLY | O_CLOEXEC)
            if opened >= 0 { return opened }
        }
        return nil
    }

    private func drain(_ fd: Int32, into events: inout [LogEvent]) -> Bool {
        while let size = LogScan.size(fd), size > offset {
            let bytes = LogScan.read(fd, at: offset, count: Int(min(Int64(LogScan.chunk), size - offset)))
            if bytes.isEmpty { return true }
            offset += Int64(bytes.count)
            lines.append(bytes)
            while let entry = lines.nextEntry() {
                guard take(entry, into: &events) else { return false }
            }
        }
        return true
    }

    /// Starts watching `identity` (a monitor); false if it has already ended.
    func watch(_ identity: ProcessIdentity) -> Bool {
        closeMonitor()
        guard let pidfd = identity.openPidfd() else { return false }
        monitor = identity
        monitorFD = pidfd
        phase = .following
        return true
    }

    func isWatching(_ identity: ProcessIdentity) -> Bool { monitor == identity && monitorFD != nil }

    func closeMonitor() {
        if let monitorFD { close(monitorFD) }
        monitorFD = nil
        monitor = nil
    }

    func closeAll() {
        closeMonitor()
        initial.close()
        if let fd { close(fd) }
        fd = nil
        phase = .done
    }
}
