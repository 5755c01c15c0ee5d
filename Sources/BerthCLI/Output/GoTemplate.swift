import Foundation

/// The part of Go's `text/template` that `--format` templates use in Docker's CLI: text with
/// `{{.Field}}`, `{{.Method "arg"}}`, `{{json .}}`, `{{json .Field}}`, the docker CLI's
/// functions `json`, `upper`, `lower`, `title`, `truncate`, `pad`, `join`, `split`, and the
/// `{{-`/`-}}` whitespace trimming.
struct GoTemplate {
    enum Value {
        case string(String)
        case int(Int64)
        case list([String])
        /// A value with its own `%v` and JSON forms (`.Publishers`, `.` itself).
        case structured(text: String, json: String)

        var text: String {
            switch self {
            case .string(let text): return text
            case .int(let value): return String(value)
            case .list(let items): return "[" + items.joined(separator: " ") + "]"
            case .structured(let text, _): return text
            }
        }
    }

    enum Argument: Equatable {
        case dot
        case field(String)
        case string(String)
        case number(Int)
        /// A bare word: a function's name.
        case word(String)
    }

    /// `function arg…` or `.Field arg…` (a method call).
    struct Action: Equatable {
        var function: String?
        var arguments: [Argument]
    }

    enum Node: Equatable {
        case text(String)
        case action(Action)
    }

    struct TemplateError: Error, CustomStringConvertible {
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
    }

    static let functions = ["json", "upper", "lower", "title", "truncate", "pad", "join", "split"]

    let nodes: [Node]

    init(parsing source: String) throws(TemplateError) {
        var nodes: [Node] = []
        var rest = Substring(source)
        var trimNextText = false
        while let open = rest.range(of: "{{") {
            var text = String(rest[..<open.lowerBound])
            rest = rest[open.upperBound...]
            if rest.hasPrefix("-") && (rest.dropFirst().first?.isWhitespace ?? false) {
                text = String(text.reversed().drop(while: \.isWhitespace).reversed())
                rest = rest.dropFirst()
            }
            if trimNextText { text = String(text.drop(while: \.isWhitespace)) }
            if !text.isEmpty { nodes.append(.text(text)) }
            guard let close = rest.range(of: "}}") else {
                throw TemplateError(description: "unclosed action in \(Self.quoted(source))")
            }
            var body = rest[..<close.lowerBound]
            rest = rest[close.upperBound...]
            trimNextText = false
            if body.hasSuffix("-") && (body.dropLast().last?.isWhitespace ?? false) {
                body = body.dropLast()
                trimNextText = true
            }
            nodes.append(.action(try Self.action(String(body), in: source)))
        }
        var tail = String(rest)
        if trimNextText { tail = String(tail.drop(while: \.isWhitespace)) }
        if !tail.isEmpty { nodes.append(.text(tail)) }
        self.nodes = nodes
    }

    static func quoted(_ source: String) -> String { GoFormat.quote(source) }

    static func action(_ body: String, in source: String) throws(TemplateError) -> Action {
        let tokens = try tokenize(body, in: source)
        guard let first = tokens.first else { throw TemplateError(description: "missing value for command in \(quoted(source))") }
        switch first {
        case .field:
            return Action(function: nil, arguments: tokens)
        case .word(let name):
            guard functions.contains(name) else {
                throw TemplateError(description: "function \"\(name)\" not defined in \(quoted(source)); use .Field, json, upper, lower, title, truncate, pad, join or split")
            }
            return Action(function: name, arguments: Array(tokens.dropFirst()))
        case .dot, .string, .number:
            guard tokens.count == 1 else { throw TemplateError(description: "\(body) can't be called in \(quoted(source))") }
            return Action(function: nil, arguments: tokens)
        }
    }

