import BerthRuntime
import Foundation
import Glibc

/// Text as Go's standard library writes it, where Docker's output shows it.
enum GoFormat {
    /// `strconv.Quote`: double quotes, `\"` and `\\`, the C escapes, `\x..` for other
    /// control bytes, `\u….` for unprintable scalars; printable Unicode as is.
    static func quote(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{07}": out += "\\a"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{0B}": out += "\\v"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += "\\x" + hex(scalar.value, width: 2)
                } else if scalar.isASCII || isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value < 0x10000 {
                    out += "\\u" + hex(scalar.value, width: 4)
                } else {
                    out += "\\U" + hex(scalar.value, width: 8)
                }
            }
        }
        return out + "\""
    }

    /// `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and U+0020.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator, .spaceSeparator:
            return scalar == " "
        default:
            return true
        }
    }

    static func hex(_ value: UInt32, width: Int) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    /// The docker CLI's `formatter.Ellipsis`: at most `width` columns, the last one `…`.
    static func ellipsis(_ text: String, width: Int) -> String {
        let scalars = Array(text.unicodeScalars)
        guard width > 1 else { return width == 1 ? scalars.first.map { String($0) } ?? "" : "" }
        if scalars.allSatisfy(\.isASCII) {
            return scalars.count <= width ? text : String(String.UnicodeScalarView(scalars[..<(width - 1)])) + "…"
        }
        let widths = scalars.map(columns)
        guard widths.reduce(0, +) > width else { return text }
        var used = 0
        for (index, columns) in widths.enumerated() {
            if used + columns > width - 1 { return String(String.UnicodeScalarView(scalars[..<index])) + "…" }
            used += columns
        }
        return text
    }

    /// Terminal columns of a scalar (go-runewidth, East Asian wide = 2, marks = 0).
    static func columns(_ scalar: Unicode.Scalar) -> Int {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        let wide: [ClosedRange<UInt32>] = [
            0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xA000...0xA4CF,
            0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F,
            0x1F900...0x1F9FF, 0x20000...0x3FFFD,
        ]
        return wide.contains { $0.contains(scalar.value) } ? 2 : 1
    }

    /// A JSON string as Go's encoding/json writes it; `escapeHTML` as `json.Marshal` (true)
    /// or an encoder with `SetEscapeHTML(false)`.
    static func jsonString(_ text: String, escapeHTML: Bool = true) -> String {
        "\"" + JSONLogWriter.escape(text, escapeHTML: escapeHTML) + "\""
    }

    /// `time.Time.String()` of Unix seconds in the local zone: `2024-01-02 03:04:05 +0000 UTC`.
    static func timeString(seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        localtime_r(&t, &parts)
        let offset = Int(parts.tm_gmtoff)
        return String(
            format: "%04d-%02d-%02d %02d:%02d:%02d %@%02d%02d %@", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
            parts.tm_min, parts.tm_sec, offset < 0 ? "-" : "+", abs(offset) / 3600, abs(offset) % 3600 / 60,
            parts.tm_zone.map { String(cString: $0) } ?? "")
    }
}
