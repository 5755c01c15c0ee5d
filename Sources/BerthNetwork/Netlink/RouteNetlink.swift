/// A link as the kernel lists it.
public struct LinkInfo: Sendable, Equatable {
    public var index: Int32
    public var name: String
    /// IFLA_INFO_KIND: "bridge", "veth", … (nil for physical and loopback devices).
    public var kind: String?
    public var master: Int32?
    public var mtu: UInt32?
    public var mac: MACAddress?
    public var up: Bool
}

/// An IPv4 route as the kernel lists it.
public struct RouteInfo: Sendable, Equatable {
    public var destination: IPv4Subnet
    public var gateway: IPv4Address?
    public var outputInterface: Int32?
    public var table: UInt32
}

/// An IPv4 address on a link.
public struct AddressInfo: Sendable, Equatable {
    public var index: Int32
    public var address: IPv4Address
    public var prefixLength: Int
}

/// rtnetlink operations for bridges, veth pairs, addresses and routes, over one transport
/// (one socket per network namespace, reused). Each request asks for an acknowledgment and
/// turns an NLMSG_ERROR into a `NetlinkError` naming the operation and the object.
public final class RouteNetlink {
    private let transport: any NetlinkTransport
    private var sequence: UInt32

    public init(transport: any NetlinkTransport, firstSequence: UInt32 = 1) {
        self.transport = transport
        sequence = firstSequence
    }

    /// A socket in our own namespace.
    public convenience init() throws {
        self.init(transport: try NetlinkSocket())
    }

    // MARK: requests

    /// `ip link add NAME [address MAC] type bridge [mtu N]`. A bridge without an address of
    /// its own takes the lowest of its ports' and changes it when ports come and go.
    public func createBridge(name: String, mtu: UInt32? = nil, mac: MACAddress? = nil) throws {
        var message = NetlinkMessage(type: NL.newLink, flags: NL.request | NL.ack | NL.create | NL.exclusive)
        message.appendLinkHeader()
        message.appendAttribute(LinkAttribute.ifname, string: name)
        if let mtu { message.appendAttribute(LinkAttribute.mtu, uint32: mtu) }
        if let mac { message.appendAttribute(LinkAttribute.address, mac.bytes) }
        message.appendNested(LinkAttribute.linkInfo) { info in
            info.appendAttribute(LinkAttribute.infoKind, string: "bridge")
        }
        try execute(message, "create bridge \(name)")
    }

    /// A veth pair: `hostName` here (enslaved to `master`, set up in the same request), its
    /// peer `peerName` created straight inside the namespace `peerNamespaceFD` with `peerMAC`.
    /// The peer stays down: asking for it up in this request fails with ENOTCONN.
    public func createVeth(
        hostName: String, peerName: String, peerNamespaceFD: Int32, mtu: UInt32? = nil, master: Int32? = nil,
        peerMAC: MACAddress? = nil
    ) throws {
        var message = NetlinkMessage(type: NL.newLink, flags: NL.request | NL.ack | NL.create | NL.exclusive)
        message.appendLinkHeader(flags: InterfaceFlag.up, change: InterfaceFlag.up)
        message.appendAttribute(LinkAttribute.ifname, string: hostName)
        if let mtu { message.appendAttribute(LinkAttribute.mtu, uint32: mtu) }
        if let master { message.appendAttribute(LinkAttribute.master, int32: master) }
        message.appendNested(LinkAttribute.linkInfo) { info in
            info.appendAttribute(LinkAttribute.infoKind, string: "veth")
            info.appendNested(LinkAttribute.infoData) { data in
                data.appendNested(LinkAttribute.vethPeer) { peer in
                    peer.appendLinkHeader()
                    peer.appendAttribute(LinkAttribute.ifname, string: peerName)
                    if let mtu { peer.appendAttribute(LinkAttribute.mtu, uint32: mtu) }
                    if let peerMAC { peer.appendAttribute(LinkAttribute.address, peerMAC.bytes) }
                    peer.appendAttribute(LinkAttribute.netNamespaceFD, int32: peerNamespaceFD)
                }
            }
        }
        try execute(message, "create veth pair \(hostName) / \(peerName)")
    }

    /// Link state, MTU, MAC and master of an existing link (only what is given changes).
    public func setLink(index: Int32, up: Bool? = nil, mtu: UInt32? = nil, mac: MACAddress? = nil, master: Int32? = nil, name: String? = nil) throws {
        var message = NetlinkMessage(type: NL.newLink, flags: NL.request | NL.ack)
        message.appendLinkHeader(index: index, flags: up == true ? InterfaceFlag.up : 0, change: up == nil ? 0 : InterfaceFlag.up)
        if let name { message.appendAttribute(LinkAttribute.ifname, string: name) }
        if let mtu { message.appendAttribute(LinkAttribute.mtu, uint32: mtu) }
        if let mac { message.appendAttribute(LinkAttribute.address, mac.bytes) }
        if let master { message.appendAttribute(LinkAttribute.master, int32: master) }
        var what: [String] = []
        if let up { what.append(up ? "up" : "down") }
        if let mtu { what.append("mtu \(mtu)") }
        if let mac { what.append("address \(mac)") }
        if let master { what.append("master \(master)") }
        if let name { what.append("name \(name)") }
        try execute(message, "set link \(index) \(what.joined(separator: " "))")
    }

