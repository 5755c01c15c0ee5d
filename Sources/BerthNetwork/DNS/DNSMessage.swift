/// DNS wire format (RFC 1035, EDNS0 from RFC 6891): just what an authoritative stub for
/// container names needs — parse one question and an OPT record, build answers.
public enum DNSType {
    public static let a: UInt16 = 1
    public static let ptr: UInt16 = 12
    public static let aaaa: UInt16 = 28
    public static let opt: UInt16 = 41
}

public enum DNSResponseCode {
    public static let noError: UInt8 = 0
    public static let formatError: UInt8 = 1
    public static let serverFailure: UInt8 = 2
    public static let nameError: UInt8 = 3
    public static let notImplemented: UInt8 = 4
    public static let refused: UInt8 = 5
}

/// A parsed query: header fields, the one question, and EDNS0 if present.
public struct DNSQuery: Sendable, Equatable {
    public var id: UInt16
    /// Header flags word as received (RD and CD are echoed back).
    public var flags: UInt16
    public var name: String
    public var type: UInt16
    public var qclass: UInt16
    /// The question section exactly as received (echoed in the answer).
    public var questionBytes: [UInt8]
    /// EDNS0 UDP payload size the client advertised; nil without an OPT record.
    public var ednsPayloadSize: UInt16?

    public var opcode: UInt8 { UInt8(flags >> 11 & 0xf) }
    public var recursionDesired: Bool { flags & 0x0100 != 0 }

    /// Why a message cannot be answered normally.
    public enum Failure: Error, Equatable {
        /// Not even a header, or a response (QR set): drop it silently.
        case ignore
        /// A header but a broken body: answer FORMERR with this id.
        case malformed(id: UInt16, flags: UInt16)
        /// A well-formed message that is not a standard query: answer NOTIMP.
        case notImplemented(id: UInt16, flags: UInt16)
    }

    public static func parse(_ bytes: [UInt8]) -> Result<DNSQuery, Failure> {
        guard bytes.count >= 12 else { return .failure(.ignore) }
        let id = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let flags = UInt16(bytes[2]) << 8 | UInt16(bytes[3])
        if flags & 0x8000 != 0 { return .failure(.ignore) }
        let counts = (0..<4).map { UInt16(bytes[4 + 2 * $0]) << 8 | UInt16(bytes[5 + 2 * $0]) }
        if (flags >> 11) & 0xf != 0 { return .failure(.notImplemented(id: id, flags: flags)) }
        guard counts[0] == 1 else { return .failure(.malformed(id: id, flags: flags)) }
        var reader = DNSReader(bytes: bytes, offset: 12)
        guard let name = reader.readName(), let type = reader.readUInt16(), let qclass = reader.readUInt16() else {
            return .failure(.malformed(id: id, flags: flags))
        }
        let question = Array(bytes[12..<reader.offset])
        var edns: UInt16?
        // Answer and authority records are not expected in a query; skip them if present.
        let records = Int(counts[1]) + Int(counts[2]) + Int(counts[3])
        for index in 0..<records {
            guard reader.readName() != nil, let rrType = reader.readUInt16(), let rrClass = reader.readUInt16(),
                  reader.skip(4), let length = reader.readUInt16(), reader.skip(Int(length)) else {
                return .failure(.malformed(id: id, flags: flags))
            }
            if rrType == DNSType.opt && index >= Int(counts[1]) + Int(counts[2]) {
                edns = max(512, rrClass)
            }
        }
        return .success(DNSQuery(id: id, flags: flags, name: name, type: type, qclass: qclass, questionBytes: question, ednsPayloadSize: edns))
    }
}

