#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// One resolved socket address.
public struct ResolvedAddress: Sendable {
    var family: Int32
    var bytes: [UInt8]
    public var text: String
}

/// Host name lookup; replaceable so tests can exercise failures without sending DNS
/// queries anywhere.
public struct HostResolver: Sendable {
    public var lookup: @Sendable (String, Int) throws(ImageError) -> [ResolvedAddress]

    public init(lookup: @escaping @Sendable (String, Int) throws(ImageError) -> [ResolvedAddress]) {
        self.lookup = lookup
    }

    /// getaddrinfo(3): /etc/hosts, then DNS.
    public static let system = HostResolver { (host: String, port: Int) throws(ImageError) -> [ResolvedAddress] in
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let code = getaddrinfo(host, String(port), &hints, &list)
        guard code == 0, let first = list else {
            let reason = code == EAI_SYSTEM ? SystemError.strerror(errno) : String(cString: gai_strerror(code))
            throw .network("lookup \(host): \(reason) (check the registry name and this machine's DNS)")
        }
        defer { freeaddrinfo(first) }
        var out: [ResolvedAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let address = entry.pointee.ai_addr {
                let bytes = Array(UnsafeRawBufferPointer(start: address, count: Int(entry.pointee.ai_addrlen)))
                out.append(ResolvedAddress(family: entry.pointee.ai_family, bytes: bytes, text: Self.numeric(address, entry.pointee.ai_addrlen)))
            }
            cursor = entry.pointee.ai_next
        }
        return out
    }

    static func numeric(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> String {
        var host = [CChar](repeating: 0, count: 64)
        guard getnameinfo(address, length, &host, 64, nil, 0, NI_NUMERICHOST) == 0 else { return "?" }
        return cText(host)
    }
}

/// How to speak TLS to one registry.
public struct TLSSettings: Sendable, Equatable {
    public var verify: Bool
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?

    public init(verify: Bool = true, caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil) {
        self.verify = verify
        self.caFile = caFile
        self.certFile = certFile
        self.keyFile = keyFile
    }
}

/// A TCP connection to a server, plain or TLS, with I/O time-outs.
final class Connection: @unchecked Sendable {
    let fd: Int32
    private var tls: OpaquePointer?
    /// `host:port`, for messages.
    let peer: String

    init(url: HTTPURL, resolver: HostResolver, tls settings: TLSSettings?, timeoutSeconds: Int) throws(ImageError) {
        peer = url.authority.contains(":") ? url.authority : "\(url.authority):\(url.port)"
        let addresses = try resolver.lookup(url.host, url.port)
        var lastError = ImageError.network("connect to \(peer): no address found for \(url.host)")
        var connected: Int32 = -1
        for address in addresses {
            do throws(ImageError) {
                connected = try Self.connect(address, peer: peer, timeoutSeconds: timeoutSeconds)
                break
            } catch {
                lastError = error
            }
        }
        guard connected >= 0 else { throw lastError }
        fd = connected
        if let settings {
            var message = [CChar](repeating: 0, count: 512)
            let handle = berth_tls_connect(fd, url.host, settings.caFile, settings.certFile, settings.keyFile, settings.verify ? 1 : 0, &message, 512)
            guard let handle else {
                close(fd)
                throw .tls("TLS with \(peer): \(cText(message))")
            }
            tls = handle
        }
    }

    deinit {
        if let tls { berth_tls_close(tls) }
        close(fd)
    }

    private static func connect(_ address: ResolvedAddress, peer: String, timeoutSeconds: Int) throws(ImageError) -> Int32 {
        let fd = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw .network(SystemError("socket", path: peer, errno: errno).description) }
        let started = address.bytes.withUnsafeBytes { raw in
            Glibc.connect(fd, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
        var code: Int32 = started == 0 ? 0 : errno
        if code == EINPROGRESS {
            var waiter = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = Sys.attempt { poll(&waiter, 1, Int32(timeoutSeconds * 1000)) }
            if ready.0 == 0 {
                close(fd)
                throw .network("connect to \(peer): timed out after \(timeoutSeconds) s")
            }
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
            code = value
        }
        guard code == 0 else {
            close(fd)
            throw .network("connect to \(peer) (\(address.text)): \(SystemError.strerror(code).lowercased())")
        }
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    func write(_ bytes: [UInt8]) throws(ImageError) {
        var offset = 0
        while offset < bytes.count {
            var tlsMessage = [CChar](repeating: 0, count: 256)
            let n: Int = bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return 0 }
                if let tls { return berth_tls_write(tls, base + offset, raw.count - offset, &tlsMessage, 256) }
                return send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                let code = errno
                if tls != nil { throw .network("send to \(peer): \(cText(tlsMessage))") }
                if code == EINTR { continue }
                throw .network("send to \(peer): \(Self.describe(code))")
            }
            offset += n
        }
    }

    /// Up to `buffer.count` bytes; 0 when the server closed the connection.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n: Int
            if let tls {
                var message = [CChar](repeating: 0, count: 256)
                n = berth_tls_read(tls, base, buffer.count, &message, 256)
                if n < 0 {
                    if errno == EAGAIN || errno == EWOULDBLOCK { throw .network("read from \(peer): timed out") }
                    throw .network("read from \(peer): \(cText(message))")
                }
            } else {
                n = recv(fd, base, buffer.count, 0)
            }
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw .network("read from \(peer): \(Self.describe(errno))")
        }
    }

    private static func describe(_ code: Int32) -> String {
        if code == EAGAIN || code == EWOULDBLOCK { return "timed out" }
        return SystemError.strerror(code).lowercased()
    }
}

/// A NUL-terminated C buffer as text.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