    public func deleteLink(index: Int32) throws {
        var message = NetlinkMessage(type: NL.delLink, flags: NL.request | NL.ack)
        message.appendLinkHeader(index: index)
        try execute(message, "delete link \(index)")
    }

    /// Deletes a link by name; returns false when there is none.
    @discardableResult
    public func deleteLink(name: String) throws -> Bool {
        var message = NetlinkMessage(type: NL.delLink, flags: NL.request | NL.ack)
        message.appendLinkHeader()
        message.appendAttribute(LinkAttribute.ifname, string: name)
        do {
            try execute(message, "delete link \(name)")
            return true
        } catch let error as NetlinkError where error.errno == 19 /* ENODEV */ {
            return false
        }
    }

    /// The index of link `name`, or nil when there is none.
    public func linkIndex(name: String) throws -> Int32? {
        try link(name: name)?.index
    }

    public func link(name: String) throws -> LinkInfo? {
        var message = NetlinkMessage(type: NL.getLink, flags: NL.request)
        message.appendLinkHeader()
        message.appendAttribute(LinkAttribute.ifname, string: name)
        do {
            let replies = try exchange(message, "get link \(name)", dump: false)
            return replies.compactMap(Self.parseLink).first
        } catch let error as NetlinkError where error.errno == 19 /* ENODEV */ {
            return nil
        }
    }

    /// `ip link show`.
    public func links() throws -> [LinkInfo] {
        var message = NetlinkMessage(type: NL.getLink, flags: NL.request | NL.dump)
        message.appendLinkHeader()
        return try exchange(message, "list links", dump: true).compactMap(Self.parseLink)
    }

    /// `ip addr add ADDRESS/PREFIX dev INDEX` (with the broadcast address, as `ip` does for `brd +`).
    public func addAddress(index: Int32, address: IPv4Address, prefixLength: Int) throws {
        var message = NetlinkMessage(type: NL.newAddress, flags: NL.request | NL.ack | NL.create | NL.exclusive)
        message.appendAddressHeader(family: AddressFamily.inet, prefixLength: UInt8(prefixLength), scope: RouteAttribute.scopeUniverse, index: index)
        message.appendAttribute(AddressAttribute.local, address.bytes)
        message.appendAttribute(AddressAttribute.address, address.bytes)
        if prefixLength < 31 {
            let subnet = IPv4Subnet(network: address, prefixLength: prefixLength)
            message.appendAttribute(AddressAttribute.broadcast, subnet.broadcast.bytes)
        }
        try execute(message, "add address \(address)/\(prefixLength) to link \(index)")
    }

    /// `ip -4 addr show`.
    public func addresses() throws -> [AddressInfo] {
        var message = NetlinkMessage(type: NL.getAddress, flags: NL.request | NL.dump)
        message.appendAddressHeader(family: AddressFamily.inet, prefixLength: 0, scope: 0, index: 0)
        return try exchange(message, "list addresses", dump: true).compactMap { reply in
            guard reply.type == NL.newAddress, reply.payload.count >= 8, reply.payload[0] == AddressFamily.inet else { return nil }
            let attributes = NetlinkAttributes(reply.payload, from: 8)
            guard let raw = attributes.payload(AddressAttribute.local) ?? attributes.payload(AddressAttribute.address),
                  let address = IPv4Address(bytes: raw) else { return nil }
            return AddressInfo(index: Int32(bitPattern: readUInt32(reply.payload, 4)), address: address, prefixLength: Int(reply.payload[1]))
        }
    }

    /// `ip route add DEST [via GATEWAY] dev INDEX`; a nil destination is the default route.
    public func addRoute(destination: IPv4Subnet? = nil, gateway: IPv4Address?, index: Int32) throws {
        var message = NetlinkMessage(type: NL.newRoute, flags: NL.request | NL.ack | NL.create | NL.exclusive)
        message.appendRouteHeader(
            family: AddressFamily.inet, destinationLength: UInt8(destination?.prefixLength ?? 0), table: RouteAttribute.tableMain,
            protocol: RouteAttribute.protocolBoot, scope: gateway == nil ? RouteAttribute.scopeLink : RouteAttribute.scopeUniverse,
            type: RouteAttribute.typeUnicast)
        if let destination, destination.prefixLength > 0 {
            message.appendAttribute(RouteAttribute.destination, destination.network.bytes)
        }
        if let gateway { message.appendAttribute(RouteAttribute.gateway, gateway.bytes) }
        message.appendAttribute(RouteAttribute.outputInterface, int32: index)
        let target = destination.map { "\($0)" } ?? "default"
        try execute(message, "add route \(target)\(gateway.map { " via \($0)" } ?? "") on link \(index)")
    }

