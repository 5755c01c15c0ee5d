/// Address assignment inside one network's subnet: the network, broadcast and gateway
/// addresses are never handed out; dynamic addresses come from `range` (`ip_range`, default the
/// whole subnet), lowest free first; a static address may be anywhere in the subnet.
public struct AddressAllocator: Sendable {
    public var subnet: IPv4Subnet
    public var gateway: IPv4Address
    public var range: IPv4Subnet
    public var used: Set<IPv4Address>

    public init(subnet: IPv4Subnet, gateway: IPv4Address, range: IPv4Subnet? = nil, used: Set<IPv4Address> = []) {
        self.subnet = subnet
        self.gateway = gateway
        self.range = range ?? subnet
        self.used = used
    }

    /// Is `address` an assignable host address of the subnet?
    func isHostAddress(_ address: IPv4Address) -> Bool {
        guard subnet.contains(address), address != gateway else { return false }
        // /31 and /32 have no network and broadcast addresses (RFC 3021).
        if subnet.prefixLength >= 31 { return true }
        return address != subnet.network && address != subnet.broadcast
    }

    /// Assigns `requested` (a static `ipv4_address`) or the lowest free address of the range.
    public mutating func allocate(_ requested: IPv4Address? = nil, network: String) throws -> IPv4Address {
        if let requested {
            guard subnet.contains(requested) else {
                throw NetworkError(.invalidArgument, "address \(requested) is outside network \(network)'s subnet \(subnet): pick an ipv4_address inside it")
            }
            guard isHostAddress(requested) else {
                let role = requested == gateway ? "the gateway" : requested == subnet.network ? "the network address" : "the broadcast address"
                throw NetworkError(.invalidArgument, "address \(requested) is \(role) of network \(network) (\(subnet)): pick another ipv4_address")
            }
            guard !used.contains(requested) else {
                throw NetworkError(.exists, "address \(requested) is already in use on network \(network): pick another ipv4_address or remove the container holding it")
            }
            used.insert(requested)
            return requested
        }
        var candidate = range.first.value
        let last = range.last.value
        while true {
            let address = IPv4Address(candidate)
            if isHostAddress(address) && !used.contains(address) {
                used.insert(address)
                return address
            }
            if candidate == last { break }
            candidate += 1
        }
        throw NetworkError(.exhausted, "no free address left in network \(network) (\(range == subnet ? "subnet \(subnet)" : "ip_range \(range)"), \(used.count) in use): remove containers or give the network a larger subnet")
    }

    public mutating func release(_ address: IPv4Address) {
        used.remove(address)
    }
}

/// berth's default address pool and the choice of a free subnet from it.
///
/// 10.213.0.0/16 in /24 steps: away from Docker (172.17–31.0.0/16, 192.168.0.0/16 pools),
/// podman (10.88.0.0/16, 10.89.x.0/24), libvirt (192.168.122.0/24), Kubernetes defaults
/// (10.96.0.0/12 services, 10.244.0.0/16 flannel, 10.42/10.43 k3s) and CGNAT/Tailscale
/// (100.64.0.0/10). A subnet that overlaps a host route or another berth network is skipped,
/// because a bridge on a colliding subnet silently loses to the older route.
public enum DefaultAddressPool {
    public static let base = IPv4Subnet(network: IPv4Address(10, 213, 0, 0), prefixLength: 16)
    public static let subnetLength = 24

    public static func choose(taken: [IPv4Subnet], hostRoutes: [IPv4Subnet], base: IPv4Subnet = base, subnetLength: Int = subnetLength) throws -> IPv4Subnet {
        // The default route (and any /0) overlaps everything and says nothing about use.
        let blocking = taken + hostRoutes.filter { $0.prefixLength > 0 }
        let step = UInt32(1) << UInt32(32 - subnetLength)
        var network = base.network.value
        while base.contains(IPv4Address(network)) {
            let candidate = IPv4Subnet(network: IPv4Address(network), prefixLength: subnetLength)
            if !blocking.contains(where: { $0.overlaps(candidate) }) { return candidate }
            let (next, overflow) = network.addingReportingOverflow(step)
            if overflow { break }
            network = next
        }
        throw NetworkError(.exhausted, "berth's default address pool \(base) has no free /\(subnetLength) left (all used by berth networks or host routes): remove unused networks (berth network prune) or give the network an explicit ipam subnet")
    }
}
