#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// Where netlink requests go: the kernel (`NetlinkSocket`) or, in unit tests, a recording
/// fake that checks the exact bytes and replays canned replies.
public protocol NetlinkTransport: AnyObject {
    func send(_ bytes: [UInt8]) throws
    /// One datagram from the kernel.
    func receive() throws -> [UInt8]
}

/// A `NETLINK_ROUTE` socket, in our own network namespace or in another one.
public final class NetlinkSocket: NetlinkTransport {
    public let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    /// A socket in the caller's network namespace.
    public convenience init() throws {
        let fd = try Sys.check("socket", path: "AF_NETLINK NETLINK_ROUTE") {
            socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        try self.init(adopting: fd)
    }

    /// A socket inside the network namespace `namespace` (an open nsfs file): links,
    /// addresses and routes it creates live there.
    public convenience init(namespace: NetworkNamespace) throws {
        let fd = try namespace.withDescriptor { nsfd in
            try Sys.check("socket in network namespace", path: namespace.path) {
                berth_socket_in_netns(nsfd, AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            }
        }
        try self.init(adopting: fd)
    }

    private init(adopting fd: Int32) throws {
        self.fd = fd
        var one: Int32 = 1
        // Extended acks: the kernel explains EINVAL and friends in words.
        _ = setsockopt(fd, NL.solNetlink, NL.extendedAck, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_nl()
        address.nl_family = sa_family_t(AF_NETLINK)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_nl>.size)) }
        }
        if bound < 0 {
            let code = errno
            close(fd)
            throw SystemError("bind", path: "netlink socket", errno: code)
        }
    }

    deinit { close(fd) }

    public func send(_ bytes: [UInt8]) throws {
        var kernel = sockaddr_nl()
        kernel.nl_family = sa_family_t(AF_NETLINK)
        let sent = try Sys.check("sendto", path: "netlink socket") {
            bytes.withUnsafeBytes { raw in
                withUnsafePointer(to: &kernel) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, raw.baseAddress, raw.count, 0, $0, socklen_t(MemoryLayout<sockaddr_nl>.size))
                    }
                }
            }
        }
        if sent != bytes.count {
            throw NetworkError(.system, "netlink: short send (\(sent) of \(bytes.count) bytes)")
        }
    }

    public func receive() throws -> [UInt8] {
        let count = try Sys.check("recv", path: "netlink socket") {
            buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        }
        return Array(buffer[0..<count])
    }
}
