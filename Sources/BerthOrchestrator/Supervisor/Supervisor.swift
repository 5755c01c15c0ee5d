import BerthNetwork
import BerthSystem
import CBerthSys
import Foundation

/// One project's supervisor (`berth supervise`, started on demand by the CLI): serves the
/// control socket, is the parent (and child subreaper) of the containers' monitors, watches
/// them end, and exits once nothing of its project runs.
///
/// It holds nothing that cannot be rebuilt: the containers' records and states are on disk,
/// each monitor writes its container's log and exit report itself, network endpoints are in
/// the network store. So it may be SIGKILLed at any moment; the next CLI call starts a new
/// one, which adopts the running containers (`ContainerLifecycle.adopt`) without touching them.
public final class Supervisor: @unchecked Sendable {
    public let paths: SupervisorPaths
    public let lifecycle: ContainerLifecycle
    private let wake: BerthSystem.Pipe
    private let lock = NSLock()
    private var activeRequests = 0
    private var servedRequests = 0
    /// An idle supervisor that has served nobody waits this long for its first request (the
    /// CLI that started it connects right away; this only bounds a CLI that died).
    static let firstRequestDeadlineMilliseconds = 30_000

    public init(paths: SupervisorPaths, lifecycle: ContainerLifecycle) throws {
        self.paths = paths
        self.lifecycle = lifecycle
        wake = try BerthSystem.Pipe()
        _ = berth_fcntl_setfl_nonblock(wake.read)
        let wakeFD = wake.write
        lifecycle.onWatchChange = { var byte: UInt8 = 1; _ = Glibc.write(wakeFD, &byte, 1) }
        lifecycle.onRestartScheduleChange = { var byte: UInt8 = 1; _ = Glibc.write(wakeFD, &byte, 1) }
    }

