#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// Docker's json-file log format: one JSON object per line,
/// `{"log":"hello\n","stream":"stdout","time":"2026-11-21T16:00:00.123456789Z"}`, with
/// `max-size`/`max-file` rotation (`path` → `path.1` → … → `path.<max-file − 1>`).
public final class JSONLogWriter {
    public let path: String
    public let maxSize: Int64?
    public let maxFiles: Int
    private var fd: Int32
    private var size: Int64
    private var pending: [String: [UInt8]] = [:]
    /// Lines longer than this are split into several entries (Docker: 16 KiB).
    public static let maxLine = 16 * 1024

    public init(config: ContainerSpec.LogConfig) throws {
        path = config.path
        maxSize = config.maxSize
        maxFiles = config.maxFiles
        if let slash = config.path.lastIndex(of: "/"), slash != config.path.startIndex {
            try FS.makeDirectories(String(config.path[..<slash]))
        }
        let path = config.path
        fd = try Sys.check("open log", path: path) { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) }
        var st = stat()
        size = fstat(fd, &st) == 0 ? Int64(st.st_size) : 0
    }

    deinit { close(fd) }

    /// Appends raw bytes from a stream; complete lines become entries at once.
    public func append(_ bytes: ArraySlice<UInt8>, stream: String) throws {
        var buffer = pending[stream] ?? []
        buffer.append(contentsOf: bytes)
        var start = 0
        for (index, byte) in buffer.enumerated() where byte == UInt8(ascii: "\n") {
            try emit(Array(buffer[start...index]), stream: stream)
            start = index + 1
        }
        var rest = Array(buffer[start...])
        while rest.count >= JSONLogWriter.maxLine {
            try emit(Array(rest[0..<JSONLogWriter.maxLine]), stream: stream)
            rest.removeFirst(JSONLogWriter.maxLine)
        }
        pending[stream] = rest
    }

    /// Writes what is left of a stream without a trailing newline (at EOF).
    public func flush(stream: String) throws {
        if let rest = pending[stream], !rest.isEmpty {
            try emit(rest, stream: stream)
        }
        pending[stream] = []
    }

    func emit(_ line: [UInt8], stream: String) throws {
        let entry = Array(JSONLogWriter.entry(line, stream: stream, time: Clock.rfc3339Nano()).utf8)
        if let maxSize, size > 0, size + Int64(entry.count) > maxSize {
            try rotate()
        }
        try FS.writeAll(fd: fd, entry, path: path)
        size += Int64(entry.count)
    }

    func rotate() throws {
        let path = self.path
        close(fd)
        if maxFiles <= 1 {
            _ = Glibc.truncate(path, 0)
        } else {
            _ = unlink("\(path).\(maxFiles - 1)")
            var index = maxFiles - 2
            while index >= 1 {
                _ = rename("\(path).\(index)", "\(path).\(index + 1)")
                index -= 1
            }
            _ = try Sys.check("rotate log", path: path) { rename(path, path + ".1") }
        }
        fd = try Sys.check("open log", path: path) { open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640) }
        size = 0
    }

    /// One JSON line (`{"log":…,"stream":…,"time":…}`).
    public static func entry(_ line: [UInt8], stream: String, time: String) -> String {
        "{\"log\":\"" + escape(String(decoding: line, as: UTF8.self)) + "\",\"stream\":\"\(stream)\",\"time\":\"\(time)\"}\n"
    }

    /// The inside of a JSON string, escaped like Go's encoding/json (which Docker uses):
    /// `"`, `\`, control characters, and `<`, `>`, `&` as `\u003c` … (unless `escapeHTML` is
    /// false, as for an encoder with `SetEscapeHTML(false)`); invalid UTF-8 has become U+FFFD
    /// on decoding.
    public static func escape(_ text: String, escapeHTML: Bool = true) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "<" where escapeHTML: out += "\\u003c"
            case ">" where escapeHTML: out += "\\u003e"
            case "&" where escapeHTML: out += "\\u0026"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
