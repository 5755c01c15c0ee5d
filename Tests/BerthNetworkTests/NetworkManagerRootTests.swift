import Foundation
import Testing
@testable import BerthNetwork

/// A private network world for one test: its own store root, run root, nftables tables and
/// name prefix; `teardown` removes whatever the test left, in reverse order.
final class NetworkWorld {
    let prefix = randomPrefix()
    let dir: String
    let manager: NetworkManager
    let table: String
    private var cleanups: [() -> Void] = []

    init() throws {
        dir = try scratchDirectory()
        table = "berth_" + prefix
        manager = NetworkManager(root: dir + "/root", runRoot: dir + "/run", firewall: Firewall(table: table))
        let dir = self.dir
        cleanups.append { try? FileManager.default.removeItem(atPath: dir) }
        let manager = self.manager
        cleanups.append {
            // Whatever a failed test left: endpoints, namespaces, networks, tables.
            for record in (try? manager.list()) ?? [] {
                for endpoint in record.endpoints.values {
                    try? manager.detach(network: record.name, container: endpoint.container)
                    try? NetworkNamespace(path: endpoint.namespace).remove()
                }
                try? manager.remove(name: record.name)
            }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir + "/run/netns")) ?? [] {
                try? NetworkNamespace(path: dir + "/run/netns/" + name).remove()
            }
            _ = try? manager.deleteScheduledBridges()
            try? manager.firewall.apply(FirewallState(networks: [], ports: []))
        }
    }

    func onTeardown(_ action: @escaping () -> Void) { cleanups.append(action) }

    func teardown() {
        while let action = cleanups.popLast() { action() }
    }

    deinit { teardown() }

    /// Kernel objects and state this world still holds: links, pins, tables, records.
    func leftovers(bridges: [String], hostInterfaces: [String]) throws -> [String] {
        var found: [String] = []
        let links = try RouteNetlink().links().map(\.name)
        found += links.filter { bridges.contains($0) || hostInterfaces.contains($0) }.map { "link \($0)" }
        if let pins = try? FileManager.default.contentsOfDirectory(atPath: dir + "/run/netns") {
            found += pins.map { "netns \($0)" }
        }
        let tables = try manager.firewall.listTables()
        found += tables.split(separator: "\n").filter { $0.hasSuffix(" \(table)") || $0.hasSuffix(" \(table)_nat") }.map(String.init)
        found += try manager.list().map { "network \($0.name)" }
        return found
    }
}

@Suite("network manager (root)", .serialized, .enabled(if: isRoot && Firewall().nftPath != nil, "needs root and nft (Debian nftables)"))
struct NetworkManagerRootTests {
    @Test func createAttachDetachRemoveLeavesNothing() throws {
        let world = try NetworkWorld()
        defer { world.teardown() }
        let manager = world.manager
        let name = world.prefix + "_default"
        let record = try manager.create(name: name, options: NetworkOptions(
            subnet: IPv4Subnet("10.254.10.0/24"), driverOptions: [NetworkOptions.mtuOption: "1400"], labels: ["com.docker.compose.project": world.prefix]))
        #expect(record.gateway.description == "10.254.10.1")
        #expect(record.bridge == "br-" + record.id.prefix(12))
        #expect(record.mtu == 1400)
        let host = try RouteNetlink()
        let bridge = try #require(try host.link(name: record.bridge))
        #expect(bridge.kind == "bridge" && bridge.up && bridge.mtu == 1400)
        #expect(try host.addresses().contains(AddressInfo(index: bridge.index, address: record.gateway, prefixLength: 24)))
        #expect(try String(contentsOfFile: "/proc/sys/net/ipv4/conf/\(record.bridge)/route_localnet", encoding: .utf8) == "1\n")
        #expect(try manager.firewall.listTable("inet \(world.table)")?.contains("iifname \"\(record.bridge)\" oifname \"\(record.bridge)\" accept") == true)

        #expect(throws: NetworkError(.exists, "network \(name) already exists")) { try manager.create(name: name) }
        #expect(throws: NetworkError.self) { try manager.create(name: world.prefix + "_clash", options: NetworkOptions(subnet: IPv4Subnet("10.254.10.0/25"))) }

        let namespace = try manager.createNamespace(container: world.prefix + "-web-1")
        let endpoint = try manager.attach(network: name, AttachRequest(
            container: world.prefix + "-web-1", namespace: namespace, aliases: ["web"],
            ports: [PortBinding(hostIP: IPv4Address("127.0.0.1"), hostPort: 18080, containerPort: 80)]))
        #expect(endpoint.address.description == "10.254.10.2")
        #expect(endpoint.interface == "eth0")
        #expect(endpoint.mac.description == "02:42:0a:fe:0a:02")
        let inside = RouteNetlink(transport: try NetlinkSocket(namespace: namespace))
        let eth0 = try #require(try inside.link(name: "eth0"))
        #expect(eth0.up && eth0.mtu == 1400 && eth0.mac == endpoint.mac)
        #expect(try inside.link(name: "lo")?.up == true)
        #expect(try inside.routes().contains { $0.table == 254 && $0.destination.prefixLength == 0 && $0.gateway == record.gateway })
        #expect(try host.link(name: endpoint.hostInterface)?.master == bridge.index)
        // The bridge keeps its own MAC whatever ports come and go (not its lowest port's).
        #expect(bridge.mac?.description == "02:42:0a:fe:0a:01")
        #expect(try host.link(name: record.bridge)?.mac == bridge.mac)
        #expect(try manager.firewall.listTable("ip \(world.table)_nat")?.contains("ip daddr 127.0.0.1 tcp dport 18080 dnat to 10.254.10.2:80") == true)
        // Persisted: a new manager on the same root sees the allocation.
        let reloaded = NetworkManager(root: world.dir + "/root", runRoot: world.dir + "/run", firewall: Firewall(table: world.table))
        #expect(try reloaded.inspect(name: name).endpoints[world.prefix + "-web-1"] == endpoint)

        #expect(throws: NetworkError.self) { try manager.remove(name: name) }
        try manager.detach(network: name, container: world.prefix + "-web-1")
        try manager.removeNamespace(container: world.prefix + "-web-1")
        try manager.remove(name: name)
        #expect(try world.leftovers(bridges: [record.bridge], hostInterfaces: [endpoint.hostInterface]).isEmpty)
    }