    /// Words: `.`, `.Field`, `"string"` or `` `raw` ``, numbers, and a function's name first.
    static func tokenize(_ body: String, in source: String) throws(TemplateError) -> [Argument] {
        var tokens: [Argument] = []
        var characters = Substring(body.trimmingCharacters(in: .whitespaces))
        while let first = characters.first {
            if first.isWhitespace {
                characters = characters.dropFirst()
                continue
            }
            if first == "\"" || first == "`" {
                var value = ""
                var index = characters.index(after: characters.startIndex)
                var closed = false
                while index < characters.endIndex {
                    let character = characters[index]
                    if character == first {
                        closed = true
                        break
                    }
                    if character == "\\" && first == "\"" {
                        index = characters.index(after: index)
                        guard index < characters.endIndex else { break }
                        let escaped = characters[index]
                        value.append(escaped == "n" ? "\n" : escaped == "t" ? "\t" : escaped)
                    } else {
                        value.append(character)
                    }
                    index = characters.index(after: index)
                }
                guard closed else { throw TemplateError(description: "unterminated quoted string in \(quoted(source))") }
                tokens.append(.string(value))
                characters = characters[characters.index(after: index)...]
                continue
            }
            let word = characters.prefix { !$0.isWhitespace }
            characters = characters.dropFirst(word.count)
            if word == "." {
                tokens.append(.dot)
            } else if word.hasPrefix(".") {
                let name = String(word.dropFirst())
                guard !name.contains("."), name.first?.isLetter == true else {
                    throw TemplateError(description: "unsupported field \(word) in \(quoted(source)): berth's templates take one level, such as .Name")
                }
                tokens.append(.field(name))
            } else if let number = Int(word) {
                tokens.append(.number(number))
            } else if tokens.isEmpty {
                tokens.append(.word(String(word)))
            } else {
                throw TemplateError(description: "unexpected \(word) in \(quoted(source))")
            }
        }
        return tokens
    }

    func execute(_ context: Context) throws(TemplateError) -> String {
        var out = ""
        for node in nodes {
            switch node {
            case .text(let text): out += text
            case .action(let action): out += try evaluate(action, context).text
            }
        }
        return out
    }

    private func value(_ argument: Argument, _ context: Context) throws(TemplateError) -> Value {
        switch argument {
        case .dot: return .structured(text: context.text, json: context.json)
        case .string(let text): return .string(text)
        case .number(let number): return .int(Int64(number))
        case .word(let name): throw TemplateError(description: "function \"\(name)\" used as a value")
        case .field(let name):
            guard let value = context.field(name, []) else { throw unknownField(name, context) }
            return value
        }
    }

    private func unknownField(_ name: String, _ context: Context) -> TemplateError {
        TemplateError(description: "can't evaluate field \(name): the fields are \(context.fieldNames.joined(separator: ", "))")
    }

    private func evaluate(_ action: Action, _ context: Context) throws(TemplateError) -> Value {
        guard let function = action.function else {
            guard let head = action.arguments.first else { return .string("") }
            if case .field(let name) = head, action.arguments.count > 1 {
                let arguments = try action.arguments.dropFirst().map { argument throws(TemplateError) in try value(argument, context).text }
                guard let result = context.field(name, arguments) else { throw unknownField(name, context) }
                return result
            }
            return try value(head, context)
        }
        var values: [Value] = []
        for argument in action.arguments { values.append(try value(argument, context)) }
        if context.isHeader { return .string(function == "json" ? "" : values.first?.text ?? "") }
        func text(_ index: Int) throws(TemplateError) -> String {
            guard index < values.count else { throw TemplateError(description: "wrong number of arguments for \(function)") }
            return values[index].text
        }
        func number(_ index: Int) throws(TemplateError) -> Int {
            guard index < values.count, case .int(let value) = values[index] else { throw TemplateError(description: "\(function) needs a number as argument \(index + 1)") }
            return Int(value)
        }
        switch function {
        case "json":
            guard let first = values.first else { throw TemplateError(description: "wrong number of arguments for json") }
            switch first {
            case .string(let text): return .string(GoFormat.jsonString(text, escapeHTML: false))
            case .int(let value): return .string(String(value))
            case .list(let items): return .string("[" + items.map { GoFormat.jsonString($0, escapeHTML: false) }.joined(separator: ",") + "]")
            case .structured(_, let json): return .string(json)
            }
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
            guard case .list(let items) = values.first else { return .string(try text(0)) }
            return .string(items.joined(separator: try text(1)))
        case "split":
            return .list(try text(0).components(separatedBy: try text(1)))
        default:
            throw TemplateError(description: "function \"\(function)\" not defined")
        }
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
