#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// What `exec` needs to know about a running container, written next to state.json as
/// `exec.conf`: one `key value` per line (values escaped: `\n`, `\\`), so that no JSON
/// parser is needed on this path.
public struct ExecConfig: Sendable, Equatable {
    public var pid: Int32
    public var capabilities: UInt64
    public var seccomp: Bool
    public var noNewPrivileges: Bool
    public var user: String
    public var groups: [String]
    public var cwd: String
    public var env: [String]

    public var text: String {
        func escape(_ value: String) -> String {
            var out = ""
            for c in value {
                switch c {
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                default: out.append(c)
                }
            }
            return out
        }
        var lines = [
            "pid \(pid)", "capabilities \(String(capabilities, radix: 16))", "seccomp \(seccomp ? 1 : 0)",
            "no-new-privileges \(noNewPrivileges ? 1 : 0)", "user \(escape(user))", "cwd \(escape(cwd))",
        ]
        lines += groups.map { "group \(escape($0))" }
        lines += env.map { "env \(escape($0))" }
        return lines.joined(separator: "\n") + "\n"
    }

    public init(pid: Int32, capabilities: UInt64, seccomp: Bool, noNewPrivileges: Bool, user: String, groups: [String], cwd: String, env: [String]) {
        self.pid = pid
        self.capabilities = capabilities
        self.seccomp = seccomp
        self.noNewPrivileges = noNewPrivileges
        self.user = user
        self.groups = groups
        self.cwd = cwd
        self.env = env
    }

    public init(parsing text: String) throws {
        func unescape(_ value: Substring) -> String {
            var out = ""
            var escaped = false
            for c in value {
                if escaped {
                    out.append(c == "n" ? "\n" : c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else {
                    out.append(c)
                }
            }
            return out
        }
        var pid: Int32?
        var caps: UInt64?
        self.init(pid: 0, capabilities: 0, seccomp: false, noNewPrivileges: false, user: "", groups: [], cwd: "/", env: [])
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            let value = parts[1]
            switch parts[0] {
            case "pid": pid = Int32(value)
            case "capabilities": caps = UInt64(value, radix: 16)
            case "seccomp": seccomp = value == "1"
            case "no-new-privileges": noNewPrivileges = value == "1"
            case "user": user = unescape(value)
            case "cwd": cwd = unescape(value)
            case "group": groups.append(unescape(value))
            case "env": env.append(unescape(value))
            default: break
            }
        }
        guard let pid, let caps else { throw RuntimeError("exec.conf is incomplete (no pid or capabilities)") }
        self.pid = pid
        capabilities = caps
    }
}

/// `berth runtime exec NAME -- CMD…`: a new process in a running container.
///
/// The same single-threaded mechanism as `run`: this fresh process `setns`es the pid
/// namespace for its children, clones one child, which joins the container's cgroup (through
/// fds opened beforehand), then its IPC, UTS, network, cgroup and — last — mount namespaces,
/// and applies the container's user, capabilities, no_new_privs and seccomp program before
/// `execve`. A multi-threaded supervisor reaches it by spawning `berth runtime exec`.
public enum ContainerExec {
    public struct Request: Sendable {
        public var name: String
        public var project: String
        public var runRoot: String
        public var args: [String]
        public var env: [String]
        public var user: String?
        public var cwd: String?
        public var terminal: Bool
        public var openStdin: Bool
        /// The host's cgroup layout when the caller has detected it already.
        public var cgroupLayout: CgroupLayout?

        public init(name: String, project: String = "runtime", runRoot: String = "/run/berth", args: [String], env: [String] = [], user: String? = nil, cwd: String? = nil, terminal: Bool = false, openStdin: Bool = false) {
            self.name = name
            self.project = project
            self.runRoot = runRoot
            self.args = args
            self.env = env
            self.user = user
            self.cwd = cwd
            self.terminal = terminal
            self.openStdin = openStdin
        }
    }

    /// `run` with this process's stdio, its failure reported as `Error: …` on stderr: the
    /// command's exit code (126/127 when it cannot run, 125 when berth cannot).
    public static func runReporting(_ request: Request) -> Int32 {
        do {
            return try run(request).code
        } catch let error as RuntimeError {
            RuntimeCommand.writeStderr("Error: \(error.message)\n")
            return error.exitCode
        } catch {
            RuntimeCommand.writeStderr("Error: exec in container \(request.name): \(error)\n")
            return 125
        }
    }

