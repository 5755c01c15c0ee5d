/// Types that read themselves straight from a located YAML node (short syntaxes, durations,
/// byte sizes, free-form values). Their `init(from:)` is `init(nodeDecoder:)`, which takes
/// the node from the node decoder.
public protocol NodeDecodable {
    init(node: Node, path: KeyPath) throws(ComposeError)
}

extension NodeDecodable {
    /// `init(node:path:)` with the node behind the node decoder; any other decoder is refused
    /// (`name` says which type in the error).
    init(nodeDecoder decoder: any Decoder, name: String) throws {
        guard let located = NodeDecoding.located(decoder) else { throw ComposeError("\(name) decodes only from Compose nodes") }
        try self.init(node: located.node, path: located.path)
    }
}

/// Decodes the typed model from a `Node` tree. Keys not in a type's `CodingKeys` (when they
/// are `CaseIterable`) are errors with a did-you-mean hint; `x-*` keys go to the type's
/// `Extensions` property. Every error carries the file:line:column of the offending node.
public struct NodeDecoder {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from node: Node, path: KeyPath = KeyPath()) throws(ComposeError) -> T {
        do {
            return try NodeDecoding.value(type, node: node, path: path)
        } catch let error as ComposeError {
            throw error
        } catch {
            throw ComposeError("\(path): \(error)", at: node.mark)
        }
    }
}

enum NodeDecoding {
    /// No dynamic casts to protocols on this path: in a binary as large as berth, the first
    /// cast of a type to a protocol scans every conformance record (~6,000) — a Compose file
    /// with a few services cost ~2 ms of them. `NodeDecodable` types read their node in
    /// their `init(from:)` (see `located`).
    static func value<T: Decodable>(_ type: T.Type, node: Node, path: KeyPath) throws -> T {
        try T(from: DecoderImpl(node: node, path: path))
    }

    /// The node and path behind a decoder of ours: how a `NodeDecodable` type's
    /// `init(from:)` reaches `init(node:path:)`. A cast to a concrete type, which costs no
    /// conformance scan. nil for any other decoder.
    static func located(_ decoder: any Decoder) -> (node: Node, path: KeyPath)? {
        guard let ours = decoder as? DecoderImpl else { return nil }
        return (ours.node, ours.path)
    }

    static func typeError(_ expected: String, _ node: Node, _ path: KeyPath) -> ComposeError {
        ComposeError("\(path.description.isEmpty ? "value" : path.description) must be \(expected), not \(node.kindName)", at: node.mark)
    }
}

private struct DecoderImpl: Decoder {
    let node: Node
    let path: KeyPath
    var codingPath: [any CodingKey] { path.components.map { PathKey(stringValue: $0) } }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let pairs = node.pairs else {
            if node.isNull {
                return KeyedDecodingContainer(KeyedImpl<Key>(node: node, pairs: [], path: path))
            }
            throw NodeDecoding.typeError("a mapping", node, path)
        }
        // Keys the type's CodingKeys do not know are errors when they are CaseIterable (the
        // model's are; dictionaries' keys are not). Checked by `Key(stringValue:)` first, so
        // that the cast to the protocol happens only for a key in question.
        let takesExtensions = Key(stringValue: Extensions.codingKey) != nil
        for pair in pairs {
            guard let key = pair.key.scalarText, Key(stringValue: key) == nil, !(key.hasPrefix("x-") && takesExtensions) else { continue }
            if let iterable = Key.self as? any (CaseIterable & CodingKey).Type {
                throw unknownKey(key, known: knownKeys(iterable), at: pair.key.mark)
            }
        }
        return KeyedDecodingContainer(KeyedImpl<Key>(node: node, pairs: pairs, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let items = node.items else { throw NodeDecoding.typeError("a list", node, path) }
        return UnkeyedImpl(items: items, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleImpl(node: node, path: path)
    }

    private func knownKeys<K: CaseIterable & CodingKey>(_ type: K.Type) -> Set<String> {
        Set(type.allCases.map(\.stringValue))
    }

    private func unknownKey(_ key: String, known: Set<String>, at mark: Mark) -> ComposeError {
        let where_ = path.description.isEmpty ? "" : "\(path): "
        let candidates = known.filter { $0 != Extensions.codingKey }
        if let suggestion = Spelling.closest(to: key, in: candidates) {
            return ComposeError("\(where_)unknown key '\(key)' — did you mean '\(suggestion)'?", at: mark)
        }
        return ComposeError("\(where_)unknown key '\(key)'", at: mark)
    }
}

struct PathKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { self.stringValue = "\(intValue)" }
}

private struct KeyedImpl<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let node: Node
    let pairs: [Node.Pair]
    let path: KeyPath
    var codingPath: [any CodingKey] { path.components.map { PathKey(stringValue: $0) } }

