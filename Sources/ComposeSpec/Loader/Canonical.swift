/// Rewrites short syntaxes into the long form on the node tree, before files are merged,
/// so that merge rules see one shape (as compose-go's `transform.Canonical`). Relative paths
/// are made absolute against `baseDirectory`. Nodes keep their marks.
struct Canonicalizer {
    var baseDirectory: String
    var home: String?

    // MARK: Top level

    func document(_ root: Node) throws(ComposeError) -> Node {
        guard let pairs = root.pairs else { return root }
        var out: [Node.Pair] = []
        for pair in pairs {
            let key = pair.key.scalarText ?? ""
            var value = pair.value
            let path = KeyPath([key])
            switch key {
            case "services":
                value = try eachEntry(value, path: path) { (node, path) throws(ComposeError) in try service(node, path: path) }
            case "networks", "volumes":
                value = try eachEntry(value, path: path) { (node, path) throws(ComposeError) in try resource(node, path: path) }
            case "secrets", "configs":
                value = try eachEntry(value, path: path) { (node, path) throws(ComposeError) in try fileObject(node, path: path) }
            default:
                break
            }
            out.append(Node.Pair(key: pair.key, value: value))
        }
        var copy = root
        copy.value = .mapping(out)
        return copy
    }

    private func eachEntry(
        _ node: Node, path: KeyPath, _ transform: (Node, KeyPath) throws(ComposeError) -> Node
    ) throws(ComposeError) -> Node {
        guard let pairs = node.pairs else { return node }
        var copy = node
        var out: [Node.Pair] = []
        for pair in pairs {
            let key = pair.key.scalarText ?? ""
            out.append(Node.Pair(key: pair.key, value: try transform(pair.value, path.appending(key))))
        }
        copy.value = .mapping(out)
        return copy
    }

    /// Top-level networks and volumes: null means defaults; legacy `external: {name: x}`.
    func resource(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        if node.isNull { return Node(.mapping([]), mark: node.mark, tag: node.tag) }
        guard node.isMapping else { return node }
        var out = node
        if let labels = node["labels"] { out = out.setting("labels", to: try keyValueMap(labels, path: path.appending("labels"))) }
        if let options = node["driver_opts"] { out = out.setting("driver_opts", to: stringValues(options)) }
        if let external = node["external"], external.isMapping {
            out = out.setting("external", to: Node(.scalar("true", .plain), mark: external.mark))
            if let name = external["name"], node["name"] == nil { out = out.setting("name", to: name) }
        }
        return out
    }

    func fileObject(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard node.isMapping else { return node }
        var out = try resource(node, path: path)
        if let file = node["file"], let text = file.scalarText {
            out = out.setting("file", to: .string(absolutePath(text), mark: file.mark))
        }
        return out
    }

    // MARK: Services

    func service(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard let pairs = node.pairs else { return node }
        var out: [Node.Pair] = []
        for pair in pairs {
            let key = pair.key.scalarText ?? ""
            let value = pair.value
            let p = path.appending(key)
            let transformed: Node
            switch key {
            case "build": transformed = try build(value, path: p)
            case "command", "entrypoint": transformed = try command(value, path: p)
            case "configs", "secrets": transformed = fileMounts(value)
            case "depends_on": transformed = try dependsOn(value, path: p)
            case "devices": transformed = try devices(value, path: p)
            case "dns", "dns_opt", "dns_search", "tmpfs", "cap_add", "cap_drop", "profiles", "expose", "group_add",
                "security_opt", "links", "external_links", "volumes_from", "device_cgroup_rules":
                transformed = stringList(value)
            case "env_file": transformed = try envFiles(value, path: p)
            case "label_file": transformed = pathList(value)
            case "environment": transformed = try keyValueMap(value, path: p, nullForBareKey: true)
            case "labels", "annotations", "sysctls":
                transformed = try keyValueMap(value, path: p)
            case "storage_opt": transformed = stringValues(value)
            case "extends":
                transformed = value.scalarText != nil && !value.isNull ? .mapping([("service", value)], mark: value.mark) : value
            case "extra_hosts": transformed = try extraHosts(value, path: p)
            case "healthcheck": transformed = healthcheck(value)
            case "logging":
                transformed = value["options"].map { value.setting("options", to: stringValues($0)) } ?? value
            case "networks", "models": transformed = listToNullMap(value)
            case "ports": transformed = try ports(value, path: p)
            case "volumes": transformed = try volumes(value, path: p)
            case "post_start", "pre_start", "pre_stop": transformed = try hooks(value, path: p)
            case "deploy": transformed = try deploy(value, path: p)
            case "develop": transformed = try develop(value, path: p)
            case "gpus": transformed = gpus(value)
            default: transformed = value
            }
            out.append(Node.Pair(key: pair.key, value: transformed))
        }
        var copy = node
        copy.value = .mapping(out)
        return copy
    }

