/// `${VAR}` interpolation as Compose v2 does it: `$VAR`, `${VAR}`, `${VAR:-default}`,
/// `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`,
/// `${VAR+replacement}`, nesting inside defaults (`${A:-${B}}`), `$$` for a literal `$`.
/// A `$` followed by anything else is kept as it is.
public struct Interpolator {
    /// Looks a variable up; nil means unset (which differs from set-but-empty).
    public var lookup: (String) -> String?
    /// Variables that were unset and had no default, in first-use order.
    public private(set) var unsetVariables: [(name: String, mark: Mark)] = []

    public init(lookup: @escaping (String) -> String?) {
        self.lookup = lookup
    }

    /// Interpolates every scalar value in the tree (keys are left alone, as Compose does).
    public mutating func interpolate(_ node: Node, path: KeyPath = KeyPath()) throws(ComposeError) -> Node {
        var copy = node
        switch node.value {
        case .scalar(let text, let style):
            guard text.utf8.contains(UInt8(ascii: "$")) else { return node }
            let result = try substitute(text, mark: node.mark, path: path)
            copy.value = .scalar(result, style == .plain ? .interpolated : style)
        case .sequence(let items):
            var out: [Node] = []
            out.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                out.append(try interpolate(item, path: path.appending(index: index)))
            }
            copy.value = .sequence(out)
        case .mapping(let pairs):
            var out: [Node.Pair] = []
            out.reserveCapacity(pairs.count)
            for pair in pairs {
                let key = pair.key.scalarText ?? ""
                out.append(Node.Pair(key: pair.key, value: try interpolate(pair.value, path: path.appending(key))))
            }
            copy.value = .mapping(out)
        }
        return copy
    }

    /// Substitutes variables in one string.
    public mutating func substitute(_ text: String, mark: Mark, path: KeyPath) throws(ComposeError) -> String {
        let chars = Array(text.unicodeScalars)
        var index = 0
        return try expand(chars, &index, stopAtBrace: false, mark: mark, path: path, original: text)
    }

    private mutating func expand(
        _ chars: [Unicode.Scalar], _ i: inout Int, stopAtBrace: Bool, mark: Mark, path: KeyPath, original: String
    ) throws(ComposeError) -> String {
        var out = String.UnicodeScalarView()
        while i < chars.count {
            let c = chars[i]
            if stopAtBrace && c == "}" { return String(out) }
            guard c == "$" else {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < chars.count else {
                out.append(c)
                i += 1
                continue
            }
            let next = chars[i + 1]
            if next == "$" {
                out.append("$")
                i += 2
            } else if next == "{" {
                i += 2
                out.append(contentsOf: try braced(chars, &i, mark: mark, path: path, original: original).unicodeScalars)
            } else if Self.isNameStart(next) {
                var j = i + 1
                while j < chars.count && Self.isNameChar(chars[j]) { j += 1 }
                let name = String(String.UnicodeScalarView(chars[(i + 1)..<j]))
                out.append(contentsOf: value(of: name, mark: mark).unicodeScalars)
                i = j
            } else {
                out.append(c)
                i += 1
            }
        }
        if stopAtBrace { throw invalid(original, mark: mark, path: path) }
        return String(out)
    }

    /// Handles the inside of `${ ... }`; `i` points just past the `{` and ends past the `}`.
    private mutating func braced(
        _ chars: [Unicode.Scalar], _ i: inout Int, mark: Mark, path: KeyPath, original: String
    ) throws(ComposeError) -> String {
        var j = i
        while j < chars.count && Self.isNameChar(chars[j]) { j += 1 }
        let name = String(String.UnicodeScalarView(chars[i..<j]))
        guard !name.isEmpty, let first = name.unicodeScalars.first, Self.isNameStart(first), j < chars.count else {
            throw invalid(original, mark: mark, path: path)
        }
        if chars[j] == "}" {
            i = j + 1
            return value(of: name, mark: mark)
        }
        // Operator: ":-", "-", ":?", "?", ":+", "+".
        var colon = false
        var k = j
        if chars[k] == ":" {
            colon = true
            k += 1
        }
        guard k < chars.count, ["-", "?", "+"].contains(chars[k]) else {
            throw invalid(original, mark: mark, path: path)
        }
        let op = chars[k]
        i = k + 1
        // The argument may itself contain interpolations; it ends at the matching brace.
        // It is expanded only if it is used, but parsed either way to find its end.
        let start = i
        // The probe sees every variable as set and non-empty, so it never raises `:?` errors.
        var probe = Interpolator(lookup: { _ in "x" })
        _ = try probe.expand(chars, &i, stopAtBrace: true, mark: mark, path: path, original: original)
        let end = i
        i += 1  // past "}"
        let current = lookup(name)
        let isSet = current != nil
        let isNonEmpty = !(current ?? "").isEmpty
        func argument(_ me: inout Interpolator) throws(ComposeError) -> String {
            let slice = Array(chars[start..<end])
            var at = 0
            return try me.expand(slice, &at, stopAtBrace: false, mark: mark, path: path, original: original)
        }
        switch op {
        case "-":
            if colon ? isNonEmpty : isSet { return current ?? "" }
            return try argument(&self)
        case "?":
            if colon ? isNonEmpty : isSet { return current ?? "" }
            let message = try argument(&self)
            throw ComposeError("required variable \(name) is missing a value: \(message)", at: mark)
        default:  // "+"
            if colon ? isNonEmpty : isSet { return try argument(&self) }
            return ""
        }
    }

    private mutating func value(of name: String, mark: Mark) -> String {
        if let value = lookup(name) { return value }
        if !unsetVariables.contains(where: { $0.name == name }) {
            unsetVariables.append((name, mark))
        }
        return ""
    }

    private func invalid(_ text: String, mark: Mark, path: KeyPath) -> ComposeError {
        let place = path.components.isEmpty ? "" : " for \(path)"
        return ComposeError(
            "invalid interpolation format\(place): \"\(text)\"; you may need to escape any $ with another $ ($$)", at: mark)
    }

    static func isNameStart(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    static func isNameChar(_ c: Unicode.Scalar) -> Bool {
        isNameStart(c) || (c >= "0" && c <= "9")
    }
}
