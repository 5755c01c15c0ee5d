/// One json-file log entry: `{"log":"hello\n","stream":"stdout","time":"2024-…Z"}`.
public struct LogEntry: Sendable, Equatable {
    public enum Stream: String, Sendable {
        case stdout, stderr
    }

    public var stream: Stream
    public var time: LogTime
    /// The `log` field as the container wrote it: a line with its `\n`, or a piece of a
    /// longer line (the writer splits lines at 16 KiB) or a last line without one.
    public var message: [UInt8]

    public init(stream: Stream, time: LogTime, message: [UInt8]) {
        self.stream = stream
        self.time = time
        self.message = message
    }

    public var endsLine: Bool { message.last == 0x0a }

    /// Decodes one line of a json-file log (without its newline); nil if it is not an entry
    /// (a torn line after a crash, or garbage): the reader skips it, as a truncated file
    /// must not stop the rest of the log from showing.
    public static func decode(_ line: UnsafeBufferPointer<UInt8>) -> LogEntry? {
        var parser = JSONObjectParser(line)
        var message: [UInt8]?
        var stream = Stream.stdout
        var time: LogTime?
        guard parser.begin() else { return nil }
        while let key = parser.nextKey() {
            if parser.is(key, "log") {
                guard let value = parser.string() else { return nil }
                message = value
            } else if parser.is(key, "stream") {
                guard let value = parser.string() else { return nil }
                stream = value.elementsEqual("stderr".utf8) ? .stderr : .stdout
            } else if parser.is(key, "time") {
                guard let range = parser.rawString(), let parsed = LogTime.parse(rfc3339: line[range]) else { return nil }
                time = parsed
            } else {
                guard parser.skipValue() else { return nil }
            }
        }
        guard parser.finished, let message, let time else { return nil }
        return LogEntry(stream: stream, time: time, message: message)
    }
}
