/// Merges canonical Compose trees (`-f a -f b`, `extends`) with the compose-spec merge
/// rules: mappings merge key by key, scalars are replaced, most sequences append, and some
/// sequences are unique by a key (ports, volumes, secrets, …) where the later entry wins.
/// `!reset` removes a value, `!override` replaces it without merging.
enum Merger {
    static let resetTag = "!reset"
    static let overrideTag = "!override"

    /// Merges `override` onto `base`. `path` is the position in the document with service
    /// names and other user keys replaced by `*` (`services.*.ports`).
    static func merge(_ base: Node, _ override: Node, path: [String] = []) -> Node {
        if override.tag == overrideTag {
            var replaced = override
            replaced.tag = nil
            return replaced
        }
        let joined = path.joined(separator: ".")
        switch (base.value, override.value) {
        case (.mapping(let basePairs), .mapping(let overridePairs)):
            if joined == "services.*.logging", let driver = override["driver"]?.scalarText,
                base["driver"]?.scalarText != driver
            {
                return override  // another driver: its options make no sense merged
            }
            var pairs = basePairs
            var index: [String: Int] = [:]
            for (i, pair) in pairs.enumerated() { index[pair.key.scalarText ?? ""] = i }
            var removed: Set<Int> = []
            for pair in overridePairs {
                let key = pair.key.scalarText ?? ""
                if pair.value.tag == resetTag {
                    if let i = index[key] { removed.insert(i) }
                    continue
                }
                if let i = index[key] {
                    pairs[i].value = merge(pairs[i].value, pair.value, path: path + [wildcard(for: path, key: key)])
                } else {
                    index[key] = pairs.count
                    pairs.append(pair)
                }
            }
            var result = override
            result.mark = base.mark
            result.tag = nil
            result.value = .mapping(pairs.enumerated().filter { !removed.contains($0.offset) }.map(\.element))
            return result
        case (.sequence(let baseItems), .sequence(let overrideItems)):
            if replacedSequences.contains(joined) { return override }
            var result = override
            result.value = .sequence(unique(baseItems + overrideItems, path: joined))
            return result
        default:
            return override
        }
    }

    /// Keys below which names are user-chosen (so the rule path uses `*`).
    private static func wildcard(for path: [String], key: String) -> String {
        let joined = path.joined(separator: ".")
        switch joined {
        case "services", "networks", "volumes", "secrets", "configs", "models", "services.*.ulimits",
            "services.*.networks", "services.*.depends_on", "services.*.models":
            return "*"
        default:
            return key
        }
    }

    /// Sequences where the later file's list replaces the earlier one.
    private static let replacedSequences: Set<String> = [
        "services.*.command", "services.*.entrypoint", "services.*.healthcheck.test",
    ]

    /// De-duplicates an appended sequence where Compose enforces unicity; later entries win
    /// and take the earlier entry's position.
    static func unique(_ items: [Node], path: String) -> [Node] {
        let indexer: ((Node) -> String?)?
        switch path {
        case "services.*.ports":
            indexer = { node in
                guard node.isMapping else { return node.scalarText }
                let field = { (key: String) in node[key]?.scalarText ?? "" }
                return "\(field("host_ip")):\(field("published")):\(field("target"))/\(field("protocol"))"
            }
        case "services.*.volumes", "services.*.devices":
            indexer = { node in node["target"]?.scalarText ?? node.scalarText }
        case "services.*.secrets":
            indexer = { node in node["target"]?.scalarText ?? node["source"]?.scalarText.map { "/run/secrets/\($0)" } }
        case "services.*.configs":
            indexer = { node in node["target"]?.scalarText ?? node["source"]?.scalarText.map { "/\($0)" } }
        case "services.*.env_file":
            indexer = { node in node["path"]?.scalarText ?? node.scalarText }
        case "services.*.expose", "services.*.dns", "services.*.dns_opt", "services.*.dns_search", "services.*.cap_add",
            "services.*.cap_drop", "services.*.profiles", "services.*.tmpfs", "services.*.links", "services.*.security_opt",
            "services.*.networks.*.aliases", "services.*.networks.*.link_local_ips", "services.*.build.tags",
            "services.*.build.platforms", "services.*.label_file", "services.*.group_add":
            indexer = { node in node.scalarText }
        default:
            indexer = nil
        }
        guard let indexer else { return items }
        var out: [Node] = []
        var position: [String: Int] = [:]
        for item in items {
            guard let key = indexer(item) else {
                out.append(item)
                continue
            }
            if let existing = position[key] {
                out[existing] = item
            } else {
                position[key] = out.count
                out.append(item)
            }
        }
        return out
    }

    /// Removes `!reset` values and `!override` tags left in a tree (a single file may use
    /// them too).
    static func stripTags(_ node: Node) -> Node {
        var copy = node
        if copy.tag == overrideTag { copy.tag = nil }
        switch node.value {
        case .mapping(let pairs):
            copy.value = .mapping(pairs.filter { $0.value.tag != resetTag }.map { Node.Pair(key: $0.key, value: stripTags($0.value)) })
        case .sequence(let items):
            copy.value = .sequence(items.filter { $0.tag != resetTag }.map(stripTags))
        case .scalar:
            break
        }
        return copy
    }
}
