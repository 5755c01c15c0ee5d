/// Kubernetes' `$(VAR)` references in `command`, `args` and `env` values
/// (k8s.io/kubernetes third_party/forked/golang/expansion): `$(NAME)` becomes the variable's
/// value when it is defined, and stays as written otherwise; `$$` is one `$`.
enum VariableExpansion {
    static func expand(_ text: String, _ lookup: (String) -> String?) -> String {
        guard text.contains("$") else { return text }
        let chars = Array(text)
        var out = ""
        var index = 0
        while index < chars.count {
            let c = chars[index]
            guard c == "$", index + 1 < chars.count else {
                out.append(c)
                index += 1
                continue
            }
            let next = chars[index + 1]
            if next == "$" {
                out.append("$")
                index += 2
            } else if next == "(", let close = chars[(index + 2)...].firstIndex(of: ")") {
                let name = String(chars[(index + 2)..<close])
                if let value = lookup(name) { out += value } else { out += "$(" + name + ")" }
                index = close + 1
            } else {
                out.append(c)
                index += 1
            }
        }
        return out
    }

    /// The text written so that `expand` gives it back unchanged: each `$` that a reader would
    /// take as an escape or a reference (followed by `$` or `(`) is doubled.
    static func escape(_ text: String) -> String {
        guard text.contains("$") else { return text }
        let chars = Array(text)
        var out = ""
        for (index, c) in chars.enumerated() {
            out.append(c)
            if c == "$", index + 1 < chars.count, chars[index + 1] == "$" || chars[index + 1] == "(" { out.append("$") }
        }
        return out
    }
}
