import BerthSystem
import Foundation
import Synchronization
@testable import BerthImages

/// A request as the in-test server saw it.
struct ServedRequest: Sendable {
    var method: String
    var target: String
    var headers: [String: String]  // lower-case names
}

/// How the server answers: a whole response, or a writer that gets the socket (to send
/// part of a body and drop the connection, for instance).
enum ServedResponse: Sendable {
    case full(status: Int, headers: [(String, String)], body: [UInt8])
    case stream(@Sendable (Int32) -> Void)

    static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> ServedResponse {
        .full(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for test fixtures (token issuer, proxies, redirects).
/// One thread per connection, `Connection: close` on every answer. `stop()` closes the
/// listener and every open connection and waits for the threads.
final class TestServer: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let handler: @Sendable (ServedRequest) -> ServedResponse
    private let state = Mutex<(open: Set<Int32>, stopped: Bool, threads: Int)>(([], false, 0))
    private let finished = DispatchSemaphore(value: 0)
    let requests = Mutex<[ServedRequest]>([])

    init(port: Int = 0, _ handler: @escaping @Sendable (ServedRequest) -> ServedResponse) throws {
        self.handler = handler
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        self.listener = listener
        var one: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw FixtureError("bind 127.0.0.1:\(port): \(SystemError.strerror(errno))")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { _ = $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) } }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        startThread { self.acceptLoop() }
    }

    deinit { stop() }

    private func startThread(_ body: @escaping @Sendable () -> Void) {
        state.withLock { $0.threads += 1 }
        let thread = Thread {
            body()
            self.finished.signal()
        }
        thread.start()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client >= 0 { _ = fcntl(client, F_SETFD, FD_CLOEXEC) }
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let accepted = state.withLock { s -> Bool in
                guard !s.stopped else { return false }
                s.open.insert(client)
                return true
            }
            guard accepted else {
                close(client)
                return
            }
            startThread { self.serve(client) }
        }
    }

    private func serve(_ fd: Int32) {
        defer {
            let owned = state.withLock { $0.open.remove(fd) != nil }
            if owned { close(fd) }
        }
        guard let request = Self.readRequest(fd) else { return }
        requests.withLock { $0.append(request) }
        switch handler(request) {
        case .full(let status, let headers, let body):
            var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            head += "\r\n"
            Self.write(fd, Array(head.utf8) + (request.method == "HEAD" ? [] : body))
        case .stream(let writer):
            writer(fd)
        }
    }

    /// Stops accepting new connections (callable from a handler).
    func closeListener() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    /// Stops accepting, drops open connections, waits for every thread.
    func stop() {
        let (threads, open) = state.withLock { s -> (Int, Set<Int32>) in
            if s.stopped { return (0, []) }
            s.stopped = true
            let open = s.open
            s.open = []
            return (s.threads, open)
        }
        guard threads > 0 else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in open {
            shutdown(fd, Int32(SHUT_RDWR))
            close(fd)
        }
        for _ in 0..<threads { finished.wait() }
    }

    static func readRequest(_ fd: Int32) -> ServedRequest? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while !bytes.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            bytes += chunk[0..<n]
            if let end = bytes.indices.dropLast(3).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }) {
                bytes = Array(bytes[..<(end + 4)])
                break
            }
        }
        let lines = String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n")
        let first = lines[0].split(separator: " ")
        guard first.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return ServedRequest(method: String(first[0]), target: String(first[1]), headers: headers)
    }

    @discardableResult
    static func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    static func reason(_ status: Int) -> String {
        [200: "OK", 206: "Partial Content", 302: "Found", 307: "Temporary Redirect", 401: "Unauthorized", 403: "Forbidden",
         404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"][status] ?? "Status"
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
