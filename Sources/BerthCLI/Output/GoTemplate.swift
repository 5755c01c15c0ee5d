/// The part of Go's text/template that `--format` is used with in practice: `{{.Field}}`
/// (spaces inside the braces allowed), `{{json .}}` for the whole object, `{{json .Field}}`,
/// and the `\t`/`\n` escapes Docker's CLI expands. Anything else is a usage error naming
/// what is supported, never a silently wrong line.
enum GoTemplate {
    static func render(_ template: String, fields: [(String, String)], json: OrderedJSON? = nil, command: String) throws -> String {
        var out = ""
        var rest = Substring(template.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n"))
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw UsageError(message: "template \"\(template)\": unclosed action", command: command)
            }
            let action = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            out += try value(of: action, fields: fields, json: json, template: template, command: command)
            rest = rest[close.upperBound...]
        }
        return out + rest
    }

    private static func value(of action: String, fields: [(String, String)], json: OrderedJSON?, template: String, command: String) throws -> String {
        let words = action.split(separator: " ").map(String.init)
        func field(_ word: String) throws -> String {
            guard word.hasPrefix("."), let found = fields.first(where: { $0.0 == word.dropFirst() }) else {
                throw UsageError(message: "template \"\(template)\": can't evaluate \(word); fields: \(fields.map { "." + $0.0 }.joined(separator: ", "))", command: command)
            }
            return found.1
        }
        switch words.count {
        case 1: return try field(words[0])
        case 2 where words[0] == "json":
            if words[1] == "." {
                return (json ?? .object(fields.map { ($0.0, .string($0.1)) })).renderCompact()
            }
            if case .object(let pairs)? = json, let found = pairs.first(where: { $0.0 == words[1].dropFirst() }) {
                return found.1.renderCompact()
            }
            return OrderedJSON.string(try field(words[1])).renderCompact()
        default:
            throw UsageError(message: "template \"\(template)\": \"{{\(action)}}\" is not supported; use {{.Field}}, {{json .}} or {{json .Field}}", command: command)
        }
    }
}
