#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// A program the monitor runs after its container has ended and the exit report is written
/// (`berth-runtime run --exit-hook FILE`), unless another process holds a lock on `unless`:
/// how a container whose supervisor is gone (the supervisor holds its lock for life) still
/// gets its restart policy applied — the hook starts a supervisor. The monitor waits for
/// the hook, so that it is reaped there and not left to a subreaper that does not know it.
///
/// The file is text, as the spec is (no Foundation on the monitor's path): the first line
/// `berth-exit-hook 1`, then `arg VALUE` lines (the program first), `env NAME=VALUE` lines,
/// a `log FILE` line for the program's output and an optional `unless FILE` line; values
/// escaped as in the spec.
public struct ExitHook: Sendable, Equatable {
    public var arguments: [String]
    public var environment: [String]
    public var log: String
    /// A lock file: when some process holds a lock on it, the hook is not run.
    public var unless: String?

    public init(arguments: [String], environment: [String], log: String, unless: String? = nil) {
        self.arguments = arguments
        self.environment = environment
        self.log = log
        self.unless = unless
    }

    static let header = "berth-exit-hook 1"

    public var encoded: String {
        var lines = [Self.header]
        lines += arguments.map { "arg " + ContainerSpec.escape($0) }
        lines += environment.map { "env " + ContainerSpec.escape($0) }
        lines.append("log " + ContainerSpec.escape(log))
        if let unless { lines.append("unless " + ContainerSpec.escape(unless)) }
        return lines.joined(separator: "\n") + "\n"
    }

    public init(decoding text: String) throws {
        let lines = text.split(separator: "\n")
        guard lines.first == Substring(Self.header) else { throw RuntimeError("exit hook: not a \(Self.header) file") }
        var arguments: [String] = [], environment: [String] = [], log: String?, unless: String?
        for line in lines.dropFirst() {
            guard let space = line.firstIndex(of: " ") else { throw RuntimeError("exit hook: bad line \"\(line)\"") }
            let value = ContainerSpec.unescape(line[line.index(after: space)...])
            switch line[..<space] {
            case "arg": arguments.append(value)
            case "env": environment.append(value)
            case "log": log = value
            case "unless": unless = value
            default: throw RuntimeError("exit hook: unknown key in \"\(line)\"")
            }
        }
        guard !arguments.isEmpty, let log else { throw RuntimeError("exit hook: no program or no log") }
        self.init(arguments: arguments, environment: environment, log: log, unless: unless)
    }

    /// Whether some process holds a lock on `unless` (a missing file is not locked).
    var isVetoed: Bool {
        guard let unless else { return false }
        let fd = open(unless, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK
    }

    /// Runs the program in a session of its own, output appended to `log`, and waits for it.
    /// Returns whether it ran.
    @discardableResult
    public func run() throws -> Bool {
        if isVetoed { return false }
        let pid = try Spawn.detached(path: arguments[0], arguments: arguments, environment: environment, logPath: log)
        var status: Int32 = 0
        while berth_waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return true
    }

    /// Runs the hook of `file`, if it can be read; failures go to stderr (the monitor's log).
    static func run(file: String) {
        do {
            try ExitHook(decoding: try FS.readString(file)).run()
        } catch {
            let message = "berth-runtime: exit hook \(file): \(error)\n"
            _ = message.withCString { Glibc.write(2, $0, strlen($0)) }
        }
    }
}