    var allKeys: [Key] { pairs.compactMap { $0.key.scalarText.flatMap(Key.init(stringValue:)) } }

    func value(for key: Key) -> Node? {
        pairs.first(where: { $0.key.scalarText == key.stringValue })?.value
    }

    func contains(_ key: Key) -> Bool {
        if key.stringValue == Extensions.codingKey { return true }
        return value(for: key) != nil
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        guard let child = value(for: key) else { return true }
        return child.isNull
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        if type == Extensions.self, let value = (Extensions(parent: pairs) ?? Extensions()) as? T { return value }
        guard let child = value(for: key) else {
            throw ComposeError("\(path.description.isEmpty ? "" : "\(path): ")missing required key '\(key.stringValue)'", at: node.mark)
        }
        return try NodeDecoding.value(type, node: child, path: path.appending(key.stringValue))
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        if type == Extensions.self { return Extensions(parent: pairs) as? T }
        guard let child = value(for: key) else { return nil }
        // An explicit null means "not set" for optional fields, except for types that
        // give null a meaning of their own (a network attachment with no options).
        if child.isNull && !(type is NullMeaningful.Type) { return nil }
        return try NodeDecoding.value(type, node: child, path: path.appending(key.stringValue))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try DecoderImpl(node: value(for: key) ?? .null(mark: node.mark), path: path.appending(key.stringValue)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try DecoderImpl(node: value(for: key) ?? .null(mark: node.mark), path: path.appending(key.stringValue)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder { DecoderImpl(node: node, path: path) }
    func superDecoder(forKey key: Key) throws -> any Decoder {
        DecoderImpl(node: value(for: key) ?? .null(mark: node.mark), path: path.appending(key.stringValue))
    }
}

/// Marker for optional types whose explicit `null` still carries meaning.
public protocol NullMeaningful {}

private struct UnkeyedImpl: UnkeyedDecodingContainer {
    let items: [Node]
    let path: KeyPath
    var currentIndex = 0
    var codingPath: [any CodingKey] { path.components.map { PathKey(stringValue: $0) } }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [Node], path: KeyPath) {
        self.items = items
        self.path = path
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd else { return true }
        if items[currentIndex].isNull {
            currentIndex += 1
            return true
        }
        return false
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        guard !isAtEnd else { throw ComposeError("\(path): list ended early") }
        let item = items[currentIndex]
        let value = try NodeDecoding.value(type, node: item, path: path.appending(index: currentIndex))
        currentIndex += 1
        return value
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let item = items[currentIndex]
        defer { currentIndex += 1 }
        return try DecoderImpl(node: item, path: path.appending(index: currentIndex)).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let item = items[currentIndex]
        defer { currentIndex += 1 }
        return try DecoderImpl(node: item, path: path.appending(index: currentIndex)).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder {
        let item = items[currentIndex]
        defer { currentIndex += 1 }
        return DecoderImpl(node: item, path: path.appending(index: currentIndex))
    }
}

/// Scalars, with Compose's leniency: numbers and booleans may be written as strings (so
/// they survive interpolation), and string fields accept any scalar's text.
private struct SingleImpl: SingleValueDecodingContainer {
    let node: Node
    let path: KeyPath
    var codingPath: [any CodingKey] { path.components.map { PathKey(stringValue: $0) } }

    func decodeNil() -> Bool { node.isNull }

    func decode(_ type: Bool.Type) throws -> Bool { try Scalars.bool(node, path) }
    func decode(_ type: String.Type) throws -> String { try Scalars.string(node, path) }
    func decode(_ type: Double.Type) throws -> Double { try Scalars.double(node, path) }
    func decode(_ type: Float.Type) throws -> Float { Float(try Scalars.double(node, path)) }
    func decode(_ type: Int.Type) throws -> Int { Int(try Scalars.int(node, path)) }
    func decode(_ type: Int8.Type) throws -> Int8 { try narrow(Scalars.int(node, path)) }
    func decode(_ type: Int16.Type) throws -> Int16 { try narrow(Scalars.int(node, path)) }
    func decode(_ type: Int32.Type) throws -> Int32 { try narrow(Scalars.int(node, path)) }
    func decode(_ type: Int64.Type) throws -> Int64 { try Scalars.int(node, path) }
    func decode(_ type: UInt.Type) throws -> UInt { try narrow(Scalars.int(node, path)) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try narrow(Scalars.int(node, path)) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try narrow(Scalars.int(node, path)) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try narrow(Scalars.int(node, path)) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try narrow(Scalars.int(node, path)) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try NodeDecoding.value(type, node: node, path: path) }

    private func narrow<T: FixedWidthInteger>(_ value: Int64) throws -> T {
        guard let narrowed = T(exactly: value) else {
            throw ComposeError("\(path): \(value) is out of range", at: node.mark)
        }
        return narrowed
    }
}

/// Scalar conversions shared by the decoder and the hand-written `NodeDecodable` types.
public enum Scalars {
    public static func string(_ node: Node, _ path: KeyPath) throws(ComposeError) -> String {
        // Any scalar is a string as written (`1.0` stays "1.0", `yes` stays "yes").
        guard case .scalar(let text, _) = node.value else { throw NodeDecoding.typeError("a string", node, path) }
        return text
    }

    public static func bool(_ node: Node, _ path: KeyPath) throws(ComposeError) -> Bool {
        switch node.resolved {
        case .bool(let value): return value
        case .string(let text):
            switch text.lowercased() {
            case "true", "yes", "y", "on": return true
            case "false", "no", "n", "off": return false
            default: break
            }
        default: break
        }
        throw NodeDecoding.typeError("a boolean (true or false)", node, path)
    }

    public static func int(_ node: Node, _ path: KeyPath) throws(ComposeError) -> Int64 {
        switch node.resolved {
        case .int(let value): return value
        case .float(let value) where value == value.rounded() && abs(value) < 9e18: return Int64(value)
        case .string(let text):
            if let value = YAMLCore.parseInteger(text.trimmingWhitespace()) { return value }
        default: break
        }
        throw NodeDecoding.typeError("an integer", node, path)
    }

    public static func double(_ node: Node, _ path: KeyPath) throws(ComposeError) -> Double {
        switch node.resolved {
        case .int(let value): return Double(value)
        case .float(let value): return value
        case .string(let text):
            if let value = Double(text.trimmingWhitespace()) { return value }
        default: break
        }
        throw NodeDecoding.typeError("a number", node, path)
    }
}

/// Did-you-mean suggestions by edit distance.
public enum Spelling {
    /// The candidate nearest to `word`, if it is close enough to be a likely typo.
    public static func closest<S: Sequence>(to word: String, in candidates: S) -> String? where S.Element == String {
        var best: (word: String, distance: Int)?
        for candidate in candidates.sorted() {
            let distance = editDistance(word, candidate)
            let limit = max(1, min(word.count, candidate.count) / 3)
            guard distance <= limit else { continue }
            if let current = best, current.distance <= distance { continue }
            best = (candidate, distance)
        }
        return best?.word
    }

    /// Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent
    /// transpositions ("imgae" → "image") each cost one.
    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[a.count][b.count]
    }
}
