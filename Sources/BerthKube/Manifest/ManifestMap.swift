import ComposeSpec

/// One mapping of a manifest and the keys the translation has read from it. Every key left
/// unread is reported as unsupported at the end (`KubeReport.reportUnread`), so a field
/// berth does not know is never dropped silently.
final class ManifestMap {
    let node: Node
    /// `Deployment/web`: what warnings and errors name.
    let subject: String
    /// Where this mapping sits in its object (`spec.template.spec`).
    let path: KeyPath
    let report: KubeReport
    private var read: Set<String> = []

    init(node: Node, subject: String, path: KeyPath, report: KubeReport) {
        self.node = node
        self.subject = subject
        self.path = path
        self.report = report
        report.register(self)
    }

    var keys: [String] { node.keys }
    var unreadKeys: [String] { node.keys.filter { !read.contains($0) } }
    var mark: Mark { node.mark }

    func has(_ key: String) -> Bool { node[key].map { !$0.isNull } ?? false }

    /// Marks keys as read without using them: fields the API server fills in
    /// (`creationTimestamp`, `uid`, …) that carry nothing to run.
    func skip(_ keys: String...) {
        read.formUnion(keys)
    }

    func fieldPath(_ key: String) -> String { path.appending(key).description }

    func error(_ key: String, _ message: String) -> KubeError {
        KubeError("\(subject): \(fieldPath(key)): \(message)", at: node[key]?.mark ?? node.mark)
    }

    func warn(_ key: String, _ message: String) {
        report.warn(subject, fieldPath(key), message)
    }

    /// The value of `key` (nil when absent or null), marked as read.
    func value(_ key: String) -> Node? {
        read.insert(key)
        guard let value = node[key], !value.isNull else { return nil }
        return value
    }

    func string(_ key: String) throws(KubeError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.scalarText else { throw error(key, "must be a string, not \(value.kindName)") }
        return text
    }

    func requiredString(_ key: String) throws(KubeError) -> String {
        guard let text = try string(key), !text.isEmpty else { throw error(key, "is required") }
        return text
    }

    func int(_ key: String) throws(KubeError) -> Int64? {
        guard let value = value(key) else { return nil }
        guard case .int(let number) = value.resolved else { throw error(key, "must be an integer, not \(value.kindName)") }
        return number
    }

    /// A number of seconds (probe timings, grace periods), from 0 (or `minimum`) to a year.
    func seconds(_ key: String, minimum: Int64 = 0) throws(KubeError) -> Int64? {
        guard let value = try int(key) else { return nil }
        guard value >= minimum else { throw error(key, "must be \(minimum) or more") }
        guard value <= Self.maximumSeconds else { throw error(key, "\(value) is more than a year (\(Self.maximumSeconds) seconds)") }
        return value
    }

    static let maximumSeconds: Int64 = 365 * 24 * 3600

    /// A size quantity (`64Mi`) in bytes.
    func bytes(_ key: String, _ text: String) throws(KubeError) -> Int64 {
        guard let value = Quantity.parse(text), value >= 0, value < 9e18 else {
            throw error(key, "\(text) is not a size such as 64Mi")
        }
        return Int64(value.rounded(.up))
    }

    func bool(_ key: String) throws(KubeError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard case .bool(let flag) = value.resolved else { throw error(key, "must be true or false, not \(value.kindName)") }
        return flag
    }

    /// An int-or-string field (`port: 8080` or `port: http`).
    func intOrString(_ key: String) throws(KubeError) -> IntOrString? {
        guard let value = value(key) else { return nil }
        switch value.resolved {
        case .int(let number): return .int(number)
        case .string(let text): return .string(text)
        default: throw error(key, "must be a number or a name, not \(value.kindName)")
        }
    }

    func map(_ key: String) throws(KubeError) -> ManifestMap? {
        guard let value = value(key) else { return nil }
        guard value.isMapping else { throw error(key, "must be a mapping, not \(value.kindName)") }
        return ManifestMap(node: value, subject: subject, path: path.appending(key), report: report)
    }

    /// A list of mappings (`containers`, `env`, `ports`, …); empty when absent.
    func maps(_ key: String) throws(KubeError) -> [ManifestMap] {
        guard let value = value(key) else { return [] }
        guard let items = value.items else { throw error(key, "must be a list, not \(value.kindName)") }
        var out: [ManifestMap] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.appending(key).appending(index: index)
            guard item.isMapping else {
                throw KubeError("\(subject): \(itemPath): must be a mapping, not \(item.kindName)", at: item.mark)
            }
            out.append(ManifestMap(node: item, subject: subject, path: itemPath, report: report))
        }
        return out
    }

    /// A list of strings (`command`, `args`, `capabilities.add`); nil when absent.
    func strings(_ key: String) throws(KubeError) -> [String]? {
        guard let value = value(key) else { return nil }
        guard let items = value.items else { throw error(key, "must be a list of strings, not \(value.kindName)") }
        var out: [String] = []
        for item in items {
            guard let text = item.scalarText, !item.isNull else { throw error(key, "must be a list of strings") }
            out.append(text)
        }
        return out
    }

    /// A string-to-string mapping (`labels`, `data`, `matchLabels`), in file order; empty when
    /// absent.
    func stringMap(_ key: String) throws(KubeError) -> [(key: String, value: String)] {
        guard let value = value(key) else { return [] }
        guard let pairs = value.pairs else { throw error(key, "must be a mapping of strings, not \(value.kindName)") }
        var out: [(key: String, value: String)] = []
        for pair in pairs {
            let name = pair.key.scalarText ?? ""
            guard let text = pair.value.scalarText, pair.value.scalarStyle != nil else {
                throw error(key, "\(name) must be a string, not \(pair.value.kindName)")
            }
            out.append((name, pair.value.isNull ? "" : text))
        }
        return out
    }
}

/// Kubernetes' `IntOrString`: a port number or a port name.
enum IntOrString: Sendable, Equatable, CustomStringConvertible {
    case int(Int64)
    case string(String)

    var description: String {
        switch self {
        case .int(let number): return String(number)
        case .string(let text): return text
        }
    }
}
