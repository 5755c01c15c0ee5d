import Foundation
import Testing
@testable import BerthNetwork

/// A query message: id, RD, one question, optional EDNS0 OPT with `edns` payload size.
func dnsQuery(_ name: String, type: UInt16 = DNSType.a, id: UInt16 = 0x1234, edns: UInt16? = nil) -> [UInt8] {
    var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, edns == nil ? 0 : 1]
    out += DNSResponse.encodeName(name) + [UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
    if let edns { out += [0, 0, 41, UInt8(edns >> 8), UInt8(edns & 0xff), 0, 0, 0, 0, 0, 0] }
    return out
}

/// The answers of a response: rcode, TC flag, and A addresses / PTR names in order.
struct ParsedAnswer: Equatable {
    var rcode: UInt8
    var truncated: Bool
    var authoritative: Bool
    var addresses: [String]
    var names: [String]
}

func parseAnswer(_ bytes: [UInt8]) -> ParsedAnswer? {
    guard bytes.count >= 12 else { return nil }
    var reader = DNSReader(bytes: bytes, offset: 12)
    let questions = Int(bytes[4]) << 8 | Int(bytes[5])
    let answers = Int(bytes[6]) << 8 | Int(bytes[7])
    for _ in 0..<questions { guard reader.readName() != nil, reader.skip(4) else { return nil } }
    var addresses: [String] = [], names: [String] = []
    for _ in 0..<answers {
        guard reader.readName() != nil, let type = reader.readUInt16(), reader.skip(6), let length = reader.readUInt16() else { return nil }
        let start = reader.offset
        guard reader.skip(Int(length)) else { return nil }
        if type == DNSType.a { addresses.append(IPv4Address(bytes: bytes[start..<(start + 4)])!.description) }
        if type == DNSType.ptr {
            var nameReader = DNSReader(bytes: bytes, offset: start)
            names.append(nameReader.readName() ?? "?")
        }
    }
    return ParsedAnswer(rcode: bytes[3] & 0xf, truncated: bytes[2] & 0x02 != 0, authoritative: bytes[2] & 0x04 != 0, addresses: addresses, names: names)
}

func decide(
    _ message: [UInt8], _ records: DNSRecords, network: String = "p_default", client: IPv4Address? = nil, udp: Bool = true
) -> DNSResolver.Decision {
    DNSResolver.decide(message, network: network, client: client, records: records) { udp ? DNSResponse.udpLimit(for: $0) : 65535 }
}

func reply(_ decision: DNSResolver.Decision) -> [UInt8]? {
    if case .reply(let bytes) = decision { return bytes }
    return nil
}

/// The parsed reply of a decision that must be a reply.
func answered(_ decision: DNSResolver.Decision) throws -> ParsedAnswer {
    let bytes = try #require(reply(decision))
    return try #require(parseAnswer(bytes))
}

@Suite("DNS wire format and resolver")
struct DNSTests {
    func records() -> DNSRecords {
        let records = DNSRecords()
        records.set(network: "p_default", container: "p-web-1", address: IPv4Address("10.213.0.2")!, names: ["web", "frontend"], ready: true)
        records.set(network: "p_default", container: "p-web-2", address: IPv4Address("10.213.0.3")!, names: ["web", "frontend"], ready: true)
        records.set(network: "p_default", container: "p-web-3", address: IPv4Address("10.213.0.4")!, names: ["web", "frontend"], ready: true)
        records.set(network: "p_default", container: "p-db-1", address: IPv4Address("10.213.0.5")!, names: ["db"], ready: false)
        records.set(network: "p_other", container: "p-cache-1", address: IPv4Address("10.213.1.2")!, names: ["cache"], ready: true)
        return records
    }

