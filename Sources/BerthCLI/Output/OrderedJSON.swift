import BerthRuntime

/// JSON with keys in a chosen order and Docker's layout (4-space indent, `<>&` escaped as Go
/// does), for `image inspect`.
indirect enum OrderedJSON {
    case string(String)
    case number(Int64)
    case bool(Bool)
    case null
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    static func optional(_ text: String?) -> OrderedJSON { text.map { .string($0) } ?? .null }
    static func strings(_ list: [String]?) -> OrderedJSON { list.map { .array($0.map { .string($0) }) } ?? .null }
    static func map(_ values: [String: String]?) -> OrderedJSON {
        values.map { .object($0.sorted(by: { $0.key < $1.key }).map { ($0.key, .string($0.value)) }) } ?? .null
    }

    func render(indent: String = "") -> String {
        let inner = indent + "    "
        switch self {
        case .string(let text): return Self.quote(text)
        case .number(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .null: return "null"
        case .array(let items):
            if items.isEmpty { return "[]" }
            return "[\n" + items.map { inner + $0.render(indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let pairs):
            if pairs.isEmpty { return "{}" }
            return "{\n" + pairs.map { inner + Self.quote($0.0) + ": " + $0.1.render(indent: inner) }.joined(separator: ",\n") + "\n\(indent)}"
        }
    }

    /// On one line, as Go's `json.Marshal` writes it (`--format json` lines); without
    /// `escapeHTML`, as an encoder with `SetEscapeHTML(false)` (the docker CLI's `json`).
    func compact(escapeHTML: Bool = true) -> String {
        switch self {
        case .string(let text): return Self.quote(text, escapeHTML: escapeHTML)
        case .number, .bool, .null: return render()
        case .array(let items): return "[" + items.map { $0.compact(escapeHTML: escapeHTML) }.joined(separator: ",") + "]"
        case .object(let pairs):
            return "{" + pairs.map { Self.quote($0.0, escapeHTML: escapeHTML) + ":" + $0.1.compact(escapeHTML: escapeHTML) }.joined(separator: ",") + "}"
        }
    }

    /// Escaped as Go's encoding/json does (Docker's own output): the runtime's escaper.
    static func quote(_ text: String, escapeHTML: Bool = true) -> String { "\"" + JSONLogWriter.escape(text, escapeHTML: escapeHTML) + "\"" }
}
