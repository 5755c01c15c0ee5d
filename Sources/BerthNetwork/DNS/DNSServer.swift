#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys
import Foundation

/// berth's embedded DNS server: one thread, one poll(2) loop, UDP and TCP listeners on each
/// network's gateway address (port 53), answering from `DNSRecords` and forwarding everything
/// else to the host's resolvers (or a container's `dns:` servers). Hosted by the supervisor.
public final class DNSServer: @unchecked Sendable {
    public let records: DNSRecords
    private let defaultUpstreams: [DNSUpstream]
    private let forwardTimeoutNanoseconds: Int64
    private let wake: BerthSystem.Pipe
    private let lock = NSLock()
    private var running = false
    private var thread: Thread?
    private let stopped = DispatchSemaphore(value: 0)

    private enum Socket {
        case udpListener(network: String)
        case tcpListener(network: String)
        case connection(Connection)
        case forward(Forward)
        case wake
    }

    private final class Connection {
        let network: String
        let client: IPv4Address
        var buffer: [UInt8] = []
        var deadline: Int64
        init(network: String, client: IPv4Address, deadline: Int64) {
            self.network = network
            self.client = client
            self.deadline = deadline
        }
    }

    private enum Client {
        case udp(listener: Int32, address: sockaddr_in)
        case tcp(connection: Int32)
    }

    private struct Forward {
        var client: Client
        var query: DNSQuery
        var message: [UInt8]
        var upstreams: [DNSUpstream]
        var index: Int
        var deadline: Int64
    }

    private var sockets: [Int32: Socket] = [:]
    /// Listeners removed by another thread: closed by the loop once its poll has returned
    /// (a socket closed while another thread polls it stays bound until that poll ends).
    private var closing: [Int32] = []
    private let closed = DispatchSemaphore(value: 0)
    private var listenersByNetwork: [String: [Int32]] = [:]
    private var listenAddresses: Set<IPv4Address> = []
    /// Queries answered, forwarded, failed (for tests and `berth` diagnostics).
    public private(set) var answered = 0
    public private(set) var forwarded = 0

    /// TCP clients idle longer than this are closed (RFC 7766 suggests seconds).
    static let tcpIdleNanoseconds: Int64 = 10_000_000_000

    public init(records: DNSRecords, upstreams: [DNSUpstream], forwardTimeoutMilliseconds: Int = 2000) throws {
        self.records = records
        defaultUpstreams = upstreams
        forwardTimeoutNanoseconds = Int64(forwardTimeoutMilliseconds) * 1_000_000
        wake = try BerthSystem.Pipe()
        _ = berth_fcntl_setfl_nonblock(wake.read)
        sockets[wake.read] = .wake
    }

    /// The host's resolvers from /etc/resolv.conf.
    public static func hostUpstreams(resolvConf: String = "/etc/resolv.conf") -> [DNSUpstream] {
        DNSUpstream.fromResolvConf((try? FS.readString(resolvConf)) ?? "")
    }

    deinit {
        stop()
        for fd in sockets.keys where fd != wake.read { close(fd) }
        close(wake.read)
        close(wake.write)
    }

    public func start() {
        lock.withLock {
            guard !running else { return }
            running = true
            let thread = Thread { [weak self] in
                self?.loop()
            }
            thread.name = "berth-dns"
            self.thread = thread
            thread.start()
        }
    }

    public func stop() {
        let wasRunning = lock.withLock { () -> Bool in
            let was = running
            running = false
            return was
        }
        guard wasRunning else { return }
        _ = write(wake.write, "q", 1)
        stopped.wait()
    }

    /// Starts answering for `network` on `address:port` (UDP and TCP); port 0 picks a free
    /// one (tests). Returns the port. Binding errors are thrown here, synchronously.
    @discardableResult
    public func listen(network: String, address: IPv4Address, port: UInt16 = 53) throws -> UInt16 {
        let udp = try Self.bound(type: Int32(SOCK_DGRAM.rawValue), address: address, port: port, network: network)
        let actual = Self.localPort(udp)
        let tcp: Int32
        do {
            tcp = try Self.bound(type: Int32(SOCK_STREAM.rawValue), address: address, port: actual, network: network)
            _ = try Sys.check("listen", path: "\(address):\(actual)/tcp") { Glibc.listen(tcp, 128) }
        } catch {
            close(udp)
            throw error
        }
        lock.withLock {
            register(udp, as: .udpListener(network: network))
            register(tcp, as: .tcpListener(network: network))
            listenersByNetwork[network, default: []] += [udp, tcp]
            listenAddresses.insert(address)
        }
        return actual
    }

