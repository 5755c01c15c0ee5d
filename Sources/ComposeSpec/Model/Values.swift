/// A map that keeps the order it was read in and prints sorted by key (as Compose does).
public struct KeyedMap<Value>: Sendable, Equatable, NodeDecodable, Codable, Sequence
where Value: Codable & Sendable & Equatable {
    public private(set) var entries: [(key: String, value: Value)]

    public init(_ entries: [(String, Value)] = []) {
        self.entries = entries.map { (key: $0.0, value: $0.1) }
    }

    public init(node: Node, path: KeyPath) throws(ComposeError) {
        guard let pairs = node.pairs else {
            if node.isNull {
                entries = []
                return
            }
            throw NodeDecoding.typeError("a mapping", node, path)
        }
        var entries: [(key: String, value: Value)] = []
        entries.reserveCapacity(pairs.count)
        for pair in pairs {
            let key = pair.key.scalarText ?? ""
            do {
                entries.append((key, try NodeDecoding.value(Value.self, node: pair.value, path: path.appending(key))))
            } catch let error as ComposeError {
                throw error
            } catch {
                throw ComposeError("\(path.appending(key)): \(error)", at: pair.value.mark)
            }
        }
        self.entries = entries
    }

    public init(from decoder: any Decoder) throws {
        try self.init(nodeDecoder: decoder, name: "KeyedMap")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: PathKey.self)
        for entry in entries.sorted(by: { $0.key < $1.key }) {
            try container.encode(entry.value, forKey: PathKey(stringValue: entry.key))
        }
    }

    public subscript(key: String) -> Value? {
        get { entries.first(where: { $0.key == key })?.value }
        set {
            if let index = entries.firstIndex(where: { $0.key == key }) {
                if let newValue {
                    entries[index].value = newValue
                } else {
                    entries.remove(at: index)
                }
            } else if let newValue {
                entries.append((key, newValue))
            }
        }
    }

    public var keys: [String] { entries.map(\.key) }
    public var values: [Value] { entries.map(\.value) }
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public func makeIterator() -> IndexingIterator<[(key: String, value: Value)]> { entries.makeIterator() }

    public mutating func removeAll(where predicate: (String, Value) -> Bool) {
        entries.removeAll(where: { predicate($0.key, $0.value) })
    }

    public func mapValues<T>(_ transform: (Value) -> T) -> KeyedMap<T> {
        KeyedMap<T>(entries.map { ($0.key, transform($0.value)) })
    }

    public func sortedByKey() -> [(key: String, value: Value)] { entries.sorted(by: { $0.key < $1.key }) }

    public static func == (lhs: KeyedMap, rhs: KeyedMap) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.sortedByKey(), rhs.sortedByKey()).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// A Go-style duration (`1m30s`, `500ms`, `2h`), stored in nanoseconds and printed the way