    func build(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        var out = node
        if let text = node.scalarText, !node.isNull {
            out = .mapping([("context", .string(text, mark: node.mark))], mark: node.mark)
        }
        guard out.isMapping else { return node }
        if let context = out["context"], let text = context.scalarText, !isRemoteContext(text) {
            out = out.setting("context", to: .string(absolutePath(text), mark: context.mark))
        } else if out["context"] == nil {
            out = out.setting("context", to: .string(absolutePath("."), mark: out.mark))
        }
        if let args = out["args"] { out = out.setting("args", to: try keyValueMap(args, path: path.appending("args"), nullForBareKey: true)) }
        if let labels = out["labels"] { out = out.setting("labels", to: try keyValueMap(labels, path: path.appending("labels"))) }
        if let contexts = out["additional_contexts"] {
            out = out.setting("additional_contexts", to: try keyValueMap(contexts, path: path.appending("additional_contexts")))
        }
        if let hosts = out["extra_hosts"] { out = out.setting("extra_hosts", to: try extraHosts(hosts, path: path.appending("extra_hosts"))) }
        if let secrets = out["secrets"] { out = out.setting("secrets", to: fileMounts(secrets)) }
        for key in ["cache_from", "cache_to", "tags", "platforms", "entitlements"] {
            if let list = out[key] { out = out.setting(key, to: stringList(list)) }
        }
        if let ssh = out["ssh"] {
            if let pairs = ssh.pairs {
                out = out.setting("ssh", to: .sequence(pairs.map { .string("\($0.key.scalarText ?? "")=\($0.value.scalarText ?? "")", mark: $0.key.mark) }, mark: ssh.mark))
            } else {
                out = out.setting("ssh", to: stringList(ssh))
            }
        }
        return out
    }

    private func isRemoteContext(_ text: String) -> Bool {
        text.contains("://") || text.hasPrefix("git@") || text.hasPrefix("github.com/")
    }

    func command(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard case .scalar(let text, _) = node.value, !node.isNull else { return stringList(node) }
        guard let words = ShellWords.split(text) else {
            throw ComposeError("\(path): unterminated quote or trailing backslash in \"\(text)\"", at: node.mark)
        }
        return .sequence(words.map { .string($0, mark: node.mark) }, mark: node.mark)
    }

    func fileMounts(_ node: Node) -> Node {
        guard let items = node.items else { return node }
        return Node(.sequence(items.map { item in
            if item.scalarText != nil && !item.isNull { return .mapping([("source", item)], mark: item.mark) }
            return item
        }), mark: node.mark, tag: node.tag)
    }

    func dependsOn(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        if let items = node.items {
            var pairs: [(String, Node)] = []
            for item in items {
                guard let name = item.scalarText else { throw NodeDecoding.typeError("a service name", item, path) }
                pairs.append((name, defaultDependency(mark: item.mark)))
            }
            return Node(.mapping(pairs.map { Node.Pair(key: .string($0.0, mark: $0.1.mark), value: $0.1) }), mark: node.mark, tag: node.tag)
        }
        guard let pairs = node.pairs else { return node }
        var out: [Node.Pair] = []
        for pair in pairs {
            var value = pair.value.isNull ? Node(.mapping([]), mark: pair.value.mark) : pair.value
            if value.isMapping {
                if value["condition"] == nil { value = value.setting("condition", to: .string(DependsOn.started, mark: value.mark)) }
                if value["required"] == nil { value = value.setting("required", to: .plain("true", mark: value.mark)) }
            }
            out.append(Node.Pair(key: pair.key, value: value))
        }
        var copy = node
        copy.value = .mapping(out)
        return copy
    }

    private func defaultDependency(mark: Mark) -> Node {
        .mapping([("condition", .string(DependsOn.started, mark: mark)), ("required", .plain("true", mark: mark))], mark: mark)
    }

