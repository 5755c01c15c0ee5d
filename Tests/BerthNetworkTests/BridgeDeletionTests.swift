import Foundation
import Testing
@testable import BerthNetwork

/// Networks removed with their bridge left to a background deletion (`down`): gone from
/// berth at once, the bridge deleted by whoever holds the deletions' lock, and never met
/// half-deleted by a new network.
@Suite("bridge deletion (root)", .serialized, .enabled(if: isRoot && Firewall().nftPath != nil, "needs root and nft (Debian nftables)"))
struct BridgeDeletionTests {
    @Test func removedNetworkLeavesItsBridgeToTheDeletions() throws {
        let world = try NetworkWorld()
        defer { world.teardown() }
        let manager = world.manager
        let bridgeName = "b" + world.prefix
        let options = NetworkOptions(subnet: IPv4Subnet("10.254.30.0/24"), driverOptions: [NetworkOptions.bridgeNameOption: bridgeName])
        _ = try manager.create(name: world.prefix + "_a", options: options)
        try manager.removeLeavingBridge(name: world.prefix + "_a")
        // Gone from berth: record and rules; the link waits for its deletion.
        #expect(try manager.list().isEmpty)
        #expect(try manager.firewall.listTable("inet \(world.table)") == nil)
        #expect(try RouteNetlink().link(name: bridgeName) != nil)
        #expect(manager.bridgeDeletions.scheduled() == [bridgeName])

        // A new network with the same bridge name and subnet deletes the old bridge first.
        let again = try manager.create(name: world.prefix + "_b", options: options)
        #expect(again.bridge == bridgeName)
        #expect(manager.bridgeDeletions.scheduled() == [])
        try manager.remove(name: world.prefix + "_b")
        #expect(try world.leftovers(bridges: [bridgeName], hostInterfaces: []) == [])
    }

    @Test func theLockHolderDeletesAndAMarkerOfALiveNetworkIsDropped() throws {
        let world = try NetworkWorld()
        defer { world.teardown() }
        let manager = world.manager
        let live = try manager.create(name: world.prefix + "_live", options: NetworkOptions(subnet: IPv4Subnet("10.254.31.0/24")))
        let gone = try manager.create(name: world.prefix + "_gone", options: NetworkOptions(subnet: IPv4Subnet("10.254.32.0/24")))
        try manager.removeLeavingBridge(name: gone.name)
        // As after a crash between the marker and the record's removal.
        try manager.bridgeDeletions.schedule(live.bridge)
        #expect(Set(manager.bridgeDeletions.scheduled()) == [live.bridge, gone.bridge])

        // A descriptor that does not hold the lock is refused.
        let stray = open(manager.bridgeDeletions.directory + "/.lock", O_RDWR | O_CLOEXEC)
        defer { close(stray) }
        let holder = try manager.bridgeDeletions.lock()
        #expect(throws: NetworkError.self) { try manager.deleteScheduledBridges(holding: stray) }
        #expect(try manager.deleteScheduledBridges(holding: holder) == [gone.bridge])
        close(holder)
        #expect(manager.bridgeDeletions.scheduled() == [])
        #expect(try RouteNetlink().link(name: gone.bridge) == nil)
        #expect(try RouteNetlink().link(name: live.bridge) != nil)
        #expect(try manager.inspect(name: live.name).bridge == live.bridge)
        try manager.remove(name: live.name)
        #expect(try world.leftovers(bridges: [live.bridge, gone.bridge], hostInterfaces: []) == [])
    }
}
