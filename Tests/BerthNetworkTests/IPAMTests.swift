import Foundation
import Testing
@testable import BerthNetwork

@Suite("IPAM")
struct IPAMTests {
    let subnet = IPv4Subnet("10.213.5.0/24")!
    let gateway = IPv4Address("10.213.5.1")!

    @Test func parsesAndFormatsAddresses() {
        #expect(IPv4Address("10.213.0.1")?.description == "10.213.0.1")
        #expect(IPv4Address("10.213.0") == nil)
        #expect(IPv4Address("10.213.0.256") == nil)
        #expect(IPv4Address("010.1.1.1") == nil)
        #expect(IPv4Subnet("10.213.5.7/24") == nil, "host bits set")
        #expect(IPv4Subnet("10.213.5.7/24", strict: false)?.description == "10.213.5.0/24")
        #expect(IPv4Subnet("10.0.0.0/8")!.overlaps(IPv4Subnet("10.213.0.0/16")!))
        #expect(!IPv4Subnet("10.212.0.0/16")!.overlaps(IPv4Subnet("10.213.0.0/16")!))
        #expect(IPv4Address("10.213.0.2")!.reverseName == "2.0.213.10.in-addr.arpa")
        #expect(MACAddress(derivedFrom: IPv4Address("10.213.0.2")!).description == "02:42:0a:d5:00:02")
        #expect(MACAddress("02-42-AC-11-00-02")?.description == "02:42:ac:11:00:02")
        #expect(MACAddress("02:42:ac:11:00") == nil)
    }

    @Test func allocatesLowestFreeSkippingGatewayAndReusesReleased() throws {
        var allocator = AddressAllocator(subnet: subnet, gateway: gateway)
        #expect(try allocator.allocate(network: "n").description == "10.213.5.2")
        #expect(try allocator.allocate(network: "n").description == "10.213.5.3")
        allocator.release(IPv4Address("10.213.5.2")!)
        #expect(try allocator.allocate(network: "n").description == "10.213.5.2")
        #expect(try allocator.allocate(network: "n").description == "10.213.5.4")
    }

    @Test func ipRangeLimitsDynamicButNotStaticAddresses() throws {
        var allocator = AddressAllocator(subnet: subnet, gateway: gateway, range: IPv4Subnet("10.213.5.128/25")!)
        #expect(try allocator.allocate(network: "n").description == "10.213.5.128")
        #expect(try allocator.allocate(IPv4Address("10.213.5.9"), network: "n").description == "10.213.5.9")
    }

    @Test func staticAddressErrors() throws {
        var allocator = AddressAllocator(subnet: subnet, gateway: gateway)
        _ = try allocator.allocate(IPv4Address("10.213.5.10"), network: "p_front")
        #expect(throws: NetworkError(.exists, "address 10.213.5.10 is already in use on network p_front: pick another ipv4_address or remove the container holding it")) {
            try allocator.allocate(IPv4Address("10.213.5.10"), network: "p_front")
        }
        #expect(throws: NetworkError(.invalidArgument, "address 10.213.6.1 is outside network p_front's subnet 10.213.5.0/24: pick an ipv4_address inside it")) {
            try allocator.allocate(IPv4Address("10.213.6.1"), network: "p_front")
        }
        #expect(throws: NetworkError(.invalidArgument, "address 10.213.5.1 is the gateway of network p_front (10.213.5.0/24): pick another ipv4_address")) {
            try allocator.allocate(IPv4Address("10.213.5.1"), network: "p_front")
        }
        #expect(throws: NetworkError(.invalidArgument, "address 10.213.5.255 is the broadcast address of network p_front (10.213.5.0/24): pick another ipv4_address")) {
            try allocator.allocate(IPv4Address("10.213.5.255"), network: "p_front")
        }
    }

    @Test func exhaustionIsAnError() throws {
        var allocator = AddressAllocator(subnet: IPv4Subnet("10.213.9.0/29")!, gateway: IPv4Address("10.213.9.1")!)
        let handed = try (0..<5).map { _ in try allocator.allocate(network: "tiny").description }
        #expect(handed == ["10.213.9.2", "10.213.9.3", "10.213.9.4", "10.213.9.5", "10.213.9.6"])
        #expect(throws: NetworkError(.exhausted, "no free address left in network tiny (subnet 10.213.9.0/29, 5 in use): remove containers or give the network a larger subnet")) {
            try allocator.allocate(network: "tiny")
        }
    }

    @Test func defaultPoolSkipsTakenSubnetsAndHostRoutes() throws {
        #expect(try DefaultAddressPool.choose(taken: [], hostRoutes: []).description == "10.213.0.0/24")
        let routes = [IPv4Subnet("0.0.0.0/0")!, IPv4Subnet("10.213.0.0/23")!, IPv4Subnet("192.0.2.0/24")!]
        #expect(try DefaultAddressPool.choose(taken: [IPv4Subnet("10.213.2.0/24")!], hostRoutes: routes).description == "10.213.3.0/24")
        #expect(throws: NetworkError.self) {
            try DefaultAddressPool.choose(taken: [], hostRoutes: [IPv4Subnet("10.0.0.0/8")!])
        }
    }

    @Test func stateSurvivesReload() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = NetworkStore(root: dir)
        var record = NetworkRecord(
            name: "p_default", id: String(repeating: "a", count: 64), bridge: "br-aaaaaaaaaaaa", subnet: subnet, gateway: gateway,
            ipRange: nil, internal: false, mtu: 1450, labels: ["com.docker.compose.project": "p"], options: [:],
            created: "2026-11-21T17:00:00Z", configuredSubnet: false, endpoints: [:])
        var allocator = record.allocator
        let address = try allocator.allocate(network: record.name)
        record.endpoints["p-web-1"] = Endpoint(
            container: "p-web-1", address: address, mac: MACAddress(derivedFrom: address), hostInterface: "vbx", interface: "eth0",
            namespace: "/run/berth/netns/p-web-1", aliases: ["web"], ports: [PortBinding(hostIP: IPv4Address("127.0.0.1"), hostPort: 8080, containerPort: 80)])
        try store.locked { try store.save(record) }
        let reloaded = try #require(try NetworkStore(root: dir).load("p_default"))
        #expect(reloaded == record)
        var next = reloaded.allocator
        #expect(try next.allocate(network: record.name).description == "10.213.5.3", "the persisted allocation is still taken")
        #expect(try store.all().map(\.name) == ["p_default"])
        try store.delete("p_default")
        #expect(try store.all().isEmpty)
    }

    @Test func corruptStateIsAClearError() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = NetworkStore(root: dir)
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        try "{\"name\": 3}".write(toFile: store.directory + "/bad.json", atomically: true, encoding: .utf8)
        #expect(throws: NetworkError.self) { try store.load("bad") }
        do {
            _ = try store.load("bad")
        } catch let error as NetworkError {
            #expect(error.message.hasPrefix("network state \(store.directory)/bad.json is unreadable ("))
            #expect(error.message.hasSuffix("): remove the file and recreate the network"))
        }
    }
}
