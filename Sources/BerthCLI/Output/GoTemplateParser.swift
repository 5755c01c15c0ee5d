/// Parsing of `GoTemplate`: the source is cut into text and actions (`{{…}}`, trimmed by
/// `{{-`/`-}}`, comments dropped), each action is cut into tokens, and the actions are
/// nested into blocks (`if`/`with`/`range` … `else` … `end`).
extension GoTemplate {
    enum Item {
        case text(String)
        case action(String)
    }

    static func split(_ source: String) throws(TemplateError) -> [Item] {
        var items: [Item] = []
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
            if !text.isEmpty { items.append(.text(text)) }
            let body: Substring
            if rest.drop(while: \.isWhitespace).hasPrefix("/*") {
                // A comment ends with `*/}}` (or `*/ -}}`).
                guard let end = rest.range(of: "*/") else { throw TemplateError(description: "unclosed comment in \(quoted(source))") }
                let after = rest[end.upperBound...]
                let tail = after.drop(while: { $0 == " " || $0 == "-" })
                guard tail.hasPrefix("}}") else { throw TemplateError(description: "comment ends before closing delimiter in \(quoted(source))") }
                trimNextText = after.prefix(while: { $0 == " " || $0 == "-" }).contains("-")
                rest = tail.dropFirst(2)
                continue
            }
            guard let close = rest.range(of: "}}") else {
                throw TemplateError(description: "unclosed action in \(quoted(source))")
            }
            body = rest[..<close.lowerBound]
            rest = rest[close.upperBound...]
            var trimmed = body
            trimNextText = false
            if trimmed.hasSuffix("-") && (trimmed.dropLast().last?.isWhitespace ?? false) {
                trimmed = trimmed.dropLast()
                trimNextText = true
            }
            items.append(.action(String(trimmed)))
        }
        var tail = String(rest)
        if trimNextText { tail = String(tail.drop(while: \.isWhitespace)) }
        if !tail.isEmpty { items.append(.text(tail)) }
        return items
    }

    enum Token: Equatable {
        case dot
        case field(String)
        case variable(String)
        case string(String)
        case number(Int)
        case word(String)
        case open, close, pipe, declare, comma
    }

    /// A token and whether whitespace comes before it (`$x.Field` chains, `$x .Field` does not).
    struct Lexeme {
        var token: Token
        var spaced: Bool
    }

    static func tokenize(_ body: String, in source: String) throws(TemplateError) -> [Lexeme] {
        var lexemes: [Lexeme] = []
        let characters = Array(body)
        var index = 0
        var spaced = true
        func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        while index < characters.count {
            let c = characters[index]
            if c.isWhitespace {
                spaced = true
                index += 1
                continue
            }
            var token: Token
            switch c {
            case "(": token = .open; index += 1
            case ")": token = .close; index += 1
            case "|": token = .pipe; index += 1
            case ",": token = .comma; index += 1
            case ":":
                guard index + 1 < characters.count, characters[index + 1] == "=" else {
                    throw TemplateError(description: "unexpected \":\" in \(quoted(source))")
                }
                token = .declare
                index += 2
            case "\"", "`":
                var value = ""
                var end = index + 1
                var closed = false
                while end < characters.count {
                    let character = characters[end]
                    if character == c {
                        closed = true
                        break
                    }
                    if character == "\\" && c == "\"" && end + 1 < characters.count {
                        end += 1
                        let escaped = characters[end]
                        value.append(escaped == "n" ? "\n" : escaped == "t" ? "\t" : escaped)
                    } else {
                        value.append(character)
                    }
                    end += 1
                }
                guard closed else { throw TemplateError(description: "unterminated quoted string in \(quoted(source))") }
                token = .string(value)
                index = end + 1
            case ".":
                var end = index + 1
                while end < characters.count, isWordCharacter(characters[end]) { end += 1 }
                let name = String(characters[(index + 1)..<end])
                if name.isEmpty {
                    token = .dot
                } else {
                    guard name.first?.isLetter == true || name.first == "_" else {
                        throw TemplateError(description: "bad field .\(name) in \(quoted(source)); use index for keys such as \"80/tcp\"")
                    }
                    token = .field(name)
                }
                index = end
            case "$":
                var end = index + 1
                while end < characters.count, isWordCharacter(characters[end]) { end += 1 }
                token = .variable(String(characters[index..<end]))
                index = end
            default:
                var end = index
                if c == "-" || c == "+" { end += 1 }
                while end < characters.count, isWordCharacter(characters[end]) { end += 1 }
                let word = String(characters[index..<end])
                guard end > index, !word.isEmpty else {
                    throw TemplateError(description: "unexpected \"\(c)\" in \(quoted(source))")
                }
                if let number = Int(word) {
                    token = .number(number)
                } else {
                    guard word.first?.isLetter == true || word.first == "_" else {
                        throw TemplateError(description: "unexpected \(word) in \(quoted(source))")
                    }
                    token = .word(word)
                }
                index = end
            }
            lexemes.append(Lexeme(token: token, spaced: spaced))
            spaced = false
        }
        return lexemes
    }

    /// Nests the items into blocks and parses each action's pipeline.
    struct Parser {
        let source: String
        let items: [Item]
        var position = 0

        init(source: String, items: [Item]) {
            self.source = source
            self.items = items
        }

        var quotedSource: String { GoTemplate.quoted(source) }

        /// Nodes up to one of `terminators` (`end`, `else`), which is consumed and returned
        /// through `terminator`; at top level (`[]`) up to the end of the source.
        mutating func parseList(endingWith terminators: [String]) throws(TemplateError) -> [Node] {
            var ignored: [Lexeme] = []
            return try parseList(endingWith: terminators, terminator: &ignored)
        }

        private mutating func parseList(endingWith terminators: [String], terminator: inout [Lexeme]) throws(TemplateError) -> [Node] {
            var nodes: [Node] = []
            while position < items.count {
                let item = items[position]
                position += 1
                switch item {
                case .text(let text):
                    nodes.append(.text(text))
                case .action(let body):
                    let lexemes = try GoTemplate.tokenize(body, in: source)
                    guard let first = lexemes.first else {
                        throw TemplateError(description: "missing value for command in \(quotedSource)")
                    }
                    if case .word(let word) = first.token, ["end", "else"].contains(word) {
                        guard terminators.contains(word) else { throw TemplateError(description: "unexpected {{\(word)}} in \(quotedSource)") }
                        terminator = lexemes
                        return nodes
                    }
                    if case .word(let word) = first.token, let kind = BlockKind(rawValue: word) {
                        nodes.append(try parseBlock(kind, Array(lexemes.dropFirst())))
                    } else {
                        var cursor = Cursor(lexemes: lexemes, source: source)
                        let pipeline = try cursor.pipeline(allowDeclarations: 1)
                        try cursor.expectEnd()
                        nodes.append(.action(pipeline))
                    }
                }
            }
            if !terminators.isEmpty { throw TemplateError(description: "unexpected EOF: missing {{end}} in \(quotedSource)") }
            return nodes
        }

        /// `if`/`with`/`range` PIPELINE, its body, and `else` / `else if …` parts.
        private mutating func parseBlock(_ kind: BlockKind, _ lexemes: [Lexeme]) throws(TemplateError) -> Node {
            var cursor = Cursor(lexemes: lexemes, source: source)
            let pipeline = try cursor.pipeline(allowDeclarations: kind == .range ? 2 : 1)
            try cursor.expectEnd()
            if pipeline.commands.isEmpty { throw TemplateError(description: "missing value for \(kind.rawValue) in \(quotedSource)") }
            var terminator: [Lexeme] = []
            let body = try parseList(endingWith: ["end", "else"], terminator: &terminator)
            var otherwise: [Node] = []
            if case .word("else") = terminator.first?.token {
                let rest = Array(terminator.dropFirst())
                if case .word(let word) = rest.first?.token, let chained = BlockKind(rawValue: word), chained != .range {
                    // `else if …` / `else with …`: a nested block that shares this one's {{end}}.
                    otherwise = [try parseBlock(chained, Array(rest.dropFirst()))]
                } else {
                    guard rest.isEmpty else { throw TemplateError(description: "unexpected tokens after else in \(quotedSource)") }
                    otherwise = try parseList(endingWith: ["end"])
                }
            }
            return .block(kind, pipeline, body: body, otherwise: otherwise)
        }
    }

    /// Reads one action's tokens.
    struct Cursor {
        let lexemes: [Lexeme]
        let source: String
        var index = 0

        init(lexemes: [Lexeme], source: String) {
            self.lexemes = lexemes
            self.source = source
        }

        var current: Lexeme? { index < lexemes.count ? lexemes[index] : nil }

        func fail(_ message: String) -> TemplateError { TemplateError(description: "\(message) in \(GoTemplate.quoted(source))") }

        mutating func expectEnd() throws(TemplateError) {
            if let current { throw fail("unexpected \(Self.describe(current.token))") }
        }

        /// `[$a[, $b] :=] command [| command]…`; ends at `)` or the end of the action.
        mutating func pipeline(allowDeclarations: Int) throws(TemplateError) -> Pipeline {
            var declarations: [String] = []
            var lookahead = index
            var names: [String] = []
            while lookahead < lexemes.count, case .variable(let name) = lexemes[lookahead].token {
                names.append(name)
                lookahead += 1
                if lookahead < lexemes.count, lexemes[lookahead].token == .comma, names.count < allowDeclarations {
                    lookahead += 1
                    continue
                }
                break
            }
            if !names.isEmpty, lookahead < lexemes.count, lexemes[lookahead].token == .declare {
                declarations = names
                index = lookahead + 1
            }
            var commands: [Command] = []
            while true {
                var operands: [Operand] = []
                while let lexeme = current, lexeme.token != .pipe, lexeme.token != .close {
                    operands.append(try operand())
                }
                if operands.isEmpty {
                    if !commands.isEmpty || current?.token == .pipe { throw fail("missing command") }
                    break
                }
                if case .function(let name) = operands[0], !GoTemplate.functions.contains(name) {
                    throw fail("function \"\(name)\" not defined; use .Field or one of \(GoTemplate.functions.joined(separator: ", "))")
                }
                if operands.count > 1 {
                    // A function, or a method of the context (`.Label "key"`).
                    switch operands[0] {
                    case .function: break
                    case .dot(let path) where path.count == 1: break
                    case .dot, .variable, .group, .string, .number, .bool, .null:
                        throw fail("can't give arguments to a value that is not a function or method")
                    }
                }
                commands.append(Command(operands: operands))
                guard current?.token == .pipe else { break }
                index += 1
            }
            return Pipeline(declarations: declarations, commands: commands)
        }

        /// One argument, with the fields chained to it (`$x.A.B`, `(index $p 0).HostPort`).
        mutating func operand() throws(TemplateError) -> Operand {
            guard let lexeme = current else { throw fail("missing operand") }
            index += 1
            switch lexeme.token {
            case .dot:
                return .dot(path: [])
            case .field(let name):
                return .dot(path: [name] + chainedFields())
            case .variable(let name):
                return .variable(name, path: chainedFields())
            case .string(let text):
                return .string(text)
            case .number(let value):
                return .number(value)
            case .word(let word):
                switch word {
                case "true": return .bool(true)
                case "false": return .bool(false)
                case "nil": return .null
                default: return .function(word)
                }
            case .open:
                let inner = try pipeline(allowDeclarations: 0)
                guard current?.token == .close else { throw fail("unclosed left paren") }
                index += 1
                if inner.commands.isEmpty { throw fail("missing value in parentheses") }
                return .group(inner, path: chainedFields())
            case .close, .pipe, .declare, .comma:
                throw fail("unexpected \(Self.describe(lexeme.token))")
            }
        }

        /// `.A.B` written right after an operand.
        private mutating func chainedFields() -> [String] {
            var path: [String] = []
            while let lexeme = current, !lexeme.spaced, case .field(let name) = lexeme.token {
                path.append(name)
                index += 1
            }
            return path
        }

        static func describe(_ token: Token) -> String {
            switch token {
            case .dot: return "\".\""
            case .field(let name): return ".\(name)"
            case .variable(let name): return name
            case .string(let text): return GoTemplate.quoted(text)
            case .number(let value): return String(value)
            case .word(let word): return word
            case .open: return "\"(\""
            case .close: return "\")\""
            case .pipe: return "\"|\""
            case .declare: return "\":=\""
            case .comma: return "\",\""
            }
        }
    }
}
