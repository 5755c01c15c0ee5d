/// A value as Docker's inspect structures hand it to Go's `text/template`: what a template
/// can walk (`.State.Health.Status`, `range`, `index`) and print (`%v`), and what `json`
/// and the inspect output encode. Go's kinds matter for both: a struct prints `{a b}` and
/// keeps its field order, a map prints `map[k:v]` and sorts its keys, and a nil slice, map
/// or pointer is `null` in JSON but `[]`, `map[]` and `<nil>` in text.
indirect enum TemplateData: Sendable {
    case string(String)
    case int(Int64)
    case bool(Bool)
    /// A slice; nil: a nil slice.
    case list([TemplateData]?)
    /// A map, in any order (printed and encoded sorted by key); nil: a nil map.
    case map([(String, TemplateData)]?)
    /// A struct (through a pointer where nil is possible): fields in declaration order.
    case object([(String, TemplateData)]?)
    /// A struct field tagged `omitempty` of a value kind: left out of its struct's JSON when
    /// empty ("", 0, false, an empty or nil slice or map), there for templates all the same.
    case omitEmpty(TemplateData)
    /// A pointer field tagged `omitempty`: left out of JSON when nil (nil: a nil pointer).
    case omitNil(TemplateData?)

    static let null = TemplateData.object(nil)

    /// A `[]string`: nil stays nil (JSON `null`).
    static func strings(_ values: [String]?) -> TemplateData { .list(values.map { $0.map(TemplateData.string) }) }

    /// A `map[string]string`, nil when `values` is.
    static func stringMap(_ values: [(String, String)]?) -> TemplateData { .map(values.map { $0.map { ($0.0, .string($0.1)) } }) }

    /// The encoding of Go's `encoding/json`: map keys sorted, struct fields in order.
    var json: OrderedJSON {
        switch self {
        case .string(let text): return .string(text)
        case .int(let value): return .number(value)
        case .bool(let value): return .bool(value)
        case .list(let items): return items.map { .array($0.map(\.json)) } ?? .null
        case .map(let pairs): return pairs.map { .object(Self.sorted($0).map { ($0.0, $0.1.json) }) } ?? .null
        case .object(let fields): return fields.map { .object($0.filter { !$0.1.isOmitted }.map { ($0.0, $0.1.json) }) } ?? .null
        case .omitEmpty(let value): return value.json
        case .omitNil(let value): return value?.json ?? .null
        }
    }

    /// What templates see: the value without its `omitempty` mark (nil pointer: `null`).
    var unwrapped: TemplateData {
        switch self {
        case .omitEmpty(let value): return value.unwrapped
        case .omitNil(let value): return value?.unwrapped ?? .null
        default: return self
        }
    }

    /// Left out of its struct's JSON (`omitempty`).
    var isOmitted: Bool {
        switch self {
        case .omitEmpty(let value):
            switch value.unwrapped {
            case .string(let text): return text.isEmpty
            case .int(let number): return number == 0
            case .bool(let flag): return !flag
            case .list(let items): return (items ?? []).isEmpty
            case .map(let pairs): return (pairs ?? []).isEmpty
            case .object(let fields): return fields == nil
            case .omitEmpty, .omitNil: return false
            }
        case .omitNil(let value): return value == nil
        default: return false
        }
    }

    /// Go's `%v`.
    var text: String {
        switch self {
        case .string(let text): return text
        case .int(let value): return String(value)
        case .bool(let value): return value ? "true" : "false"
        case .list(let items): return "[" + (items ?? []).map(\.text).joined(separator: " ") + "]"
        case .map(let pairs): return "map[" + Self.sorted(pairs ?? []).map { "\($0.0):\($0.1.text)" }.joined(separator: " ") + "]"
        case .object(let fields): return fields.map { "{" + $0.map(\.1.text).joined(separator: " ") + "}" } ?? "<nil>"
        case .omitEmpty, .omitNil: return unwrapped.text
        }
    }

    /// Go's truth for `if`, `with`, `and`, `or`, `not`: false, 0, "", nil and empty
    /// collections are false; a struct is true.
    var isTrue: Bool {
        switch self {
        case .string(let text): return !text.isEmpty
        case .int(let value): return value != 0
        case .bool(let value): return value
        case .list(let items): return !(items ?? []).isEmpty
        case .map(let pairs): return !(pairs ?? []).isEmpty
        case .object(let fields): return fields != nil
        case .omitEmpty, .omitNil: return unwrapped.isTrue
        }
    }

    /// Go's type name for errors (`string`, `map`, `struct`).
    var kind: String {
        switch self {
        case .string: return "string"
        case .int: return "int"
        case .bool: return "bool"
        case .list: return "slice"
        case .map: return "map"
        case .object(let fields): return fields == nil ? "nil pointer" : "struct"
        case .omitEmpty, .omitNil: return unwrapped.kind
        }
    }

    /// `.name` on this value: a struct's field, or a map's entry (a missing key gives
    /// `<no value>`, as text/template prints it); nil for anything else.
    func field(_ name: String) -> TemplateData? {
        switch unwrapped {
        case .object(let fields?): return fields.first { $0.0 == name }?.1.unwrapped
        case .map(let pairs): return pairs?.first { $0.0 == name }?.1.unwrapped ?? .string("<no value>")
        default: return nil
        }
    }

    /// The field names of a struct (for errors).
    var fieldNames: [String] {
        if case .object(let fields?) = unwrapped { return fields.map(\.0) }
        return []
    }

    static func sorted(_ pairs: [(String, TemplateData)]) -> [(String, TemplateData)] {
        pairs.sorted { $0.0 < $1.0 }
    }
}
