#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// Who holds a port: sockets from /proc/net/{tcp,udp}{,6} matched to processes through the
/// `socket:[inode]` links in /proc/PID/fd.
public enum PortHolders {
    /// "pid 1234 (nginx)", "a socket of another network namespace or user (inode 5678)", or nil
    /// when no socket on that port is visible.
    public static func describe(port: UInt16, proto: PortBinding.Proto, proc: String = "/proc") -> String? {
        var inodes: [UInt64] = []
        for file in proto == .tcp ? ["tcp", "tcp6"] : ["udp", "udp6"] {
            guard let text = try? FS.readString("\(proc)/net/\(file)") else { continue }
            inodes += socketInodes(in: text, port: port, listeningOnly: proto == .tcp)
        }
        guard let inode = inodes.first else { return nil }
        if let (pid, command) = process(holding: inode, proc: proc) {
            return "pid \(pid) (\(command))"
        }
        return "a socket of another process (inode \(inode))"
    }

    /// Inodes of the sockets bound to local port `port` in a /proc/net/tcp-style table
    /// (TCP: LISTEN only, state 0A).
    public static func socketInodes(in table: String, port: UInt16, listeningOnly: Bool) -> [UInt64] {
        var out: [UInt64] = []
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            guard fields.count >= 10 else { continue }
            let local = fields[1].split(separator: ":")
            guard local.count == 2, let localPort = UInt16(local[1], radix: 16), localPort == port else { continue }
            if listeningOnly && fields[3] != "0A" { continue }
            if let inode = UInt64(fields[9]), inode != 0 { out.append(inode) }
        }
        return out
    }

    static func process(holding inode: UInt64, proc: String) -> (Int32, String)? {
        let target = "socket:[\(inode)]"
        guard let entries = try? FS.listDirectory(proc) else { return nil }
        for entry in entries {
            guard let pid = Int32(entry) else { continue }
            guard let fds = try? FS.listDirectory("\(proc)/\(entry)/fd") else { continue }
            for fd in fds where readLink("\(proc)/\(entry)/fd/\(fd)") == target {
                let command = (try? FS.readString("\(proc)/\(entry)/comm"))?.split(separator: "\n").first.map(String.init) ?? "?"
                return (pid, command)
            }
        }
        return nil
    }

    static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// `berth port SERVICE PRIVATE_PORT`: the host side of a container port.
public enum PortLookup {
    /// `0.0.0.0:8080` lines for `privatePort/proto`, in binding order (Docker's `port` output).
    public static func hostAddresses(_ bindings: [PortBinding], privatePort: UInt16, proto: PortBinding.Proto = .tcp) -> [String] {
        bindings.filter { $0.containerPort == privatePort && $0.proto == proto }
            .map { "\($0.hostIP?.description ?? "0.0.0.0"):\($0.hostPort)" }
    }
}