    /// Takes the project's supervisor lock (waiting for a previous supervisor that is
    /// exiting), adopts the project, listens, reports `ready` on `readyFD`, and serves until
    /// the project has nothing running. Returns the process exit status.
    public func run(readyFD: Int32?) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        _ = berth_set_child_subreaper()
        func fail(_ message: String) -> Int32 {
            FileHandle.standardError.write(Data("berth supervise: \(message)\n".utf8))
            if let readyFD { Self.writeLine(readyFD, "error: " + message) }
            return 1
        }
        let lockFD: Int32
        do {
            try FS.makeDirectories(paths.directory, mode: 0o700)
            lockFD = try Sys.check("open", path: paths.lock) { open(paths.lock, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
            _ = try Sys.check("flock", path: paths.lock) { flock(lockFD, LOCK_EX) }
        } catch {
            return fail("\(error)")
        }
        defer { close(lockFD) }
        for line in lifecycle.adopt() { FileHandle.standardError.write(Data("berth supervise: \(line)\n".utf8)) }

        let listener: Int32
        do { listener = try Self.listen(at: paths.socket) } catch { return fail("\(error)") }
        defer {
            unlink(paths.socket)
            close(listener)
        }
        if let readyFD {
            Self.writeLine(readyFD, "ready \(getpid())")
            close(readyFD)
        }
        let startedAt = Clock.monotonicNanoseconds()
        while true {
            let watched = lifecycle.watchedDescriptors()
            var fds = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            fds += watched.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            var timeout: Int32 = -1
            let idle = lock.withLock { activeRequests == 0 && servedRequests == 0 } && lifecycle.runningCount == 0
            if idle {
                let waited = Int((Clock.monotonicNanoseconds() - startedAt) / 1_000_000)
                timeout = Int32(max(0, Self.firstRequestDeadlineMilliseconds - waited))
            }
            // An auto-removed container's exit code that no wait has read keeps us until then.
            if let held = lifecycle.exitCodesHeld(now: Clock.monotonicNanoseconds()) {
                let left = Int32(clamping: max(0, (held - Clock.monotonicNanoseconds() + 999_999) / 1_000_000))
                timeout = timeout < 0 ? left : min(timeout, left)
            }
            // The next restart's back-off ends: poll's deadline, no timer thread, no polling.
            if let due = lifecycle.nextRestartDue {
                let left = Int32(clamping: max(0, (due - Clock.monotonicNanoseconds() + 999_999) / 1_000_000))
                timeout = timeout < 0 ? left : min(timeout, left)
            }
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 && errno != EINTR { return fail("poll: \(SystemError.errnoName(errno))") }
            if fds[1].revents != 0 {
                var buffer = [UInt8](repeating: 0, count: 64)
                while read(wake.read, &buffer, buffer.count) > 0 {}
            }
            for (index, entry) in watched.enumerated() where fds[index + 2].revents != 0 {
                lifecycle.monitorEnded(entry.id)
            }
            for id in lifecycle.restarts.takeDue(now: Clock.monotonicNanoseconds()) {
                let lifecycle = lifecycle
                Thread { lifecycle.restartDue(id) }.start()
            }
            if fds[0].revents != 0 {
                let client = accept(listener, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    lock.withLock { activeRequests += 1 }
                    let thread = Thread { [self] in
                        serve(client)
                        lock.withLock {
                            activeRequests -= 1
                            servedRequests += 1
                        }
                        var byte: UInt8 = 1
                        _ = Glibc.write(wake.write, &byte, 1)
                    }
                    thread.start()
                }
            }
            // Done when nothing runs and no request is in flight; the socket goes first,
            // so a CLI that comes now starts the next supervisor (which waits for our lock).
            let done = lock.withLock { () -> Bool in
                let served = servedRequests > 0 || Clock.monotonicNanoseconds() - startedAt >= Int64(Self.firstRequestDeadlineMilliseconds) * 1_000_000
                return activeRequests == 0 && served && lifecycle.runningCount == 0
                    && lifecycle.exitCodesHeld(now: Clock.monotonicNanoseconds()) == nil
            }
            if done { return 0 }
        }
    }

    /// One connection: a request line, its response line.
    private func serve(_ client: Int32) {
        defer { close(client) }
        let (line, passed) = DescriptorPassing.readLine(client)
        defer { passed.forEach { close($0) } }
        let response: SupervisorProtocol.Response
        if let request = try? JSONDecoder().decode(SupervisorProtocol.Request.self, from: Data(line.utf8)) {
            response = request.v == SupervisorProtocol.version
                ? handle(request, client: client, passed: passed)
                : .init(error: "protocol version \(request.v) is not supported (this supervisor speaks \(SupervisorProtocol.version)): use the same berth binary for the CLI and the supervisor")
        } else {
            response = .init(error: "unreadable request: \(line.prefix(200))")
        }
        var bytes = SupervisorProtocol.encodeLine(response)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { Glibc.write(client, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return }
            offset += written
        }
        bytes.removeAll()
    }

    /// `client`: the requester's socket, watched for a hang-up while a request waits;
    /// `passed`: the descriptors that came with the request (an attached start's stdio).
    func handle(_ request: SupervisorProtocol.Request, client: Int32 = -1, passed: [Int32] = []) -> SupervisorProtocol.Response {
        if request.op == .hello { return .init(pid: getpid()) }
        if request.op == .waitCondition {
            let results = lifecycle.waitFor(
                request.containers, condition: request.condition ?? .healthy, milliseconds: request.waitMilliseconds, client: client)
            return .init(pid: getpid(), results: results)
        }
        let results = request.containers.map { id -> SupervisorProtocol.Response.Result in
            do {
                switch request.op {
                case .hello, .waitCondition: return .init(container: id)
                case .start:
                    if request.attach == true && passed.count != 3 {
                        return .init(container: id, error: "an attached start needs the client's stdin, stdout and stderr; \(passed.count) descriptors came")
                    }
                    try lifecycle.start(id, stdio: request.attach == true ? passed : nil)
                    return .init(container: id)
                case .pause:
                    try lifecycle.pause(id)
                    return .init(container: id)
                case .unpause:
                    try lifecycle.unpause(id)
                    return .init(container: id)
                case .stop:
                    let state = try lifecycle.stop(id, signal: request.signal, timeout: request.timeout)
                    return .init(container: id, exitCode: state.exitCode)
                case .remove:
                    try lifecycle.remove(id, gracefully: request.stopGracefully == true, signal: request.signal, timeout: request.timeout)
                    return .init(container: id)
                case .kill:
                    try lifecycle.kill(id, signal: request.signal ?? SIGKILL)
                    return .init(container: id)
                case .wait:
                    return .init(container: id, exitCode: try lifecycle.wait(id))
                case .rename:
                    try lifecycle.rename(id, to: request.name ?? "")
                    return .init(container: id)
                }
            } catch {
                return .init(container: id, error: "\(error)")
            }
        }
        return .init(pid: getpid(), results: results)
    }

    /// A Unix stream socket at `path`, mode 0600 from the start (umask around bind).
    static func listen(at path: String) throws -> Int32 {
        unlink(path)
        let fd = try Sys.check("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let old = umask(0o177)
        defer { umask(old) }
        do {
            try UnixSocketAddress.with(path) { address, length in
                _ = try Sys.check("bind", path: path) { bind(fd, address, length) }
            }
            _ = try Sys.check("listen", path: path) { Glibc.listen(fd, 128) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    static func writeLine(_ fd: Int32, _ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }
}

/// `sockaddr_un` for a path, refusing paths that do not fit (108 bytes with the NUL).
public enum UnixSocketAddress {
    public static func with<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) throws -> T) throws -> T {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw SystemError("socket path too long (\(bytes.count) bytes, at most \(capacity - 1)); use a shorter --run-root or project name", path: path, errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return try withUnsafePointer(to: &address) {
            try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}
