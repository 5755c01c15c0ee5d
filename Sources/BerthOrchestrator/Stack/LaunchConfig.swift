import BerthNetwork
import BerthSystem
import ComposeSpec
import Foundation

/// What starting a container needs besides its runtime spec: its networks, published ports
/// and name resolution. Written next to the spec at create (`launch.json`), read by the
/// supervisor at every start — so the supervisor never needs the Compose file, and a
/// restarted supervisor starts a container exactly as the first one would have.
public struct LaunchConfig: Codable, Sendable, Equatable {
    public enum NetworkMode: String, Codable, Sendable {
        /// Attached to `networks` (berth's bridges), in a namespace of its own.
        case bridge
        /// A namespace with only `lo`.
        case none
        /// The host's namespace.
        case host
        /// Another container's namespace (`service:x`, `container:x`): nothing to set up.
        case shared
    }

    public struct Attachment: Codable, Sendable, Equatable {
        /// The network's final name (`<project>_<key>`).
        public var network: String
        /// DNS names besides the container name: the service name and `aliases`.
        public var aliases: [String]
        public var ipv4Address: String?
        public var macAddress: String?
        public var interface: String?
    }

    public struct Port: Codable, Sendable, Equatable {
        public var hostIP: String?
        /// nil: any free port; else the first free port of the range.
        public var hostPortLow: UInt16?
        public var hostPortHigh: UInt16?
        public var containerPort: UInt16
        public var proto: String

        /// The host port or range as Compose writes it (`8080`, `8000-8002`); nil: any.
        public var published: String? {
            hostPortLow.map { low in
                let high = hostPortHigh ?? low
                return high == low ? "\(low)" : "\(low)-\(high)"
            }
        }
    }

    public var service: String
    public var networkMode: NetworkMode
    /// In the order of the service's `networks` priority: the first gets the published ports
    /// and serves as the name server.
    public var networks: [Attachment]
    public var ports: [Port]
    /// `extra_hosts` as name, address pairs (address may be `host-gateway`).
    public var extraHosts: [[String]]
    public var dns: [String]
    public var dnsSearch: [String]
    public var dnsOptions: [String]
    public var hostname: String
    public var domainname: String?
    /// The health check the supervisor runs (the service's `healthcheck:` over the image's
    /// `HEALTHCHECK`); nil: none.
    public var healthcheck: HealthConfig?
    /// When the supervisor starts it again after it ended by itself; nil: never.
    public var restart: RestartPolicy?
    /// What the supervisor does when the health check turns it unhealthy (`x-berth`);
    /// nil: nothing.
    public var onUnhealthy: BerthExtension.UnhealthyAction?
    /// `links:` and `external_links:` aliases, alias → the service or container name they
    /// stand for; answered by the embedded DNS server to this container only, as Docker's.
    public var links: [String: String]? = nil
    /// Delete the container (and its anonymous volumes) once it has exited (`run --rm`).
    public var autoRemove: Bool?
    /// Namespaces of other containers it joins (`network_mode`, `ipc`, `pid`, `uts`,
    /// `cgroup: service:NAME|container:NAME`), resolved to running containers at each start.
    public var joins: [NamespaceJoin]? = nil
    /// `ipc: shareable` (and a pod's infra): its `/dev/shm` is a tmpfs on the host side that
    /// the containers joining its IPC namespace see too (Docker's shareable IPC).
    public var shareableIPC: Bool? = nil

    public var portRequests: [PortRequest] {
        get throws { try Self.portRequests(ports) }
    }

    static func portRequests(_ ports: [Port]) throws -> [PortRequest] {
        try ports.map { port in
            try PortRequest(hostIP: port.hostIP, published: port.published, target: port.containerPort, protocol: port.proto)
        }
    }

    public var extraHostEntries: [EtcFiles.ExtraHost] {
        extraHosts.compactMap { pair in pair.count == 2 ? EtcFiles.ExtraHost(name: pair[0], address: pair[1]) : nil }
    }
}

