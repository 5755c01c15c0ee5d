/// The two richest short syntaxes: `ports` and `volumes`.
extension Canonicalizer {
    /// `[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]` with ranges, IPv6 in brackets, and bare
    /// numbers; long-form entries get the defaults `mode: ingress` and `protocol: tcp`.
    func ports(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard let items = node.items else { return node }
        var out: [Node] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.appending(index: index)
            if item.isMapping {
                var entry = item
                if entry["mode"] == nil { entry = entry.setting("mode", to: .string("ingress", mark: item.mark)) }
                if entry["protocol"] == nil { entry = entry.setting("protocol", to: .string("tcp", mark: item.mark)) }
                if let published = entry["published"], let text = published.scalarText, !published.isNull {
                    entry = entry.setting("published", to: .string(text, mark: published.mark))
                }
                out.append(entry)
                continue
            }
            guard let text = item.scalarText, !item.isNull else {
                throw NodeDecoding.typeError("a port like '8080:80' or a mapping", item, itemPath)
            }
            for spec in try PortSpec.parse(text, mark: item.mark, path: itemPath) {
                var pairs: [(String, Node)] = [("mode", .string("ingress", mark: item.mark))]
                if let hostIP = spec.hostIP { pairs.append(("host_ip", .string(hostIP, mark: item.mark))) }
                pairs.append(("target", .plain(String(spec.target), mark: item.mark)))
                if let published = spec.published { pairs.append(("published", .string(published, mark: item.mark))) }
                pairs.append(("protocol", .string(spec.proto, mark: item.mark)))
                out.append(.mapping(pairs, mark: item.mark))
            }
        }
        return Node(.sequence(out), mark: node.mark, tag: node.tag)
    }

    /// `SOURCE:TARGET[:OPTIONS]` or `TARGET`; sources starting with `/`, `.` or `~` are bind
    /// mounts (made absolute), others named volumes.
    func volumes(_ node: Node, path: KeyPath) throws(ComposeError) -> Node {
        guard let items = node.items else { return node }
        var out: [Node] = []
        for (index, item) in items.enumerated() {
            let itemPath = path.appending(index: index)
            if item.isMapping {
                var entry = item
                if let source = item["source"], let text = source.scalarText, item["type"]?.scalarText == "bind" {
                    entry = entry.setting("source", to: .string(absolutePath(text), mark: source.mark))
                }
                if item["type"] == nil {
                    let inferred = item["source"].flatMap(\.scalarText).map { isFilePath($0) ? "bind" : "volume" } ?? "volume"
                    entry = entry.setting("type", to: .string(inferred, mark: item.mark))
                    if inferred == "bind", let source = item["source"], let text = source.scalarText {
                        entry = entry.setting("source", to: .string(absolutePath(text), mark: source.mark))
                    }
                }
                out.append(entry)
                continue
            }
            guard let text = item.scalarText, !item.isNull else {
                throw NodeDecoding.typeError("a volume like 'data:/var/lib/data' or a mapping", item, itemPath)
            }
            out.append(try shortVolume(text, mark: item.mark, path: itemPath))
        }
        return Node(.sequence(out), mark: node.mark, tag: node.tag)
    }

    private func isFilePath(_ source: String) -> Bool {
        source.hasPrefix("/") || source.hasPrefix(".") || source.hasPrefix("~")
    }

    private func shortVolume(_ text: String, mark: Mark, path: KeyPath) throws(ComposeError) -> Node {
        var parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        // ":/target" (an empty source, typically an unset variable) is an anonymous volume.
        if parts.count >= 2 && parts[0].isEmpty { parts.removeFirst() }
        guard parts.count <= 3, !parts.contains(where: \.isEmpty) else {
            throw ComposeError("\(path): invalid volume '\(text)'; use [SOURCE:]TARGET[:OPTIONS], for example 'data:/var/lib/data:ro'", at: mark)
        }
        if parts.count == 1 {
            return .mapping([("type", .string("volume", mark: mark)), ("target", .string(Paths.clean(parts[0]), mark: mark))], mark: mark)
        }
        let source = parts[0]
        let target = Paths.clean(parts[1])
        let isBind = isFilePath(source)
        var pairs: [(String, Node)] = [
            ("type", .string(isBind ? "bind" : "volume", mark: mark)),
            ("source", .string(isBind ? absolutePath(source) : source, mark: mark)),
            ("target", .string(target, mark: mark)),
        ]
        var bind: [(String, Node)] = []
        var volume: [(String, Node)] = []
        if parts.count == 3 {
            for option in parts[2].split(separator: ",").map(String.init) {
                switch option {
                case "ro": pairs.append(("read_only", .plain("true", mark: mark)))
                case "rw": break
                case "z", "Z": bind.append(("selinux", .string(option, mark: mark)))
                case "nocopy": volume.append(("nocopy", .plain("true", mark: mark)))
                case "shared", "rshared", "slave", "rslave", "private", "rprivate":
                    bind.append(("propagation", .string(option, mark: mark)))
                case "consistent", "cached", "delegated":
                    pairs.append(("consistency", .string(option, mark: mark)))
                default:
                    throw ComposeError(
                        "\(path): unknown volume option '\(option)' in '\(text)'; known options: ro, rw, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate, consistent, cached, delegated",
                        at: mark)
                }
            }
        }
        if isBind {
            bind.append(("create_host_path", .plain("true", mark: mark)))
            pairs.append(("bind", .mapping(bind, mark: mark)))
        } else if !volume.isEmpty {
            pairs.append(("volume", .mapping(volume, mark: mark)))
        }
        return .mapping(pairs, mark: mark)
    }
}

