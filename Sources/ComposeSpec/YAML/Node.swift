/// A position in a Compose file, 1-based, as a user would look it up in an editor.
public struct Mark: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// A mark for values that did not come from a file (defaults, command-line input).
    public static let none = Mark(file: "", line: 0, column: 0)

    public var description: String {
        if file.isEmpty { return "" }
        return line > 0 ? "\(file):\(line):\(column)" : file
    }
}

/// How a scalar was written. Only plain scalars resolve to null, booleans and numbers;
/// everything quoted (or produced by interpolation) stays a string unless the schema
/// asks for another type.
public enum ScalarStyle: Sendable, Equatable {
    case plain, singleQuoted, doubleQuoted, literal, folded
    /// A plain scalar whose text came out of `${...}` interpolation: it is a string to
    /// YAML, but fields that want a number or boolean still parse its text.
    case interpolated
}

/// One YAML node with the place it was read from. The tree is a plain value: copying a
/// subtree (aliases, extends, merge) shares storage.
public struct Node: Sendable {
    public enum Value: Sendable {
        case scalar(String, ScalarStyle)
        case sequence([Node])
        case mapping([Pair])
    }

    public struct Pair: Sendable {
        public var key: Node
        public var value: Node
        public init(key: Node, value: Node) {
            self.key = key
            self.value = value
        }
    }

    public var value: Value
    public var mark: Mark
    /// An explicit tag (`!reset`, `!override`, `!!str`…), or nil.
    public var tag: String?

    public init(_ value: Value, mark: Mark = .none, tag: String? = nil) {
        self.value = value
        self.mark = mark
        self.tag = tag
    }

    public static func string(_ text: String, mark: Mark = .none) -> Node {
        Node(.scalar(text, .doubleQuoted), mark: mark)
    }

    public static func plain(_ text: String, mark: Mark = .none) -> Node {
        Node(.scalar(text, .plain), mark: mark)
    }

    public static func null(mark: Mark = .none) -> Node { Node(.scalar("", .plain), mark: mark) }

    public static func mapping(_ pairs: [(String, Node)], mark: Mark = .none) -> Node {
        Node(.mapping(pairs.map { Pair(key: .string($0.0, mark: $0.1.mark), value: $0.1) }), mark: mark)
    }

    public static func sequence(_ items: [Node], mark: Mark = .none) -> Node {
        Node(.sequence(items), mark: mark)
    }
}

// MARK: - Reading nodes

extension Node {
    /// The scalar's text, or nil for collections.
    public var scalarText: String? {
        if case .scalar(let text, _) = value { return text }
        return nil
    }

    public var scalarStyle: ScalarStyle? {
        if case .scalar(_, let style) = value { return style }
        return nil
    }

    public var isMapping: Bool {
        if case .mapping = value { return true }
        return false
    }

    public var isSequence: Bool {
        if case .sequence = value { return true }
        return false
    }

    public var pairs: [Pair]? {
        if case .mapping(let pairs) = value { return pairs }
        return nil
    }

    public var items: [Node]? {
        if case .sequence(let items) = value { return items }
        return nil
    }

    /// The YAML 1.2 core-schema type this scalar resolves to when nothing asks for another.
    public var resolved: ResolvedScalar {
        guard case .scalar(let text, let style) = value else { return .string("") }
        if let tag {
            switch tag {
            case "tag:yaml.org,2002:str", "!!str": return .string(text)
            case "tag:yaml.org,2002:null", "!!null": return .null
            case "tag:yaml.org,2002:bool", "!!bool": return YAMLCore.resolvePlain(text)
            case "tag:yaml.org,2002:int", "!!int", "tag:yaml.org,2002:float", "!!float":
                return YAMLCore.resolvePlain(text)
            default: break
            }
        }
        return style == .plain ? YAMLCore.resolvePlain(text) : .string(text)
    }

    /// True for `~`, `null` and an empty plain scalar.
    public var isNull: Bool {
        if case .null = resolved, scalarText != nil { return true }
        return false
    }

    /// The value for a mapping key, if this is a mapping that has it.
    public subscript(key: String) -> Node? {
        guard let pairs else { return nil }
        return pairs.first(where: { $0.key.scalarText == key })?.value
    }

