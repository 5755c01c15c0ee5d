import CYaml

/// Reads YAML text into `Node` trees with libyaml's event API, keeping every node's
/// file:line:column. Anchors and aliases are expanded, merge keys (`<<`) applied, duplicate
/// keys rejected. Limits keep hostile input from exhausting memory or the stack.
public struct YAMLReader {
    public struct Limits: Sendable {
        /// Largest input accepted, in bytes.
        public var maxBytes = 16 << 20
        /// Deepest nesting of collections.
        public var maxDepth = 512
        /// Most nodes a document may expand to through aliases ("billion laughs").
        public var maxNodes = 2_000_000
        public init() {}
    }

    public var limits = Limits()

    public init() {}

    /// Parses every document of a YAML stream. An empty stream gives no documents.
    public func parse(_ bytes: [UInt8], file: String) throws(ComposeError) -> [Node] {
        if bytes.count > limits.maxBytes {
            throw ComposeError(
                "file is \(bytes.count / (1 << 20)) MB; berth reads Compose files of at most \(limits.maxBytes >> 20) MB",
                at: Mark(file: file, line: 0, column: 0))
        }
        var builder = TreeBuilder(file: file, limits: limits)
        return try bytes.withUnsafeBufferPointer { (buffer) throws(ComposeError) -> [Node] in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else {
                throw ComposeError("cannot initialise the YAML parser (out of memory)", at: Mark(file: file, line: 0, column: 0))
            }
            defer { yaml_parser_delete(&parser) }
            let base = buffer.baseAddress ?? UnsafePointer<UInt8>(bitPattern: 1)
            if let base {
                yaml_parser_set_input_string(&parser, base, buffer.count)
            }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            while true {
                var event = yaml_event_t()
                guard yaml_parser_parse(&parser, &event) == 1 else {
                    throw Self.parserError(parser, file: file)
                }
                defer { yaml_event_delete(&event) }
                if event.type == YAML_STREAM_END_EVENT { break }
                try builder.handle(event)
            }
            return builder.documents
        }
    }

    public func parse(_ text: String, file: String) throws(ComposeError) -> [Node] {
        try parse(Array(text.utf8), file: file)
    }

    private static func parserError(_ parser: yaml_parser_t, file: String) -> ComposeError {
        let problem = parser.problem.map { String(cString: $0) } ?? "malformed YAML"
        let mark = Mark(file: file, line: Int(parser.problem_mark.line) + 1, column: Int(parser.problem_mark.column) + 1)
        var message = "invalid YAML: \(problem)"
        if let context = parser.context.map({ String(cString: $0) }) {
            let contextLine = Int(parser.context_mark.line) + 1
            message += " (\(context) at line \(contextLine))"
        }
        if problem.contains("UTF-8") || problem.contains("control characters") {
            message += "; is this a text file?"
        }
        return ComposeError(message, at: mark)
    }
}

/// Assembles events into nodes with an explicit stack (no recursion on input depth).
private struct TreeBuilder {
    enum Frame {
        case sequence(items: [Node], mark: Mark, tag: String?, anchor: String?)
        case mapping(pairs: [Node.Pair], pendingKey: Node?, mark: Mark, tag: String?, anchor: String?, merges: [Node], seen: [String: Int])
    }

    let file: String
    let limits: YAMLReader.Limits
    var stack: [Frame] = []
    /// Expanded size of each open collection so far, parallel to `stack`: an anchor on a
    /// collection remembers its whole size, so aliases to it count in full.
    var weights: [Int] = []
    var anchors: [String: (node: Node, weight: Int)] = [:]
    var documents: [Node] = []
    var expandedNodes = 0
    var documentHasRoot = false

    init(file: String, limits: YAMLReader.Limits) {
        self.file = file
        self.limits = limits
    }

    func mark(_ m: yaml_mark_t) -> Mark {
        Mark(file: file, line: Int(m.line) + 1, column: Int(m.column) + 1)
    }

