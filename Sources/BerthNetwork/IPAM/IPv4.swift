/// An IPv4 address as a host-order integer; text form is dotted quad.
public struct IPv4Address: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        value = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses `a.b.c.d` strictly: four decimal parts 0–255, no leading zeros beyond "0".
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var result: UInt32 = 0
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                  !(part.count > 1 && part.first == "0"), let byte = UInt8(part) else { return nil }
            result = result << 8 | UInt32(byte)
        }
        value = result
    }

    /// Network byte order, as netlink and sockaddr_in carry it.
    public var bytes: [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)]
    }

    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 4 else { return nil }
        value = bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }

    public var description: String {
        "\(value >> 24).\(value >> 16 & 0xff).\(value >> 8 & 0xff).\(value & 0xff)"
    }

    public var isLoopback: Bool { value >> 24 == 127 }

    /// `d.c.b.a.in-addr.arpa`, the PTR owner name.
    public var reverseName: String {
        "\(value & 0xff).\(value >> 8 & 0xff).\(value >> 16 & 0xff).\(value >> 24).in-addr.arpa"
    }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.value < b.value }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = IPv4Address(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid IPv4 address \"\(text)\""))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// An IPv4 prefix `address/length` with the host bits cleared.
public struct IPv4Subnet: Sendable, Hashable, Codable, CustomStringConvertible {
    public var network: IPv4Address
    public var prefixLength: Int

    public init(network: IPv4Address, prefixLength: Int) {
        self.prefixLength = max(0, min(32, prefixLength))
        self.network = IPv4Address(network.value & IPv4Subnet.mask(self.prefixLength))
    }

    /// Parses `a.b.c.d/n`. With `strict`, host bits must be zero (Docker rejects
    /// `10.1.2.3/24` as a subnet).
    public init?(_ text: some StringProtocol, strict: Bool = true) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPv4Address(parts[0]),
              parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(parts[1]), (0...32).contains(length) else { return nil }
        if strict && address.value & ~IPv4Subnet.mask(length) != 0 { return nil }
        self.init(network: address, prefixLength: length)
    }

    public static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    public var mask: UInt32 { IPv4Subnet.mask(prefixLength) }
    public var first: IPv4Address { network }
    public var last: IPv4Address { IPv4Address(network.value | ~mask) }
    public var broadcast: IPv4Address { last }
    /// Number of addresses, including network and broadcast.
    public var size: UInt64 { UInt64(1) << UInt64(32 - prefixLength) }

    public func contains(_ address: IPv4Address) -> Bool { address.value & mask == network.value }

    public func overlaps(_ other: IPv4Subnet) -> Bool {
        let shorter = min(prefixLength, other.prefixLength)
        let m = IPv4Subnet.mask(shorter)
        return network.value & m == other.network.value & m
    }

    /// Is `other` entirely inside this subnet?
    public func contains(_ other: IPv4Subnet) -> Bool {
        other.prefixLength >= prefixLength && contains(other.network)
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = IPv4Subnet(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid IPv4 subnet \"\(text)\""))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// A 48-bit Ethernet address.
public struct MACAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 6 else { return nil }
        self.bytes = bytes
    }

    /// `aa:bb:cc:dd:ee:ff` (also accepts `-` separators, as Docker does).
    public init?(_ text: some StringProtocol) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            out.append(byte)
        }
        bytes = out
    }

    /// Docker's derived MAC: `02:42` followed by the IPv4 address, locally administered and
    /// unicast, so the same address always gets the same MAC (stable ARP caches on restart).
    public init(derivedFrom address: IPv4Address) {
        bytes = [0x02, 0x42] + address.bytes
    }

    public var isMulticast: Bool { bytes[0] & 1 == 1 }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":")
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = MACAddress(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid MAC address \"\(text)\""))
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
