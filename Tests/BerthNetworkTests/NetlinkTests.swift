import Testing
@testable import BerthNetwork

/// Records every request and answers from a queue of canned datagrams; when the queue is
/// empty it acknowledges the last request (NLMSG_ERROR with error 0).
final class FakeNetlink: NetlinkTransport {
    var sent: [[UInt8]] = []
    var replies: [[UInt8]] = []

    func send(_ bytes: [UInt8]) throws { sent.append(bytes) }

    func receive() throws -> [UInt8] {
        if !replies.isEmpty { return replies.removeFirst() }
        return FakeNetlink.error(0, for: sent.last ?? [])
    }

    /// An NLMSG_ERROR reply to `request` (capped: only the original header is echoed).
    static func error(_ code: Int32, for request: [UInt8], kernelMessage: String? = nil) -> [UInt8] {
        var reply = NetlinkMessage(type: NL.error, flags: kernelMessage == nil ? NL.ackCapped : NL.ackCapped | NL.ackTLVs)
        reply.append(code)
        reply.append(bytes: Array(request.prefix(16)))
        if let kernelMessage { reply.appendAttribute(NL.errorAttributeMessage, string: kernelMessage) }
        return reply.finalized(sequence: request.count >= 12 ? readUInt32(request, 8) : 0)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite("netlink messages")
struct NetlinkTests {
    @Test func bridgeCreateBytes() throws {
        let fake = FakeNetlink()
        let netlink = RouteNetlink(transport: fake)
        try netlink.createBridge(name: "br0", mtu: 1400)
        #expect(fake.sent.count == 1)
        // nlmsghdr: len 64, RTM_NEWLINK, REQUEST|ACK|EXCL|CREATE, seq 1, pid 0
        // ifinfomsg: all zero
        // IFLA_IFNAME "br0\0"; IFLA_MTU 1400; IFLA_LINKINFO(nested) { IFLA_INFO_KIND "bridge\0" + pad }
        #expect(hex(fake.sent[0]) == "40000000" + "10000506" + "01000000" + "00000000"
            + "00000000" + "00000000" + "00000000" + "00000000"
            + "08000300" + "62723000"
            + "08000400" + "78050000"
            + "10001280" + "0b000100" + "62726964" + "67650000")
    }

    @Test func vethWithPeerInNamespaceBytes() throws {
        let fake = FakeNetlink()
        let netlink = RouteNetlink(transport: fake, firstSequence: 7)
        try netlink.createVeth(
            hostName: "vb1", peerName: "eth0", peerNamespaceFD: 9, mtu: 1500, master: 4,
            peerMAC: MACAddress("02:42:0a:d5:00:02"))
        let expected = "88000000" + "10000506" + "07000000" + "00000000"
            // ifinfomsg: family 0, type 0, index 0, flags IFF_UP, change IFF_UP
            + "00000000" + "00000000" + "01000000" + "01000000"
            + "08000300" + "76623100"  // IFLA_IFNAME "vb1"
            + "08000400" + "dc050000"  // IFLA_MTU 1500
            + "08000a00" + "04000000"  // IFLA_MASTER 4
            + "50001280"  // IFLA_LINKINFO, 80 bytes
            + "09000100" + "76657468" + "00000000"  // IFLA_INFO_KIND "veth"
            + "40000280"  // IFLA_INFO_DATA, 64 bytes
            + "3c000180"  // VETH_INFO_PEER, 60 bytes: ifinfomsg + attributes
            + "00000000" + "00000000" + "00000000" + "00000000"
            + "09000300" + "65746830" + "00000000"  // IFLA_IFNAME "eth0"
            + "08000400" + "dc050000"  // IFLA_MTU
            + "0a000100" + "02420ad5" + "00020000"  // IFLA_ADDRESS
            + "08001c00" + "09000000"  // IFLA_NET_NS_FD 9
        #expect(hex(fake.sent[0]) == expected)
    }

    @Test func addressRouteAndLinkBytes() throws {
        let fake = FakeNetlink()
        let netlink = RouteNetlink(transport: fake)
        try netlink.addAddress(index: 3, address: IPv4Address("10.213.0.2")!, prefixLength: 24)
        #expect(hex(fake.sent[0]) == "30000000" + "14000506" + "01000000" + "00000000"
            + "02180000" + "03000000"  // ifaddrmsg AF_INET /24 scope universe, index 3
            + "08000200" + "0ad50002"  // IFA_LOCAL
            + "08000100" + "0ad50002"  // IFA_ADDRESS
            + "08000400" + "0ad500ff")  // IFA_BROADCAST
        try netlink.addRoute(gateway: IPv4Address("10.213.0.1")!, index: 3)
        #expect(hex(fake.sent[1]) == "2c000000" + "18000506" + "02000000" + "00000000"
            + "02000000" + "fe030001" + "00000000"  // rtmsg: AF_INET, dst_len 0, main, boot, universe, unicast
            + "08000500" + "0ad50001"  // RTA_GATEWAY
            + "08000400" + "03000000")  // RTA_OIF
        try netlink.setLink(index: 3, up: true, mtu: 9000)
        #expect(hex(fake.sent[2]) == "28000000" + "10000500" + "03000000" + "00000000"
            + "00000000" + "03000000" + "01000000" + "01000000"
            + "08000400" + "28230000")
        try netlink.deleteLink(index: 5)
        #expect(hex(fake.sent[3]) == "20000000" + "11000500" + "04000000" + "00000000"
            + "00000000" + "05000000" + "00000000" + "00000000")
    }

    @Test func kernelErrorCarriesErrnoAndExtendedAck() throws {
        let fake = FakeNetlink()
        let netlink = RouteNetlink(transport: fake)
        fake.replies = [FakeNetlink.error(-17, for: NetlinkMessage(type: NL.newLink, flags: 0).finalized(sequence: 1), kernelMessage: "Link already exists")]
        #expect(throws: NetlinkError(operation: "create bridge br0", errno: 17, kernelMessage: "Link already exists")) {
            try netlink.createBridge(name: "br0")
        }
        let error = NetlinkError(operation: "create bridge br0", errno: 17, kernelMessage: "Link already exists")
        #expect(error.description == "create bridge br0: EEXIST (File exists): Link already exists")
    }

    @Test func repliesWithOtherSequenceNumbersAreSkipped() throws {
        let fake = FakeNetlink()
        let netlink = RouteNetlink(transport: fake, firstSequence: 5)
        // A stale error for sequence 4, then the real ack for 5.
        fake.replies = [
            FakeNetlink.error(-1, for: NetlinkMessage(type: NL.newLink, flags: 0).finalized(sequence: 4)),
            FakeNetlink.error(0, for: NetlinkMessage(type: NL.newLink, flags: 0).finalized(sequence: 5)),
        ]
        try netlink.setLink(index: 2, up: false)
        #expect(fake.sent.count == 1)
    }

    @Test func linkDumpIsParsed() throws {
        let fake = FakeNetlink()
        let netlink = RouteNetlink(transport: fake)
        var link = NetlinkMessage(type: NL.newLink, flags: NL.multi)
        link.appendLinkHeader(index: 7, flags: InterfaceFlag.up)
        link.appendAttribute(LinkAttribute.ifname, string: "br-x")
        link.appendAttribute(LinkAttribute.mtu, uint32: 1500)
        link.appendAttribute(LinkAttribute.address, [2, 0x42, 0, 0, 0, 1])
        link.appendNested(LinkAttribute.linkInfo) { $0.appendAttribute(LinkAttribute.infoKind, string: "bridge") }
        let done = NetlinkMessage(type: NL.done, flags: NL.multi).finalized(sequence: 1)
        fake.replies = [link.finalized(sequence: 1) + done]
        let links = try netlink.links()
        #expect(links == [LinkInfo(index: 7, name: "br-x", kind: "bridge", master: nil, mtu: 1500, mac: MACAddress("02:42:00:00:00:01"), up: true)])
        // The dump request: RTM_GETLINK with REQUEST|DUMP.
        #expect(hex(Array(fake.sent[0].prefix(8))) == "20000000" + "12000103")
    }

    @Test func malformedRepliesAreErrorsNotCrashes() throws {
        #expect(throws: NetworkError.self) { try NetlinkReply.parse([0xff, 0xff, 0xff, 0xff] + [UInt8](repeating: 0, count: 12)) }
        for _ in 0..<2000 {
            let bytes = (0..<Int.random(in: 0...64)).map { _ in UInt8.random(in: 0...255) }
            _ = try? NetlinkReply.parse(bytes)
            _ = NetlinkAttributes(bytes)
        }
    }
}
