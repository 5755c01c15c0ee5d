/// Builds one netlink request: a 16-byte `nlmsghdr`, a fixed family header (`ifinfomsg`,
/// `ifaddrmsg`, `rtmsg`), then `rtattr`s, nested where needed. Integers are in host byte
/// order, as netlink wants; addresses are in network order, as the kernel stores them.
public struct NetlinkMessage: Sendable, Equatable {
    public private(set) var bytes: [UInt8]

    public init(type: UInt16, flags: UInt16) {
        bytes = []
        bytes.reserveCapacity(128)
        append(UInt32(0))  // length, set by `finalized`
        append(type)
        append(flags)
        append(UInt32(0))  // sequence
        append(UInt32(0))  // port id: 0 lets the kernel fill in ours
    }

    public var type: UInt16 { UInt16(bytes[4]) | UInt16(bytes[5]) << 8 }
    public var flags: UInt16 { UInt16(bytes[6]) | UInt16(bytes[7]) << 8 }

    public mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    public mutating func append(bytes more: [UInt8]) { bytes.append(contentsOf: more) }

    /// `struct ifinfomsg`: family, pad, type, index, flags, change.
    public mutating func appendLinkHeader(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0, family: UInt8 = 0) {
        append(family)
        append(UInt8(0))
        append(UInt16(0))
        append(index)
        append(flags)
        append(change)
    }

    /// `struct ifaddrmsg`: family, prefix length, flags, scope, index.
    public mutating func appendAddressHeader(family: UInt8, prefixLength: UInt8, scope: UInt8, index: Int32) {
        append(family)
        append(prefixLength)
        append(UInt8(0))
        append(scope)
        append(UInt32(bitPattern: index))
    }

    /// `struct rtmsg`: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
    public mutating func appendRouteHeader(
        family: UInt8, destinationLength: UInt8, table: UInt8, protocol: UInt8, scope: UInt8, type: UInt8
    ) {
        append(family)
        append(destinationLength)
        append(UInt8(0))
        append(UInt8(0))
        append(table)
        append(`protocol`)
        append(scope)
        append(type)
        append(UInt32(0))
    }

    /// One `rtattr`: length (header + payload, unpadded), type, payload padded to 4 bytes.
    public mutating func appendAttribute(_ type: UInt16, _ payload: [UInt8]) {
        append(UInt16(4 + payload.count))
        append(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    public mutating func appendAttribute(_ type: UInt16, string: String) {
        appendAttribute(type, Array(string.utf8) + [0])
    }

    public mutating func appendAttribute(_ type: UInt16, uint32 value: UInt32) {
        var payload: [UInt8] = []
        withUnsafeBytes(of: value) { payload.append(contentsOf: $0) }
        appendAttribute(type, payload)
    }

    public mutating func appendAttribute(_ type: UInt16, int32 value: Int32) {
        appendAttribute(type, uint32: UInt32(bitPattern: value))
    }

    /// A nested attribute: its length covers everything `body` appends.
    public mutating func appendNested(_ type: UInt16, _ body: (inout NetlinkMessage) -> Void) {
        let start = bytes.count
        append(UInt16(0))
        append(type | NL.nested)
        body(&self)
        let length = UInt16(bytes.count - start)
        bytes[start] = UInt8(length & 0xff)
        bytes[start + 1] = UInt8(length >> 8)
        pad()
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    /// The wire bytes with length and sequence number filled in.
    public func finalized(sequence: UInt32) -> [UInt8] {
        var out = bytes
        let length = UInt32(out.count)
        for i in 0..<4 {
            out[i] = UInt8(length >> (8 * UInt32(i)) & 0xff)
            out[8 + i] = UInt8(sequence >> (8 * UInt32(i)) & 0xff)
        }
        return out
    }
}

/// One message of a netlink reply datagram.
public struct NetlinkReply: Sendable, Equatable {
    public var type: UInt16
    public var flags: UInt16
    public var sequence: UInt32
    /// Everything after the 16-byte header.
    public var payload: [UInt8]

    /// Splits a datagram into messages; a truncated or inconsistent one is an error.
    public static func parse(_ datagram: [UInt8]) throws -> [NetlinkReply] {
        var out: [NetlinkReply] = []
        var offset = 0
        while offset + NL.headerSize <= datagram.count {
            let length = Int(readUInt32(datagram, offset))
            guard length >= NL.headerSize, offset + length <= datagram.count else {
                throw NetworkError(.system, "malformed netlink reply: message length \(length) at offset \(offset) of \(datagram.count)")
            }
            out.append(NetlinkReply(
                type: readUInt16(datagram, offset + 4), flags: readUInt16(datagram, offset + 6),
                sequence: readUInt32(datagram, offset + 8),
                payload: Array(datagram[(offset + NL.headerSize)..<(offset + length)])))
            offset += (length + 3) & ~3
        }
        return out
    }
}

/// Attributes parsed from an `rtattr` run.
public struct NetlinkAttributes: Sendable {
    public var entries: [(type: UInt16, payload: [UInt8])]

    /// Parses attributes starting at `offset`; stops quietly at a truncated tail.
    public init(_ bytes: [UInt8], from offset: Int = 0) {
        entries = []
        var at = offset
        while at + 4 <= bytes.count {
            let length = Int(readUInt16(bytes, at))
            guard length >= 4, at + length <= bytes.count else { break }
            entries.append((readUInt16(bytes, at + 2) & ~NL.nested, Array(bytes[(at + 4)..<(at + length)])))
            at += (length + 3) & ~3
        }
    }

    public func payload(_ type: UInt16) -> [UInt8]? { entries.first(where: { $0.type == type })?.payload }

    public func string(_ type: UInt16) -> String? {
        payload(type).map { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
    }

    public func uint32(_ type: UInt16) -> UInt32? {
        guard let p = payload(type), p.count >= 4 else { return nil }
        return readUInt32(p, 0)
    }
}

func readUInt16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
}

func readUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}