    /// The mapping's keys in file order.
    public var keys: [String] { pairs?.compactMap { $0.key.scalarText } ?? [] }

    /// Returns a copy with `key` set to `value` (replacing in place, or appended).
    public func setting(_ key: String, to newValue: Node) -> Node {
        var pairs = self.pairs ?? []
        if let index = pairs.firstIndex(where: { $0.key.scalarText == key }) {
            pairs[index].value = newValue
        } else {
            pairs.append(Pair(key: .string(key, mark: newValue.mark), value: newValue))
        }
        var copy = self
        copy.value = .mapping(pairs)
        return copy
    }

    /// Returns a copy without `key`.
    public func removing(_ key: String) -> Node {
        guard let pairs else { return self }
        var copy = self
        copy.value = .mapping(pairs.filter { $0.key.scalarText != key })
        return copy
    }

    /// A short human description of the node's kind, for type errors.
    public var kindName: String {
        switch value {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar:
            switch resolved {
            case .null: return "null"
            case .bool: return "a boolean"
            case .int, .float: return "a number"
            case .string: return "a string"
            }
        }
    }
}

/// A scalar after YAML 1.2 core-schema resolution.
public enum ResolvedScalar: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
}

public enum YAMLCore {
    /// Resolves an untagged plain scalar the way Compose v2's YAML library does: YAML 1.2
    /// booleans (`true`/`false` only — `yes`, `no`, `on` stay strings), decimal, `0x`, `0o`
    /// and legacy leading-zero octal integers, floats, `.inf` and `.nan`. No sexagesimal
    /// numbers: `2222:22` is a string.
    public static func resolvePlain(_ text: String) -> ResolvedScalar {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        guard let first = text.utf8.first,
            first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".")
                || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9"))
        else { return .string(text) }
        if let value = parseInteger(text) { return .int(value) }
        if isFloatSyntax(text), let value = Double(text) { return .float(value) }
        return .string(text)
    }

    /// Integers as Go's `strconv.ParseInt(s, 0, 64)` reads them (what yaml.v3 uses).
    public static func parseInteger(_ text: String) -> Int64? {
        var body = Substring(text)
        var negative = false
        if body.hasPrefix("-") || body.hasPrefix("+") {
            negative = body.hasPrefix("-")
            body = body.dropFirst()
        }
        guard !body.isEmpty else { return nil }
        var radix = 10
        if body.hasPrefix("0x") || body.hasPrefix("0X") {
            radix = 16
            body = body.dropFirst(2)
        } else if body.hasPrefix("0o") || body.hasPrefix("0O") {
            radix = 8
            body = body.dropFirst(2)
        } else if body.hasPrefix("0b") || body.hasPrefix("0B") {
            radix = 2
            body = body.dropFirst(2)
        } else if body.count > 1 && body.hasPrefix("0") {
            radix = 8
            body = body.dropFirst()
        }
        guard !body.isEmpty, body.allSatisfy({ $0.isHexDigit }),
            let magnitude = UInt64(body, radix: radix)
        else { return nil }
        if negative {
            return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    private static func isFloatSyntax(_ text: String) -> Bool {
        // [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var chars = Substring(text)
        if chars.hasPrefix("-") || chars.hasPrefix("+") { chars = chars.dropFirst() }
        var digitsBefore = 0
        while let c = chars.first, c.isASCII, c.isNumber {
            digitsBefore += 1
            chars = chars.dropFirst()
        }
        var digitsAfter = 0
        if chars.first == "." {
            chars = chars.dropFirst()
            while let c = chars.first, c.isASCII, c.isNumber {
                digitsAfter += 1
                chars = chars.dropFirst()
            }
        }
        guard digitsBefore + digitsAfter > 0 else { return false }
        if let c = chars.first, c == "e" || c == "E" {
            chars = chars.dropFirst()
            if chars.hasPrefix("-") || chars.hasPrefix("+") { chars = chars.dropFirst() }
            guard !chars.isEmpty else { return false }
            while let c = chars.first, c.isASCII, c.isNumber { chars = chars.dropFirst() }
        }
        return chars.isEmpty
    }
}
