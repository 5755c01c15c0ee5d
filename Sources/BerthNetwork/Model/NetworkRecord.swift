/// What a caller asks for when creating a network (the orchestrator maps a Compose network
/// onto this; the name is already final, e.g. `<project>_<key>`).
public struct NetworkOptions: Sendable, Equatable {
    public var subnet: IPv4Subnet?
    public var gateway: IPv4Address?
    public var ipRange: IPv4Subnet?
    /// `internal: true`: no default route out and no forwarding to anything but the bridge.
    public var `internal`: Bool
    /// `driver_opts`: `com.docker.network.driver.mtu`, `com.docker.network.bridge.name`.
    public var driverOptions: [String: String]
    public var labels: [String: String]
    public var enableIPv6: Bool

    public init(
        subnet: IPv4Subnet? = nil, gateway: IPv4Address? = nil, ipRange: IPv4Subnet? = nil, internal: Bool = false,
        driverOptions: [String: String] = [:], labels: [String: String] = [:], enableIPv6: Bool = false
    ) {
        self.subnet = subnet
        self.gateway = gateway
        self.ipRange = ipRange
        self.internal = `internal`
        self.driverOptions = driverOptions
        self.labels = labels
        self.enableIPv6 = enableIPv6
    }

    public static let mtuOption = "com.docker.network.driver.mtu"
    public static let bridgeNameOption = "com.docker.network.bridge.name"
}

/// A network as stored in `<root>/networks/<name>.json`: its configuration and its endpoints
/// (the address allocations, so they survive a supervisor restart).
public struct NetworkRecord: Codable, Sendable, Equatable {
    public var name: String
    /// 64 hex digits, like a Docker network ID.
    public var id: String
    public var bridge: String
    public var subnet: IPv4Subnet
    public var gateway: IPv4Address
    public var ipRange: IPv4Subnet?
    public var `internal`: Bool
    public var mtu: UInt32?
    public var labels: [String: String]
    public var options: [String: String]
    /// RFC 3339 creation time.
    public var created: String
    /// Was the subnet given by the user (ipam config) rather than taken from the pool?
    public var configuredSubnet: Bool
    /// Endpoints by container name.
    public var endpoints: [String: Endpoint]

    public var allocator: AddressAllocator {
        AddressAllocator(subnet: subnet, gateway: gateway, range: ipRange, used: Set(endpoints.values.map(\.address)))
    }
}

/// One container's attachment to a network.
public struct Endpoint: Codable, Sendable, Equatable {
    public var container: String
    public var address: IPv4Address
    public var mac: MACAddress
    /// The veth end on the bridge (host side).
    public var hostInterface: String
    /// The interface name inside the container (`eth0`, `eth1`, …).
    public var interface: String
    /// The pinned network namespace (`NetworkNamespace.path`).
    public var namespace: String
    /// Extra DNS names on this network (service name, `aliases`, `links`).
    public var aliases: [String]
    /// Published ports whose DNAT target is this endpoint.
    public var ports: [PortBinding]
    /// false: a container not ready yet (its healthcheck has not passed): a host port it
    /// shares with a ready endpoint sends it nothing. nil (older records) means true.
    public var ready: Bool?

    public init(
        container: String, address: IPv4Address, mac: MACAddress, hostInterface: String, interface: String, namespace: String,
        aliases: [String] = [], ports: [PortBinding] = [], ready: Bool? = nil
    ) {
        self.container = container
        self.address = address
        self.mac = mac
        self.hostInterface = hostInterface
        self.interface = interface
        self.namespace = namespace
        self.aliases = aliases
        self.ports = ports
        self.ready = ready
    }
}

/// A published port: host address and port → the container's port, tcp or udp.
public struct PortBinding: Codable, Sendable, Hashable, CustomStringConvertible {
    public enum Proto: String, Codable, Sendable, Hashable { case tcp, udp }

    /// nil = every host address (0.0.0.0).
    public var hostIP: IPv4Address?
    public var hostPort: UInt16
    public var containerPort: UInt16
    public var proto: Proto

    public init(hostIP: IPv4Address? = nil, hostPort: UInt16, containerPort: UInt16, proto: Proto = .tcp) {
        self.hostIP = hostIP
        self.hostPort = hostPort
        self.containerPort = containerPort
        self.proto = proto
    }

    /// `0.0.0.0:8080->80/tcp`, as `docker ps` shows it.
    public var description: String {
        "\(hostIP?.description ?? "0.0.0.0"):\(hostPort)->\(containerPort)/\(proto.rawValue)"
    }
}
