import BerthSystem
import CBerthSys
import Foundation

/// The CLI's side of the control socket: connects to the project's supervisor, starting one
/// when none runs, and retries a request whose supervisor went away before answering (every
/// operation is idempotent).
public struct SupervisorClient: Sendable {
    public let paths: SupervisorPaths
    public let project: String
    /// `berth` itself, started as `berth --root R --run-root RR supervise --project P`.
    public let berthBinary: String
    public let root: String
    public let runRoot: String
    /// Added to the supervisor's environment (`NAME=value`).
    public let environment: [String]

    public init(project: String, root: String, runRoot: String, berthBinary: String, environment: [String] = []) {
        self.project = project
        self.environment = environment
        self.root = root
        self.runRoot = runRoot
        self.berthBinary = berthBinary
        paths = SupervisorPaths(runRoot: runRoot, project: project)
    }

    /// What a supervisor's environment needs besides PATH: berth's nftables table when it
    /// is not the default one (`BERTH_NFT_TABLE`).
    public static func environment(firewallTable: String) -> [String] {
        firewallTable == "berth" ? [] : ["BERTH_NFT_TABLE=\(firewallTable)"]
    }

    /// Sends `request` (with `passing`: descriptors for an attached start); per-container
    /// failures come back in the results, a supervisor that cannot be reached or started throws.
    /// A wait with a limit (`waitMilliseconds`) retried keeps its end: it waits what is left.
    public func send(_ request: SupervisorProtocol.Request, passing: [Int32] = []) throws -> SupervisorProtocol.Response {
        var lastError: (any Error)?
        var request = request
        let end = request.waitMilliseconds.map { Clock.monotonicNanoseconds() + Int64($0) * 1_000_000 }
        for attempt in 0..<3 {
            do {
                let fd = try connectOrStart()
                defer { close(fd) }
                if let end, attempt > 0 { request.waitMilliseconds = Int(max(0, (end - Clock.monotonicNanoseconds()) / 1_000_000)) }
                let response = try exchange(fd, request, passing: passing)
                if let error = response.error { throw EngineError("supervisor of project \(project): \(error)") }
                return response
            } catch let error as ConnectionLost {
                lastError = error
                continue
            }
        }
        throw EngineError("supervisor of project \(project): \(lastError.map { "\($0)" } ?? "unreachable"); see \(paths.log)")
    }

    /// The running supervisor's pid, if one answers (does not start one).
    public func runningPid() -> Int32? {
        guard let fd = try? connect() else { return nil }
        defer { close(fd) }
        return (try? exchange(fd, .init(op: .hello)))?.pid
    }

    struct ConnectionLost: Error, CustomStringConvertible {
        var description: String
    }

    private func exchange(_ fd: Int32, _ request: SupervisorProtocol.Request, passing: [Int32] = []) throws -> SupervisorProtocol.Response {
        if !DescriptorPassing.send(fd, SupervisorProtocol.encodeLine(request), fds: passing) {
            throw ConnectionLost(description: "the supervisor closed the connection")
        }
        let line = ContainerEngine.readLine(fd)
        if line.isEmpty { throw ConnectionLost(description: "the supervisor ended before answering") }
        do {
            return try JSONDecoder().decode(SupervisorProtocol.Response.self, from: Data(line.utf8))
        } catch {
            throw EngineError("supervisor of project \(project): unreadable answer: \(line.prefix(200))")
        }
    }

    /// A connected socket; nil-free: throws `ConnectionLost` when nobody listens.
    private func connect() throws -> Int32 {
        let fd = try Sys.check("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        do {
            let code = try UnixSocketAddress.with(paths.socket) { address, length in
                Glibc.connect(fd, address, length) == 0 ? 0 : errno
            }
            if code == ENOENT || code == ECONNREFUSED {
                throw ConnectionLost(description: "no supervisor listens on \(paths.socket)")
            }
            if code != 0 { throw SystemError("connect", path: paths.socket, errno: code) }
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Connects, or — holding the spawn lock so concurrent CLIs start only one — starts a
    /// supervisor and waits for its `ready` line.
    private func connectOrStart() throws -> Int32 {
        if let fd = try? connect() { return fd }
        try FS.makeDirectories(paths.directory, mode: 0o700)
        let lockFD = try Sys.check("open", path: paths.spawnLock) { open(paths.spawnLock, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        defer { close(lockFD) }
        _ = try Sys.check("flock", path: paths.spawnLock) { flock(lockFD, LOCK_EX) }
        if let fd = try? connect() { return fd }

        var fds: [Int32] = [-1, -1]
        _ = try Sys.check("pipe2") { berth_pipe2(&fds, O_CLOEXEC) }
        defer { close(fds[0]) }
        let pid: pid_t
        do {
            pid = try Spawn.detached(
                path: berthBinary,
                arguments: [berthBinary, "--root", root, "--run-root", runRoot, "supervise", "--project", project, "--ready-fd", "3"],
                environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + environment,
                logPath: paths.log, passFD: fds[1])
        } catch {
            close(fds[1])
            throw EngineError("cannot start the supervisor of project \(project) (\(berthBinary)): \(error)")
        }
        close(fds[1])
        let line = ContainerEngine.readLine(fds[0])
        guard line.hasPrefix("ready") else {
            var status: Int32 = 0
            _ = berth_waitpid(pid, &status, 0)
            let reason = line.hasPrefix("error: ") ? String(line.dropFirst(7)) : (ContainerEngine.lastLine(of: paths.log) ?? "it exited without a word")
            throw EngineError("the supervisor of project \(project) did not start: \(reason)")
        }
        return try connect()
    }
}