/// Compose prints it (`1m30s`, `1h0m0s`).
public struct Duration: Sendable, Equatable, Comparable, NodeDecodable, Codable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static func seconds(_ s: Int64) -> Duration { Duration(nanoseconds: s * 1_000_000_000) }

    public init(node: Node, path: KeyPath) throws(ComposeError) {
        guard let text = node.scalarText, !node.isNull else {
            throw NodeDecoding.typeError("a duration like '30s' or '1m30s'", node, path)
        }
        if case .int(let seconds) = node.resolved {
            // A bare number is read as seconds, as Compose's loader does for these keys.
            self.nanoseconds = seconds * 1_000_000_000
            return
        }
        guard let parsed = Duration.parse(text) else {
            throw ComposeError(
                "\(path): invalid duration '\(text)'; use a number with a unit: us, ms, s, m or h (for example '1m30s')", at: node.mark)
        }
        self = parsed
    }

    /// Parses Go's duration syntax: a sequence of decimal numbers, each with a unit.
    public static func parse(_ text: String) -> Duration? {
        var s = Substring(text)
        var negative = false
        if s.hasPrefix("-") || s.hasPrefix("+") {
            negative = s.hasPrefix("-")
            s = s.dropFirst()
        }
        if s == "0" { return Duration(nanoseconds: 0) }
        guard !s.isEmpty else { return nil }
        var total: Double = 0
        while !s.isEmpty {
            let number = s.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            let unit = s.prefix(while: { !($0.isASCII && ($0.isNumber || $0 == ".")) })
            s = s.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1
            case "us", "µs", "μs": scale = 1e3
            case "ms": scale = 1e6
            case "s": scale = 1e9
            case "m": scale = 60e9
            case "h": scale = 3600e9
            default: return nil
            }
            total += value * scale
        }
        guard total < 9.2e18 else { return nil }
        return Duration(nanoseconds: Int64((negative ? -total : total).rounded()))
    }

    /// Go's `time.Duration.String()`.
    public var description: String {
        var n = nanoseconds
        if n == 0 { return "0s" }
        let sign = n < 0 ? "-" : ""
        n = n.magnitude > UInt64(Int64.max) ? Int64.max : abs(n)
        if n < 1_000_000_000 {
            let (unit, scale): (String, Int64) = n < 1_000 ? ("ns", 1) : n < 1_000_000 ? ("µs", 1_000) : ("ms", 1_000_000)
            return sign + Duration.fraction(n, scale) + unit
        }
        var out = ""
        let hours = n / 3_600_000_000_000
        n -= hours * 3_600_000_000_000
        let minutes = n / 60_000_000_000
        n -= minutes * 60_000_000_000
        if hours > 0 { out += "\(hours)h" }
        if hours > 0 || minutes > 0 { out += "\(minutes)m" }
        out += Duration.fraction(n, 1_000_000_000) + "s"
        return sign + out
    }

    private static func fraction(_ value: Int64, _ scale: Int64) -> String {
        let whole = value / scale
        var rest = value % scale
        guard rest != 0 else { return "\(whole)" }
        var digits = ""
        var divisor = scale / 10
        while rest != 0 && divisor > 0 {
            digits += "\(rest / divisor)"
            rest %= divisor
            divisor /= 10
        }
        return "\(whole).\(digits)"
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }

    public init(from decoder: any Decoder) throws { try self.init(nodeDecoder: decoder, name: "Duration") }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: Duration, rhs: Duration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }
}

/// A byte count written as a number or with a unit (`512m`, `1g`, `1.5gb`), binary
/// multiples as Docker reads them. `-1` means unlimited where the key allows it.
public struct ByteSize: Sendable, Equatable, NodeDecodable, Codable, CustomStringConvertible {
    public var bytes: Int64

    public init(bytes: Int64) { self.bytes = bytes }

    public init(node: Node, path: KeyPath) throws(ComposeError) {
        switch node.resolved {
        case .int(let value):
            bytes = value
            return
        case .string, .float:
            let raw = node.scalarText ?? ""
            guard let value = ByteSize.parse(raw) else {
                throw ComposeError(
                    "\(path): invalid size '\(raw)'; use a number of bytes or a number with a unit: b, k, m or g (for example '512m')",
                    at: node.mark)
            }
            bytes = value
        default:
            throw NodeDecoding.typeError("a size like '512m'", node, path)
        }
    }

    /// Docker's `units.RAMInBytes`: `<number>[<unit>]`, units b, k, m, g, t, p with an
    /// optional `b` or `ib`, case-insensitive, multiples of 1024.
    public static func parse(_ text: String) -> Int64? {
        let s = text.trimmingWhitespace().lowercased()
        if let whole = Int64(s) { return whole }
        let number = s.prefix(while: { $0.isNumber || $0 == "." })
        guard !number.isEmpty, let value = Double(number) else { return nil }
        var unit = s.dropFirst(number.count).trimmingWhitespaceSubstring()
        if unit.hasSuffix("ib") {
            unit = unit.dropLast(2)
        } else if unit.hasSuffix("b") && unit.count == 2 {
            unit = unit.dropLast()
        }
        let multiplier: Double
        switch unit {
        case "", "b": multiplier = 1
        case "k": multiplier = 1024
        case "m": multiplier = 1024 * 1024
        case "g": multiplier = 1024 * 1024 * 1024
        case "t": multiplier = 1024 * 1024 * 1024 * 1024
        case "p": multiplier = 1024 * 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        let result = value * multiplier
        guard result < 9.2e18 else { return nil }
        return Int64(result)
    }

    public var description: String { String(bytes) }

    public init(from decoder: any Decoder) throws { try self.init(nodeDecoder: decoder, name: "ByteSize") }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(String(bytes))
    }
}

extension Substring {
    func trimmingWhitespaceSubstring() -> Substring {
        var s = self.drop(while: { $0 == " " || $0 == "\t" })
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}

