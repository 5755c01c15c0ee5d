/// The canonical output tree `berth config` prints: maps keep the order they were built in.
public indirect enum OutputValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case list([OutputValue])
    case map([(String, OutputValue)])

    public static func == (lhs: OutputValue, rhs: OutputValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .double(let b)): return a == b || (a.isNaN && b.isNaN)
        case (.string(let a), .string(let b)): return a == b
        case (.list(let a), .list(let b)): return a == b
        case (.map(let a), .map(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> OutputValue? {
        if case .map(let pairs) = self { return pairs.first(where: { $0.0 == key })?.1 }
        return nil
    }

    /// Go's `strconv.FormatFloat(f, 'g', -1, 64)`-like shortest form, without a trailing ".0".
    public static func formatDouble(_ value: Double) -> String {
        if value.isNaN { return ".nan" }
        if value.isInfinite { return value > 0 ? ".inf" : "-.inf" }
        if value == value.rounded() && abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// Wraps an already-built output value so `OutputEncoder` can embed it as is.
public struct OutputBox: Encodable {
    public let value: OutputValue
    public init(_ value: OutputValue) { self.value = value }
    public func encode(to encoder: any Encoder) throws {
        // Only OutputEncoder understands this; other encoders get nothing useful.
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}

/// Encodes the model into `OutputValue` in declaration order. Optionals that are nil are
/// left out; an `Extensions` property is flattened into its parent map.
public struct OutputEncoder {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> OutputValue {
        let root = Slot()
        try EncoderImpl(slot: root).encodeValue(value)
        return root.value.build()
    }
}

/// A mutable place in the tree under construction.
private final class Slot {
    enum Pending {
        case empty
        case leaf(OutputValue)
        case map([(String, Slot)])
        case list([Slot])

        func build() -> OutputValue {
            switch self {
            case .empty: return .null
            case .leaf(let value): return value
            case .map(let pairs):
                var out: [(String, OutputValue)] = []
                for (key, slot) in pairs {
                    let built = slot.value.build()
                    if key == Extensions.codingKey, case .map(let flattened) = built {
                        out.append(contentsOf: flattened)
                    } else {
                        out.append((key, built))
                    }
                }
                return .map(out)
            case .list(let items): return .list(items.map { $0.value.build() })
            }
        }
    }

    var value: Pending = .empty
}

private struct EncoderImpl: Encoder {
    let slot: Slot
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func encodeValue<T: Encodable>(_ value: T) throws {
        if let box = value as? OutputBox {
            slot.value = .leaf(box.value)
            return
        }
        try value.encode(to: self)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .map = slot.value {} else { slot.value = .map([]) }
        return KeyedEncodingContainer(KeyedImpl<Key>(slot: slot))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .list = slot.value {} else { slot.value = .list([]) }
        return UnkeyedImpl(slot: slot)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleImpl(slot: slot) }
}

private struct KeyedImpl<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    var codingPath: [any CodingKey] { [] }

    private func child(_ key: Key) -> Slot {
        let child = Slot()
        if case .map(var pairs) = slot.value {
            pairs.append((key.stringValue, child))
            slot.value = .map(pairs)
        }
        return child
    }

    mutating func encodeNil(forKey key: Key) throws { child(key).value = .leaf(.null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        if let extensions = value as? Extensions, extensions.isEmpty { return }
        try EncoderImpl(slot: child(key)).encodeValue(value)
    }
    mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws {
        guard let value else { return }
        try encode(value, forKey: key)
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        EncoderImpl(slot: child(key)).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        EncoderImpl(slot: child(key)).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { EncoderImpl(slot: slot) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { EncoderImpl(slot: child(key)) }
}

private struct UnkeyedImpl: UnkeyedEncodingContainer {
    let slot: Slot
    var codingPath: [any CodingKey] { [] }
    var count: Int {
        if case .list(let items) = slot.value { return items.count }
        return 0
    }

    private func next() -> Slot {
        let child = Slot()
        if case .list(var items) = slot.value {
            items.append(child)
            slot.value = .list(items)
        }
        return child
    }

    mutating func encodeNil() throws { next().value = .leaf(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws { try EncoderImpl(slot: next()).encodeValue(value) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        EncoderImpl(slot: next()).container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer { EncoderImpl(slot: next()).unkeyedContainer() }
    mutating func superEncoder() -> any Encoder { EncoderImpl(slot: next()) }
}

private struct SingleImpl: SingleValueEncodingContainer {
    let slot: Slot
    var codingPath: [any CodingKey] { [] }

    mutating func encodeNil() throws { slot.value = .leaf(.null) }
    mutating func encode(_ value: Bool) throws { slot.value = .leaf(.bool(value)) }
    mutating func encode(_ value: String) throws { slot.value = .leaf(.string(value)) }
    mutating func encode(_ value: Double) throws { slot.value = .leaf(.double(value)) }
    mutating func encode(_ value: Float) throws { slot.value = .leaf(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { slot.value = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { slot.value = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { slot.value = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { slot.value = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { slot.value = .leaf(.int(value)) }
    mutating func encode(_ value: UInt) throws { slot.value = .leaf(.int(Int64(clamping: value))) }
    mutating func encode(_ value: UInt8) throws { slot.value = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { slot.value = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { slot.value = .leaf(.int(Int64(value))) }
    mutating func encode(_ value: UInt64) throws { slot.value = .leaf(.int(Int64(clamping: value))) }
    mutating func encode<T: Encodable>(_ value: T) throws { try EncoderImpl(slot: slot).encodeValue(value) }
}
