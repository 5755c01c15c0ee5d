/// The inputs of berth's nftables ruleset: every berth network and every published port.
public struct FirewallState: Sendable, Equatable {
    public struct Network: Sendable, Equatable {
        public var bridge: String
        public var subnet: IPv4Subnet
        public var `internal`: Bool
        public init(bridge: String, subnet: IPv4Subnet, internal: Bool) {
            self.bridge = bridge
            self.subnet = subnet
            self.internal = `internal`
        }
    }

    public struct Port: Sendable, Equatable {
        public var binding: PortBinding
        public var containerAddress: IPv4Address
        /// Several endpoints may publish one host port (a replica's old and new container
        /// during a rolling update): traffic goes to the ready ones, or to all of them when
        /// none is ready.
        public var ready: Bool
        public init(binding: PortBinding, containerAddress: IPv4Address, ready: Bool = true) {
            self.binding = binding
            self.containerAddress = containerAddress
            self.ready = ready
        }
    }

    public var networks: [Network]
    public var ports: [Port]

    public init(networks: [Network], ports: [Port]) {
        self.networks = networks
        self.ports = ports
    }

    /// The state of every stored network (ports of internal networks are not published,
    /// as in Docker: nothing may reach in or out).
    public init(records: [NetworkRecord]) {
        networks = records.map { Network(bridge: $0.bridge, subnet: $0.subnet, internal: $0.internal) }
        ports = records.filter { !$0.internal }.flatMap { record in
            record.endpoints.values.sorted { $0.container < $1.container }.flatMap { endpoint in
                endpoint.ports.map { Port(binding: $0, containerAddress: endpoint.address, ready: endpoint.ready ?? true) }
            }
        }
    }

    /// Forwarding must be on when anything leaves a bridge through the host.
    public var needsForwarding: Bool { networks.contains { !$0.internal } }
}

/// Renders berth's whole nftables configuration as one `nft -f` script. berth owns two
/// tables, `inet berth` (filtering) and `ip berth_nat` (NAT); the script declares, deletes and
/// recreates both, so applying it is one atomic transaction that replaces everything berth
/// had, whatever it was, and touches nothing else.
///
/// - forward: traffic within a bridge passes; an internal network's bridge forwards nothing
///   in or out; a published port (DNAT) may be reached from anywhere not internal; other
///   traffic between two berth bridges is dropped (isolation between networks and projects:
///   a container on both networks talks over its own interfaces, never through forwarding).
/// - NAT: published ports are DNATed from prerouting (other hosts, containers) and output
///   (this host, including 127.0.0.1, which needs `route_localnet` on the bridge and a
///   masquerade of 127.0.0.0/8 sources); hairpin traffic from a network to its own published
///   port is masqueraded so replies come back through the host; egress of non-internal
///   networks is masqueraded.
public enum FirewallRuleset {
    /// `table` names both tables: `inet <table>` and `ip <table>_nat` (tests use their own).
    public static func render(_ state: FirewallState, table: String = "berth") -> String {
        let filterTable = "inet \(table)"
        let natTable = "ip \(table)_nat"
        var lines = [
            "table \(filterTable)", "delete table \(filterTable)",
            "table \(natTable)", "delete table \(natTable)",
        ]
        let networks = state.networks.sorted { $0.bridge < $1.bridge }
        guard !networks.isEmpty else { return lines.joined(separator: "\n") + "\n" }

        lines.append("table \(filterTable) {")
        lines.append("\tchain forward {")
        lines.append("\t\ttype filter hook forward priority filter; policy accept;")
        for network in networks {
            lines.append("\t\tiifname \(quoted(network.bridge)) oifname \(quoted(network.bridge)) accept")
        }
        for network in networks where network.internal {
            lines.append("\t\tiifname \(quoted(network.bridge)) drop")
            lines.append("\t\toifname \(quoted(network.bridge)) drop")
        }
        let isolated = networks.filter { !$0.internal }
        if isolated.count > 1 {
            let set = "{ " + isolated.map { quoted($0.bridge) }.joined(separator: ", ") + " }"
            lines.append("\t\tct status dnat accept")
            lines.append("\t\tiifname \(set) oifname \(set) drop")
        }
        lines.append("\t}")
        lines.append("}")

        lines.append("table \(natTable) {")
        lines.append("\tchain prerouting {")
        lines.append("\t\ttype nat hook prerouting priority dstnat; policy accept;")
        lines.append("\t\tfib daddr type local jump published")
        lines.append("\t}")
        lines.append("\tchain output {")
        lines.append("\t\ttype nat hook output priority -100; policy accept;")
        lines.append("\t\tfib daddr type local jump published")
        lines.append("\t}")
        lines.append("\tchain published {")
        for targets in hostPorts(state.ports) {
            let b = targets[0].binding
            let address = b.hostIP.map { "ip daddr \($0) " } ?? ""
            let match = "\t\t\(address)\(b.proto.rawValue) dport \(b.hostPort)"
            if targets.count == 1 {
                lines.append("\(match) dnat to \(targets[0].containerAddress):\(b.containerPort)")
            } else {
                // Round robin over the targets, in one rule: switching targets is one
                // transaction, and connections already made keep theirs (conntrack).
                let map = targets.enumerated().map { "\($0.offset) : \($0.element.containerAddress) . \($0.element.binding.containerPort)" }
                lines.append("\(match) dnat ip to numgen inc mod \(targets.count) map { \(map.joined(separator: ", ")) }")
            }
        }
        lines.append("\t}")
        lines.append("\tchain postrouting {")
        lines.append("\t\ttype nat hook postrouting priority srcnat; policy accept;")
        for network in isolated {
            let bridge = quoted(network.bridge)
            lines.append("\t\toifname \(bridge) ip saddr 127.0.0.0/8 masquerade")
            lines.append("\t\toifname \(bridge) ct status dnat ip saddr \(network.subnet) masquerade")
            lines.append("\t\toifname != \(bridge) ip saddr \(network.subnet) masquerade")
        }
        lines.append("\t}")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The targets of each published host port (address, port, protocol): its ready
    /// endpoints, or all of them when none is ready; in rule order, targets by address.
    static func hostPorts(_ ports: [FirewallState.Port]) -> [[FirewallState.Port]] {
        var groups: [[FirewallState.Port]] = []
        for port in ports.sorted(by: portOrder) {
            if let last = groups.last?.first, last.binding.hostIP == port.binding.hostIP,
               last.binding.hostPort == port.binding.hostPort, last.binding.proto == port.binding.proto {
                groups[groups.count - 1].append(port)
            } else {
                groups.append([port])
            }
        }
        return groups.map { group in
            let ready = group.filter(\.ready)
            return (ready.isEmpty ? group : ready).sorted { $0.containerAddress.value < $1.containerAddress.value }
        }
    }

    /// Host-address-specific rules before wildcard ones, then by port: the first match wins.
    static func portOrder(_ a: FirewallState.Port, _ b: FirewallState.Port) -> Bool {
        let ka = (a.binding.hostIP == nil ? 1 : 0, a.binding.hostIP?.value ?? 0, a.binding.proto.rawValue, a.binding.hostPort)
        let kb = (b.binding.hostIP == nil ? 1 : 0, b.binding.hostIP?.value ?? 0, b.binding.proto.rawValue, b.binding.hostPort)
        return ka < kb
    }

    static func quoted(_ name: String) -> String { "\"\(name)\"" }
}
