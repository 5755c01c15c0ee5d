import Foundation

/// The names the embedded DNS server answers, per network. The orchestrator keeps it current:
/// an entry per container endpoint with its names (container name, service name, aliases)
/// and readiness (running, and healthy when it has a healthcheck); only ready entries are
/// answered — Kubernetes readiness. Updates take effect for the next query.
public final class DNSRecords: @unchecked Sendable {
    struct Entry: Equatable {
        var address: IPv4Address
        var names: [String]
        var ready: Bool
    }

    private let lock = NSLock()
    /// network → container → entry
    private var networks: [String: [String: Entry]] = [:]
    /// What a container sees differently from the others, by its address: its `dns:`
    /// servers and its `links:` aliases.
    private var clients: [IPv4Address: Client] = [:]

    struct Client {
        /// The container at that address (its run name).
        var container: String
        var upstreams: [DNSUpstream]?
        /// alias (lowercase) → the name it stands for (`links: [db:database]`).
        var links: [String: String] = [:]
    }

    public init() {}

    /// Adds or replaces a container's entry on `network`. `names` should hold the container
    /// name, the service name and the aliases; they are matched case-insensitively.
    public func set(network: String, container: String, address: IPv4Address, names: [String], ready: Bool) {
        let lowered = Array(Set(([container] + names).map { $0.lowercased() })).sorted()
        lock.withLock { networks[network, default: [:]][container] = Entry(address: address, names: lowered, ready: ready) }
    }

    /// Replaces the names of a container's entry on `network` (a renamed container: `names`
    /// should hold its new name, its service name and aliases).
    public func setNames(network: String, container: String, names: [String]) {
        let lowered = Array(Set(names.map { $0.lowercased() })).sorted()
        lock.withLock { networks[network]?[container]?.names = lowered }
    }

    public func setReady(network: String, container: String, ready: Bool) {
        lock.withLock { networks[network]?[container]?.ready = ready }
    }

    /// Marks a container ready or not on every network it is on.
    public func setReady(container: String, ready: Bool) {
        lock.withLock {
            for network in networks.keys where networks[network]?[container] != nil {
                networks[network]?[container]?.ready = ready
            }
        }
    }

    public func remove(network: String, container: String) {
        lock.withLock {
            networks[network]?[container] = nil
            if networks[network]?.isEmpty == true { networks[network] = nil }
        }
    }

    public func remove(container: String) {
        lock.withLock {
            for network in Array(networks.keys) {
                networks[network]?[container] = nil
                if networks[network]?.isEmpty == true { networks[network] = nil }
            }
        }
    }

    public func removeNetwork(_ network: String) {
        lock.withLock { networks[network] = nil }
    }

    /// What the container at `client` sees on its own: its `dns:` servers (nil: the host's)
    /// and its `links:` aliases (alias → service or container name) — in Docker a link's
    /// alias resolves for the linking container only.
    public func setClient(_ client: IPv4Address, container: String, upstreams: [DNSUpstream]?, links: [String: String]) {
        let lowered = Dictionary(links.map { ($0.key.lowercased(), $0.value.lowercased()) }) { first, _ in first }
        lock.withLock {
            if upstreams == nil && lowered.isEmpty {
                clients[client] = nil
            } else {
                clients[client] = Client(container: container, upstreams: upstreams, links: lowered)
            }
        }
    }

    /// Forgets what `setClient` said of every address of `container`.
    public func removeClients(container: String) {
        lock.withLock { clients = clients.filter { $0.value.container != container } }
    }

    func upstreams(client: IPv4Address) -> [DNSUpstream]? {
        lock.withLock { clients[client]?.upstreams }
    }

    /// The name a query from `client` means: a link alias of that client becomes its target.
    func linked(_ name: String, network: String, client: IPv4Address?) -> String {
        guard let client else { return name }
        return lock.withLock {
            guard let links = clients[client]?.links, !links.isEmpty else { return name }
            let suffix = "." + network.lowercased()
            let short = name.hasSuffix(suffix) ? String(name.dropLast(suffix.count)) : name
            return links[short] ?? name
        }
    }

    /// What a name means on `network`.
    public enum Lookup: Equatable {
        /// Not a name of this network: forward it.
        case unknown
        /// Ready addresses (possibly none: a known name with no ready container).
        case addresses([IPv4Address])
    }

