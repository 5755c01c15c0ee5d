#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// berth's own health checks, Kubernetes' `httpGet` and `tcpSocket` probes: run by
/// `berth-runtime probe NAME -- HTTP-GET URL [HEADER…]` or `-- TCP-SOCKET HOST:PORT`, from a
/// socket made in the container's network namespace — so they need no wget or nc in the
/// image. Exit 0 when the check passes, 1 when it fails (the reason on stdout, which the
/// health log keeps), 125 when the container cannot be reached at all.
public enum NativeProbe {
    public enum Check: Sendable, Equatable {
        /// GET `path` from `host:port`; statuses 200–399 pass (Kubernetes' rule).
        case http(host: String, port: UInt16, path: String, headers: [String])
        /// The port accepts a connection.
        case tcp(host: String, port: UInt16)
    }

    public static let httpKind = "HTTP-GET"
    public static let tcpKind = "TCP-SOCKET"

    /// A health check test (`["HTTP-GET", "http://127.0.0.1:8080/healthz", "X-Probe: 1"]`,
    /// `["TCP-SOCKET", "127.0.0.1:6379"]`) as a check; nil for other kinds.
    public static func parse(_ test: [String]) throws -> Check? {
        guard let kind = test.first else { return nil }
        switch kind {
        case httpKind:
            guard test.count >= 2 else { throw RuntimeError("HTTP-GET needs a URL, as in [\"HTTP-GET\", \"http://127.0.0.1:8080/healthz\"]", kind: .usage) }
            let url = test[1]
            guard url.hasPrefix("http://") else {
                throw RuntimeError("HTTP-GET \(url): the URL must start with http:// (berth's prober does not speak TLS)", kind: .usage)
            }
            let rest = url.dropFirst("http://".count)
            let authority = rest.prefix { $0 != "/" }
            let path = rest.dropFirst(authority.count)
            let (host, port) = try hostAndPort(String(authority), defaultPort: 80, what: "HTTP-GET \(url)")
            for header in test.dropFirst(2) where !header.contains(":") || header.contains("\r") || header.contains("\n") {
                throw RuntimeError("HTTP-GET header \"\(header)\" is not NAME: VALUE on one line", kind: .usage)
            }
            return .http(host: host, port: port, path: path.isEmpty ? "/" : String(path), headers: Array(test.dropFirst(2)))
        case tcpKind:
            guard test.count == 2 else { throw RuntimeError("TCP-SOCKET needs HOST:PORT, as in [\"TCP-SOCKET\", \"127.0.0.1:6379\"]", kind: .usage) }
            let (host, port) = try hostAndPort(test[1], defaultPort: nil, what: "TCP-SOCKET \(test[1])")
            return .tcp(host: host, port: port)
        default:
            return nil
        }
    }

