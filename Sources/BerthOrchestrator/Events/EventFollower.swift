import BerthSystem
import CBerthSys
import Glibc

/// Reads a project's event log and follows it as it grows (`berth events`): inotify on the
/// project's run directory (and on `<run-root>/projects`, for a project directory that does
/// not exist yet or is removed by `down` and made again by the next `up`); poll(2) waits
/// for it, with `until` as the only deadline. Nothing is polled on a timer.
public final class EventFollower {
    public let log: EventLog
    private let projects: String
    private let projectName: String
    private let inotify: Int32
    private var projectsWatch: Int32 = -1
    private var directoryWatch: Int32 = -1
    /// The log file being read, and the whole lines read so far.
    private var fd: Int32 = -1
    private var offset: Int64 = 0
    private var pending: [UInt8] = []

    public init(runRoot: String, project: String) throws {
        log = EventLog(runRoot: runRoot, project: project)
        projects = runRoot + "/projects"
        projectName = project
        inotify = inotify_init1(Int32(O_CLOEXEC | O_NONBLOCK))
        guard inotify >= 0 else { throw SystemError("inotify_init1", path: projects, errno: errno) }
    }

    deinit {
        if fd >= 0 { close(fd) }
        close(inotify)
    }

    /// Calls `body` with each event from `since` on (nil: only those logged from now on),
    /// in the order they were logged, until `until` (nil: for ever) or until `body` returns
    /// false. With an `until` in the past it returns once the history is read. `ready` is
    /// called once it watches the log: every event logged after that reaches `body`.
    public func run(since: LogTime?, until: LogTime?, ready: () -> Void = {}, _ body: (ContainerEvent) -> Bool) throws {
        try FS.makeDirectories(projects, mode: 0o700)
        projectsWatch = inotify_add_watch(inotify, projects, UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR))
        guard projectsWatch >= 0 else {
            throw SystemError("inotify_add_watch", path: projects, errno: errno)
        }
        watchDirectory()
        let untilNanos = until.map { $0.seconds * 1_000_000_000 + Int64($0.nanoseconds) }
        let sinceNanos = since.map { $0.seconds * 1_000_000_000 + Int64($0.nanoseconds) }
        func deliver(_ event: ContainerEvent) -> Bool {
            if let untilNanos, event.time > untilNanos { return false }
            if let sinceNanos, event.time < sinceNanos { return true }
            return body(event)
        }
        if since != nil {
            // The history: the rotated file, then the current one from its start.
            let previous = Glibc.open(log.previousPath, O_RDONLY | O_CLOEXEC)
            if previous >= 0 {
                var history = LineReader(fd: previous)
                let events = history.drain()
                close(previous)
                for event in events where !deliver(event) { return }
            }
            openCurrent(atEnd: false)
        } else {
            openCurrent(atEnd: true)
        }
        ready()
        while true {
            for event in readNew() where !deliver(event) { return }
            var timeout: Int32 = -1
            if let untilNanos {
                let left = untilNanos - EventLog.now()
                if left <= 0 { return }
                timeout = Int32(clamping: (left + 999_999) / 1_000_000)
            }
            var entry = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
            let n = poll(&entry, 1, timeout)
            if n < 0 && errno != EINTR { throw SystemError("poll", path: log.path, errno: errno) }
            handleNotifications()
        }
    }

    /// Watches the project's directory if it exists (again).
    private func watchDirectory() {
        guard directoryWatch < 0 else { return }
        let mask = IN_CREATE | IN_MODIFY | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_ONLYDIR
        let watch = inotify_add_watch(inotify, log.directory, UInt32(mask))
        if watch >= 0 { directoryWatch = watch }
    }

    /// Reads the pending notifications; re-watches a project directory made anew.
    private func handleNotifications() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(inotify, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var index = 0
            while index + MemoryLayout<inotify_event>.size <= n {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw -> (Int32, UInt32, Int) in
                    let event = raw.loadUnaligned(fromByteOffset: index, as: inotify_event.self)
                    return (event.wd, event.mask, Int(event.len))
                }
                if wd == directoryWatch && mask & UInt32(IN_IGNORED) != 0 { directoryWatch = -1 }
                if wd == projectsWatch && length > 0 {
                    let start = index + MemoryLayout<inotify_event>.size
                    let name = String(decoding: buffer[start..<(start + length)].prefix { $0 != 0 }, as: UTF8.self)
                    if name == projectName { watchDirectory() }
                }
                index += MemoryLayout<inotify_event>.size + length
            }
        }
        watchDirectory()
    }

    private func openCurrent(atEnd: Bool) {
        let opened = Glibc.open(log.path, O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { return }
        fd = opened
        pending.removeAll()
        offset = atEnd ? LineReader.endOfWholeLines(opened) : 0
    }

    /// What was appended since the last read; across a rotation, the rest of the old file
    /// (nothing is written to it once it is renamed) and then the new one from its start.
    private func readNew() -> [ContainerEvent] {
        var out: [ContainerEvent] = []
        if fd < 0 { openCurrent(atEnd: false) }
        while fd >= 0 {
            var reader = LineReader(fd: fd, offset: offset, pending: pending)
            out += reader.drain()
            (offset, pending) = (reader.offset, reader.pending)
            var mine = stat(), current = stat()
            let same = fstat(fd, &mine) == 0 && stat(log.path, &current) == 0 && mine.st_ino == current.st_ino
            if same { break }
            close(fd)
            fd = -1
            // Rotated (a new file is there) or removed (`down`: wait for the next one).
            if stat(log.path, &current) == 0 { openCurrent(atEnd: false) }
        }
        return out
    }
}

/// Whole lines of an event log from an offset; a line still being written stays pending.
struct LineReader {
    let fd: Int32
    var offset: Int64 = 0
    var pending: [UInt8] = []

    mutating func drain() -> [ContainerEvent] {
        var out: [ContainerEvent] = []
        while true {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += Int64(n)
            pending += buffer[..<n]
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: 0x0a) {
                if let event = ContainerEvent.decode(line: pending[start..<newline]) { out.append(event) }
                start = newline + 1
            }
            pending.removeSubrange(..<start)
        }
        return out
    }

    /// The end of the file's last whole line: where reading "from now on" starts.
    static func endOfWholeLines(_ fd: Int32) -> Int64 {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return 0 }
        return LogScan.endOfLastLine(fd, before: Int64(st.st_size))
    }
}
