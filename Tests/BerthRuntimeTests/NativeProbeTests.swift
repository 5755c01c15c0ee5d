import Foundation
import Testing
@testable import BerthRuntime

/// berth's HTTP-GET and TCP-SOCKET checks against a one-connection server on 127.0.0.1.
@Suite("native probes")
struct NativeProbeTests {
    @Test func testsParseIntoChecks() throws {
        #expect(try NativeProbe.parse(["HTTP-GET", "http://127.0.0.1:8080/healthz?x=1", "X-A: b"])
            == .http(host: "127.0.0.1", port: 8080, path: "/healthz?x=1", headers: ["X-A: b"]))
        #expect(try NativeProbe.parse(["HTTP-GET", "http://localhost"]) == .http(host: "127.0.0.1", port: 80, path: "/", headers: []))
        #expect(try NativeProbe.parse(["TCP-SOCKET", ":6379"]) == .tcp(host: "127.0.0.1", port: 6379))
        #expect(try NativeProbe.parse(["CMD", "true"]) == nil)
        #expect(throws: RuntimeError.self) { try NativeProbe.parse(["TCP-SOCKET", "127.0.0.1"]) }
        #expect(throws: RuntimeError.self) { try NativeProbe.parse(["HTTP-GET", "http://db:80/"]) }
        #expect(throws: RuntimeError.self) { try NativeProbe.parse(["HTTP-GET", "http://127.0.0.1/", "no colon"]) }
    }

    /// Serves one connection with `response`; returns the port and a way to get the request.
    static func serveOnce(_ response: String) throws -> (port: UInt16, request: () -> String) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        guard bound else { throw RuntimeError("cannot listen on 127.0.0.1") }
        let received = Received()
        let done = DispatchSemaphore(value: 0)
        Thread {
            defer { close(listener); done.signal() }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: received.bytes, as: UTF8.self).contains("\r\n\r\n") {
                let n = read(connection, &buffer, buffer.count)
                if n <= 0 { break }
                received.bytes += buffer[0..<n]
            }
            _ = response.withCString { write(connection, $0, strlen($0)) }
        }.start()
        return (UInt16(bigEndian: address.sin_port), {
            done.wait()
            return String(decoding: received.bytes, as: UTF8.self)
        })
    }

    /// What the server read: written by its thread before it signals, read after.
    final class Received: @unchecked Sendable {
        var bytes: [UInt8] = []
    }

    static func tcpSocket() -> Int32 { socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }

    @Test func httpStatusDecidesAndTheRequestIsKubernetesLike() throws {
        let ok = try Self.serveOnce("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let fd = Self.tcpSocket()
        defer { close(fd) }
        let passed = NativeProbe.probe(.http(host: "127.0.0.1", port: ok.port, path: "/healthz", headers: ["X-Probe: 1"]), socket: fd)
        #expect(passed.passed && passed.message == "")
        #expect(ok.request() == "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:\(ok.port)\r\nUser-Agent: berth-probe\r\nAccept: */*\r\nX-Probe: 1\r\nConnection: close\r\n\r\n")

        let failing = try Self.serveOnce("HTTP/1.1 503 Service Unavailable\r\n\r\n")
        let fd2 = Self.tcpSocket()
        defer { close(fd2) }
        let failed = NativeProbe.probe(.http(host: "127.0.0.1", port: failing.port, path: "/", headers: []), socket: fd2)
        #expect(!failed.passed && failed.message == "HTTP probe failed with statuscode: 503")
        _ = failing.request()
    }

    @Test func tcpConnectsOrSaysWhyNot() throws {
        let open = try Self.serveOnce("")
        let fd = Self.tcpSocket()
        #expect(NativeProbe.probe(.tcp(host: "127.0.0.1", port: open.port), socket: fd) == (true, ""))
        // Closed once: a second close would close whatever a test running in parallel got
        // under that number (it broke other tests' file writes and sockets).
        close(fd)
        _ = open.request()
        // The server is gone: its port refuses.
        let fd2 = Self.tcpSocket()
        defer { close(fd2) }
        let refused = NativeProbe.probe(.tcp(host: "127.0.0.1", port: open.port), socket: fd2)
        #expect(!refused.passed && refused.message == "dial tcp 127.0.0.1:\(open.port): connect: connection refused")
    }
}