    static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else { return nil }
        return String(cString: UnsafeRawPointer(pointer).assumingMemoryBound(to: CChar.self))
    }

    mutating func handle(_ event: yaml_event_t) throws(ComposeError) {
        switch event.type {
        case YAML_DOCUMENT_START_EVENT:
            anchors = [:]
            documentHasRoot = false
        case YAML_DOCUMENT_END_EVENT:
            if !documentHasRoot { documents.append(.null(mark: mark(event.start_mark))) }
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text: String
            if let value = s.value {
                text = String(decoding: UnsafeBufferPointer(start: value, count: s.length), as: UTF8.self)
            } else {
                text = ""
            }
            let style: ScalarStyle
            switch s.style {
            case YAML_SINGLE_QUOTED_SCALAR_STYLE: style = .singleQuoted
            case YAML_DOUBLE_QUOTED_SCALAR_STYLE: style = .doubleQuoted
            case YAML_LITERAL_SCALAR_STYLE: style = .literal
            case YAML_FOLDED_SCALAR_STYLE: style = .folded
            default: style = .plain
            }
            var tag = Self.string(s.tag)
            if tag == "!" { tag = nil }  // the non-specific tag: a plain string
            let node = Node(.scalar(text, tag == nil && s.tag != nil ? .doubleQuoted : style), mark: mark(event.start_mark), tag: tag)
            try add(node, anchor: Self.string(s.anchor), weight: 1)
        case YAML_SEQUENCE_START_EVENT:
            try checkDepth(event)
            let s = event.data.sequence_start
            stack.append(.sequence(items: [], mark: mark(event.start_mark), tag: Self.string(s.tag), anchor: Self.string(s.anchor)))
            weights.append(1)
        case YAML_SEQUENCE_END_EVENT:
            guard case .sequence(let items, let m, let tag, let anchor) = stack.popLast() else { return }
            let weight = weights.popLast() ?? 1
            try add(Node(.sequence(items), mark: m, tag: tag), anchor: anchor, weight: weight, counted: true)
        case YAML_MAPPING_START_EVENT:
            try checkDepth(event)
            let s = event.data.mapping_start
            stack.append(
                .mapping(pairs: [], pendingKey: nil, mark: mark(event.start_mark), tag: Self.string(s.tag), anchor: Self.string(s.anchor), merges: [], seen: [:]))
            weights.append(1)
        case YAML_MAPPING_END_EVENT:
            guard case .mapping(var pairs, _, let m, let tag, let anchor, let merges, var seen) = stack.popLast() else { return }
            // Merge keys: explicit keys win, then earlier merged maps over later ones.
            for source in merges {
                for pair in source.pairs ?? [] {
                    let key = pair.key.scalarText ?? ""
                    if seen[key] == nil {
                        seen[key] = pair.key.mark.line
                        pairs.append(pair)
                    }
                }
            }
            let weight = weights.popLast() ?? 1
            try add(Node(.mapping(pairs), mark: m, tag: tag), anchor: anchor, weight: weight, counted: true)
        case YAML_ALIAS_EVENT:
            let name = Self.string(event.data.alias.anchor) ?? ""
            guard let target = anchors[name] else {
                throw ComposeError("unknown anchor '\(name)' referenced", at: mark(event.start_mark))
            }
            var copy = target.node
            copy.mark = mark(event.start_mark)
            try add(copy, anchor: nil, weight: target.weight)
        default:
            break
        }
    }

    mutating func checkDepth(_ event: yaml_event_t) throws(ComposeError) {
        if stack.count >= limits.maxDepth {
            throw ComposeError("YAML nesting is deeper than \(limits.maxDepth) levels", at: mark(event.start_mark))
        }
    }

    /// Adds a finished node to its parent. `counted` nodes (collections) had their children
    /// counted as they arrived; only their own node is new.
    mutating func add(_ node: Node, anchor: String?, weight: Int, counted: Bool = false) throws(ComposeError) {
        expandedNodes += counted ? 1 : weight
        if !weights.isEmpty { weights[weights.count - 1] += weight }
        if expandedNodes > limits.maxNodes {
            throw ComposeError(
                "document expands to more than \(limits.maxNodes) nodes through aliases; refusing to load it", at: node.mark)
        }
        if let anchor { anchors[anchor] = (node, weight) }
        guard let top = stack.popLast() else {
            documents.append(node)
            documentHasRoot = true
            return
        }
        switch top {
        case .sequence(var items, let m, let tag, let a):
            items.append(node)
            stack.append(.sequence(items: items, mark: m, tag: tag, anchor: a))
        case .mapping(var pairs, let pendingKey, let m, let tag, let a, var merges, var seen):
            if let key = pendingKey {
                if key.scalarText == "<<" && key.scalarStyle == .plain && (key.tag == nil || key.tag == "tag:yaml.org,2002:merge") {
                    switch node.value {
                    case .mapping:
                        merges.append(node)
                    case .sequence(let list):
                        for item in list {
                            guard item.isMapping else {
                                throw ComposeError("merge key '<<' takes a mapping or a list of mappings, not \(item.kindName)", at: item.mark)
                            }
                            merges.append(item)
                        }
                    default:
                        throw ComposeError("merge key '<<' takes a mapping or a list of mappings, not \(node.kindName)", at: node.mark)
                    }
                } else {
                    let keyText = key.scalarText ?? ""
                    if let firstLine = seen[keyText] {
                        throw ComposeError("duplicate key '\(keyText)' in mapping (first defined at line \(firstLine))", at: key.mark)
                    }
                    seen[keyText] = key.mark.line
                    pairs.append(Node.Pair(key: key, value: node))
                }
                stack.append(.mapping(pairs: pairs, pendingKey: nil, mark: m, tag: tag, anchor: a, merges: merges, seen: seen))
            } else {
                guard node.scalarText != nil else {
                    throw ComposeError("mapping keys must be scalars, not \(node.kindName)", at: node.mark)
                }
                stack.append(.mapping(pairs: pairs, pendingKey: node, mark: m, tag: tag, anchor: a, merges: merges, seen: seen))
            }
        }
    }
}
