import Foundation
import Testing
@testable import BerthNetwork

@Suite("netlink against the kernel (root)", .enabled(if: isRoot, rootGateReason))
struct NetlinkRootTests {
    @Test func bridgeVethIntoNamespaceAddressesAndRoutes() throws {
        let prefix = randomPrefix()
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let host = try RouteNetlink()
        let bridge = prefix + "b"
        let veth = prefix + "v"
        defer { _ = try? host.deleteLink(name: veth); _ = try? host.deleteLink(name: bridge) }

        try host.createBridge(name: bridge, mtu: 1400)
        let bridgeLink = try #require(try host.link(name: bridge))
        #expect(bridgeLink.kind == "bridge")
        #expect(bridgeLink.mtu == 1400)
        try host.addAddress(index: bridgeLink.index, address: IPv4Address("10.254.77.1")!, prefixLength: 24)
        try host.setLink(index: bridgeLink.index, up: true)

        let namespace = try NetworkNamespace.create(at: dir + "/ns")
        defer { try? namespace.remove() }
        #expect(namespace.exists)
        let mac = MACAddress(derivedFrom: IPv4Address("10.254.77.2")!)
        try namespace.withDescriptor { fd in
            try host.createVeth(hostName: veth, peerName: "eth0", peerNamespaceFD: fd, mtu: 1400, master: bridgeLink.index, peerMAC: mac)
        }
        let hostEnd = try #require(try host.link(name: veth))
        #expect(hostEnd.master == bridgeLink.index)
        #expect(hostEnd.up)
        #expect(hostEnd.kind == "veth")

        let inside = RouteNetlink(transport: try NetlinkSocket(namespace: namespace))
        let eth0 = try #require(try inside.link(name: "eth0"))
        #expect(eth0.mac == mac)
        #expect(eth0.mtu == 1400)
        #expect(!eth0.up)
        try inside.setLink(index: eth0.index, up: true)
        try inside.addAddress(index: eth0.index, address: IPv4Address("10.254.77.2")!, prefixLength: 24)
        try inside.addRoute(gateway: IPv4Address("10.254.77.1")!, index: eth0.index)
        let routes = try inside.routes().filter { $0.table == 254 }
        #expect(routes.contains(RouteInfo(destination: IPv4Subnet("0.0.0.0/0")!, gateway: IPv4Address("10.254.77.1")!, outputInterface: eth0.index, table: 254)))
        #expect(try inside.addresses().contains(AddressInfo(index: eth0.index, address: IPv4Address("10.254.77.2")!, prefixLength: 24)))
        // The peer is not in our namespace.
        #expect(try host.links().allSatisfy { $0.name != "eth0" || $0.index != eth0.index || $0.mac != mac })

        // A duplicate is refused with EEXIST and names the object.
        #expect(throws: NetlinkError.self) { try host.createBridge(name: bridge) }
        do {
            try host.createBridge(name: bridge)
        } catch let error as NetlinkError {
            #expect(error.errno == EEXIST)
            #expect(error.description.hasPrefix("create bridge \(bridge): EEXIST (File exists)"))
        }
        #expect(try host.deleteLink(name: veth))
        #expect(try host.link(name: veth) == nil)
        #expect(try !host.deleteLink(name: veth))
    }
}
