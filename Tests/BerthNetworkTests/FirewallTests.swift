import Testing
@testable import BerthNetwork

@Suite("nftables ruleset")
struct FirewallTests {
    @Test func emptyStateOnlyRemovesTheTables() {
        #expect(FirewallRuleset.render(FirewallState(networks: [], ports: [])) == """
            table inet berth
            delete table inet berth
            table ip berth_nat
            delete table ip berth_nat

            """)
    }

    @Test func networksPortsAndIsolation() {
        let state = FirewallState(
            networks: [
                .init(bridge: "br-b", subnet: IPv4Subnet("10.213.1.0/24")!, internal: false),
                .init(bridge: "br-a", subnet: IPv4Subnet("10.213.0.0/24")!, internal: false),
                .init(bridge: "br-i", subnet: IPv4Subnet("10.213.2.0/24")!, internal: true),
            ],
            ports: [
                .init(binding: PortBinding(hostPort: 8080, containerPort: 80), containerAddress: IPv4Address("10.213.0.2")!),
                .init(binding: PortBinding(hostIP: IPv4Address("127.0.0.1"), hostPort: 5353, containerPort: 53, proto: .udp), containerAddress: IPv4Address("10.213.1.3")!),
            ])
        #expect(FirewallRuleset.render(state, table: "berth") == """
            table inet berth
            delete table inet berth
            table ip berth_nat
            delete table ip berth_nat
            table inet berth {
            \tchain forward {
            \t\ttype filter hook forward priority filter; policy accept;
            \t\tiifname "br-a" oifname "br-a" accept
            \t\tiifname "br-b" oifname "br-b" accept
            \t\tiifname "br-i" oifname "br-i" accept
            \t\tiifname "br-i" drop
            \t\toifname "br-i" drop
            \t\tct status dnat accept
            \t\tiifname { "br-a", "br-b" } oifname { "br-a", "br-b" } drop
            \t}
            }
            table ip berth_nat {
            \tchain prerouting {
            \t\ttype nat hook prerouting priority dstnat; policy accept;
            \t\tfib daddr type local jump published
            \t}
            \tchain output {
            \t\ttype nat hook output priority -100; policy accept;
            \t\tfib daddr type local jump published
            \t}
            \tchain published {
            \t\tip daddr 127.0.0.1 udp dport 5353 dnat to 10.213.1.3:53
            \t\ttcp dport 8080 dnat to 10.213.0.2:80
            \t}
            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t\toifname "br-a" ip saddr 127.0.0.0/8 masquerade
            \t\toifname "br-a" ct status dnat ip saddr 10.213.0.0/24 masquerade
            \t\toifname != "br-a" ip saddr 10.213.0.0/24 masquerade
            \t\toifname "br-b" ip saddr 127.0.0.0/8 masquerade
            \t\toifname "br-b" ct status dnat ip saddr 10.213.1.0/24 masquerade
            \t\toifname != "br-b" ip saddr 10.213.1.0/24 masquerade
            \t}
            }

            """)
        #expect(state.needsForwarding)
        #expect(!FirewallState(networks: [.init(bridge: "x", subnet: IPv4Subnet("10.0.0.0/24")!, internal: true)], ports: []).needsForwarding)
    }

    /// One host port published by several endpoints (a replica's old and new container
    /// during a rolling update): one rule, round robin over the ready ones, or over all when
    /// none is ready.
    @Test func sharedHostPortsGoToTheReadyEndpoints() {
        func rules(_ ready: [Bool]) -> [String] {
            let ports = ready.enumerated().map { index, ready in
                FirewallState.Port(
                    binding: PortBinding(hostPort: 8080, containerPort: UInt16(80 + index)), containerAddress: IPv4Address(0x0AD5_0002 + UInt32(2 - index)),
                    ready: ready)
            } + [.init(binding: PortBinding(hostPort: 9090, containerPort: 90), containerAddress: IPv4Address("10.213.0.9")!, ready: false)]
            let text = FirewallRuleset.render(FirewallState(networks: [.init(bridge: "br-a", subnet: IPv4Subnet("10.213.0.0/24")!, internal: false)], ports: ports))
            return text.split(separator: "\n").filter { $0.contains("dport") }.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        #expect(rules([true, false]) == ["tcp dport 8080 dnat to 10.213.0.4:80", "tcp dport 9090 dnat to 10.213.0.9:90"])
        #expect(rules([false, true]) == ["tcp dport 8080 dnat to 10.213.0.3:81", "tcp dport 9090 dnat to 10.213.0.9:90"])
        #expect(rules([true, true]) == ["tcp dport 8080 dnat ip to numgen inc mod 2 map { 0 : 10.213.0.3 . 81, 1 : 10.213.0.4 . 80 }", "tcp dport 9090 dnat to 10.213.0.9:90"])
        #expect(rules([false, false, false]) == ["tcp dport 8080 dnat ip to numgen inc mod 3 map { 0 : 10.213.0.2 . 82, 1 : 10.213.0.3 . 81, 2 : 10.213.0.4 . 80 }", "tcp dport 9090 dnat to 10.213.0.9:90"])
    }

    @Test func portsOfInternalNetworksAreNotPublished() {
        func record(_ name: String, internal isInternal: Bool) -> NetworkRecord {
            let subnet = IPv4Subnet(isInternal ? "10.213.8.0/24" : "10.213.7.0/24")!
            let address = IPv4Address(subnet.network.value + 2)
            return NetworkRecord(
                name: name, id: name, bridge: "br-" + name, subnet: subnet, gateway: IPv4Address(subnet.network.value + 1), ipRange: nil,
                internal: isInternal, mtu: nil, labels: [:], options: [:], created: "", configuredSubnet: false,
                endpoints: ["c": Endpoint(container: "c", address: address, mac: MACAddress(derivedFrom: address), hostInterface: "v", interface: "eth0",
                                          namespace: "/x", ports: [PortBinding(hostPort: 80, containerPort: 80)])])
        }
        let state = FirewallState(records: [record("pub", internal: false), record("int", internal: true)])
        #expect(state.ports == [.init(binding: PortBinding(hostPort: 80, containerPort: 80), containerAddress: IPv4Address("10.213.7.2")!)])
    }
}
