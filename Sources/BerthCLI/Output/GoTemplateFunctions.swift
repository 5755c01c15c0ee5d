import Foundation

/// The functions of `GoTemplate`: the docker CLI's (`templates.basicFunctions`) and Go's
/// builtins that inspect templates use.
extension GoTemplate {
    static func call(_ function: String, _ values: [Value]) throws(TemplateError) -> Value {
        func text(_ index: Int) throws(TemplateError) -> String {
            guard index < values.count else { throw TemplateError(description: "wrong number of arguments for \(function)") }
            return values[index].text
        }
        func number(_ index: Int) throws(TemplateError) -> Int {
            guard index < values.count, let value = integer(values[index]) else {
                throw TemplateError(description: "\(function) needs a number as argument \(index + 1)")
            }
            return Int(value)
        }
        func count(_ range: ClosedRange<Int>) throws(TemplateError) {
            guard range.contains(values.count) else { throw TemplateError(description: "wrong number of arguments for \(function): \(values.count)") }
        }
        switch function {
        case "json":
            try count(1...1)
            return .string(json(values[0]))
        case "upper": return .string(try text(0).uppercased())
        case "lower": return .string(try text(0).lowercased())
        case "title": return .string(try text(0).split(separator: " ", omittingEmptySubsequences: false).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: " "))
        case "truncate":
            let source = try text(0)
            let length = try number(1)
            return .string(source.utf8.count < length ? source : String(decoding: source.utf8.prefix(max(0, length)), as: UTF8.self))
        case "pad":
            let source = try text(0)
            return .string(source.isEmpty ? source : String(repeating: " ", count: try number(1)) + source + String(repeating: " ", count: try number(2)))
        case "join":
            let separator = try text(1)
            switch values[0] {
            case .list(let items): return .string(items.joined(separator: separator))
            case .data(.list(let items)): return .string((items ?? []).map(\.text).joined(separator: separator))
            default: return .string(try text(0))
            }
        case "split":
            return .list(try text(0).components(separatedBy: try text(1)))
        case "and", "or":
            try count(1...Int.max)
            // The first false (and) or true (or) argument, else the last.
            for value in values.dropLast() where Execution.isTrue(value) == (function == "or") { return value }
            return values[values.count - 1]
        case "not":
            try count(1...1)
            return .data(.bool(!Execution.isTrue(values[0])))
        case "eq":
            try count(2...Int.max)
            for other in values.dropFirst() {
                if try compare(values[0], other) == 0 { return .data(.bool(true)) }
            }
            return .data(.bool(false))
        case "ne", "lt", "le", "gt", "ge":
            try count(2...2)
            let order = try compare(values[0], values[1])
            let result = ["ne": order != 0, "lt": order < 0, "le": order <= 0, "gt": order > 0, "ge": order >= 0][function] ?? false
            return .data(.bool(result))
        case "len":
            try count(1...1)
            switch values[0] {
            case .string(let text): return .int(Int64(text.utf8.count))
            case .list(let items): return .int(Int64(items.count))
            case .data(.string(let text)): return .int(Int64(text.utf8.count))
            case .data(.list(let items)): return .int(Int64(items?.count ?? 0))
            case .data(.map(let pairs)): return .int(Int64(pairs?.count ?? 0))
            default: throw TemplateError(description: "len of \(values[0].text): not a string, slice or map")
            }
        case "index":
            try count(1...Int.max)
            var current = values[0]
            for key in values.dropFirst() { current = try index(current, key) }
            return current
        case "print":
            // fmt.Sprint: a space between operands when neither is a string.
            var out = ""
            for (position, value) in values.enumerated() {
                if position > 0 && !isString(values[position - 1]) && !isString(value) { out += " " }
                out += value.text
            }
            return .string(out)
        case "println":
            return .string(values.map(\.text).joined(separator: " ") + "\n")
        case "printf":
            return .string(try printf(try text(0), Array(values.dropFirst())))
        default:
            throw TemplateError(description: "function \"\(function)\" not defined")
        }
    }

    /// The docker CLI's `json`: `encoding/json` without HTML escaping, no trailing newline.
    static func json(_ value: Value) -> String {
        switch value {
        case .string(let text): return GoFormat.jsonString(text, escapeHTML: false)
        case .int(let number): return String(number)
        case .list(let items): return "[" + items.map { GoFormat.jsonString($0, escapeHTML: false) }.joined(separator: ",") + "]"
        case .structured(_, let json): return json
        case .data(let data): return data.json.compact(escapeHTML: false)
        }
    }

    static func isString(_ value: Value) -> Bool {
        switch value {
        case .string, .data(.string): return true
        default: return false
        }
    }

    static func integer(_ value: Value) -> Int64? {
        switch value {
        case .int(let number), .data(.int(let number)): return number
        default: return nil
        }
    }

    /// Go's comparison of basic values: numbers with numbers, strings with strings, bools
    /// only for equality.
    static func compare(_ a: Value, _ b: Value) throws(TemplateError) -> Int {
        if let x = integer(a), let y = integer(b) { return x < y ? -1 : (x == y ? 0 : 1) }
        if case .data(.bool(let x)) = a, case .data(.bool(let y)) = b { return x == y ? 0 : 1 }
        if isString(a) && isString(b) {
            let (x, y) = (a.text, b.text)
            return x < y ? -1 : (x == y ? 0 : 1)
        }
        throw TemplateError(description: "incompatible types for comparison: \(a.text) and \(b.text)")
    }

    /// `index COLLECTION KEY`: a slice's element by number, a map's value by key.
    static func index(_ collection: Value, _ key: Value) throws(TemplateError) -> Value {
        switch collection {
        case .list(let items):
            guard let position = integer(key), position >= 0, position < items.count else {
                throw TemplateError(description: "index out of range: \(key.text)")
            }
            return .string(items[Int(position)])
        case .data(.list(let items)):
            let items = items ?? []
            guard let position = integer(key), position >= 0, position < items.count else {
                throw TemplateError(description: "index out of range: \(key.text)")
            }
            return .data(items[Int(position)].unwrapped)
        case .data(.map(let pairs)):
            // A missing key gives the zero value: nothing to print.
            return pairs?.first { $0.0 == key.text }.map { .data($0.1.unwrapped) } ?? .data(.null)
        default:
            throw TemplateError(description: "can't index item of type \(collection.text)")
        }
    }

    /// `fmt.Sprintf` for the verbs templates use: %s %v %d %q %t %%, with an optional width
    /// (`%-10s`, `%5d`).
    static func printf(_ format: String, _ values: [Value]) throws(TemplateError) -> String {
        var out = ""
        var remaining = values[...]
        var characters = Substring(format)
        while let percent = characters.firstIndex(of: "%") {
            out += characters[..<percent]
            characters = characters[characters.index(after: percent)...]
            var flags = ""
            while let c = characters.first, c == "-" || c.isNumber {
                flags.append(c)
                characters = characters.dropFirst()
            }
            guard let verb = characters.first else {
                out += "%!(NOVERB)"
                break
            }
            characters = characters.dropFirst()
            if verb == "%" {
                out += "%"
                continue
            }
            guard let value = remaining.popFirst() else {
                out += "%!\(verb)(MISSING)"
                continue
            }
            var piece: String
            switch verb {
            case "s", "v": piece = value.text
            case "d": piece = integer(value).map(String.init) ?? "%!d(\(value.text))"
            case "q": piece = GoFormat.quote(value.text)
            case "t": piece = value.text
            default: piece = "%!\(verb)(\(value.text))"
            }
            let leftAlign = flags.hasPrefix("-")
            if let width = Int(flags.drop(while: { $0 == "-" })), piece.count < width {
                let padding = String(repeating: " ", count: width - piece.count)
                piece = leftAlign ? piece + padding : padding + piece
            }
            out += piece
        }
        out += characters
        if !remaining.isEmpty { out += "%!(EXTRA " + remaining.map(\.text).joined(separator: ", ") + ")" }
        return out
    }
}
