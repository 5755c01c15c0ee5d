/// A port of a container as `ps` reports it (Compose's `api.PortPublisher`): published
/// (`URL` and `PublishedPort` set) or only exposed.
struct PortPublisher: Equatable {
    var url: String
    var targetPort: UInt16
    var publishedPort: UInt16
    var proto: String

    /// `80/tcp` (how records keep exposed ports); nil if malformed.
    init?(exposed text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let port = UInt16(first) else { return nil }
        self.init(url: "", targetPort: port, publishedPort: 0, proto: parts.count > 1 ? String(parts[1]) : "tcp")
    }

    init(url: String, targetPort: UInt16, publishedPort: UInt16, proto: String) {
        self.url = url
        self.targetPort = targetPort
        self.publishedPort = publishedPort
        self.proto = proto
    }

    var json: OrderedJSON {
        .object([("URL", .string(url)), ("TargetPort", .number(Int64(targetPort))), ("PublishedPort", .number(Int64(publishedPort))), ("Protocol", .string(proto))])
    }

    /// Go's `%v` of the struct: `{0.0.0.0 80 8080 tcp}`.
    var goValue: String { "{\(url) \(targetPort) \(publishedPort) \(proto)}" }

    /// The docker CLI's `DisplayablePorts`: `0.0.0.0:8080->80/tcp, 9000-9001/tcp`, exposed
    /// ports in runs of consecutive numbers, published ports one by one.
    static func display(_ ports: [PortPublisher]) -> String {
        let sorted = ports.sorted {
            ($0.targetPort, $0.url, $0.publishedPort, $0.proto) < ($1.targetPort, $1.url, $1.publishedPort, $1.proto)
        }
        var groups: [String: (first: UInt16, last: UInt16)] = [:]
        var order: [String] = []
        var result: [String] = []
        var mappings: [String] = []
        for port in sorted {
            var key = port.proto
            if !port.url.isEmpty {
                if port.publishedPort != port.targetPort {
                    let host = port.url.contains(":") ? "[\(port.url)]" : port.url
                    mappings.append("\(host):\(port.publishedPort)->\(port.targetPort)/\(port.proto)")
                    continue
                }
                key = "\(port.url)/\(port.proto)"
            }
            guard let group = groups[key] else {
                groups[key] = (port.targetPort, port.targetPort)
                order.append(key)
                continue
            }
            if port.targetPort == group.last &+ 1 {
                groups[key] = (group.first, port.targetPort)
                continue
            }
            result.append(format(key, group.first, group.last))
            groups[key] = (port.targetPort, port.targetPort)
        }
        for key in order {
            if let group = groups[key] { result.append(format(key, group.first, group.last)) }
        }
        return (result + mappings).joined(separator: ", ")
    }

    private static func format(_ key: String, _ first: UInt16, _ last: UInt16) -> String {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let proto = parts.count > 1 ? parts[1] : parts[0]
        let ip = parts.count > 1 ? parts[0] : ""
        var group = String(first)
        if first != last { group += "-\(last)" }
        if !ip.isEmpty { group = "\(ip):\(group)->\(group)" }
        return "\(group)/\(proto)"
    }
}
