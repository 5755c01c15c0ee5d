import Foundation
import Testing
@testable import BerthNetwork

/// A reservation of two free consecutive TCP ports below the ephemeral range (32768+), so no
/// client socket of a parallel test can take them while a test frees and retakes them.
func lowPortReservation() throws -> PortReservation {
    for low in stride(from: UInt16.random(in: 20000..<21000), to: 32000, by: 7) {
        if let held = try? PortReservation.reserve([PortRequest(hostIP: IPv4Address("127.0.0.1"), hostPorts: low...low, containerPort: 80)], owner: "test") {
            if let next = try? PortReservation.reserve([PortRequest(hostIP: IPv4Address("127.0.0.1"), hostPorts: (low + 1)...(low + 1), containerPort: 80)], owner: "test") {
                next.release()
                return held
            }
            held.release()
        }
    }
    throw NetworkError(.exhausted, "no two free consecutive ports in 20000-32000")
}

@Suite("published ports")
struct PortTests {
    let loopback = IPv4Address("127.0.0.1")!

    @Test func randomPortAndConflictNamesTheHolder() throws {
        let random = try PortReservation.reserve([PortRequest(hostIP: loopback, containerPort: 80)], owner: "service web")
        #expect((random.bindings.first?.hostPort ?? 0) > 0)
        random.release()
        let first = try lowPortReservation()
        defer { first.release() }
        let port = try #require(first.bindings.first?.hostPort)
        #expect(first.bindings == [PortBinding(hostIP: loopback, hostPort: port, containerPort: 80)])
        let command = try String(contentsOfFile: "/proc/self/comm", encoding: .utf8).trimmingCharacters(in: .newlines)
        #expect(throws: NetworkError(.portInUse, "service api: host port 127.0.0.1:\(port)/tcp is already in use by pid \(getpid()) (\(command)): stop it or publish on another port")) {
            try PortReservation.reserve([PortRequest(hostIP: loopback, hostPorts: port...port, containerPort: 8080)], owner: "service api")
        }
        // A wildcard request conflicts with the loopback listener too.
        #expect(throws: NetworkError.self) {
            try PortReservation.reserve([PortRequest(hostPorts: port...port, containerPort: 8080)], owner: "service api")
        }
        first.release()
        let again = try PortReservation.reserve([PortRequest(hostIP: loopback, hostPorts: port...port, containerPort: 80)], owner: "service web")
        again.release()
    }

    @Test func rangeTakesTheFirstFreePortAndAllOrNothing() throws {
        let taken = try lowPortReservation()
        defer { taken.release() }
        let port = try #require(taken.bindings.first?.hostPort)
        let next = try PortReservation.reserve([PortRequest(hostIP: loopback, hostPorts: port...(port + 1), containerPort: 80)], owner: "b")
        defer { next.release() }
        #expect(next.bindings.first?.hostPort == port + 1)
        #expect(throws: NetworkError(.portInUse, "c: every host port of \(port)-\(port + 1)/tcp on 127.0.0.1 is already in use: free one or choose another range")) {
            try PortReservation.reserve([PortRequest(hostIP: loopback, hostPorts: port...(port + 1), containerPort: 80)], owner: "c")
        }
        // All or nothing: the UDP reservation before the failing TCP one is released again.
        #expect(throws: NetworkError.self) {
            try PortReservation.reserve([
                PortRequest(hostIP: loopback, hostPorts: port...port, containerPort: 53, proto: .udp),
                PortRequest(hostIP: loopback, hostPorts: port...port, containerPort: 80),
            ], owner: "d")
        }
        let udp = try PortReservation.reserve([PortRequest(hostIP: loopback, hostPorts: port...port, containerPort: 53, proto: .udp)], owner: "e")
        udp.release()
    }

    @Test func foreignHostAddressIsRefused() throws {
        #expect(throws: NetworkError(.invalidArgument, "f: cannot publish on 192.0.2.254:8080/tcp: 192.0.2.254 is not an address of this host")) {
            try PortReservation.reserve([PortRequest(hostIP: IPv4Address("192.0.2.254"), hostPorts: 8080...8080, containerPort: 80)], owner: "f")
        }
    }

    @Test func procNetTableParsing() {
        let table = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
               1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 4343 1 0000000000000000 20 4 30 10 -1
               2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
            """
        #expect(PortHolders.socketInodes(in: table, port: 8080, listeningOnly: true) == [4242])
        #expect(PortHolders.socketInodes(in: table, port: 8080, listeningOnly: false) == [4242, 4343])
        #expect(PortHolders.socketInodes(in: table, port: 81, listeningOnly: true) == [])
    }

    @Test func portLookup() {
        let bindings = [
            PortBinding(hostIP: IPv4Address("127.0.0.1"), hostPort: 8080, containerPort: 80),
            PortBinding(hostPort: 8443, containerPort: 443),
            PortBinding(hostPort: 5353, containerPort: 53, proto: .udp),
        ]
        #expect(PortLookup.hostAddresses(bindings, privatePort: 80) == ["127.0.0.1:8080"])
        #expect(PortLookup.hostAddresses(bindings, privatePort: 53, proto: .udp) == ["0.0.0.0:5353"])
        #expect(PortLookup.hostAddresses(bindings, privatePort: 53) == [])
        #expect(bindings[1].description == "0.0.0.0:8443->443/tcp")
    }
}

@Suite("port syntax")
struct PortSyntaxTests {
    @Test func composeFieldsAndShortSyntax() throws {
        #expect(try PortRequest(shortSyntax: "80") == PortRequest(containerPort: 80))
        #expect(try PortRequest(shortSyntax: "8080:80") == PortRequest(hostPorts: 8080...8080, containerPort: 80))
        #expect(try PortRequest(shortSyntax: "127.0.0.1:8000-8005:80/udp") == PortRequest(hostIP: IPv4Address("127.0.0.1"), hostPorts: 8000...8005, containerPort: 80, proto: .udp))
        #expect(try PortRequest(shortSyntax: "127.0.0.1::80") == PortRequest(hostIP: IPv4Address("127.0.0.1"), containerPort: 80))
        #expect(try PortRequest(hostIP: "0.0.0.0", published: "", target: 53, protocol: "UDP") == PortRequest(containerPort: 53, proto: .udp))
        #expect(throws: NetworkError(.invalidArgument, "published port \"9-8\" is not a port or a range like 8000-8005")) {
            try PortRequest(hostIP: nil, published: "9-8", target: 80, protocol: "tcp")
        }
        #expect(throws: NetworkError(.invalidArgument, "protocol \"sctp\" is not supported: use tcp or udp")) { try PortRequest(shortSyntax: "80/sctp") }
        #expect(throws: NetworkError.self) { try PortRequest(shortSyntax: "::1:80:80") }
        #expect(throws: NetworkError.self) { try PortRequest(shortSyntax: "x") }
    }
}
