#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// A `ports:` entry after Compose parsing, before a host port is chosen.
public struct PortRequest: Sendable, Equatable {
    public var hostIP: IPv4Address?
    /// nil: a random free port (`"80"`); one port (`"8080:80"`); a range where the first free
    /// port is taken (`"8000-8005:80"`, one host port per replica).
    public var hostPorts: ClosedRange<UInt16>?
    public var containerPort: UInt16
    public var proto: PortBinding.Proto

    public init(hostIP: IPv4Address? = nil, hostPorts: ClosedRange<UInt16>? = nil, containerPort: UInt16, proto: PortBinding.Proto = .tcp) {
        self.hostIP = hostIP
        self.hostPorts = hostPorts
        self.containerPort = containerPort
        self.proto = proto
    }

    /// The exact binding again (a restarted supervisor re-reserving what it published).
    public init(_ binding: PortBinding) {
        self.init(hostIP: binding.hostIP, hostPorts: binding.hostPort...binding.hostPort, containerPort: binding.containerPort, proto: binding.proto)
    }
}

/// Host ports held for published container ports. Traffic reaches the container through
/// nftables DNAT, but the port is also bound here (and listened on, for TCP) so that no other
/// program can take it while the container runs, and so that a conflict shows up before
/// anything starts. Release it when the container stops.
public final class PortReservation: @unchecked Sendable {
    public let bindings: [PortBinding]
    private var descriptors: [Int32]

    init(bindings: [PortBinding], descriptors: [Int32]) {
        self.bindings = bindings
        self.descriptors = descriptors
    }

    deinit { release() }

    public func release() {
        descriptors.forEach { close($0) }
        descriptors = []
    }

    /// Reserves every request or none. `owner` names who wants the ports in errors
    /// ("service web").
    public static func reserve(_ requests: [PortRequest], owner: String) throws -> PortReservation {
        var bindings: [PortBinding] = []
        var descriptors: [Int32] = []
        do {
            for request in requests {
                let (fd, port) = try reserveOne(request, owner: owner)
                descriptors.append(fd)
                bindings.append(PortBinding(hostIP: request.hostIP, hostPort: port, containerPort: request.containerPort, proto: request.proto))
            }
        } catch {
            descriptors.forEach { close($0) }
            throw error
        }
        return PortReservation(bindings: bindings, descriptors: descriptors)
    }

    static func reserveOne(_ request: PortRequest, owner: String) throws -> (Int32, UInt16) {
        guard let range = request.hostPorts else { return try bind(request, port: 0, owner: owner) }
        var lastError: (any Error)?
        for port in range {
            do {
                return try bind(request, port: port, owner: owner)
            } catch let error as NetworkError where error.code == .portInUse {
                lastError = error
            }
        }
        if range.count > 1 {
            throw NetworkError(.portInUse, "\(owner): every host port of \(range.lowerBound)-\(range.upperBound)/\(request.proto.rawValue) on \(request.hostIP?.description ?? "0.0.0.0") is already in use: free one or choose another range")
        }
        throw lastError ?? NetworkError(.portInUse, "\(owner): no host port available")
    }

    /// Binds (and for TCP listens on) `hostIP:port`; port 0 lets the kernel pick a free one.
    static func bind(_ request: PortRequest, port: UInt16, owner: String) throws -> (Int32, UInt16) {
        let type = request.proto == .tcp ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue)
        let fd = try Sys.check("socket") { socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0) }
        if request.proto == .tcp {
            // Lets us take a port that has only TIME_WAIT leftovers; a listener still blocks it.
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = (request.hostIP?.value ?? 0).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let code = errno
        let where_ = "\(request.hostIP?.description ?? "0.0.0.0"):\(port)/\(request.proto.rawValue)"
        if bound < 0 {
            close(fd)
            switch code {
            case EADDRINUSE:
                let holder = PortHolders.describe(port: port, proto: request.proto)
                throw NetworkError(.portInUse, "\(owner): host port \(where_) is already in use\(holder.map { " by \($0)" } ?? ""): stop it or publish on another port")
            case EADDRNOTAVAIL:
                throw NetworkError(.invalidArgument, "\(owner): cannot publish on \(where_): \(request.hostIP?.description ?? "") is not an address of this host")
            case EACCES:
                throw NetworkError(.system, "\(owner): binding \(where_) needs privileges (ports below 1024): run berth as root")
            default:
                throw NetworkError(.system, "\(owner): \(SystemError("bind", path: where_, errno: code))")
            }
        }
        if request.proto == .tcp, listen(fd, 1) < 0 {
            let listenCode = errno
            close(fd)
            if listenCode == EADDRINUSE {
                let holder = PortHolders.describe(port: port, proto: request.proto)
                throw NetworkError(.portInUse, "\(owner): host port \(where_) is already in use\(holder.map { " by \($0)" } ?? ""): stop it or publish on another port")
            }
            throw NetworkError(.system, "\(owner): listen \(where_): \(SystemError.errnoName(listenCode))")
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, UInt16(bigEndian: actual.sin_port))
    }
}

extension PortRequest {
    /// From the fields of a Compose long-syntax port (`host_ip`, `published` as "8080",
    /// "8000-8005" or empty, `target`, `protocol`), which is what the loader normalizes every
    /// short form into.
    public init(hostIP: String?, published: String?, target: UInt16, protocol proto: String) throws {
        var address: IPv4Address?
        if let hostIP, !hostIP.isEmpty, hostIP != "0.0.0.0" {
            guard let parsed = IPv4Address(hostIP) else {
                throw NetworkError(.invalidArgument, "host_ip \"\(hostIP)\" is not an IPv4 address (IPv6 publishing is not supported yet)")
            }
            address = parsed
        }
        guard let protocolValue = PortBinding.Proto(rawValue: proto.lowercased()) else {
            throw NetworkError(.invalidArgument, "protocol \"\(proto)\" is not supported: use tcp or udp")
        }
        var ports: ClosedRange<UInt16>?
        if let published, !published.isEmpty {
            let bounds = published.split(separator: "-", omittingEmptySubsequences: false).map { UInt16($0) }
            guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil, low > 0, low <= high else {
                throw NetworkError(.invalidArgument, "published port \"\(published)\" is not a port or a range like 8000-8005")
            }
            ports = low...high
        }
        self.init(hostIP: address, hostPorts: ports, containerPort: target, proto: protocolValue)
    }

    /// Docker's `-p` short form: `[IP:][HOST_PORT[-END]:]CONTAINER_PORT[/PROTO]`.
    public init(shortSyntax text: String) throws {
        var body = Substring(text)
        var proto = "tcp"
        if let slash = body.lastIndex(of: "/") {
            proto = String(body[body.index(after: slash)...])
            body = body[..<slash]
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard (1...3).contains(parts.count), let target = UInt16(parts[parts.count - 1]), target > 0 else {
            throw NetworkError(.invalidArgument, "invalid port \"\(text)\": use [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]")
        }
        try self.init(hostIP: parts.count == 3 ? parts[0] : nil, published: parts.count >= 2 ? parts[parts.count - 2] : nil, target: target, protocol: proto)
    }
}