    func devices(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard let items = node.items else { return node }
        var out: [Node] = []
        for item in items {
            guard let text = item.scalarText, !item.isNull else {
                out.append(item)
                continue
            }
            let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            var pairs: [(String, Node)] = [("source", .string(parts[0], mark: item.mark))]
            switch parts.count {
            case 1:
                pairs.append(("target", .string(parts[0], mark: item.mark)))
                pairs.append(("permissions", .string("rwm", mark: item.mark)))
            case 2:
                let second = parts[1]
                if second.allSatisfy({ "rwm".contains($0) }) && !second.isEmpty {
                    pairs.append(("target", .string(parts[0], mark: item.mark)))
                    pairs.append(("permissions", .string(second, mark: item.mark)))
                } else {
                    pairs.append(("target", .string(second, mark: item.mark)))
                    pairs.append(("permissions", .string("rwm", mark: item.mark)))
                }
            case 3:
                pairs.append(("target", .string(parts[1], mark: item.mark)))
                pairs.append(("permissions", .string(parts[2], mark: item.mark)))
            default:
                throw ComposeError("\(path): invalid device '\(text)'; use SOURCE[:TARGET[:PERMISSIONS]]", at: item.mark)
            }
            out.append(.mapping(pairs, mark: item.mark))
        }
        return Node(.sequence(out), mark: node.mark, tag: node.tag)
    }

    func envFiles(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        let items: [Node]
        if let list = node.items {
            items = list
        } else if node.scalarText != nil && !node.isNull {
            items = [node]
        } else {
            return node
        }
        var out: [Node] = []
        for item in items {
            if let text = item.scalarText, !item.isNull {
                out.append(.mapping([("path", .string(absolutePath(text), mark: item.mark)), ("required", .plain("true", mark: item.mark))], mark: item.mark))
            } else if item.isMapping {
                var entry = item
                if let p = item["path"], let text = p.scalarText { entry = entry.setting("path", to: .string(absolutePath(text), mark: p.mark)) }
                if entry["required"] == nil { entry = entry.setting("required", to: .plain("true", mark: item.mark)) }
                out.append(entry)
            } else {
                out.append(item)
            }
        }
        return Node(.sequence(out), mark: node.mark, tag: node.tag)
    }

    func pathList(_ node: Node) -> Node {
        let list = stringList(node)
        guard let items = list.items else { return list }
        return Node(.sequence(items.map { item in
            guard let text = item.scalarText else { return item }
            return .string(absolutePath(text), mark: item.mark)
        }), mark: node.mark, tag: node.tag)
    }

    /// `KEY=VALUE` lists become maps; scalar values keep their text. With
    /// `nullForBareKey`, a bare `KEY` maps to null (resolved from the environment later).
    func keyValueMap(_ node: Node, path: KeyPath, nullForBareKey: Bool = false) throws(ComposeError) -> Node {
        if let items = node.items {
            var pairs: [Node.Pair] = []
            var index: [String: Int] = [:]
            for item in items {
                guard let text = item.scalarText, !item.isNull else {
                    throw NodeDecoding.typeError("a string 'KEY=VALUE'", item, path)
                }
                let key: String
                let value: Node
                if let eq = text.firstIndex(of: "=") {
                    key = String(text[..<eq])
                    value = .string(String(text[text.index(after: eq)...]), mark: item.mark)
                } else {
                    key = text
                    value = nullForBareKey ? .null(mark: item.mark) : .string("", mark: item.mark)
                }
                let pair = Node.Pair(key: .string(key, mark: item.mark), value: value)
                if let existing = index[key] {
                    pairs[existing] = pair  // later entries win, as Compose's unicity rule does
                } else {
                    index[key] = pairs.count
                    pairs.append(pair)
                }
            }
            return Node(.mapping(pairs), mark: node.mark, tag: node.tag)
        }
        guard let pairs = node.pairs else { return node }
        var copy = node
        copy.value = .mapping(pairs.map { pair in
            var value = pair.value
            if value.isNull && !nullForBareKey { value = .string("", mark: value.mark) }
            return Node.Pair(key: pair.key, value: value)
        })
        return copy
    }

    /// Map values that are scalars become strings (driver options, logging options).
    func stringValues(_ node: Node) -> Node {
        guard let pairs = node.pairs else { return node }
        var copy = node
        copy.value = .mapping(pairs.map { pair in
            guard case .scalar(let text, _) = pair.value.value, !pair.value.isNull else { return pair }
            return Node.Pair(key: pair.key, value: .string(text, mark: pair.value.mark))
        })
        return copy
    }

    func stringList(_ node: Node) -> Node {
        if node.scalarText != nil && !node.isNull { return Node(.sequence([node]), mark: node.mark, tag: node.tag) }
        return node
    }

    func listToNullMap(_ node: Node) -> Node {
        guard let items = node.items else { return node }
        return Node(.mapping(items.map { Node.Pair(key: $0, value: .null(mark: $0.mark)) }), mark: node.mark, tag: node.tag)
    }