    /// Every IPv4 route of every table (`ip -4 route show table all`).
    public func routes() throws -> [RouteInfo] {
        var message = NetlinkMessage(type: NL.getRoute, flags: NL.request | NL.dump)
        message.appendRouteHeader(family: AddressFamily.inet, destinationLength: 0, table: 0, protocol: 0, scope: 0, type: 0)
        return try exchange(message, "list routes", dump: true).compactMap { reply in
            guard reply.type == NL.newRoute, reply.payload.count >= 12, reply.payload[0] == AddressFamily.inet else { return nil }
            let attributes = NetlinkAttributes(reply.payload, from: 12)
            let length = Int(reply.payload[1])
            let destination = attributes.payload(RouteAttribute.destination).flatMap { IPv4Address(bytes: $0) } ?? IPv4Address(0)
            return RouteInfo(
                destination: IPv4Subnet(network: destination, prefixLength: length),
                gateway: attributes.payload(RouteAttribute.gateway).flatMap { IPv4Address(bytes: $0) },
                outputInterface: attributes.uint32(RouteAttribute.outputInterface).map { Int32(bitPattern: $0) },
                table: attributes.uint32(RouteAttribute.table) ?? UInt32(reply.payload[4]))
        }
    }

    // MARK: exchange

    /// Sends a request that wants only an acknowledgment.
    func execute(_ message: NetlinkMessage, _ what: String) throws {
        _ = try exchange(message, what, dump: false)
    }

    /// Sends `message` and collects the replies with its sequence number: until the ack
    /// (NLMSG_ERROR with 0) for requests, until NLMSG_DONE for dumps. A non-zero error is
    /// thrown as `NetlinkError`.
    func exchange(_ message: NetlinkMessage, _ what: String, dump: Bool) throws -> [NetlinkReply] {
        let seq = sequence
        sequence &+= 1
        try transport.send(message.finalized(sequence: seq))
        var collected: [NetlinkReply] = []
        while true {
            for reply in try NetlinkReply.parse(transport.receive()) where reply.sequence == seq {
                switch reply.type {
                case NL.error:
                    try Self.checkError(reply, what)
                    return collected
                case NL.done:
                    return collected
                case NL.noop:
                    continue
                default:
                    collected.append(reply)
                    // A GET without NLM_F_ACK answers with exactly one message.
                    if !dump && reply.flags & NL.multi == 0 && message.flags & NL.ack == 0 { return collected }
                }
            }
        }
    }

    /// NLMSG_ERROR payload: int error (negative errno, 0 = ack), the original header (or the
    /// whole request unless capped), then extended-ack TLVs when flagged.
    static func checkError(_ reply: NetlinkReply, _ what: String) throws {
        guard reply.payload.count >= 4 else {
            throw NetworkError(.system, "\(what): truncated netlink error message")
        }
        let code = Int32(bitPattern: readUInt32(reply.payload, 0))
        if code == 0 { return }
        var kernelMessage: String?
        if reply.flags & NL.ackTLVs != 0, reply.payload.count >= 4 + NL.headerSize {
            let originalLength = reply.flags & NL.ackCapped != 0 ? NL.headerSize : Int(readUInt32(reply.payload, 4))
            let tlvStart = 4 + ((originalLength + 3) & ~3)
            if tlvStart <= reply.payload.count {
                kernelMessage = NetlinkAttributes(reply.payload, from: tlvStart).string(NL.errorAttributeMessage)
            }
        }
        throw NetlinkError(operation: what, errno: -code, kernelMessage: kernelMessage)
    }

    static func parseLink(_ reply: NetlinkReply) -> LinkInfo? {
        guard reply.type == NL.newLink, reply.payload.count >= 16 else { return nil }
        let attributes = NetlinkAttributes(reply.payload, from: 16)
        guard let name = attributes.string(LinkAttribute.ifname) else { return nil }
        let kind = attributes.payload(LinkAttribute.linkInfo).flatMap { NetlinkAttributes($0).string(LinkAttribute.infoKind) }
        return LinkInfo(
            index: Int32(bitPattern: readUInt32(reply.payload, 4)), name: name, kind: kind,
            master: attributes.uint32(LinkAttribute.master).map { Int32(bitPattern: $0) },
            mtu: attributes.uint32(LinkAttribute.mtu),
            mac: attributes.payload(LinkAttribute.address).flatMap { MACAddress(bytes: $0) },
            up: readUInt32(reply.payload, 8) & InterfaceFlag.up != 0)
    }
}
