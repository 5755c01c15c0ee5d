/// Reads `.env`-format files as Compose v2 does: `KEY=VALUE` (or `KEY: VALUE`), optional
/// `export `, `#` comments, single quotes (literal), double quotes (escapes and
/// interpolation, may span lines), unquoted values (trimmed, ` #` starts a comment,
/// interpolated), and a bare `KEY` that takes its value from the environment.
public enum DotEnv {
    public struct Entry: Equatable, Sendable {
        public var key: String
        public var value: String
        public var line: Int
    }

    /// Parses `text`. `lookup` resolves `${VAR}` in values and bare `KEY` lines; variables
    /// defined earlier in the same file are visible too. With `raw`, values are taken
    /// verbatim (env_file `format: raw`).
    public static func parse(
        _ text: String, file: String, raw: Bool = false, lookup: @escaping (String) -> String?
    ) throws(ComposeError) -> [Entry] {
        var entries: [Entry] = []
        var defined: [String: String] = [:]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        var index = 0
        while index < lines.count {
            let lineNumber = index + 1
            var line = Substring(lines[index])
            index += 1
            line = line.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.hasPrefix("#") { continue }
            if raw {
                guard let eq = line.firstIndex(of: "=") else {
                    entries.append(Entry(key: String(line), value: lookup(String(line)) ?? "", line: lineNumber))
                    continue
                }
                entries.append(Entry(key: String(line[..<eq]), value: String(line[line.index(after: eq)...]), line: lineNumber))
                continue
            }
            if line.hasPrefix("export ") || line.hasPrefix("export\t") {
                line = line.dropFirst(7).drop(while: { $0 == " " || $0 == "\t" })
            }
            let separator = line.firstIndex(where: { $0 == "=" || $0 == ":" || $0 == " " || $0 == "\t" })
            let key = String(separator.map { line[..<$0] } ?? line)
            let mark = Mark(file: file, line: lineNumber, column: 1)
            guard isValidKey(key) else {
                throw ComposeError("invalid variable name '\(key)' in env file; names use letters, digits, '_', '.' and '-'", at: mark)
            }
            var rest = separator.map { line[$0...] } ?? ""
            rest = rest.drop(while: { $0 == " " || $0 == "\t" })
            guard let op = rest.first, op == "=" || op == ":" else {
                if rest.isEmpty || rest.hasPrefix("#") {
                    // A bare KEY: inherit from the environment, or leave it out.
                    if let value = lookup(key) {
                        entries.append(Entry(key: key, value: value, line: lineNumber))
                        defined[key] = value
                    }
                    continue
                }
                throw ComposeError("unexpected character '\(rest.first ?? " ")' after variable name '\(key)' in env file", at: mark)
            }
            rest = rest.dropFirst().drop(while: { $0 == " " || $0 == "\t" })
            let value: String
            if let quote = rest.first, quote == "'" || quote == "\"" {
                var body = String(rest.dropFirst())
                var closing = findClosingQuote(body, quote: quote)
                while closing == nil && index < lines.count {
                    body += "\n" + lines[index]
                    index += 1
                    closing = findClosingQuote(body, quote: quote)
                }
                guard let end = closing else {
                    throw ComposeError("unterminated quoted value for '\(key)' in env file", at: mark)
                }
                let inner = String(body[..<end])
                if quote == "'" {
                    value = inner
                } else {
                    value = try expand(unescape(inner), key: key, mark: mark, defined: defined, lookup: lookup)
                }
            } else {
                var unquoted = rest
                if let hash = commentStart(unquoted) { unquoted = unquoted[..<hash] }
                let trimmed = String(unquoted).trimmingTrailingWhitespace()
                value = try expand(trimmed, key: key, mark: mark, defined: defined, lookup: lookup)
            }
            entries.append(Entry(key: key, value: value, line: lineNumber))
            defined[key] = value
        }
        return entries
    }

    static func isValidKey(_ key: String) -> Bool {
        guard let first = key.unicodeScalars.first, !key.isEmpty else { return false }
        guard first == "_" || (first.properties.isAlphabetic && first.isASCII) else { return false }
        return key.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0)) }
    }

    private static func findClosingQuote(_ body: String, quote: Character) -> String.Index? {
        var escaped = false
        var i = body.startIndex
        while i < body.endIndex {
            let c = body[i]
            if escaped {
                escaped = false
            } else if c == "\\" && quote == "\"" {
                escaped = true
            } else if c == quote {
                return i
            }
            i = body.index(after: i)
        }
        return nil
    }

    /// ` #` (whitespace then hash) starts a comment in an unquoted value.
    private static func commentStart(_ s: Substring) -> Substring.Index? {
        var previous: Character = " "
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == "#" && (previous == " " || previous == "\t") && i != s.startIndex { return i }
            if s[i] == "#" && i == s.startIndex { return i }
            previous = s[i]
            i = s.index(after: i)
        }
        return nil
    }

    private static func unescape(_ s: String) -> String {
        var out = ""
        var iterator = s.makeIterator()
        while let c = iterator.next() {
            guard c == "\\", let next = iterator.next() else {
                out.append(c)
                continue
            }
            switch next {
            case "n": out.append("\n")
            case "t": out.append("\t")
            case "r": out.append("\r")
            case "\"": out.append("\"")
            case "\\": out.append("\\")
            case "$": out.append("$$")  // kept escaped through interpolation
            default:
                out.append("\\")
                out.append(next)
            }
        }
        return out
    }

    private static func expand(
        _ value: String, key: String, mark: Mark, defined: [String: String], lookup: @escaping (String) -> String?
    ) throws(ComposeError) -> String {
        guard value.contains("$") else { return value }
        var interpolator = Interpolator(lookup: { name in lookup(name) ?? defined[name] })
        return try interpolator.substitute(value, mark: mark, path: KeyPath([key]))
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }

    func trimmingWhitespace() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })).trimmingTrailingWhitespace()
    }
}
