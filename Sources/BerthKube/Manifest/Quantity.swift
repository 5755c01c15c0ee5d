/// Kubernetes resource quantities (`500m`, `1.5`, `128Mi`, `1G`, `1e3`): parsed to numbers
/// for Compose, and written back in the forms `kubectl` prints.
enum Quantity {
    private static let suffixes: [(String, Double)] = [
        ("Ki", 1024), ("Mi", 1_048_576), ("Gi", 1_073_741_824), ("Ti", 1_099_511_627_776), ("Pi", 1_125_899_906_842_624),
        ("Ei", 1_152_921_504_606_846_976), ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9),
        ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    /// The quantity's value, or nil when it is not a quantity.
    static func parse(_ text: String) -> Double? {
        guard !text.isEmpty else { return nil }
        for (suffix, factor) in suffixes where text.hasSuffix(suffix) {
            guard let number = plainNumber(String(text.dropLast(suffix.count))) else { return nil }
            return number * factor
        }
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            guard let mantissa = plainNumber(String(text[..<e])), let exponent = Int(text[text.index(after: e)...]) else { return nil }
            var value = mantissa
            for _ in 0..<abs(exponent) { value = exponent > 0 ? value * 10 : value / 10 }
            return value
        }
        return plainNumber(text)
    }

    /// `[+-]digits[.digits]`, as the quantity grammar writes numbers.
    private static func plainNumber(_ text: String) -> Double? {
        var body = Substring(text)
        if body.hasPrefix("+") || body.hasPrefix("-") { body = body.dropFirst() }
        guard !body.isEmpty, body.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }),
              body.filter({ $0 == "." }).count <= 1, body != "."
        else { return nil }
        return Double(text)
    }

    /// CPUs as Kubernetes writes them: `2`, `500m`.
    static func cpuText(_ cpus: Double) -> String {
        guard cpus.isFinite, abs(cpus) < 1e12 else { return "\(cpus)" }
        let millis = (cpus * 1000).rounded()
        if millis.truncatingRemainder(dividingBy: 1000) == 0 { return String(Int64(millis / 1000)) }
        return "\(Int64(millis))m"
    }

    /// Bytes in the largest binary unit that divides them exactly: `256Mi`, `1Gi`, `1000`.
    static func bytesText(_ bytes: Int64) -> String {
        guard bytes > 0 else { return String(bytes) }
        for (suffix, factor) in [("Ei", Int64(1) << 60), ("Pi", Int64(1) << 50), ("Ti", Int64(1) << 40), ("Gi", Int64(1) << 30), ("Mi", Int64(1) << 20), ("Ki", Int64(1) << 10)]
        where bytes % factor == 0 {
            return "\(bytes / factor)\(suffix)"
        }
        return String(bytes)
    }
}