    @Test func exactBytesOfAnAnswer() throws {
        let records = DNSRecords()
        records.set(network: "n", container: "c1", address: IPv4Address("10.213.0.2")!, names: [], ready: true)
        let bytes = try #require(reply(decide(dnsQuery("C1"), records, network: "n")))
        #expect(hex(bytes) == "1234" + "8580" + "0001" + "0001" + "0000" + "0000"  // id, QR|AA|RD|RA, 1 question, 1 answer
            + "024331" + "00" + "0001" + "0001"  // the question echoed as sent ("C1")
            + "c00c" + "0001" + "0001" + "00000005" + "0004" + "0ad50002")  // pointer to it, A IN, ttl 5, 10.213.0.2
    }

    @Test func allReplicasShuffledPerQuery() throws {
        let records = records()
        var orders = Set<[String]>()
        for _ in 0..<60 {
            let answer = try answered(decide(dnsQuery("web"), records))
            #expect(answer.rcode == 0 && answer.authoritative)
            #expect(answer.addresses.sorted() == ["10.213.0.2", "10.213.0.3", "10.213.0.4"])
            orders.insert(answer.addresses)
        }
        #expect(orders.count > 1, "the order varies between queries")
    }

    @Test func namesAliasesQualifiedNamesAndReadiness() throws {
        let records = records()
        #expect(parseAnswer(reply(decide(dnsQuery("p-web-2"), records))!)?.addresses == ["10.213.0.3"])
        #expect(parseAnswer(reply(decide(dnsQuery("frontend.p_default."), records))!)?.addresses.count == 3)
        // Known but not ready: NXDOMAIN, authoritative (never forwarded).
        #expect(parseAnswer(reply(decide(dnsQuery("db"), records))!) == ParsedAnswer(rcode: 3, truncated: false, authoritative: true, addresses: [], names: []))
        records.setReady(container: "p-db-1", ready: true)
        #expect(parseAnswer(reply(decide(dnsQuery("db"), records))!)?.addresses == ["10.213.0.5"])
        // Another network's names are not visible here: forwarded.
        #expect(decide(dnsQuery("cache"), records) == .forward(try DNSQuery.parse(dnsQuery("cache")).get()))
        // A removed replica disappears at once.
        records.remove(network: "p_default", container: "p-web-1")
        #expect(parseAnswer(reply(decide(dnsQuery("web"), records))!)?.addresses.sorted() == ["10.213.0.3", "10.213.0.4"])
        // A container renamed while it runs (a rolling update's new replica taking its
        // final name) answers to its new name only.
        records.setNames(network: "p_default", container: "p-web-2", names: ["p-web-9", "web", "frontend"])
        #expect(parseAnswer(reply(decide(dnsQuery("p-web-9"), records))!)?.addresses == ["10.213.0.3"])
        #expect(decide(dnsQuery("p-web-2"), records) == .forward(try DNSQuery.parse(dnsQuery("p-web-2")).get()))
        #expect(parseAnswer(reply(decide(dnsQuery("web"), records))!)?.addresses.sorted() == ["10.213.0.3", "10.213.0.4"])
        // AAAA of a known name: NOERROR without answers.
        #expect(parseAnswer(reply(decide(dnsQuery("web", type: DNSType.aaaa), records))!) == ParsedAnswer(rcode: 0, truncated: false, authoritative: true, addresses: [], names: []))
    }

    /// `links: [db:database]`: the alias answers for the linking container only, with the
    /// target's ready addresses, under the asked name; an address without links sees nothing.
    @Test func linkAliasesAreTheLinkingContainersOwn() throws {
        let records = records()
        records.setReady(container: "p-db-1", ready: true)
        let linking = IPv4Address("10.213.0.2")!, other = IPv4Address("10.213.0.3")!
        records.setClient(linking, container: "p-web-1", upstreams: nil, links: ["Database": "db", "front": "web"])
        let answer = try answered(decide(dnsQuery("database"), records, client: linking))
        #expect(answer.addresses == ["10.213.0.5"] && answer.names == [] && answer.authoritative)
        let bytes = try #require(reply(decide(dnsQuery("database.p_default"), records, client: linking)))
        #expect(parseAnswer(bytes)?.addresses == ["10.213.0.5"])
        #expect(try answered(decide(dnsQuery("front"), records, client: linking)).addresses.sorted() == ["10.213.0.2", "10.213.0.3", "10.213.0.4"])
        #expect(decide(dnsQuery("database"), records, client: other) == .forward(try DNSQuery.parse(dnsQuery("database")).get()))
        #expect(decide(dnsQuery("database"), records) == .forward(try DNSQuery.parse(dnsQuery("database")).get()))
        records.removeClients(container: "p-web-1")
        #expect(decide(dnsQuery("database"), records, client: linking) == .forward(try DNSQuery.parse(dnsQuery("database")).get()))
    }

    @Test func reverseLookup() throws {
        let records = records()
        #expect(parseAnswer(reply(decide(dnsQuery("3.0.213.10.in-addr.arpa", type: DNSType.ptr), records))!)?.names == ["p-web-2.p_default"])
        if case .forward = decide(dnsQuery("9.9.213.10.in-addr.arpa", type: DNSType.ptr), records) {} else {
            Issue.record("an unknown address is forwarded")
        }
    }

    @Test func truncationWithoutEDNSAndRoomWithIt() throws {
        let records = DNSRecords()
        for i in 0..<40 {
            records.set(network: "n", container: "c\(i)", address: IPv4Address(10, 213, 0, UInt8(10 + i)), names: ["many"], ready: true)
        }
        let small = try answered(decide(dnsQuery("many"), records, network: "n"))
        // 12 header + 10 question + n × 16 ≤ 512 → 30 answers.
        #expect(small.truncated && small.addresses.count == 30)
        let udpBytes = try #require(reply(decide(dnsQuery("many"), records, network: "n")))
        #expect(udpBytes.count <= 512)
        let edns = try #require(reply(decide(dnsQuery("many", edns: 4096), records, network: "n")))
        let large = try #require(parseAnswer(edns))
        #expect(!large.truncated && large.addresses.count == 40)
        // Our OPT record closes the message: payload size 1232.
        #expect(hex(Array(edns.suffix(11))) == "0000290" + "4d0000000000000")
        let tcp = try answered(decide(dnsQuery("many"), records, network: "n", udp: false))
        #expect(!tcp.truncated && tcp.addresses.count == 40)
    }

    @Test func malformedMessages() {
        let records = records()
        #expect(decide([1, 2, 3], records) == .drop)
        var response = dnsQuery("web")
        response[2] |= 0x80
        #expect(decide(response, records) == .drop, "responses are never answered")
        // A compression loop in the question: FORMERR with the id.
        let loop: [UInt8] = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1]
        #expect(decide(loop, records) == .reply([0xab, 0xcd, 0x81, 0x81, 0, 0, 0, 0, 0, 0, 0, 0]))
        // Two questions: FORMERR.
        var two = dnsQuery("web")
        two[5] = 2
        #expect(parseAnswer(reply(decide(two, records))!)?.rcode == 1)
        // Opcode STATUS (2): NOTIMP.
        var status = dnsQuery("web")
        status[2] = 0x10
        #expect(parseAnswer(reply(decide(status, records))!)?.rcode == 4)
        // Random bytes and mutated queries never crash.
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...80)).map { _ in UInt8.random(in: 0...255) }
            } else {
                bytes = dnsQuery("web", edns: 1232)
                for _ in 0..<Int.random(in: 1...4) { bytes[Int.random(in: 0..<bytes.count)] = UInt8.random(in: 0...255) }
                if Bool.random() { bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count))) }
            }
            _ = decide(bytes, records)
        }
    }

    @Test func upstreamsFromResolvConf() {
        let text = "nameserver 127.0.0.53\nnameserver ::1\nnameserver 192.0.2.53\n# nameserver 1.2.3.4\nnameserver 192.0.2.54\nnameserver 192.0.2.55\n"
        #expect(DNSUpstream.fromResolvConf(text) == [
            DNSUpstream(address: IPv4Address("127.0.0.53")!), DNSUpstream(address: IPv4Address("192.0.2.53")!), DNSUpstream(address: IPv4Address("192.0.2.54")!),
        ])
    }
}