    /// Stops answering for `network` (its records stay until removed from `DNSRecords`).
    public func stopListening(network: String) {
        let handedToLoop = lock.withLock { () -> Bool in
            let fds = listenersByNetwork.removeValue(forKey: network) ?? []
            guard running, !fds.isEmpty else {
                fds.forEach { unregister($0) }
                return false
            }
            for fd in fds { sockets[fd] = nil }
            closing += fds
            _ = write(wake.write, "c", 1)
            return true
        }
        // Returns once the port is free again, so the caller can reuse the address at once.
        if handedToLoop { closed.wait() }
    }

    static func bound(type: Int32, address: IPv4Address, port: UInt16, network: String) throws -> Int32 {
        let fd = try Sys.check("socket") { socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0) }
        if type == Int32(SOCK_STREAM.rawValue) {
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var sa = sockaddr_in(address: address, port: port)
        let result = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if result < 0 {
            let code = errno
            close(fd)
            let proto = type == Int32(SOCK_STREAM.rawValue) ? "tcp" : "udp"
            var hint = ""
            if code == EADDRINUSE {
                hint = ": another DNS server holds it" + (PortHolders.describe(port: port, proto: proto == "tcp" ? .tcp : .udp).map { " (\($0))" } ?? "")
            }
            throw NetworkError(code == EADDRINUSE ? .portInUse : .system, "DNS server for network \(network): \(SystemError("bind", path: "\(address):\(port)/\(proto)", errno: code))\(hint)")
        }
        return fd
    }

    static func localPort(_ fd: Int32) -> UInt16 {
        var sa = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return UInt16(bigEndian: sa.sin_port)
    }

    // MARK: event loop (runs on the server thread; every handler runs under `lock`)

    private func register(_ fd: Int32, as kind: Socket) {
        sockets[fd] = kind
        // A new socket joins the poll set on the next round: wake the loop.
        if Thread.current !== thread { _ = write(wake.write, "w", 1) }
    }

    private func unregister(_ fd: Int32) {
        sockets[fd] = nil
        close(fd)
    }

