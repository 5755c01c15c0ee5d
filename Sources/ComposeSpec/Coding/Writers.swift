/// Writes `OutputValue` trees as YAML (block style, two-space indent, the shape
/// `docker compose config` prints) or as indented JSON.
public enum OutputWriter {
    /// With `blockScalars`, multi-line strings are written as literal blocks (`|`), as
    /// Kubernetes tools write them; otherwise double-quoted with `\n` escapes.
    public static func yaml(_ value: OutputValue, blockScalars: Bool = false) -> String {
        var out = ""
        let style = Style(blockScalars: blockScalars)
        switch value {
        case .map(let pairs) where !pairs.isEmpty:
            writeMap(pairs, indent: 0, style, into: &out)
        case .list(let items) where !items.isEmpty:
            writeList(items, indent: 0, style, into: &out)
        default:
            out = scalar(value) + "\n"
        }
        return out
    }

    private struct Style {
        var blockScalars: Bool
    }

    private static func writeMap(_ pairs: [(String, OutputValue)], indent: Int, _ style: Style, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for (key, value) in pairs {
            out += pad + quoteIfNeeded(key) + ":"
            writeNested(value, indent: indent, style, into: &out)
        }
    }

    private static func writeList(_ items: [OutputValue], indent: Int, _ style: Style, into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for item in items {
            switch item {
            case .map(let pairs) where !pairs.isEmpty:
                // "- first: x" then the other keys aligned under "first".
                var body = ""
                writeMap(pairs, indent: indent + 2, style, into: &body)
                out += pad + "- " + body.dropFirst(indent + 2)
            case .list(let inner) where !inner.isEmpty:
                out += pad + "-\n"
                writeList(inner, indent: indent + 2, style, into: &out)
            default:
                out += pad + "-" + inlineScalar(item, indent: indent + 2, style) + "\n"
            }
        }
    }

    private static func writeNested(_ value: OutputValue, indent: Int, _ style: Style, into out: inout String) {
        switch value {
        case .map(let pairs) where !pairs.isEmpty:
            out += "\n"
            writeMap(pairs, indent: indent + 2, style, into: &out)
        case .list(let items) where !items.isEmpty:
            out += "\n"
            writeList(items, indent: indent + 2, style, into: &out)
        default:
            out += inlineScalar(value, indent: indent + 2, style) + "\n"
        }
    }

