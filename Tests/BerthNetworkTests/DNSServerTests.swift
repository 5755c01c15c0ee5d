import Foundation
import Testing
@testable import BerthNetwork

/// A UDP or TCP exchange with a DNS server on 127.0.0.1, waiting with poll and a deadline.
enum DNSClient {
    static func udp(_ message: [UInt8], port: UInt16, timeoutMilliseconds: Int32 = 5000) -> [UInt8]? {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in(address: IPv4Address("127.0.0.1")!, port: port)
        let sent = message.withUnsafeBytes { raw in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        guard sent == message.count else { return nil }
        return receive(fd, timeoutMilliseconds: timeoutMilliseconds)
    }

    static func tcp(_ message: [UInt8], port: UInt16) -> [UInt8]? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in(address: IPv4Address("127.0.0.1")!, port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        // Sent in two pieces to exercise reassembly.
        let framed = [UInt8(message.count >> 8), UInt8(message.count & 0xff)] + message
        _ = framed.prefix(3).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        _ = framed.dropFirst(3).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var collected: [UInt8] = []
        while collected.count < 2 || collected.count < 2 + (Int(collected[0]) << 8 | Int(collected[1])) {
            guard let chunk = receive(fd, timeoutMilliseconds: 5000), !chunk.isEmpty else { return nil }
            collected += chunk
        }
        return Array(collected.dropFirst(2))
    }

    static func receive(_ fd: Int32, timeoutMilliseconds: Int32) -> [UInt8]? {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65535)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? Array(buffer[0..<n]) : nil
    }
}

/// A fake upstream resolver on 127.0.0.1: answers every query with `address` (or stays silent).
final class FakeUpstream: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    let thread: Thread
    let done = DispatchSemaphore(value: 0)

    init(answer address: IPv4Address?, count: Int) throws {
        fd = try DNSServer.bound(type: Int32(SOCK_DGRAM.rawValue), address: IPv4Address("127.0.0.1")!, port: 0, network: "upstream")
        port = DNSServer.localPort(fd)
        let fd = self.fd, done = self.done
        thread = Thread {
            defer { done.signal() }
            for _ in 0..<count {
                var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&entry, 1, 10_000) == 1 else { return }
                var buffer = [UInt8](repeating: 0, count: 4096)
                var from = sockaddr_in()
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let n = buffer.withUnsafeMutableBytes { raw in
                    withUnsafeMutablePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) } }
                }
                guard n > 0, let address, case .success(let query) = DNSQuery.parse(Array(buffer[0..<n])) else { continue }
                let reply = DNSResponse.build(query: query, rcode: 0, answers: [.a(address, ttl: 60)], authoritative: false, limit: 512)
                _ = reply.withUnsafeBytes { raw in
                    withUnsafePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, raw.baseAddress, raw.count, 0, $0, length) } }
                }
            }
        }
        thread.start()
    }

    deinit { close(fd) }
}

@Suite("DNS server on 127.0.0.1")
struct DNSServerTests {
    @Test func answersOverUDPAndTCPAndSeesUpdatesAtOnce() throws {
        let records = DNSRecords()
        let server = try DNSServer(records: records, upstreams: [])
        server.start()
        defer { server.stop() }
        let port = try server.listen(network: "n", address: IPv4Address("127.0.0.1")!, port: 0)
        records.set(network: "n", container: "n-web-1", address: IPv4Address("10.213.0.2")!, names: ["web"], ready: true)
        #expect(parseAnswer(try #require(DNSClient.udp(dnsQuery("web"), port: port)))?.addresses == ["10.213.0.2"])
        records.set(network: "n", container: "n-web-2", address: IPv4Address("10.213.0.3")!, names: ["web"], ready: true)
        #expect(parseAnswer(try #require(DNSClient.tcp(dnsQuery("web"), port: port)))?.addresses.sorted() == ["10.213.0.2", "10.213.0.3"])
        records.setReady(container: "n-web-1", ready: false)
        #expect(parseAnswer(try #require(DNSClient.udp(dnsQuery("web"), port: port)))?.addresses == ["10.213.0.3"])
        // No upstream: an unknown name gets SERVFAIL, not silence.
        #expect(parseAnswer(try #require(DNSClient.udp(dnsQuery("example.invalid"), port: port)))?.rcode == 2)
        // Garbage is dropped and the server keeps answering.
        _ = DNSClient.udp([1, 2, 3], port: port, timeoutMilliseconds: 0)
        #expect(parseAnswer(try #require(DNSClient.udp(dnsQuery("n-web-2"), port: port)))?.addresses == ["10.213.0.3"])
        #expect(server.answered >= 4)
    }

    @Test func forwardsUnknownNamesAndFallsBackToTheNextUpstream() throws {
        let silent = try FakeUpstream(answer: nil, count: 1)
        let upstream = try FakeUpstream(answer: IPv4Address("192.0.2.80")!, count: 2)
        let records = DNSRecords()
        let server = try DNSServer(
            records: records, upstreams: [DNSUpstream(address: IPv4Address("127.0.0.1")!, port: silent.port), DNSUpstream(address: IPv4Address("127.0.0.1")!, port: upstream.port)],
            forwardTimeoutMilliseconds: 200)
        server.start()
        defer { server.stop() }
        let port = try server.listen(network: "n", address: IPv4Address("127.0.0.1")!, port: 0)
        let bytes = try #require(DNSClient.udp(dnsQuery("example.test", id: 0x4242), port: port))
        let answer = try #require(parseAnswer(bytes))
        #expect(answer.addresses == ["192.0.2.80"])
        #expect(answer.rcode == 0 && !answer.authoritative)
        // The client's own `dns:` servers win over the host's.
        records.setClient(IPv4Address("127.0.0.1")!, container: "c", upstreams: [DNSUpstream(address: IPv4Address("127.0.0.1")!, port: upstream.port)], links: [:])
        #expect(parseAnswer(try #require(DNSClient.tcp(dnsQuery("other.test"), port: port)))?.addresses == ["192.0.2.80"])
        #expect(server.forwarded == 2)
    }

    @Test func busyPortIsAClearError() throws {
        let server = try DNSServer(records: DNSRecords(), upstreams: [])
        server.start()
        defer { server.stop() }
        // A port below the ephemeral range: no client socket of a parallel test can take it
        // while it is free between stopListening and the next listen.
        var port: UInt16 = 0
        for candidate in (20000..<32000).shuffled() {
            if (try? server.listen(network: "a", address: IPv4Address("127.0.0.1")!, port: UInt16(candidate))) != nil {
                port = UInt16(candidate)
                break
            }
        }
        #expect(port != 0)
        #expect(throws: NetworkError.self) { try server.listen(network: "b", address: IPv4Address("127.0.0.1")!, port: port) }
        // While the loop sleeps in poll: the port must be free when stopListening returns.
        server.stopListening(network: "a")
        try server.listen(network: "b", address: IPv4Address("127.0.0.1")!, port: port)
        server.stopListening(network: "b")
        try server.listen(network: "a", address: IPv4Address("127.0.0.1")!, port: port)
    }
}
