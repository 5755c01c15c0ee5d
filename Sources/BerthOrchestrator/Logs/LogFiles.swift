import BerthSystem
import Glibc

/// The files of one container's json-file log, oldest first: `<path>.<max-file − 1>` …
/// `<path>.1`, then `<path>` (the rotation of `BerthRuntime.JSONLogWriter`).
struct LogFileSet: Sendable {
    let path: String
    let maxFiles: Int

    var oldestFirst: [String] { (1..<max(1, maxFiles)).reversed().map { "\(path).\($0)" } + [path] }
}

/// Whole lines `[start, end)` of an open log file; the fd belongs to the segment.
struct LogSegment: Sendable {
    var fd: Int32
    var start: Int64
    var end: Int64
}

/// Reading log files by offset (`pread`), from the end for `--tail` so that a long log is
/// not parsed to show its last lines.
enum LogScan {
    static let chunk = 64 * 1024

    static func size(_ fd: Int32) -> Int64? {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int64(st.st_size) : nil
    }

    static func inode(_ fd: Int32) -> ino_t? {
        var st = stat()
        return fstat(fd, &st) == 0 ? st.st_ino : nil
    }

    static func inode(path: String) -> ino_t? {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_ino : nil
    }

    static func read(_ fd: Int32, at offset: Int64, count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return -1 }
                return pread(fd, base + done, count - done, off_t(offset) + off_t(done))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            done += n
        }
        return Array(buffer[..<done])
    }

    /// The offset just past the last newline before `end` (0 if there is none): where the
    /// whole lines end, a line still being written excluded.
    static func endOfLastLine(_ fd: Int32, before end: Int64) -> Int64 {
        var position = end
        while position > 0 {
            let start = max(0, position - Int64(chunk))
            let bytes = read(fd, at: start, count: Int(position - start))
            if let newline = bytes.lastIndex(of: 0x0a) { return start + Int64(newline) + 1 }
            position = start
        }
        return 0
    }

    /// Where the last `count` lines of `[0, end)` start (`end` just past a newline), and how
    /// many lines there are from that offset (fewer than `count` when the file is shorter).
    static func startOfLastLines(_ fd: Int32, end: Int64, count: Int) -> (offset: Int64, lines: Int) {
        guard end > 0, count > 0 else { return (end, 0) }
        var lines = 0
        var position = end - 1  // the last newline ends the last line; newlines before it start lines
        while position > 0 {
            let start = max(0, position - Int64(chunk))
            let bytes = read(fd, at: start, count: Int(position - start))
            var index = bytes.count - 1
            while index >= 0 {
                if bytes[index] == 0x0a {
                    lines += 1
                    if lines == count { return (start + Int64(index) + 1, lines) }
                }
                index -= 1
            }
            position = start
        }
        return (0, lines + 1)
    }

    /// The segments holding the last `tail` lines (all when nil) of the rotated files and of
    /// the current file up to `currentEnd`. Takes ownership of the fds (closes the unused).
    static func segments(rotated: [Int32], current: Int32?, currentEnd: Int64, tail: Int?) -> [LogSegment] {
        var files: [(fd: Int32, end: Int64)] = rotated.compactMap { fd in size(fd).map { (fd, endOfLastLine(fd, before: $0)) } }
        if let current { files.append((current, currentEnd)) }
        var segments: [LogSegment] = []
        var wanted = tail ?? Int.max
        for file in files.reversed() {
            if wanted <= 0 {
                close(file.fd)
                continue
            }
            if tail == nil {
                segments.insert(LogSegment(fd: file.fd, start: 0, end: file.end), at: 0)
                continue
            }
            let (offset, lines) = startOfLastLines(file.fd, end: file.end, count: wanted)
            wanted -= lines
            segments.insert(LogSegment(fd: file.fd, start: offset, end: file.end), at: 0)
        }
        return segments
    }
}

/// Splits bytes into lines and decodes them as json-file entries.
struct LogLineBuffer {
    private var bytes: [UInt8] = []
    private var consumed = 0

    var isEmpty: Bool { consumed == bytes.count }

    mutating func append(_ more: [UInt8]) {
        if consumed > 0 && consumed >= bytes.count / 2 {
            bytes.removeFirst(consumed)
            consumed = 0
        }
        bytes.append(contentsOf: more)
    }

    /// Drops an unfinished line (its file was truncated or rotated away under it).
    mutating func reset() {
        bytes = []
        consumed = 0
    }

    /// The next complete line decoded; lines that are not entries are skipped.
    mutating func nextEntry() -> LogEntry? {
        while let newline = bytes[consumed...].firstIndex(of: 0x0a) {
            let start = consumed
            consumed = newline + 1
            let entry = bytes.withUnsafeBufferPointer { LogEntry.decode(UnsafeBufferPointer(rebasing: $0[start..<newline])) }
            if let entry { return entry }
        }
        return nil
    }
}

/// Reads the entries of segments in order, a chunk at a time.
struct LogSegmentReader {
    private var segments: [LogSegment]
    private var buffer = LogLineBuffer()

    init(_ segments: [LogSegment]) { self.segments = segments }

    mutating func next() -> LogEntry? {
        while true {
            if let entry = buffer.nextEntry() { return entry }
            guard var segment = segments.first else { return nil }
            if segment.start >= segment.end {
                Glibc.close(segment.fd)
                segments.removeFirst()
                buffer.reset()
                continue
            }
            let bytes = LogScan.read(segment.fd, at: segment.start, count: Int(min(Int64(LogScan.chunk), segment.end - segment.start)))
            if bytes.isEmpty {
                segment.start = segment.end
            } else {
                segment.start += Int64(bytes.count)
                buffer.append(bytes)
            }
            segments[0] = segment
        }
    }

    /// Closes what has not been read.
    mutating func close() {
        for segment in segments { Glibc.close(segment.fd) }
        segments = []
    }
}