extension LaunchConfig {
    /// From the service as loaded. `hostname` is the container's (service's `hostname:` or
    /// the id prefix); `image` gives the `HEALTHCHECK` and `SHELL` the healthcheck is
    /// merged with. Errors name the service and the key.
    public static func of(
        project: Project, service name: String, service: Service, hostname: String, image: ResolvedImage? = nil
    ) throws(ServiceConfigError) -> LaunchConfig {
        func fail(_ key: String, _ message: String) -> ServiceConfigError {
            ServiceConfigError(service: name, key: key, message: message)
        }
        var mode = NetworkMode.bridge
        switch service.network_mode ?? "" {
        case "", "bridge": mode = .bridge
        case "none": mode = .none
        case "host": mode = .host
        case let other where other.hasPrefix("service:") || other.hasPrefix("container:"): mode = .shared
        case let other: throw fail("network_mode", "\"\(other)\" is not supported; use bridge, none, host, service:NAME or container:NAME")
        }

        var attachments: [(priority: Int, index: Int, attachment: Attachment)] = []
        if mode == .bridge {
            for (index, entry) in (service.networks ?? KeyedMap()).enumerated() {
                guard let network = project.networks?[entry.key] else {
                    throw fail("networks.\(entry.key)", "the project declares no network \"\(entry.key)\"; add it under the top-level networks:")
                }
                let config = entry.value
                if config?.ipv6_address != nil {
                    throw fail("networks.\(entry.key).ipv6_address", "IPv6 is not supported: berth's networks are IPv4 only; remove it")
                }
                if let address = config?.ipv4_address, IPv4Address(address) == nil {
                    throw fail("networks.\(entry.key).ipv4_address", "\"\(address)\" is not an IPv4 address")
                }
                let aliases = [name] + (config?.aliases ?? [])
                let attachment = Attachment(
                    network: network.name ?? "\(project.name)_\(entry.key)", aliases: aliases,
                    ipv4Address: config?.ipv4_address, macAddress: config?.mac_address ?? service.mac_address,
                    interface: config?.interface_name)
                attachments.append((config?.gw_priority ?? config?.priority ?? 0, index, attachment))
            }
        }
        attachments.sort { $0.priority != $1.priority ? $0.priority > $1.priority : $0.index < $1.index }

        var ports: [Port] = []
        for (index, port) in (service.ports ?? []).enumerated() {
            if mode != .bridge {
                throw fail("ports[\(index)]", "ports cannot be published with network_mode \(service.network_mode ?? ""); remove ports or the network_mode")
            }
            var low: UInt16?
            var high: UInt16?
            if let published = port.published, !published.isEmpty {
                let bounds = published.split(separator: "-").map { UInt16($0) }
                guard (1...2).contains(bounds.count), let first = bounds.first ?? nil, let last = bounds.last ?? nil, first <= last else {
                    throw fail("ports[\(index)].published", "\"\(published)\" is not a port or a port range such as 8000-8005")
                }
                (low, high) = (first, last)
            }
            let proto = port.protocol ?? "tcp"
            guard proto == "tcp" || proto == "udp" else {
                throw fail("ports[\(index)].protocol", "\"\(proto)\" is not supported; use tcp or udp")
            }
            ports.append(Port(hostIP: port.host_ip, hostPortLow: low, hostPortHigh: high, containerPort: port.target, proto: proto))
        }
        do {
            _ = try portRequests(ports)
        } catch {
            throw fail("ports", "\(error)")
        }

        // Docker joins only a shareable IPC namespace ("non-shareable IPC").
        if let value = service.ipc, value.hasPrefix("service:"), let donor = project.services[String(value.dropFirst(8))], donor.ipc != "shareable" {
            throw fail("ipc", "service \"\(value.dropFirst(8))\" does not share its IPC namespace; set ipc: shareable on it (Docker joins only a shareable IPC namespace)")
        }

        var extraHosts: [[String]] = []
        for (host, addresses) in service.extra_hosts ?? KeyedMap() {
            for address in addresses { extraHosts.append([host, address]) }
        }
        return LaunchConfig(
            service: name, networkMode: mode, networks: attachments.map(\.attachment), ports: ports, extraHosts: extraHosts,
            dns: service.dns ?? [], dnsSearch: service.dns_search ?? [], dnsOptions: service.dns_opt ?? [],
            hostname: hostname, domainname: service.domainname,
            healthcheck: try HealthConfig.resolve(service: name, service.healthcheck, image: image?.healthcheck, imageShell: image?.shell),
            restart: try RestartPolicy.of(service: name, service), onUnhealthy: try BerthExtension.of(service: name, service).action,
            links: linkAliases(service), joins: NamespaceJoin.of(service), shareableIPC: service.ipc == "shareable" ? true : nil)
    }

    /// `links: [db:database]` / `external_links: [c:alias]` → alias → target (a bare
    /// `db` adds nothing: the service's own name resolves already).
    static func linkAliases(_ service: Service) -> [String: String]? {
        var aliases: [String: String] = [:]
        for link in (service.links ?? []) + (service.external_links ?? []) {
            let parts = link.split(separator: ":", maxSplits: 1).map(String.init)
            if parts.count == 2, !parts[1].isEmpty, parts[1] != parts[0] { aliases[parts[1]] = parts[0] }
        }
        return aliases.isEmpty ? nil : aliases
    }

    static let fileName = "launch.json"

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    public static func load(directory: String) throws -> LaunchConfig {
        let text = try FS.readString(directory + "/" + fileName)
        do {
            return try JSONDecoder().decode(LaunchConfig.self, from: Data(text.utf8))
        } catch {
            throw EngineError("\(directory)/\(fileName) is unreadable: \(error)")
        }
    }
}
