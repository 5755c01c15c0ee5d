import Foundation
import Testing
@testable import BerthNetwork

/// `count` consecutive free TCP and UDP ports on 127.0.0.1 below the ephemeral range (checked
/// by binding them; released again before the test takes them).
func freePortRange(_ count: UInt16) throws -> ClosedRange<UInt16> {
    for low in stride(from: UInt16.random(in: 21000..<22000), to: 32000, by: 11) {
        let range = low...(low + count - 1)
        let held = range.map { port -> PortReservation? in
            try? PortReservation.reserve([
                PortRequest(hostIP: IPv4Address("127.0.0.1"), hostPorts: port...port, containerPort: 80),
                PortRequest(hostIP: IPv4Address("127.0.0.1"), hostPorts: port...port, containerPort: 80, proto: .udp),
            ], owner: "test")
        }
        held.forEach { $0?.release() }
        if held.allSatisfy({ $0 != nil }) { return range }
    }
    throw NetworkError(.exhausted, "no \(count) free consecutive ports in 21000-32000")
}

@Suite("published ports shared by replica slots")
struct PublishedPortsTests {
    let loopback = IPv4Address("127.0.0.1")!

    /// Replica N takes the N-th port of its range; a second container of the same slot (the
    /// new container of a rolling update) shares it; the port closes with its last holder.
    @Test func replicasTakeTheirPortOfTheRangeAndSlotsShareIt() throws {
        let range = try freePortRange(3)
        let table = PublishedPorts()
        let request = [PortRequest(hostIP: loopback, hostPorts: range, containerPort: 80)]
        func port(_ bindings: [PortBinding]) -> UInt16? { bindings.first?.hostPort }
        let third = try table.reserve(request, holder: "c3", slot: "web#3", preferredOffset: 2, owner: "container web-3")
        let first = try table.reserve(request, holder: "c1", slot: "web#1", preferredOffset: 0, owner: "container web-1")
        #expect(port(third) == range.lowerBound + 2 && port(first) == range.lowerBound)
        #expect(!table.isShared(holder: "c1"))

        // The new container of replica 1 publishes on replica 1's port; the container port may differ.
        let next = try table.reserve(
            [PortRequest(hostIP: loopback, hostPorts: range, containerPort: 8080)], holder: "n1", slot: "web#1", preferredOffset: 0,
            owner: "container n1")
        #expect(next == [PortBinding(hostIP: loopback, hostPort: range.lowerBound, containerPort: 8080)])
        #expect(table.isShared(holder: "c1") && table.isShared(holder: "n1") && table.count == 2)

        // Replica 4 prefers the 4th port (there is none: the 1st) but takes the free one.
        let fourth = try table.reserve(request, holder: "c4", slot: "web#4", preferredOffset: 3, owner: "container web-4")
        #expect(port(fourth) == range.lowerBound + 1)
        #expect(throws: NetworkError(.portInUse, "container web-5: every host port of \(range.lowerBound)-\(range.upperBound)/tcp on 127.0.0.1 is already in use: free one or choose another range")) {
            try table.reserve(request, holder: "c5", slot: "web#5", preferredOffset: 4, owner: "container web-5")
        }

        // The old container goes: the port stays held for the new one, then is free.
        table.release(holder: "c1")
        #expect(!table.isShared(holder: "n1") && table.count == 3)
        #expect(throws: NetworkError.self) { try PortReservation.reserve([PortRequest(hostIP: loopback, hostPorts: range.lowerBound...range.lowerBound, containerPort: 1)], owner: "x") }
        for holder in ["n1", "c3", "c4"] { table.release(holder: holder) }
        #expect(table.count == 0)
        let again = try PortReservation.reserve(request, owner: "x")
        #expect(again.bindings.first?.hostPort == range.lowerBound)
        again.release()
    }

    /// A fixed port of another slot is a conflict; a random port is shared by its slot only;
    /// a failing request gives back what the call took.
    @Test func fixedAndRandomPorts() throws {
        let range = try freePortRange(2)
        let table = PublishedPorts()
        let fixed = PortRequest(hostIP: loopback, hostPorts: range.lowerBound...range.lowerBound, containerPort: 80)
        _ = try table.reserve([fixed], holder: "a1", slot: "a#1", owner: "container a-1")
        #expect(throws: NetworkError(.portInUse, "container b-1: host port 127.0.0.1:\(range.lowerBound)/tcp is already published by another container of this project: publish on another port")) {
            try table.reserve([fixed], holder: "b1", slot: "b#1", owner: "container b-1")
        }
        let random = PortRequest(hostIP: loopback, containerPort: 53, proto: .udp)
        let old = try table.reserve([random], holder: "a1-random", slot: "a#1", owner: "a-1")
        let new = try table.reserve([random], holder: "a1-next", slot: "a#1", owner: "a-1 next")
        let other = try table.reserve([random], holder: "a2", slot: "a#2", owner: "a-2")
        #expect(old == new && old != other && (old.first?.hostPort ?? 0) > 0)

        // All or nothing: the UDP port the call took first is given back when TCP fails.
        let udp = PortRequest(hostIP: loopback, hostPorts: range.upperBound...range.upperBound, containerPort: 53, proto: .udp)
        #expect(throws: NetworkError.self) { try table.reserve([udp, fixed], holder: "c1", slot: "c#1", owner: "c-1") }
        let count = table.count
        _ = try table.reserve([udp], holder: "d1", slot: "d#1", owner: "d-1")
        #expect(table.count == count + 1)
    }
}
