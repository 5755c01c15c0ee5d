import BerthRuntime
import BerthSystem
import Glibc

/// Which entries of the log to show: Docker's `--tail`, `--since`, `--until`.
public struct LogOptions: Sendable, Equatable {
    /// The last N lines of what is logged already (`nil`: all, `0`: none — only new output).
    public var tail: Int?
    /// Entries at or after this time.
    public var since: LogTime?
    /// Entries at or before this time; following ends when it has passed.
    public var until: LogTime?

    public init(tail: Int? = nil, since: LogTime? = nil, until: LogTime? = nil) {
        self.tail = tail
        self.since = since
        self.until = until
    }

    /// `--tail` as Docker reads it: a number ≥ 0, anything else (`all`, `-1`, `abc`) is all.
    public static func tail(_ text: String) -> Int? {
        guard let count = Int(text), count >= 0 else { return nil }
        return count
    }
}

/// How long a container's log is followed.
public enum LogFollow: Sendable, Equatable {
    /// What is logged now, then done (`logs`).
    case no
    /// If it runs now or waits for its restart policy to start it again, until it stops for
    /// good (`logs -f`, as Compose follows a restarting container): a run that ends with a
    /// restart to come is followed into the next one; a container that is neither running nor
    /// restarting is shown and done.
    case whileRunning
    /// From its next run (`up` adds containers before starting them) until it stops for good:
    /// waits for it to start, or takes the current run if it runs already, then follows the
    /// restarts of its restart policy as `whileRunning` does.
    case nextRun
    /// Across exits and restarts, until `LogStreamer.finish(_:)` or `stop()`.
    case untilFinished
}

/// One line of a container's output, for a printer.
public struct LogLine: Sendable, Equatable {
    public var containerID: String
    /// The name given to `add` (Compose shows `web-1`, or the `container_name`).
    public var name: String
    public var stream: LogEntry.Stream
    /// When the line (its first piece, for a line logged in pieces) was logged.
    public var time: LogTime
    /// The line without its newline.
    public var text: String

    public init(containerID: String, name: String, stream: LogEntry.Stream, time: LogTime, text: String) {
        self.containerID = containerID
        self.name = name
        self.stream = stream
        self.time = time
        self.text = text
    }
}

public enum LogEvent: Sendable, Equatable {
    case line(LogLine)
    /// The container's run ended and all its output has been delivered.
    case exited(containerID: String, name: String, exitCode: Int32)
    /// Following the container's log ended, after its last line and exit: it stopped for
    /// good (no restart to come), went away, or `finish`/`stop` ended it (`up` waits for this).
    case ended(containerID: String, name: String)
}

public struct LogStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        /// `logging.driver: none`: nothing is kept (Compose warns and goes on).
        case notLogged
        case system
    }

    public var code: Code
    public var message: String
    public var description: String { message }
}

/// A container's log as `LogStreamer.add` prepared it, handed to the streaming thread: the
/// files are open and the initial segments chosen, so that nothing logged after `add`
/// is missed and nothing before it repeats.
struct PreparedLog: Sendable {
    var id: String
    var name: String
    var directory: String
    var files: LogFileSet
    var options: LogOptions
    var follow: LogFollow
    /// What `options` selects of what was logged at `add`.
    var segments: [LogSegment]
    /// The current file and the offset where following starts (nil: not created yet).
    var current: (fd: Int32, offset: Int64)?
    /// The inotify watch of the container's directory (-1 when not following).
    var watch: Int32

    /// Opens the files of container `id`. `inotify` is the streamer's inotify fd, or -1.
    static func prepare(
        store: ContainerStore, record: ContainerRecord, name: String, options: LogOptions, follow: LogFollow, inotify: Int32
    ) throws(LogStreamError) -> PreparedLog {
        let directory = store.path(record.id)
        let spec: ContainerSpec
        do {
            spec = try ContainerSpec(decoding: try FS.readString(directory + "/spec"))
        } catch {
            throw LogStreamError(code: .system, message: "container \(record.name): cannot read its spec in \(directory): \(error)")
        }
        guard let log = spec.log else {
            throw LogStreamError(code: .notLogged, message: "configured logging driver does not support reading")
        }
        let files = LogFileSet(path: log.path, maxFiles: log.maxFiles)
        var watch: Int32 = -1
        if follow != .no {
            // Before opening the files: whatever is written after the open is then announced.
            watch = inotify_add_watch(inotify, directory, LogWatch.mask)
            if watch < 0 {
                throw LogStreamError(code: .system, message: "container \(record.name): cannot watch \(directory) (inotify_add_watch: \(String(cString: strerror(errno)))); raise fs.inotify.max_user_watches if the limit is reached")
            }
        }
        let open = { (path: String) -> Int32? in
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            return fd >= 0 ? fd : nil
        }
        let rotated = files.oldestFirst.dropLast().compactMap(open)
        let currentFD = open(files.path)
        let end = currentFD.map { LogScan.endOfLastLine($0, before: LogScan.size($0) ?? 0) } ?? 0
        var current: (fd: Int32, offset: Int64)?
        var segmentFD = currentFD
        if follow != .no, let fd = currentFD {
            // Following keeps reading the current file from `end` on; the segment reads
            // its beginning through a second descriptor.
            current = (fd, end)
            let copy = dup(fd)
            segmentFD = copy >= 0 ? copy : nil
        }
        let segments: [LogSegment]
        if options.tail == 0 {
            rotated.forEach { close($0) }
            segmentFD.map { _ = close($0) }
            segments = []
        } else {
            segments = LogScan.segments(rotated: rotated, current: segmentFD, currentEnd: end, tail: options.tail)
        }
        return PreparedLog(
            id: record.id, name: name, directory: directory, files: files, options: options, follow: follow,
            segments: segments, current: current, watch: watch)
    }
}

enum LogWatch {
    /// Writes to the log, its rotation (renames, a new file), the state file replaced by
    /// rename, and the directory going away with the container.
    static let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE_SELF)
}