    /// A scalar after `key:` or `-`: ` value`, or a literal block whose lines are indented
    /// by `indent` (without the final newline).
    private static func inlineScalar(_ value: OutputValue, indent: Int, _ style: Style) -> String {
        guard style.blockScalars, case .string(let text) = value, let header = blockHeader(text) else { return " " + scalar(value) }
        let pad = String(repeating: " ", count: indent)
        var body = text
        while body.hasSuffix("\n") { body.removeLast() }
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : pad + $0 }
        let trailing = String(repeating: "\n", count: max(0, text.count - body.count - 1))
        return " " + header + "\n" + lines.joined(separator: "\n") + trailing
    }

    /// `|`, `|-` or `|+` for a string a literal block holds exactly; nil for single-line
    /// strings and for those it cannot (control characters, trailing blanks, a leading
    /// blank on the first line).
    private static func blockHeader(_ text: String) -> String? {
        guard text.contains("\n"), text.contains(where: { $0 != "\n" }) else { return nil }
        for scalar in text.unicodeScalars where (scalar.value < 0x20 && scalar != "\n" && scalar != "\t") || scalar.value == 0x7F || scalar == "\u{FEFF}" {
            return nil
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where line.last == " " || line.last == "\t" {
            return nil
        }
        if text.first == " " || text.first == "\t" || text.first == "\n" { return nil }
        if !text.hasSuffix("\n") { return "|-" }
        return text.hasSuffix("\n\n") ? "|+" : "|"
    }

    private static func scalar(_ value: OutputValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return OutputValue.formatDouble(d)
        case .string(let s): return quoteIfNeeded(s)
        case .list: return "[]"
        case .map: return "{}"
        }
    }

    /// Plain when a YAML 1.1 or 1.2 reader would read the text back as the same string;
    /// double-quoted otherwise.
    static func quoteIfNeeded(_ s: String) -> String {
        if needsQuotes(s) { return doubleQuoted(s) }
        return s
    }

    private static let yaml11Words: Set<String> = [
        "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
        "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~", "=", "<<",
    ]

    private static func needsQuotes(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last else { return true }
        if yaml11Words.contains(s) { return true }
        if YAMLCore.resolvePlain(s) != .string(s) { return true }
        if first == " " || last == " " || first == "\t" || last == "\t" { return true }
        if "-?:".unicodeScalars.contains(first) {
            // "-c" and ":x" are plain in block context; "- x", "-" and ": x" are not.
            let second = s.unicodeScalars.dropFirst().first
            if second == nil || second == " " || second == "\t" { return true }
        } else if ",[]{}#&*!|>'\"%@`".unicodeScalars.contains(first) {
            return true
        }
        if isYAML11Number(s) { return true }
        for scalar in s.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{FEFF}" { return true }
        }
        if s.contains(": ") || s.contains(" #") || s.hasSuffix(":") { return true }
        return false
    }

    /// Numbers only YAML 1.1 readers see: sexagesimal (`2222:22`, `1:30.5`) and digits with
    /// underscores (`1_000`). Quoting them keeps such readers from turning them into numbers.
    static func isYAML11Number(_ s: String) -> Bool {
        var body = Substring(s)
        if body.hasPrefix("-") || body.hasPrefix("+") { body = body.dropFirst() }
        guard let first = body.first, first.isASCII, first.isNumber else { return false }
        let main = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        let digitsOrUnderscore = { (part: Substring) in part.allSatisfy { ($0.isASCII && $0.isNumber) || $0 == "_" } }
        if main.count == 2 && !digitsOrUnderscore(main[1]) { return false }
        let groups = main[0].split(separator: ":", omittingEmptySubsequences: false)
        guard groups.allSatisfy({ !$0.isEmpty && digitsOrUnderscore($0) }) else { return false }
        if groups.count > 1 {
            return groups.dropFirst().allSatisfy { $0.count <= 2 && (Int($0) ?? 60) < 60 }
        }
        return main[0].contains("_")
    }

    static func doubleQuoted(_ s: String) -> String { escaped(s, control: { "\\x" + hex2($0) }) }

    /// A double-quoted string with `"`, `\\` and control characters escaped; `control`
    /// spells the remaining control characters (YAML `\\xNN`, JSON `\\u00NN`).
    private static func escaped(_ s: String, control: (UInt8) -> String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += control(UInt8(scalar.value))
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func hex2(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    // MARK: JSON

    public static func json(_ value: OutputValue, indent: Int = 2) -> String {
        var out = ""
        writeJSON(value, level: 0, step: indent, into: &out)
        return out + "\n"
    }

    private static func writeJSON(_ value: OutputValue, level: Int, step: Int, into out: inout String) {
        let newline = step > 0 ? "\n" : ""
        let pad = String(repeating: " ", count: (level + 1) * step)
        let closePad = String(repeating: " ", count: level * step)
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isFinite ? OutputValue.formatDouble(d) : "null"
        case .string(let s): out += jsonString(s)
        case .list(let items):
            if items.isEmpty {
                out += "[]"
                return
            }
            out += "[" + newline
            for (index, item) in items.enumerated() {
                out += pad
                writeJSON(item, level: level + 1, step: step, into: &out)
                out += (index + 1 < items.count ? "," : "") + newline
            }
            out += closePad + "]"
        case .map(let pairs):
            if pairs.isEmpty {
                out += "{}"
                return
            }
            out += "{" + newline
            for (index, (key, item)) in pairs.enumerated() {
                out += pad + jsonString(key) + (step > 0 ? ": " : ":")
                writeJSON(item, level: level + 1, step: step, into: &out)
                out += (index + 1 < pairs.count ? "," : "") + newline
            }
            out += closePad + "}"
        }
    }

    public static func jsonString(_ s: String) -> String { escaped(s, control: { "\\u00" + hex2($0) }) }

}
