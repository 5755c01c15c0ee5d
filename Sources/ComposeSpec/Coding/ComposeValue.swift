/// A free-form value (`x-*` extensions, driver options, `develop` sub-keys we pass through):
/// an ordered JSON-like tree after YAML 1.2 resolution.
public indirect enum ComposeValue: Equatable, Sendable, NodeDecodable, Codable, NullMeaningful {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case list([ComposeValue])
    case map([(String, ComposeValue)])

    public init(node: Node, path: KeyPath) throws(ComposeError) {
        switch node.value {
        case .scalar:
            switch node.resolved {
            case .null: self = .null
            case .bool(let value): self = .bool(value)
            case .int(let value): self = .int(value)
            case .float(let value): self = .double(value)
            case .string(let value): self = .string(value)
            }
        case .sequence(let items):
            var out: [ComposeValue] = []
            for (index, item) in items.enumerated() {
                out.append(try ComposeValue(node: item, path: path.appending(index: index)))
            }
            self = .list(out)
        case .mapping(let pairs):
            var out: [(String, ComposeValue)] = []
            for pair in pairs {
                let key = pair.key.scalarText ?? ""
                out.append((key, try ComposeValue(node: pair.value, path: path.appending(key))))
            }
            self = .map(out)
        }
    }

    public init(from decoder: any Decoder) throws {
        try self.init(nodeDecoder: decoder, name: "ComposeValue")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(OutputBox(output))
    }

    /// The value as output for `config`.
    public var output: OutputValue {
        switch self {
        case .null: return .null
        case .bool(let value): return .bool(value)
        case .int(let value): return .int(value)
        case .double(let value): return .double(value)
        case .string(let value): return .string(value)
        case .list(let items): return .list(items.map(\.output))
        case .map(let pairs): return .map(pairs.map { ($0.0, $0.1.output) })
        }
    }

    public static func == (lhs: ComposeValue, rhs: ComposeValue) -> Bool {
        lhs.output == rhs.output
    }

    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .bool(let b): return b ? "true" : "false"
        case .double(let d): return OutputValue.formatDouble(d)
        default: return nil
        }
    }
}

/// The `x-*` keys of a mapping, kept in order. A property of this type in a model struct
/// (coding key `x-*`) collects them on decoding and writes them back flat on encoding.
public struct Extensions: Equatable, Sendable, Codable {
    public static let codingKey = "x-*"
    public var values: [(String, ComposeValue)]

    public init(_ values: [(String, ComposeValue)] = []) { self.values = values }

    init?(parent pairs: [Node.Pair]) {
        var values: [(String, ComposeValue)] = []
        for pair in pairs {
            guard let key = pair.key.scalarText, key.hasPrefix("x-") else { continue }
            guard let value = try? ComposeValue(node: pair.value, path: KeyPath([key])) else { continue }
            values.append((key, value))
        }
        if values.isEmpty { return nil }
        self.values = values
    }

    public var isEmpty: Bool { values.isEmpty }

    public init(from decoder: any Decoder) throws { values = [] }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(OutputBox(.map(values.map { ($0.0, $0.1.output) })))
    }

    public static func == (lhs: Extensions, rhs: Extensions) -> Bool {
        lhs.values.count == rhs.values.count && zip(lhs.values, rhs.values).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }
}