/// One parsed entry of the short port syntax.
struct PortSpec: Equatable {
    var hostIP: String?
    var published: String?
    var target: UInt16
    var proto: String

    static func parse(_ text: String, mark: Mark, path: KeyPath) throws(ComposeError) -> [PortSpec] {
        func fail(_ why: String) -> ComposeError {
            ComposeError("\(path): invalid port '\(text)': \(why); use [[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL], for example '127.0.0.1:8080:80/tcp'", at: mark)
        }
        var body = Substring(text)
        var proto = "tcp"
        if let slash = body.lastIndex(of: "/") {
            proto = String(body[body.index(after: slash)...]).lowercased()
            body = body[..<slash]
            guard ["tcp", "udp", "sctp"].contains(proto) else { throw fail("unknown protocol '\(proto)'") }
        }
        var hostIP: String?
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else { throw fail("missing ']' after the IPv6 address") }
            hostIP = String(body[body.index(after: body.startIndex)..<close])
            body = body[body.index(after: close)...]
            guard body.hasPrefix(":") else { throw fail("expected ':' after the IPv6 address") }
            body = body.dropFirst()
        }
        var parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if hostIP == nil && parts.count > 3 {
            // An unbracketed IPv6 address: everything before the last two parts.
            hostIP = parts[0..<(parts.count - 2)].joined(separator: ":")
            parts = Array(parts.suffix(2))
        }
        let containerPart: String
        var publishedPart: String?
        switch parts.count {
        case 1:
            containerPart = parts[0]
        case 2:
            publishedPart = parts[0]
            containerPart = parts[1]
        case 3:
            guard hostIP == nil else { throw fail("too many ':'") }
            hostIP = parts[0]
            publishedPart = parts[1]
            containerPart = parts[2]
        default:
            throw fail("too many ':'")
        }
        if publishedPart?.isEmpty == true { publishedPart = nil }
        guard let (targetStart, targetEnd) = range(containerPart), targetStart > 0 else {
            throw fail("'\(containerPart)' is not a port or a port range (1-65535)")
        }
        var specs: [PortSpec] = []
        if let publishedPart {
            guard let (hostStart, hostEnd) = range(publishedPart) else {
                throw fail("'\(publishedPart)' is not a port or a port range (0-65535)")
            }
            let targetCount = targetEnd - targetStart
            let hostCount = hostEnd - hostStart
            if targetCount == 0 {
                let published = hostCount == 0 ? String(hostStart) : "\(hostStart)-\(hostEnd)"
                specs.append(PortSpec(hostIP: hostIP, published: published, target: UInt16(targetStart), proto: proto))
            } else {
                guard hostCount == targetCount else {
                    throw fail("the published range \(publishedPart) and the target range \(containerPart) differ in size")
                }
                for offset in 0...targetCount {
                    specs.append(PortSpec(hostIP: hostIP, published: String(hostStart + offset), target: UInt16(targetStart + offset), proto: proto))
                }
            }
        } else {
            for port in targetStart...targetEnd {
                specs.append(PortSpec(hostIP: hostIP, published: nil, target: UInt16(port), proto: proto))
            }
        }
        return specs
    }

    /// "80" or "8000-8010" as an inclusive range within 0...65535.
    private static func range(_ text: String) -> (Int, Int)? {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 1 || bounds.count == 2 else { return nil }
        guard let start = Int(bounds[0]), (0...65535).contains(start) else { return nil }
        guard bounds.count == 2 else { return (start, start) }
        guard let end = Int(bounds[1]), (start...65535).contains(end) else { return nil }
        return (start, end)
    }
}
