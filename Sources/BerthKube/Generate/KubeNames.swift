/// Names as Kubernetes accepts them.
enum KubeNames {
    /// A DNS-1035 label (Service, Deployment and container names, pod volume names):
    /// lowercase letters, digits and `-`, starting with a letter, ending with a letter or
    /// digit, at most 63 characters. Other characters become `-`.
    static func label(_ raw: String, leadingDigit: Bool = false) -> String {
        var out = ""
        for c in raw.lowercased().unicodeScalars {
            let keep = ("a"..."z").contains(c) || ("0"..."9").contains(c)
            if keep {
                out.unicodeScalars.append(c)
            } else if !out.hasSuffix("-") {
                out += "-"
            }
        }
        var trimmed = Substring(out).drop { $0 == "-" }
        if !leadingDigit, let first = trimmed.first, first.isNumber { trimmed = "x-" + trimmed }
        var name = String(trimmed.prefix(63))
        while name.hasSuffix("-") { name.removeLast() }
        return name.isEmpty ? "x" : name
    }

    /// A DNS-1123 subdomain (ConfigMap, Secret and claim names): labels that may start with
    /// a digit, joined by dots, at most 253 characters.
    static func subdomain(_ raw: String) -> String {
        raw.split(separator: ".", omittingEmptySubsequences: true)
            .map { label(String($0), leadingDigit: true) }
            .joined(separator: ".").prefix(253).description
    }

    /// A ConfigMap or Secret key: letters, digits, `-`, `_` and `.`.
    static func dataKey(_ raw: String) -> String {
        let kept = raw.unicodeScalars.map { c -> String in
            c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "-" || c == "_" || c == ".") ? String(c) : "-"
        }.joined()
        return kept.isEmpty ? "data" : kept
    }

    /// Whether `value` can be a label value: at most 63 characters of letters, digits, `-`,
    /// `_` and `.`, beginning and ending with a letter or digit (or empty).
    static func isLabelValue(_ value: String) -> Bool {
        guard !value.isEmpty else { return true }
        guard value.count <= 63, let first = value.unicodeScalars.first, let last = value.unicodeScalars.last,
              isAlphanumeric(first), isAlphanumeric(last)
        else { return false }
        return value.unicodeScalars.allSatisfy { isAlphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }

    /// Whether `key` can be a label key: an optional DNS-subdomain prefix and `/`, then a
    /// name as a label value (not empty).
    static func isLabelKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last, !name.isEmpty, isLabelValue(String(name)) else { return false }
        if parts.count == 2 {
            let prefix = String(parts[0])
            return !prefix.isEmpty && prefix.count <= 253 && subdomain(prefix) == prefix
        }
        return true
    }

    private static func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c))
    }
}