    func extraHosts(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        var entries: [(String, [Node])] = []
        func add(_ host: String, _ ip: Node) {
            if let index = entries.firstIndex(where: { $0.0 == host }) {
                entries[index].1.append(ip)
            } else {
                entries.append((host, [ip]))
            }
        }
        if let items = node.items {
            for item in items {
                guard let text = item.scalarText else { throw NodeDecoding.typeError("a string 'HOST:IP'", item, path) }
                let separator = text.firstIndex(of: "=") ?? text.firstIndex(of: ":")
                guard let separator else {
                    throw ComposeError("\(path): invalid extra host '\(text)'; use HOST:IP or HOST=IP", at: item.mark)
                }
                var ip = String(text[text.index(after: separator)...])
                if ip.hasPrefix("[") && ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
                add(String(text[..<separator]), .string(ip, mark: item.mark))
            }
        } else if let pairs = node.pairs {
            for pair in pairs {
                let host = pair.key.scalarText ?? ""
                if let list = pair.value.items {
                    list.forEach { add(host, .string($0.scalarText ?? "", mark: $0.mark)) }
                } else {
                    add(host, .string(pair.value.scalarText ?? "", mark: pair.value.mark))
                }
            }
        } else {
            return node
        }
        return .mapping(entries.map { ($0.0, Node.sequence($0.1, mark: node.mark)) }, mark: node.mark)
    }

    func healthcheck(_ node: Node) -> Node {
        guard let test = node["test"], let text = test.scalarText, !test.isNull else { return node }
        return node.setting("test", to: .sequence([.string("CMD-SHELL", mark: test.mark), .string(text, mark: test.mark)], mark: test.mark))
    }

    func hooks(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard let items = node.items else { return node }
        var out: [Node] = []
        for (index, item) in items.enumerated() {
            var hook = item
            if let command = item["command"] { hook = hook.setting("command", to: try self.command(command, path: path.appending(index: index).appending("command"))) }
            if let env = item["environment"] {
                hook = hook.setting("environment", to: try keyValueMap(env, path: path.appending(index: index).appending("environment"), nullForBareKey: true))
            }
            out.append(hook)
        }
        return Node(.sequence(out), mark: node.mark, tag: node.tag)
    }

    func deploy(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard node.isMapping else { return node }
        var out = node
        if let labels = node["labels"] { out = out.setting("labels", to: try keyValueMap(labels, path: path.appending("labels"))) }
        return out
    }

    func develop(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard let watch = node["watch"], let items = watch.items else { return node }
        var out: [Node] = []
        for (index, item) in items.enumerated() {
            var rule = item
            if let p = item["path"], let text = p.scalarText { rule = rule.setting("path", to: .string(absolutePath(text), mark: p.mark)) }
            if let ignore = item["ignore"] { rule = rule.setting("ignore", to: stringList(ignore)) }
            if let include = item["include"] { rule = rule.setting("include", to: stringList(include)) }
            if let exec = item["exec"], let command = exec["command"] {
                rule = rule.setting("exec", to: exec.setting("command", to: try self.command(command, path: path.appending("watch").appending(index: index))))
            }
            out.append(rule)
        }
        return node.setting("watch", to: Node(.sequence(out), mark: watch.mark))
    }

    func gpus(_ node: Node) -> Node {
        if node.scalarText == "all" {
            return .sequence([.mapping([("count", .plain("-1", mark: node.mark))], mark: node.mark)], mark: node.mark)
        }
        return node
    }

    // MARK: Paths

    func absolutePath(_ path: String) -> String {
        var p = path
        if p == "~" || p.hasPrefix("~/"), let home {
            p = home + p.dropFirst()
        }
        if p.hasPrefix("/") { return Paths.clean(p) }
        return Paths.clean(baseDirectory + "/" + p)
    }
}

/// Lexical path helpers (no file system access).
public enum Paths {
    /// Like Go's `filepath.Clean`: removes `.`, resolves `..`, drops duplicate and trailing `/`.
    public static func clean(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if let last = parts.last, last != ".." {
                    parts.removeLast()
                } else if !absolute {
                    parts.append(part)
                }
                continue
            }
            parts.append(part)
        }
        // Joined by hand: `joined(separator:)` over substrings is generic code resolved at
        // run time, and this runs for every path of a Compose file.
        var joined = absolute ? "/" : ""
        for (index, part) in parts.enumerated() {
            if index > 0 { joined += "/" }
            joined += part
        }
        return joined.isEmpty ? "." : joined
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    public static func basename(_ path: String) -> String {
        let trimmed = path.hasSuffix("/") && path.count > 1 ? String(path.dropLast()) : path
        guard let slash = trimmed.lastIndex(of: "/") else { return trimmed }
        return String(trimmed[trimmed.index(after: slash)...])
    }

    public static func join(_ base: String, _ path: String) -> String {
        path.hasPrefix("/") ? clean(path) : clean(base + "/" + path)
    }
}