    /// Whether this process has one thread: the condition for running `run` in it (the
    /// child it forks runs Swift code, so no other thread may hold a lock at the fork).
    public static var callerIsSingleThreaded: Bool {
        (try? FS.listDirectory("/proc/self/task"))?.count == 1
    }

    public static func run(_ request: Request, stdin: Int32 = 0, stdout: Int32 = 1, stderr: Int32 = 2) throws -> ExitStatus {
        var cleanups = CleanupStack()
        defer { cleanups.run() }
        _ = signal(SIGPIPE, SIG_IGN)
        let stateDir = "\(request.runRoot)/runtime/\(request.project)/\(request.name)"
        guard let text = try? FS.readString(stateDir + "/exec.conf") else {
            throw RuntimeError("no running container \"\(request.name)\" in project \(request.project) (no \(stateDir)/exec.conf); check --name, --project and --run-root")
        }
        let config = try ExecConfig(parsing: text)
        guard kill(config.pid, 0) == 0 else {
            throw RuntimeError("container \"\(request.name)\" is not running (pid \(config.pid) is gone)")
        }
        Trace.mark("exec-conf")
        let layout = try request.cgroupLayout ?? CgroupLayout.detect()
        let cgroup = Cgroup(layout: layout, project: request.project, name: request.name)
        let cgroupRoots = try cgroup.openRoots()
        cleanups.push { cgroupRoots.forEach { close($0) } }

        var namespaces: [(type: Int32, fd: Int32)] = []
        for (name, type) in [("ipc", CLONE_NEWIPC), ("uts", CLONE_NEWUTS), ("net", CLONE_NEWNET), ("cgroup", CLONE_NEWCGROUP), ("mnt", CLONE_NEWNS)] {
            let path = "/proc/\(config.pid)/ns/\(name)"
            let fd = try Sys.check("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
            cleanups.push { close(fd) }
            namespaces.append((Int32(type), fd))
        }
        let pidNS = "/proc/\(config.pid)/ns/pid"
        let pidFD = try Sys.check("open", path: pidNS) { open(pidNS, O_RDONLY | O_CLOEXEC) }
        cleanups.push { close(pidFD) }
        _ = try Sys.check("setns", path: pidNS) { berth_setns(pidFD, Int32(CLONE_NEWPID)) }

        let program = config.seccomp
            ? try SeccompProfile.program(capabilities: config.capabilities, cacheDir: request.runRoot + "/seccomp") : []
        let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]
        let signalFD = try Sys.check("signalfd") { handled.withUnsafeBufferPointer { berth_signalfd($0.baseAddress, Int32($0.count)) } }
        cleanups.push { close(signalFD) }
        let errors = try Pipe()
        cleanups.push { close(errors.read) }
        var console: (parent: Int32, child: Int32)?
        var devNull: Int32 = -1
        if request.terminal {
            var fds: [Int32] = [-1, -1]
            _ = try Sys.check("socketpair", path: "console socket") { berth_socketpair(&fds) }
            console = (fds[0], fds[1])
            let parentEnd = fds[0]
            cleanups.push { close(parentEnd) }
        } else if !request.openStdin {
            devNull = try Sys.check("open", path: "/dev/null") { open("/dev/null", O_RDONLY | O_CLOEXEC) }
        }
        let env = ContainerSpec.mergeEnvironment(image: config.env, service: request.env)
        let userSpec = request.user ?? config.user
        let groups = request.user == nil ? config.groups : []
        let cwd = request.cwd ?? config.cwd
        let args = request.args
        let errorWrite = errors.write
        let childStdin = devNull >= 0 ? devNull : stdin

        Trace.mark("exec-preclone")
        // The child shares our memory until it calls execve (vfork semantics): nothing to copy.
        let child = VforkChild {
            var env = env
            do {
                _ = setsid()
                if console == nil {
                    for (from, to) in [(childStdin, Int32(0)), (stdout, Int32(1)), (stderr, Int32(2))] where from != to {
                        _ = try Sys.check("dup3") { berth_dup3(from, to, 0) }
                    }
                }
                Trace.mark("exec-child")
                try cgroup.attachSelf(rootFDs: cgroupRoots)
                Trace.mark("exec-child-attached")
                for ns in namespaces {
                    _ = try Sys.check("setns", path: ContainerInit.namespaceName(ns.type)) { berth_setns(ns.fd, ns.type) }
                }
                _ = try Sys.check("chdir", path: "/") { chdir("/") }
                if let console { try ContainerInit.setupConsole(console.child, bindConsole: false) }
                let user = try UserResolver.resolve(
                    user: userSpec, groupAdd: groups, passwd: try? FS.readString("/etc/passwd"), group: try? FS.readString("/etc/group"))
                if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=" + user.home) }
                if request.terminal && !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }
                Trace.mark("exec-child-joined")
                try ContainerInit.dropPrivileges(user: user, capabilities: config.capabilities, seccompProgram: program, noNewPrivileges: config.noNewPrivileges)
                Trace.mark("exec-child-creds")
                let (_, code) = Sys.attempt { chdir(cwd) }
                if code != 0 {
                    throw RuntimeError("cannot enter working directory \(cwd) as uid \(user.uid): \(SystemError.errnoName(code)) (\(SystemError.strerror(code)))")
                }
                guard let argv0 = args.first else { throw RuntimeError("no command given: add -- COMMAND [ARG...]") }
                let path = try ContainerInit.lookPath(argv0, env: env)
                ContainerInit.execProcess(path: path, args: args, env: env, errorWrite: errorWrite)
            } catch let error as RuntimeError {
                ContainerInit.report(errorWrite, error)
            } catch let error as UserError {
                ContainerInit.report(errorWrite, RuntimeError(error.message))
            } catch {
                ContainerInit.report(errorWrite, RuntimeError("\(error)"))
            }
        }
        var pidfd: Int32 = -1
        let pid = child.start(pidfd: &pidfd)
        if pid < 0 { throw SystemError("clone", path: "exec in \(request.name)", errno: errno) }
        let childPidfd = pidfd
        var reaped = false
        cleanups.push { close(childPidfd) }
        cleanups.push {
            if !reaped {
                _ = berth_pidfd_send_signal(childPidfd, SIGKILL)
                var status: Int32 = 0
                _ = berth_waitpid(pid, &status, 0)
            }
        }
        close(errors.write)
        if devNull >= 0 { close(devNull) }
        var ptyMaster: Int32 = -1
        if let console {
            close(console.child)
            let master = berth_recv_fd(console.parent)
            if master >= 0 {
                ptyMaster = master
                cleanups.push { close(master) }
                var rows: UInt16 = 0, cols: UInt16 = 0
                if berth_get_winsize(stdout, &rows, &cols) == 0 { _ = berth_set_winsize(master, rows, cols) }
            }
        }
        let report = try FS.readAll(fd: errors.read, path: "exec error pipe", limit: 65536)
        Trace.mark("exec-execed")
        if !report.isEmpty {
            var status: Int32 = 0
            _ = berth_waitpid(pid, &status, 0)
            reaped = true
            throw RuntimeError(childReport: String(decoding: report, as: UTF8.self), context: "exec in container \(request.name)")
        }
        var spec = ContainerSpec(name: request.name, project: request.project, root: .directory("/", readOnly: false),
                                 process: .init(args: args, terminal: request.terminal, openStdin: request.openStdin))
        spec.stopTimeoutMilliseconds = 0
        var monitor = Monitor(
            pid: pid, pidfd: childPidfd, signalFD: signalFD, spec: spec,
            options: RunOptions(runRoot: request.runRoot, stdin: stdin, stdout: stdout, stderr: stderr),
            outPipe: nil, errPipe: nil, ptyMaster: ptyMaster, log: nil)
        let status = try monitor.wait()
        Trace.mark("exec-exited")
        reaped = true
        monitor.drainOutput()
        return status
    }
}

/// The body of a child started with vfork semantics (`berth_vfork_call`): it runs on a stack
/// of its own in our memory while we wait, and ends in execve or `_exit`.
final class VforkChild {
    let body: () -> Never

    init(_ body: @escaping () -> Never) { self.body = body }

    /// Starts the child; its pid (or -1 with errno), its pidfd in `pidfd`.
    func start(pidfd: inout Int32) -> Int32 {
        withExtendedLifetime(self) {
            berth_vfork_call({ raw in
                guard let raw else { _exit(125) }
                Unmanaged<VforkChild>.fromOpaque(raw).takeUnretainedValue().body()
            }, Unmanaged.passUnretained(self).toOpaque(), &pidfd)
        }
    }
}