    private func loop() {
        while true {
            let (initial, timeout) = lock.withLock { () -> ([pollfd], Int32) in
                (sockets.keys.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }, nextTimeoutMilliseconds())
            }
            var polled = initial
            let count = polled.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), timeout) }
            if count < 0 && errno != EINTR { break }
            let keepGoing = lock.withLock { () -> Bool in
                for entry in polled where entry.revents != 0 {
                    let fd = entry.fd
                    guard let kind = sockets[fd] else { continue }
                    switch kind {
                    case .wake:
                        var byte: UInt8 = 0
                        while read(wake.read, &byte, 1) > 0 {}
                    case .udpListener(let network): handleUDP(fd, network: network)
                    case .tcpListener(let network): accept(fd, network: network)
                    case .connection(let connection): handleTCP(fd, connection)
                    case .forward(let forward): handleUpstreamReply(fd, forward)
                    }
                }
                expire(now: Clock.monotonicNanoseconds())
                if !closing.isEmpty {
                    closing.forEach { close($0) }
                    closing = []
                    closed.signal()
                }
                return running
            }
            if !keepGoing { break }
        }
        lock.withLock {
            if !closing.isEmpty {
                closing.forEach { close($0) }
                closing = []
                closed.signal()
            }
        }
        stopped.signal()
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        var nearest: Int64?
        for kind in sockets.values {
            switch kind {
            case .forward(let forward): nearest = min(nearest ?? forward.deadline, forward.deadline)
            case .connection(let connection): nearest = min(nearest ?? connection.deadline, connection.deadline)
            default: continue
            }
        }
        guard let nearest else { return -1 }
        let milliseconds = (nearest - Clock.monotonicNanoseconds()) / 1_000_000 + 1
        return Int32(max(0, min(milliseconds, 60_000)))
    }

    private func handleUDP(_ fd: Int32, network: String) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<64 {
            var from = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = buffer.withUnsafeMutableBytes { raw in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, raw.baseAddress, raw.count, 0, $0, &length) }
                }
            }
            if n < 0 { return }
            let message = Array(buffer[0..<n])
            let client = Client.udp(listener: fd, address: from)
            answer(message, network: network, client: client, clientAddress: IPv4Address(UInt32(bigEndian: from.sin_addr.s_addr)), udp: true)
        }
    }

    private func accept(_ fd: Int32, network: String) {
        for _ in 0..<64 {
            var from = sockaddr_in()
            var length = UInt32(MemoryLayout<sockaddr_in>.size)
            let client = berth_accept_nonblock(fd, &from, &length)
            if client < 0 { return }
            let connection = Connection(
                network: network, client: IPv4Address(UInt32(bigEndian: from.sin_addr.s_addr)),
                deadline: Clock.monotonicNanoseconds() + Self.tcpIdleNanoseconds)
            register(client, as: .connection(connection))
        }
    }

    private func handleTCP(_ fd: Int32, _ connection: Connection) {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) {
            unregister(fd)
            return
        }
        if n < 0 { return }
        connection.buffer += buffer[0..<n]
        connection.deadline = Clock.monotonicNanoseconds() + Self.tcpIdleNanoseconds
        while connection.buffer.count >= 2 {
            let length = Int(connection.buffer[0]) << 8 | Int(connection.buffer[1])
            guard connection.buffer.count >= 2 + length else { break }
            let message = Array(connection.buffer[2..<(2 + length)])
            connection.buffer.removeFirst(2 + length)
            answer(message, network: connection.network, client: .tcp(connection: fd), clientAddress: connection.client, udp: false)
        }
    }

    private func answer(_ message: [UInt8], network: String, client: Client, clientAddress: IPv4Address, udp: Bool) {
        let decision = DNSResolver.decide(message, network: network, client: clientAddress, records: records) { udp ? DNSResponse.udpLimit(for: $0) : 65535 }
        switch decision {
        case .drop:
            return
        case .reply(let bytes):
            answered += 1
            send(bytes, to: client)
        case .forward(let query):
            let upstreams = (records.upstreams(client: clientAddress) ?? defaultUpstreams).filter { !listenAddresses.contains($0.address) || $0.port != 53 }
            guard !upstreams.isEmpty else {
                send(DNSResponse.build(query: query, rcode: DNSResponseCode.serverFailure, answers: [], authoritative: false, limit: 512), to: client)
                return
            }
            forwarded += 1
            startForward(Forward(client: client, query: query, message: message, upstreams: upstreams, index: 0, deadline: 0))
        }
    }

    private func startForward(_ original: Forward) {
        var forward = original
        while forward.index < forward.upstreams.count {
            let upstream = forward.upstreams[forward.index]
            forward.deadline = Clock.monotonicNanoseconds() + forwardTimeoutNanoseconds
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            if fd >= 0 {
                var sa = sockaddr_in(address: upstream.address, port: upstream.port)
                let connected = withUnsafePointer(to: &sa) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                let sent = connected == 0 ? forward.message.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } : -1
                if sent == forward.message.count {
                    register(fd, as: .forward(forward))
                    return
                }
                close(fd)
            }
            forward.index += 1
        }
        send(DNSResponse.build(query: forward.query, rcode: DNSResponseCode.serverFailure, answers: [], authoritative: false, limit: 512), to: forward.client)
    }

    private func handleUpstreamReply(_ fd: Int32, _ forward: Forward) {
        var buffer = [UInt8](repeating: 0, count: 65535)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 && (errno == EAGAIN || errno == EINTR) { return }
        unregister(fd)
        if n >= 12 && buffer[0] == UInt8(forward.query.id >> 8) && buffer[1] == UInt8(forward.query.id & 0xff) {
            send(Array(buffer[0..<n]), to: forward.client)
        } else {
            var next = forward
            next.index += 1
            startForward(next)  // refused (ICMP) or garbage: try the next upstream
        }
    }

    private func expire(now: Int64) {
        for (fd, kind) in sockets {
            switch kind {
            case .forward(let forward) where forward.deadline <= now:
                unregister(fd)
                var next = forward
                next.index += 1
                startForward(next)
            case .connection(let connection) where connection.deadline <= now:
                unregister(fd)
            default:
                continue
            }
        }
    }

    private func send(_ bytes: [UInt8], to client: Client) {
        switch client {
        case .udp(let listener, var address):
            guard sockets[listener] != nil else { return }
            _ = bytes.withUnsafeBytes { raw in
                withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(listener, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
        case .tcp(let connection):
            guard sockets[connection] != nil else { return }
            let framed = [UInt8(bytes.count >> 8 & 0xff), UInt8(bytes.count & 0xff)] + bytes
            _ = framed.withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
    }
}

extension sockaddr_in {
    init(address: IPv4Address, port: UInt16) {
        self.init()
        sin_family = sa_family_t(AF_INET)
        sin_port = port.bigEndian
        sin_addr.s_addr = address.value.bigEndian
    }
}