    private static func hostAndPort(_ text: String, defaultPort: UInt16?, what: String) throws -> (String, UInt16) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var host = parts.first ?? ""
        if host.isEmpty || host == "localhost" { host = "127.0.0.1" }
        guard parts.count <= 2, ipv4(host) != nil else {
            throw RuntimeError("\(what): give an IPv4 address (default 127.0.0.1, the container's own loopback) and a port", kind: .usage)
        }
        if parts.count == 2 {
            guard let port = UInt16(parts[1]), port > 0 else { throw RuntimeError("\(what): \(parts[1]) is not a port number", kind: .usage) }
            return (host, port)
        }
        guard let defaultPort else { throw RuntimeError("\(what): a port is required", kind: .usage) }
        return (host, defaultPort)
    }

    private static func ipv4(_ text: String) -> in_addr? {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1 ? address : nil
    }

    /// `probe [--project P] [--run-root DIR] NAME -- KIND ARGS…`.
    static func run(_ args: [String]) -> Int32 {
        var project = "runtime"
        var runRoot = ProcessEnvironment.value("BERTH_RUN_ROOT") ?? "/run/berth"
        var name = ""
        var test: [String] = []
        var index = 0
        while index < args.count {
            let arg = args[index]
            if arg == "--" {
                test = Array(args[(index + 1)...])
                break
            }
            if (arg == "--project" || arg == "--run-root"), index + 1 < args.count {
                if arg == "--project" { project = args[index + 1] } else { runRoot = args[index + 1] }
                index += 2
                continue
            }
            guard name.isEmpty, !arg.hasPrefix("-") else {
                RuntimeCommand.writeStderr("Error: usage: berth runtime probe [--project P] [--run-root DIR] NAME -- HTTP-GET URL | TCP-SOCKET HOST:PORT\n")
                return 64
            }
            name = arg
            index += 1
        }
        let check: Check
        do {
            guard let parsed = try parse(test), !name.isEmpty else {
                RuntimeCommand.writeStderr("Error: usage: berth runtime probe [--project P] [--run-root DIR] NAME -- HTTP-GET URL | TCP-SOCKET HOST:PORT\n")
                return 64
            }
            check = parsed
        } catch {
            RuntimeCommand.writeStderr("Error: \(error)\n")
            return 64
        }
        let socketFD: Int32
        do {
            socketFD = try socketInContainer(name: name, project: project, runRoot: runRoot)
        } catch {
            RuntimeCommand.writeStdout("\(error)\n")
            return 125
        }
        defer { close(socketFD) }
        let outcome = probe(check, socket: socketFD)
        if !outcome.message.isEmpty { RuntimeCommand.writeStdout(outcome.message + "\n") }
        return outcome.passed ? 0 : 1
    }

    /// A TCP socket in the network namespace of the running container `name`.
    static func socketInContainer(name: String, project: String, runRoot: String) throws -> Int32 {
        let stateDir = "\(runRoot)/runtime/\(project)/\(name)"
        guard let text = try? FS.readString(stateDir + "/exec.conf") else {
            throw RuntimeError("no running container \"\(name)\" in project \(project) (no \(stateDir)/exec.conf)")
        }
        let config = try ExecConfig(parsing: text)
        let path = "/proc/\(config.pid)/ns/net"
        let netns = try Sys.check("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(netns) }
        return try Sys.check("socket", path: "network namespace of \(name)") {
            berth_socket_in_netns(netns, AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
    }

    /// Runs the check over `socket` (a fresh, unconnected TCP socket). Blocking: the prober
    /// ends a probe that outlives its timeout.
    public static func probe(_ check: Check, socket fd: Int32) -> (passed: Bool, message: String) {
        let (host, port): (String, UInt16)
        switch check {
        case .http(let h, let p, _, _): (host, port) = (h, p)
        case .tcp(let h, let p): (host, port) = (h, p)
        }
        guard let address = ipv4(host) else { return (false, "\(host) is not an IPv4 address") }
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = port.bigEndian
        socketAddress.sin_addr = address
        var connected: Int32 = -1
        repeat {
            connected = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } while connected < 0 && errno == EINTR
        if connected < 0 {
            return (false, "dial tcp \(host):\(port): connect: \(String(cString: strerror(errno)).lowercased())")
        }
        guard case .http(_, _, let path, let headers) = check else { return (true, "") }
        var request = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        let names = Set(headers.compactMap { $0.split(separator: ":").first.map { $0.lowercased() } })
        if !names.contains("user-agent") { request += "User-Agent: berth-probe\r\n" }
        if !names.contains("accept") { request += "Accept: */*\r\n" }
        request += headers.map { $0 + "\r\n" }.joined() + "Connection: close\r\n\r\n"
        do {
            _ = signal(SIGPIPE, SIG_IGN)
            try FS.writeAll(fd: fd, Array(request.utf8), path: "probe socket")
        } catch {
            return (false, "HTTP probe failed: \(error)")
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while response.count < 8192, !response.contains(UInt8(ascii: "\n")) {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let statusLine = String(decoding: response.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let code = Int(fields[1]) else {
            return (false, response.isEmpty ? "HTTP probe failed: the connection closed without a response" : "HTTP probe failed: not an HTTP response: \(statusLine.prefix(80))")
        }
        if (200..<400).contains(code) { return (true, "") }
        return (false, "HTTP probe failed with statuscode: \(code)")
    }
}