    /// Resolves `name` (lowercase, no trailing dot) as `NAME` or `NAME.<network>`.
    public func lookup(_ name: String, network: String) -> Lookup {
        lock.withLock {
            guard let entries = networks[network] else { return .unknown }
            var short = name
            let suffix = "." + network.lowercased()
            if name.hasSuffix(suffix) { short = String(name.dropLast(suffix.count)) }
            var known = false
            var addresses: [IPv4Address] = []
            for (_, entry) in entries.sorted(by: { $0.key < $1.key }) where entry.names.contains(short) {
                known = true
                if entry.ready && !addresses.contains(entry.address) { addresses.append(entry.address) }
            }
            return known ? .addresses(addresses) : .unknown
        }
    }

    /// PTR: `container.network` for an address on `network`.
    public func reverse(_ address: IPv4Address, network: String) -> [String] {
        lock.withLock {
            (networks[network] ?? [:]).filter { $0.value.address == address }.keys.sorted().map { "\($0).\(network)" }
        }
    }
}

/// An upstream resolver: forwarded queries go there.
public struct DNSUpstream: Sendable, Hashable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16

    public init(address: IPv4Address, port: UInt16 = 53) {
        self.address = address
        self.port = port
    }

    public var description: String { "\(address):\(port)" }

    /// The IPv4 `nameserver`s of a resolv.conf (at most 3, as the resolver uses). Loopback
    /// servers are kept: berth's DNS server runs in the host's namespace, where 127.0.0.53
    /// (systemd-resolved) is reachable.
    public static func fromResolvConf(_ text: String) -> [DNSUpstream] {
        var out: [DNSUpstream] = []
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.count >= 2, words[0] == "nameserver", let address = IPv4Address(words[1]) {
                out.append(DNSUpstream(address: address))
            }
        }
        return Array(out.prefix(3))
    }
}

/// Decides the answer to one query: ours (A, AAAA, PTR and other types of known names) or
/// "forward it".
public enum DNSResolver {
    /// Kubernetes' CoreDNS default: short enough that readiness changes reach caching clients
    /// quickly (Docker uses 600).
    public static let ttl: UInt32 = 5

    public enum Decision: Equatable {
        case reply([UInt8])
        case forward(DNSQuery)
        case drop
    }

    /// `client`: the asking container's address (its `links:` aliases apply), nil for none.
    public static func decide(
        _ message: [UInt8], network: String, client: IPv4Address? = nil, records: DNSRecords, limit: (DNSQuery) -> Int
    ) -> Decision {
        let query: DNSQuery
        switch DNSQuery.parse(message) {
        case .success(let parsed): query = parsed
        case .failure(.ignore): return .drop
        case .failure(.malformed(let id, let flags)): return .reply(DNSResponse.bare(id: id, flags: flags, rcode: DNSResponseCode.formatError))
        case .failure(.notImplemented(let id, let flags)): return .reply(DNSResponse.bare(id: id, flags: flags, rcode: DNSResponseCode.notImplemented))
        }
        guard query.qclass == 1 || query.qclass == 255 else { return .forward(query) }
        if query.type == DNSType.ptr, let address = reverseAddress(query.name) {
            let names = records.reverse(address, network: network)
            guard !names.isEmpty else { return .forward(query) }
            return .reply(DNSResponse.build(query: query, rcode: DNSResponseCode.noError, answers: names.map { .ptr($0, ttl: ttl) }, authoritative: true, limit: limit(query)))
        }
        switch records.lookup(records.linked(query.name, network: network, client: client), network: network) {
        case .unknown:
            return .forward(query)
        case .addresses(let addresses):
            if addresses.isEmpty {
                return .reply(DNSResponse.build(query: query, rcode: DNSResponseCode.nameError, answers: [], authoritative: true, limit: limit(query)))
            }
            // IPv4 only: AAAA and other types get an empty NOERROR (the name exists).
            let answers = query.type == DNSType.a || query.type == 255 ? addresses.shuffled().map { DNSAnswer.a($0, ttl: ttl) } : []
            return .reply(DNSResponse.build(query: query, rcode: DNSResponseCode.noError, answers: answers, authoritative: true, limit: limit(query)))
        }
    }

    /// `d.c.b.a.in-addr.arpa` → a.b.c.d.
    static func reverseAddress(_ name: String) -> IPv4Address? {
        guard name.hasSuffix(".in-addr.arpa") else { return nil }
        let parts = name.dropLast(".in-addr.arpa".count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        return IPv4Address(parts.reversed().joined(separator: "."))
    }
}