    /// A restart can find the host end of the container's previous veth still there (it dies
    /// with the old namespace, asynchronously): attach replaces it instead of failing EEXIST.
    @Test func attachReplacesAStaleHostLinkOfTheSameContainer() throws {
        let world = try NetworkWorld()
        defer { world.teardown() }
        let manager = world.manager
        let record = try manager.create(name: world.prefix + "_default", options: NetworkOptions(subnet: IPv4Subnet("10.254.13.0/24")))
        let container = world.prefix + "-web-1"
        let first = try manager.attach(network: record.name, AttachRequest(container: container, namespace: try manager.createNamespace(container: container)))
        try manager.detach(network: record.name, container: container)
        try manager.removeNamespace(container: container)
        // The leftover: a veth whose host end has the endpoint's name, its peer on the host too.
        let host = try RouteNetlink()
        let stalePeer = "vp" + first.hostInterface.dropFirst(2)
        world.onTeardown { _ = try? RouteNetlink().deleteLink(name: stalePeer) }
        let selfNamespace = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        defer { close(selfNamespace) }
        try host.createVeth(hostName: first.hostInterface, peerName: stalePeer, peerNamespaceFD: selfNamespace)
        let second = try manager.attach(network: record.name, AttachRequest(container: container, namespace: try manager.createNamespace(container: container)))
        #expect(second.hostInterface == first.hostInterface)
        let bridge = try #require(try host.link(name: record.bridge))
        #expect(try host.link(name: second.hostInterface)?.master == bridge.index)
        #expect(try host.link(name: stalePeer) == nil)
        try manager.detach(network: record.name, container: container)
        try manager.removeNamespace(container: container)
        try manager.remove(name: record.name)
        #expect(try world.leftovers(bridges: [record.bridge], hostInterfaces: [first.hostInterface, stalePeer]).isEmpty)
    }

    @Test func internalNetworkHasNoDefaultRouteAndSecondNetworkIsEth1() throws {
        let world = try NetworkWorld()
        defer { world.teardown() }
        let manager = world.manager
        let front = try manager.create(name: world.prefix + "_front", options: NetworkOptions(subnet: IPv4Subnet("10.254.11.0/24")))
        let back = try manager.create(name: world.prefix + "_back", options: NetworkOptions(subnet: IPv4Subnet("10.254.12.0/24"), internal: true))
        let namespace = try manager.createNamespace(container: world.prefix + "-db-1")
        let onBack = try manager.attach(network: back.name, AttachRequest(container: world.prefix + "-db-1", namespace: namespace, ipv4Address: IPv4Address("10.254.12.50")))
        let inside = RouteNetlink(transport: try NetlinkSocket(namespace: namespace))
        #expect(onBack.address.description == "10.254.12.50")
        #expect(try !inside.routes().contains { $0.table == 254 && $0.destination.prefixLength == 0 })
        let onFront = try manager.attach(network: front.name, AttachRequest(container: world.prefix + "-db-1", namespace: namespace))
        #expect(onFront.interface == "eth1")
        #expect(try inside.routes().contains { $0.table == 254 && $0.destination.prefixLength == 0 && $0.gateway == front.gateway })
        #expect(try manager.endpoints(container: world.prefix + "-db-1").map(\.network.name).sorted() == [back.name, front.name].sorted())
        // A failed attach (address taken) leaves no endpoint and no link behind.
        let other = try manager.createNamespace(container: world.prefix + "-db-2")
        #expect(throws: NetworkError.self) {
            try manager.attach(network: back.name, AttachRequest(container: world.prefix + "-db-2", namespace: other, ipv4Address: IPv4Address("10.254.12.50")))
        }
        #expect(try manager.inspect(name: back.name).endpoints.count == 1)
        // The namespace goes first (the container was removed while no supervisor ran).
        try manager.removeNamespace(container: world.prefix + "-db-1")
        try manager.removeNamespace(container: world.prefix + "-db-2")
        #expect(try manager.removeStaleEndpoints() == ["\(back.name)/\(world.prefix)-db-1", "\(front.name)/\(world.prefix)-db-1"])
        #expect(try manager.prune { $0.name.hasPrefix(world.prefix) }.sorted() == [back.name, front.name].sorted())
        #expect(try world.leftovers(bridges: [front.bridge, back.bridge], hostInterfaces: [onBack.hostInterface, onFront.hostInterface]).isEmpty)
    }
}
