import Foundation

/// The part of Go's `text/template` that `--format` templates use in Docker's CLI: text with
/// `{{.Field}}`, nested fields (`{{.State.Health.Status}}`), `{{.Method "arg"}}`, variables
/// (`$`, `{{$x := …}}`), pipelines (`{{.Name | upper}}`), parentheses, the blocks `if`,
/// `else`, `else if`, `range` (with `$i, $e :=`), `with` and `end`, comments, the `{{-`/`-}}`
/// whitespace trimming, Go's functions `and`, `or`, `not`, `eq`, `ne`, `lt`, `le`, `gt`,
/// `ge`, `index`, `len`, `print`, `printf`, `println`, and the docker CLI's `json`, `upper`,
/// `lower`, `title`, `truncate`, `pad`, `join`, `split`.
struct GoTemplate {
    enum Value {
        case string(String)
        case int(Int64)
        case list([String])
        /// A value with its own `%v` and JSON forms (`.Publishers`, `.` itself).
        case structured(text: String, json: String)
        /// A walkable value: inspect output, and what functions compute.
        case data(TemplateData)

        var text: String {
            switch self {
            case .string(let text): return text
            case .int(let value): return String(value)
            case .list(let items): return "[" + items.joined(separator: " ") + "]"
            case .structured(let text, _): return text
            case .data(let data): return data.text
            }
        }
    }

    struct TemplateError: Error, CustomStringConvertible, Equatable {
        var description: String
    }

    /// What a template is executed on: `.` and its fields.
    struct Context {
        /// A field (`.Name`) or method (`.Label "key"`) with its arguments; nil if unknown.
        var field: (String, [String]) -> Value?
        /// `json .`
        var json: String
        /// `%v` of `.`
        var text: String
        /// Every field name, for errors.
        var fieldNames: [String]
        /// The header row of a `table` template: Docker's header functions leave their first
        /// argument as it is, and `json` is empty.
        var isHeader = false
        /// `.` itself when it is walkable data (inspect); nil for flat field sets.
        var data: TemplateData?

        init(field: @escaping (String, [String]) -> Value?, json: String, text: String, fieldNames: [String], isHeader: Bool = false) {
            self.field = field
            self.json = json
            self.text = text
            self.fieldNames = fieldNames
            self.isHeader = isHeader
        }

        /// `.` is `data`: its fields are the template's fields, `json .` its compact JSON.
        init(data: TemplateData) {
            self.init(
                field: { name, arguments in arguments.isEmpty ? data.field(name).map(Value.data) : nil },
                json: data.json.compact(escapeHTML: false), text: data.text, fieldNames: data.fieldNames)
            self.data = data
        }
    }

    static let functions = [
        "json", "upper", "lower", "title", "truncate", "pad", "join", "split",
        "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "index", "len", "print", "printf", "println",
    ]

    // MARK: the parsed template

    indirect enum Node {
        case text(String)
        case action(Pipeline)
        /// `if`, `with` or `range` with its body and its `else` part.
        case block(BlockKind, Pipeline, body: [Node], otherwise: [Node])
    }

    enum BlockKind: String {
        case `if`, with, range
    }

    /// `$x := cmd | cmd …`: the variables declared (range: index and element), the commands.
    struct Pipeline {
        var declarations: [String] = []
        var commands: [Command]
    }

    /// A function and its arguments, or a single operand (a field with arguments is a method).
    struct Command {
        var operands: [Operand]
    }

    indirect enum Operand {
        /// `.` followed by fields (`.State.Status`: path `["State", "Status"]`; `.`: none).
        case dot(path: [String])
        case variable(String, path: [String])
        case string(String)
        case number(Int)
        case bool(Bool)
        case null
        case function(String)
        /// `(pipeline).Field…`
        case group(Pipeline, path: [String])
    }

    let nodes: [Node]

    init(parsing source: String) throws(TemplateError) {
        var parser = Parser(source: source, items: try Self.split(source))
        nodes = try parser.parseList(endingWith: [])
    }

    static func quoted(_ source: String) -> String { GoFormat.quote(source) }

    func execute(_ context: Context) throws(TemplateError) -> String {
        var execution = Execution(root: context)
        var out = ""
        try execution.run(nodes, dot: .root, into: &out)
        return out
    }
}

extension GoTemplate {
    /// A template over flat string fields (`volume ls`, `volume inspect`): `json` is what
    /// `{{json .}}` prints (default: the fields as a JSON object). Template errors are usage
    /// errors of `command`.
    static func render(_ source: String, fields: [(String, String)], json: OrderedJSON? = nil, command: String) throws -> String {
        let whole = json ?? .object(fields.map { ($0.0, .string($0.1)) })
        var jsonFields: [(String, OrderedJSON)] = fields.map { ($0.0, .string($0.1)) }
        if case .object(let pairs) = whole { jsonFields = pairs }
        let context = Context(
            field: { name, arguments in
                guard arguments.isEmpty, let value = fields.first(where: { $0.0 == name })?.1 else { return nil }
                return .structured(text: value, json: jsonFields.first { $0.0 == name }?.1.compact() ?? OrderedJSON.string(value).compact())
            },
            json: whole.compact(), text: "&{" + fields.map(\.1).joined(separator: " ") + "}", fieldNames: fields.map(\.0))
        do {
            let expanded = source.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
            return try GoTemplate(parsing: expanded).execute(context)
        } catch {
            throw UsageError(message: "template \"\(source)\": \(error.description)", command: command)
        }
    }
}