/// Reads names and integers with bounds checks; compression pointers are followed with a
/// hop limit, so loops and out-of-range pointers fail instead of spinning or trapping.
struct DNSReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func readUInt16() -> UInt16? {
        guard offset + 2 <= bytes.count else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard count >= 0, offset + count <= bytes.count else { return false }
        offset += count
        return true
    }

    /// A domain name in lowercase dotted form without the trailing dot ("" for the root).
    mutating func readName() -> String? {
        var labels: [String] = []
        var position = offset
        var jumped = false
        var hops = 0
        var total = 0
        while true {
            guard position < bytes.count else { return nil }
            let length = Int(bytes[position])
            if length == 0 {
                if !jumped { offset = position + 1 }
                return labels.joined(separator: ".")
            }
            switch length & 0xc0 {
            case 0xc0:
                guard position + 1 < bytes.count else { return nil }
                hops += 1
                guard hops <= 16 else { return nil }
                if !jumped { offset = position + 2 }
                jumped = true
                position = (length & 0x3f) << 8 | Int(bytes[position + 1])
            case 0:
                guard position + 1 + length <= bytes.count else { return nil }
                total += length + 1
                guard total <= 255 else { return nil }
                let label = bytes[(position + 1)..<(position + 1 + length)]
                labels.append(String(decoding: label.map { $0 >= 0x41 && $0 <= 0x5a ? $0 + 0x20 : $0 }, as: UTF8.self))
                position += 1 + length
            default:
                return nil  // 0x40 / 0x80: extended label types, obsolete
            }
        }
    }
}

/// One resource record of an answer.
public struct DNSAnswer: Sendable, Equatable {
    public var type: UInt16
    public var ttl: UInt32
    public var data: [UInt8]

    public static func a(_ address: IPv4Address, ttl: UInt32) -> DNSAnswer {
        DNSAnswer(type: DNSType.a, ttl: ttl, data: address.bytes)
    }

    public static func ptr(_ name: String, ttl: UInt32) -> DNSAnswer {
        DNSAnswer(type: DNSType.ptr, ttl: ttl, data: DNSResponse.encodeName(name))
    }
}

/// Builds responses that echo the question; answers point back at it with a compression
/// pointer (offset 12).
public enum DNSResponse {
    /// Our EDNS0 UDP payload size (the DNS flag day 2020 value).
    public static let ednsPayloadSize: UInt16 = 1232

    public static func build(
        query: DNSQuery, rcode: UInt8, answers: [DNSAnswer], authoritative: Bool, limit: Int
    ) -> [UInt8] {
        var flags: UInt16 = 0x8000 | 0x0080  // QR, RA
        if authoritative { flags |= 0x0400 }
        flags |= query.flags & 0x0110  // RD, CD
        flags |= UInt16(rcode & 0xf)
        let opt: [UInt8] = query.ednsPayloadSize == nil ? [] : [0, 0, 41, UInt8(ednsPayloadSize >> 8), UInt8(ednsPayloadSize & 0xff), 0, 0, 0, 0, 0, 0]
        var records: [[UInt8]] = answers.map { answer in
            var rr: [UInt8] = [0xc0, 0x0c]
            rr += be16(answer.type) + be16(1)
            rr += [UInt8(answer.ttl >> 24), UInt8(answer.ttl >> 16 & 0xff), UInt8(answer.ttl >> 8 & 0xff), UInt8(answer.ttl & 0xff)]
            rr += be16(UInt16(answer.data.count)) + answer.data
            return rr
        }
        var truncated = false
        let fixed = 12 + query.questionBytes.count + opt.count
        while fixed + records.reduce(0, { $0 + $1.count }) > limit && !records.isEmpty {
            records.removeLast()
            truncated = true
        }
        if truncated { flags |= 0x0200 }
        var out = be16(query.id) + be16(flags) + be16(1) + be16(UInt16(records.count)) + be16(0) + be16(opt.isEmpty ? 0 : 1)
        out += query.questionBytes
        for record in records { out += record }
        out += opt
        return out
    }

    /// A reply without a question (FORMERR, NOTIMP to a message we could not parse).
    public static func bare(id: UInt16, flags: UInt16, rcode: UInt8) -> [UInt8] {
        let outFlags: UInt16 = 0x8000 | 0x0080 | (flags & 0x7900) | UInt16(rcode & 0xf)
        return be16(id) + be16(outFlags) + be16(0) + be16(0) + be16(0) + be16(0)
    }

    /// The UDP size limit for the answer to `query` (512 without EDNS0).
    public static func udpLimit(for query: DNSQuery) -> Int {
        guard let size = query.ednsPayloadSize else { return 512 }
        return Int(min(size, ednsPayloadSize))
    }

    public static func encodeName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") {
            let bytes = Array(label.utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        return out
    }

    static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xff)] }
}
