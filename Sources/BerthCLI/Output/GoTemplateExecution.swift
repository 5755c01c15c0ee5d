/// Execution of a parsed `GoTemplate`: `.` is the context at the top and what `range` and
/// `with` make it inside; `$` is always the context; variables live until their block ends.
extension GoTemplate {
    enum Dot {
        /// The context the template runs on.
        case root
        case value(Value)
    }

    struct Execution {
        let root: Context
        private var variables: [(name: String, value: Value)] = []

        init(root: Context) {
            self.root = root
        }

        mutating func run(_ nodes: [Node], dot: Dot, into out: inout String) throws(TemplateError) {
            for node in nodes {
                switch node {
                case .text(let text):
                    out += text
                case .action(let pipeline):
                    let value = try evaluate(pipeline, dot: dot)
                    if pipeline.declarations.isEmpty { out += value.text }
                case .block(let kind, let pipeline, let body, let otherwise):
                    let mark = variables.count
                    defer { variables.removeLast(variables.count - mark) }
                    switch kind {
                    case .if:
                        let value = try evaluate(pipeline, dot: dot)
                        try run(Self.isTrue(value) ? body : otherwise, dot: dot, into: &out)
                    case .with:
                        let value = try evaluate(pipeline, dot: dot)
                        if Self.isTrue(value) {
                            try run(body, dot: .value(value), into: &out)
                        } else {
                            try run(otherwise, dot: dot, into: &out)
                        }
                    case .range:
                        try range(pipeline, body: body, otherwise: otherwise, dot: dot, into: &out)
                    }
                }
            }
        }

        private mutating func range(_ pipeline: Pipeline, body: [Node], otherwise: [Node], dot: Dot, into out: inout String) throws(TemplateError) {
            var declared = pipeline
            declared.declarations = []
            let elements = try Self.elements(of: try evaluate(declared, dot: dot))
            if elements.isEmpty {
                try run(otherwise, dot: dot, into: &out)
                return
            }
            for (key, element) in elements {
                let mark = variables.count
                switch pipeline.declarations.count {
                case 1: variables.append((pipeline.declarations[0], element))
                case 2:
                    variables.append((pipeline.declarations[0], key))
                    variables.append((pipeline.declarations[1], element))
                default: break
                }
                try run(body, dot: .value(element), into: &out)
                variables.removeLast(variables.count - mark)
            }
        }

        /// What `range` walks: a slice's index and element, a map's keys in order and values.
        static func elements(of value: Value) throws(TemplateError) -> [(key: Value, element: Value)] {
            switch value {
            case .list(let items):
                return items.enumerated().map { (.int(Int64($0.offset)), .string($0.element)) }
            case .data(.list(let items)):
                return (items ?? []).enumerated().map { (.int(Int64($0.offset)), .data($0.element)) }
            case .data(.map(let pairs)):
                return TemplateData.sorted(pairs ?? []).map { (.string($0.0), .data($0.1)) }
            case .data(let data):
                throw TemplateError(description: "range can't iterate over \(data.text) (a \(data.kind))")
            case .string, .int, .structured:
                throw TemplateError(description: "range can't iterate over \(value.text)")
            }
        }

        static func isTrue(_ value: Value) -> Bool {
            switch value {
            case .string(let text): return !text.isEmpty
            case .int(let number): return number != 0
            case .list(let items): return !items.isEmpty
            case .structured: return true
            case .data(let data): return data.isTrue
            }
        }

        /// The pipeline's value; a declaration binds it (and prints nothing).
        mutating func evaluate(_ pipeline: Pipeline, dot: Dot) throws(TemplateError) -> Value {
            var result: Value?
            for command in pipeline.commands {
                result = try evaluate(command, dot: dot, piped: result)
            }
            guard let value = result else { return .string("") }
            for name in pipeline.declarations { variables.append((name, value)) }
            return value
        }

        private func evaluate(_ command: Command, dot: Dot, piped: Value?) throws(TemplateError) -> Value {
            let head = command.operands[0]
            if case .function(let name) = head {
                var arguments: [Value] = []
                for operand in command.operands.dropFirst() { arguments.append(try value(of: operand, dot: dot)) }
                if let piped { arguments.append(piped) }
                if root.isHeader { return .string(name == "json" ? "" : arguments.first?.text ?? "") }
                return try GoTemplate.call(name, arguments)
            }
            if piped != nil { throw TemplateError(description: "can't give an argument to a value that is not a function") }
            if command.operands.count > 1, case .dot(let path) = head, path.count == 1 {
                // A method with arguments (`.Label "key"`) of the context.
                var arguments: [String] = []
                for operand in command.operands.dropFirst() { arguments.append(try value(of: operand, dot: dot).text) }
                guard case .root = dot, let result = root.field(path[0], arguments) else {
                    throw TemplateError(description: "can't call method \(path[0]) with arguments: \(fieldList(dot))")
                }
                return result
            }
            return try value(of: head, dot: dot)
        }

        private func value(of operand: Operand, dot: Dot) throws(TemplateError) -> Value {
            switch operand {
            case .dot(let path):
                return try walk(path, from: dot)
            case .variable(let name, let path):
                let start: Dot
                if name == "$" {
                    start = .root
                } else {
                    guard let bound = variables.last(where: { $0.name == name }) else {
                        throw TemplateError(description: "undefined variable \(name)")
                    }
                    start = .value(bound.value)
                }
                return try walk(path, from: start)
            case .string(let text): return .string(text)
            case .number(let number): return .int(Int64(number))
            case .bool(let flag): return .data(.bool(flag))
            case .null: return .data(.null)
            case .function(let name):
                if root.isHeader { return .string("") }
                return try GoTemplate.call(name, [])
            case .group(let pipeline, let path):
                var copy = self
                return try walk(path, from: .value(try copy.evaluate(pipeline, dot: dot)))
            }
        }

        /// `.` or `.A.B…` from `dot`.
        private func walk(_ path: [String], from dot: Dot) throws(TemplateError) -> Value {
            var current: Value
            var rest = path[...]
            switch dot {
            case .value(let value):
                current = value
            case .root:
                guard let first = rest.first else {
                    return root.data.map(Value.data) ?? .structured(text: root.text, json: root.json)
                }
                guard let value = root.field(first, []) else {
                    throw TemplateError(description: "can't evaluate field \(first): the fields are \(root.fieldNames.joined(separator: ", "))")
                }
                current = value
                rest = rest.dropFirst()
            }
            for name in rest {
                guard case .data(let data) = current else {
                    throw TemplateError(description: "can't evaluate field \(name) in type string")
                }
                guard let next = data.field(name) else {
                    let names = data.fieldNames
                    let known = names.isEmpty ? "" : ": the fields are \(names.joined(separator: ", "))"
                    throw TemplateError(description: "can't evaluate field \(name) in type \(data.kind)\(known)")
                }
                current = .data(next)
            }
            return current
        }

        private func fieldList(_ dot: Dot) -> String {
            switch dot {
            case .root: return "the fields are \(root.fieldNames.joined(separator: ", "))"
            case .value(let value): return "\(value.text) has no methods"
            }
        }
    }
}
