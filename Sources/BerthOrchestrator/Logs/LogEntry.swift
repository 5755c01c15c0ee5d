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
            switch key {
            case .log:
                guard let value = parser.string() else { return nil }
                message = value
            case .stream:
                guard let value = parser.string() else { return nil }
                stream = value.elementsEqual("stderr".utf8) ? .stderr : .stdout
            case .time:
                guard let range = parser.rawString(), let parsed = LogTime.parse(rfc3339: line[range]) else { return nil }
                time = parsed
            case .other:
                guard parser.skipValue() else { return nil }
            }
        }
        guard parser.finished, let message, let time else { return nil }
        return LogEntry(stream: stream, time: time, message: message)
    }
}

/// Just enough JSON for a flat log entry: string values are decoded (all escapes, surrogate
/// pairs), other values are skipped.
struct JSONObjectParser {
    enum Key { case log, stream, time, other }

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    private(set) var finished = false
    private var first = true

    init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0d || byte == 0x0a }

    mutating func skipSpace() {
        while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
    }

    mutating func expect(_ byte: UInt8) -> Bool {
        skipSpace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    mutating func begin() -> Bool { expect(UInt8(ascii: "{")) }

    /// The next key (and its colon), or nil at the closing brace or on an error.
    mutating func nextKey() -> Key? {
        if expect(UInt8(ascii: "}")) {
            skipSpace()
            finished = index == bytes.count
            return nil
        }
        if !first && !expect(UInt8(ascii: ",")) { return nil }
        first = false
        skipSpace()
        guard let range = rawString(), expect(UInt8(ascii: ":")) else { return nil }
        skipSpace()
        let key = bytes[range]
        if key.elementsEqual("log".utf8) { return .log }
        if key.elementsEqual("stream".utf8) { return .stream }
        if key.elementsEqual("time".utf8) { return .time }
        return .other
    }

    /// The bytes between the quotes of a string without escapes.
    mutating func rawString() -> Range<Int>? {
        skipSpace()
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\"") {
            if bytes[end] == UInt8(ascii: "\\") { return nil }
            end += 1
        }
        guard end < bytes.count else { return nil }
        index = end + 1
        return start..<end
    }

    /// A string value, unescaped, as UTF-8.
    mutating func string() -> [UInt8]? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        index += 1
        var out: [UInt8] = []
        var runStart = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                out.append(contentsOf: bytes[runStart..<index])
                index += 1
                return out
            }
            guard byte == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            out.append(contentsOf: bytes[runStart..<index])
            guard index + 1 < bytes.count else { return nil }
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "n"): out.append(0x0a)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0d)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0c)
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
            case UInt8(ascii: "u"):
                guard var scalar = hex4() else { return nil }
                if (0xD800..<0xDC00).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                    let save = index
                    index += 2
                    if let low = hex4(), (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        index = save
                    }
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
            default: return nil
            }
            runStart = index
        }
        return nil
    }

    mutating func hex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// Skips any JSON value (strings, numbers, literals, nested objects and arrays).
    mutating func skipValue() -> Bool {
        skipSpace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            return string() != nil
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""):
                    guard string() != nil else { return false }
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index += 1
                        return true
                    }
                default: break
                }
                index += 1
            }
            return false
        default:
            while index < bytes.count, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: "}"), !Self.isSpace(bytes[index]) { index += 1 }
            return true
        }
    }
}
