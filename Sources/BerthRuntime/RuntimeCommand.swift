#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// One option of `berth runtime run`, for the CLI registry's help and man page.
public struct RuntimeOption: Sendable, Equatable {
    /// Spellings, long first: `["--env", "-e"]`.
    public let names: [String]
    /// Value placeholder (`KEY=VALUE`), nil for a flag.
    public let valueName: String?
    public let help: String
    public let repeatable: Bool

    init(_ names: [String], _ valueName: String?, _ help: String, repeatable: Bool = false) {
        self.names = names
        self.valueName = valueName
        self.help = help
        self.repeatable = repeatable
    }
}

/// `berth runtime run [--rootfs DIR] [options] -- CMD…`: runs one container in the
/// foreground and returns its exit code (64 usage error, 125 runtime failure, 126 command
/// not executable, 127 command not found, else the container's code or 128+signal).
public enum RuntimeCommand {
    public static let options: [RuntimeOption] = [
        RuntimeOption(["--blkio-weight"], "N", "Block IO weight, 10 to 1000 (blkio.weight / io.weight)."),
        RuntimeOption(["--cap-add"], "CAP", "Add a capability (CAP_NET_ADMIN, NET_ADMIN or ALL).", repeatable: true),
        RuntimeOption(["--cap-drop"], "CAP", "Drop a capability (or ALL).", repeatable: true),
        RuntimeOption(["--cgroupns"], "MODE", "Cgroup namespace: private (default), host, container:NAME or ns:PATH."),
        RuntimeOption(["--cpu-shares", "-c"], "N", "Relative CPU weight (cpu.shares / cpu.weight)."),
        RuntimeOption(["--cpus"], "N", "CPU quota in CPUs, for example 1.5 (CFS quota over a 100 ms period)."),
        RuntimeOption(["--cpuset-cpus"], "LIST", "CPUs the container may run on, for example 0-1."),
        RuntimeOption(["--cpuset-mems"], "LIST", "Memory nodes the container may use."),
        RuntimeOption(["--domainname"], "NAME", "NIS domain name in the container's UTS namespace."),
        RuntimeOption(["--env", "-e"], "KEY[=VALUE]", "Set an environment variable; KEY alone copies it from berth's environment.", repeatable: true),
        RuntimeOption(["--exit-hook"], "FILE", "Once the container has ended and --status-file is written, run the program FILE describes (a berth-exit-hook file) and wait for it."),
        RuntimeOption(["--group-add"], "GROUP", "Add a supplementary group (name from the image's /etc/group, or gid).", repeatable: true),
        RuntimeOption(["--hostname"], "NAME", "Container host name (default: the container name)."),
        RuntimeOption(["--init"], nil, "Run a reaping, signal-forwarding init as PID 1."),
        RuntimeOption(["--interactive", "-i"], nil, "Keep stdin open (default: /dev/null)."),
        RuntimeOption(["--ipc"], "MODE", "IPC namespace: private (default), shareable, host, container:NAME or ns:PATH."),
        RuntimeOption(["--log-max-file"], "N", "Log files to keep when rotating (default 1)."),
        RuntimeOption(["--log-max-size"], "SIZE", "Rotate the log when it would exceed SIZE (for example 10m)."),
        RuntimeOption(["--log-path"], "FILE", "Also write stdout/stderr as json-file lines to FILE."),
        RuntimeOption(["--memory", "-m"], "SIZE", "Memory limit (for example 64m, 1g)."),
        RuntimeOption(["--memory-reservation"], "SIZE", "Memory soft limit."),
        RuntimeOption(["--memory-swap"], "SIZE", "Memory plus swap limit; -1 for unlimited swap (default: twice --memory)."),
        RuntimeOption(["--name"], "NAME", "Container name (default: berth-<pid>)."),
        RuntimeOption(["--network", "--net"], "MODE", "Network namespace: none (default; lo only), host, container:NAME or ns:PATH."),
        RuntimeOption(["--overlay"], nil, "Use the rootfs as read-only lower layer of an overlay with a throw-away upper."),
        RuntimeOption(["--overlay-dir"], "DIR", "Keep the overlay's writable layer in DIR/upper and DIR/work (implies --overlay)."),
        RuntimeOption(["--pid"], "MODE", "PID namespace: private (default), host, container:NAME or ns:PATH."),
        RuntimeOption(["--pids-limit"], "N", "Maximum number of processes (pids.max); 0 or -1 for unlimited."),
        RuntimeOption(["--privileged"], nil, "All capabilities, no seccomp, no masked or read-only paths, writable /sys."),
        RuntimeOption(["--project"], "NAME", "Project part of the cgroup path berth/<project>/<name> (default runtime)."),
        RuntimeOption(["--read-only"], nil, "Mount the container's root file system read-only."),
        RuntimeOption(["--ready-fd"], "FD", "Write {\"Pid\":N,\"StartedAt\":TIME} to FD once the command runs, or {\"Error\":TEXT} if it cannot start."),
        RuntimeOption(["--rootfs"], "DIR", "Root file system of the container (an unpacked image)."),
        RuntimeOption(["--run-root"], "DIR", "Directory for state files (default $BERTH_RUN_ROOT or /run/berth)."),
        RuntimeOption(["--security-opt"], "OPT", "no-new-privileges[:true|false] or seccomp=unconfined.", repeatable: true),
        RuntimeOption(["--shm-size"], "SIZE", "Size of /dev/shm (default 64m)."),
        RuntimeOption(["--spec"], "FILE", "Read the whole container spec from FILE (berth-spec text) instead of options."),
        RuntimeOption(["--status-file"], "FILE", "Write the exit code, OOMKilled flag and start/finish times as JSON to FILE."),
        RuntimeOption(["--stdio"], "IN,OUT,ERR", "The container's standard input, output and error: three open descriptors (default 0,1,2), or none (input from /dev/null, output only to --log-path)."),
        RuntimeOption(["--stop-signal"], "SIGNAL", "Signal sent on SIGINT/SIGTERM to berth (default SIGTERM)."),
        RuntimeOption(["--stop-timeout"], "SECONDS", "Grace period before SIGKILL after the stop signal (default 10)."),
        RuntimeOption(["--sysctl"], "KEY=VALUE", "Set a namespaced sysctl.", repeatable: true),
        RuntimeOption(["--tmpfs"], "PATH[:OPTS]", "Mount a tmpfs at PATH (options such as size=64m,mode=1777).", repeatable: true),
        RuntimeOption(["--tty", "-t"], nil, "Allocate a pseudo-terminal."),
        RuntimeOption(["--ulimit"], "NAME=SOFT[:HARD]", "Set a resource limit (nofile, nproc, core, ...).", repeatable: true),
        RuntimeOption(["--user", "-u"], "USER[:GROUP]", "User name or uid, optional group name or gid."),
        RuntimeOption(["--uts"], "MODE", "UTS namespace: private (default), host, container:NAME or ns:PATH."),
        RuntimeOption(["--volume", "-v"], "SRC:DST[:ro]", "Bind-mount the host path SRC at DST.", repeatable: true),
        RuntimeOption(["--workdir", "-w"], "DIR", "Working directory (created if missing)."),
    ]

    public static var usage: String {
        var text = """
            Usage: berth runtime run [--rootfs DIR] [OPTIONS] [--] COMMAND [ARG...]
                   berth runtime exec [OPTIONS] NAME [--] COMMAND [ARG...]
                   berth runtime probe [--project P] [--run-root DIR] NAME -- HTTP-GET URL [HEADER...]
                   berth runtime probe [--project P] [--run-root DIR] NAME -- TCP-SOCKET HOST:PORT

            Run one container in the foreground with berth's embedded runtime and exit with its
            exit code (125: berth failed, 126: command not executable, 127: command not found,
            128+n: killed by signal n).

            Options:

            """
        for option in options {
            var left = "  " + option.names.reversed().joined(separator: ", ")
            if let value = option.valueName { left += " " + value }
            let pad = max(1, 34 - left.count)
            text += left + String(repeating: " ", count: pad) + option.help + "\n"
        }
        return text
    }

    /// Entry point: `arguments` are the words after `berth runtime`.
    public static func run(arguments: [String]) -> Int32 {
        Trace.mark("main")
        guard let verb = arguments.first else {
            writeStderr(usage)
            return 64
        }
        if verb == "--help" || verb == "-h" || verb == "help" {
            writeStdout(usage)
            return 0
        }
        if verb == "exec" {
            return runExec(Array(arguments.dropFirst()))
        }
        if verb == "probe" {
            return NativeProbe.run(Array(arguments.dropFirst()))
        }
        guard verb == "run" else {
            writeStderr("Error: unknown runtime command \"\(verb)\"; use run or exec (see berth runtime --help)\n")
            return 64
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("--help") && !(rest.firstIndex(of: "--").map { $0 < (rest.firstIndex(of: "--help") ?? 0) } ?? false) {
            writeStdout(usage)
            return 0
        }
        let parsed: Parsed
        do {
            parsed = try parse(rest)
        } catch let error as RuntimeError {
            writeStderr("Error: \(error.message)\nSee 'berth runtime run --help'.\n")
            return error.exitCode
        } catch {
            writeStderr("Error: \(error)\n")
            return 64
        }
        Trace.mark("parsed")
        do {
            let result = try ContainerRunner.run(parsed.spec, options: parsed.options)
            Trace.mark("cleaned")
            if result.oomKilled {
                writeStderr("berth: container \(parsed.spec.name) was OOMKilled (memory limit reached)\n")
            }
            if let statusFile = parsed.statusFile {
                try FS.writeAtomically(statusFile, Array(result.json.utf8))
            }
            if let hook = parsed.exitHook { ExitHook.run(file: hook) }
            return result.exitCode
        } catch let error as RuntimeError {
            writeStderr("Error: \(error.message)\n")
            reportFailure(error.message, code: error.exitCode, to: parsed.options.readyFD)
            return error.exitCode
        } catch {
            writeStderr("Error: container \(parsed.spec.name): \(error)\n")
            reportFailure("container \(parsed.spec.name): \(error)", code: 125, to: parsed.options.readyFD)
            return 125
        }
    }

    /// `{"Error":…,"ExitCode":…}` on the ready fd: a spawning supervisor reads the first
    /// line only, so after a `{"Pid":…}` line this is ignored.
    static func reportFailure(_ message: String, code: Int32, to fd: Int32) {
        guard fd >= 0 else { return }
        try? FS.writeAll(fd: fd, Array("{\"Error\":\"\(JSONLogWriter.escape(message))\",\"ExitCode\":\(code)}\n".utf8), path: "ready fd")
    }

    /// Options of `berth runtime exec [OPTIONS] NAME [--] COMMAND [ARG...]`.
    public static let execOptions: [RuntimeOption] = [
        RuntimeOption(["--env", "-e"], "KEY[=VALUE]", "Set an environment variable for the new process.", repeatable: true),
        RuntimeOption(["--interactive", "-i"], nil, "Keep stdin open."),
        RuntimeOption(["--project"], "NAME", "Project of the container (default runtime)."),
        RuntimeOption(["--run-root"], "DIR", "Directory for state files (default $BERTH_RUN_ROOT or /run/berth)."),
        RuntimeOption(["--tty", "-t"], nil, "Allocate a pseudo-terminal."),
        RuntimeOption(["--user", "-u"], "USER[:GROUP]", "Run as this user instead of the container's."),
        RuntimeOption(["--workdir", "-w"], "DIR", "Working directory instead of the container's."),
    ]

    static func runExec(_ args: [String]) -> Int32 {
        var request = ContainerExec.Request(name: "", runRoot: ProcessEnvironment.value("BERTH_RUN_ROOT") ?? "/run/berth", args: [])
        var index = 0
        func value(_ name: String) throws -> String {
            index += 1
            guard index < args.count else { throw RuntimeError("option \(name) needs a value", kind: .usage) }
            return args[index]
        }
        do {
            while index < args.count {
                let arg = args[index]
                switch arg {
                case "--help":
                    writeStdout("Usage: berth runtime exec [OPTIONS] NAME [--] COMMAND [ARG...]\n")
                    return 0
                case "-e", "--env":
                    let entry = try value(arg)
                    if entry.contains("=") { request.env.append(entry) } else if let v = ProcessEnvironment.value(entry) { request.env.append(entry + "=" + v) }
                case "-u", "--user": request.user = try value(arg)
                case "-w", "--workdir": request.cwd = try value(arg)
                case "--project": request.project = try value(arg)
                case "--run-root": request.runRoot = try value(arg)
                case "-t", "--tty": request.terminal = true
                case "-i", "--interactive": request.openStdin = true
                case "-it", "-ti": request.terminal = true; request.openStdin = true
                default:
                    if arg.hasPrefix("-") && request.name.isEmpty { throw RuntimeError("unknown option \(arg)", kind: .usage) }
                    if request.name.isEmpty {
                        request.name = arg
                    } else {
                        request.args = Array(args[(arg == "--" ? index + 1 : index)...])
                        index = args.count
                        continue
                    }
                }
                index += 1
            }
            if request.name.isEmpty { throw RuntimeError("no container name given: berth runtime exec NAME -- COMMAND", kind: .usage) }
            if request.args.isEmpty { throw RuntimeError("no command given: add -- COMMAND [ARG...]", kind: .usage) }
        } catch let error as RuntimeError {
            writeStderr("Error: \(error.message)\n")
            return error.exitCode
        } catch {
            writeStderr("Error: \(error)\n")
            return 64
        }
        return ContainerExec.runReporting(request)
    }

    public struct Parsed: Sendable {
        public var spec: ContainerSpec
        public var options: RunOptions
        public var statusFile: String?
        public var exitHook: String?
    }

    /// Parses `run` options into a spec (no side effects; unit-tested). `environment`: the
    /// variables `--env KEY` and BERTH_RUN_ROOT come from; nil = this process's, looked up
    /// one by one (building a dictionary of all of them cost ~0.1 ms per start).
    public static func parse(_ args: [String], environment: [String: String]? = nil) throws -> Parsed {
        func variable(_ key: String) -> String? {
            if let environment { return environment[key] }
            return ProcessEnvironment.value(key)
        }
        var values: [(String, String?)] = []
        var command: [String] = []
        var index = 0
        func lookup(_ name: String) -> RuntimeOption? { options.first { $0.names.contains(name) } }
        while index < args.count {
            let arg = args[index]
            if arg == "--" {
                command = Array(args[(index + 1)...])
                break
            }
            if !arg.hasPrefix("-") || arg == "-" {
                command = Array(args[index...])
                break
            }
            var name = arg
            var inlineValue: String?
            if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
                name = String(arg[..<eq])
                inlineValue = String(arg[arg.index(after: eq)...])
            }
            if let option = lookup(name) {
                let canonical = option.names[0]
                if option.valueName != nil {
                    if let inlineValue {
                        values.append((canonical, inlineValue))
                    } else {
                        index += 1
                        guard index < args.count else { throw RuntimeError("option \(name) needs a value (\(option.valueName ?? ""))", kind: .usage) }
                        values.append((canonical, args[index]))
                    }
                } else {
                    if inlineValue != nil { throw RuntimeError("option \(name) takes no value", kind: .usage) }
                    values.append((canonical, nil))
                }
            } else if !arg.hasPrefix("--"), arg.count > 2 {
                // Combined short flags (-it) or a short option with its value attached (-eFOO=1).
                let letters = Array(arg.dropFirst())
                var expanded: [String] = []
                var consumedValue = false
                for (i, letter) in letters.enumerated() {
                    guard let option = lookup("-" + String(letter)) else {
                        throw RuntimeError("unknown option \(arg)", kind: .usage)
                    }
                    if option.valueName != nil {
                        let attached = String(letters[(i + 1)...])
                        expanded.append(option.names[0])
                        if !attached.isEmpty {
                            values.append(contentsOf: expanded.dropLast().map { ($0, nil) })
                            values.append((option.names[0], attached))
                            consumedValue = true
                            expanded = []
                        }
                        break
                    }
                    expanded.append(option.names[0])
                }
                if !consumedValue {
                    for (i, canonical) in expanded.enumerated() {
                        if i == expanded.count - 1, let option = lookup(canonical), option.valueName != nil {
                            index += 1
                            guard index < args.count else { throw RuntimeError("option \(arg) needs a value", kind: .usage) }
                            values.append((canonical, args[index]))
                        } else {
                            values.append((canonical, nil))
                        }
                    }
                }
            } else {
                throw RuntimeError("unknown option \(name)", kind: .usage)
            }
            index += 1
        }

        func last(_ name: String) -> String? { values.last { $0.0 == name }?.1 }
        func all(_ name: String) -> [String] { values.filter { $0.0 == name }.compactMap { $0.1 } }
        func has(_ name: String) -> Bool { values.contains { $0.0 == name } }

        let runRoot = last("--run-root") ?? variable("BERTH_RUN_ROOT") ?? "/run/berth"
        var runOptions = RunOptions(runRoot: runRoot)
        if let text = last("--ready-fd") {
            guard let fd = Int32(text), fd >= 3, fcntl(fd, F_GETFD) >= 0 else {
                throw RuntimeError("invalid --ready-fd \(text): give an open file descriptor of 3 or more", kind: .usage)
            }
            runOptions.readyFD = fd
        }
        if let text = last("--stdio") {
            (runOptions.stdin, runOptions.stdout, runOptions.stderr) = try parseStdio(text)
        }
        if let specFile = last("--spec") {
            let allowed: Set<String> = ["--spec", "--run-root", "--status-file", "--ready-fd", "--exit-hook", "--stdio"]
            if let other = values.first(where: { !allowed.contains($0.0) }) {
                throw RuntimeError("\(other.0) cannot be combined with --spec: the spec file holds the whole container", kind: .usage)
            }
            guard let text = try? FS.readString(specFile) else {
                throw RuntimeError("cannot read --spec \(specFile)", kind: .usage)
            }
            var spec = try ContainerSpec(decoding: text)
            if !command.isEmpty { spec.process.args = command }
            return Parsed(spec: spec, options: runOptions, statusFile: last("--status-file"), exitHook: last("--exit-hook"))
        }
        guard let rootfs = last("--rootfs") else {
            throw RuntimeError("--rootfs DIR is required (running an IMAGE needs berth's image store)", kind: .usage)
        }
        if command.isEmpty {
            throw RuntimeError("no command given: add -- COMMAND [ARG...]", kind: .usage)
        }
        let name = last("--name") ?? "berth-\(getpid())"
        let readOnly = has("--read-only")
        let overlayDir = last("--overlay-dir")
        if let overlayDir, !overlayDir.hasPrefix("/") {
            throw RuntimeError("--overlay-dir \(overlayDir) must be an absolute path", kind: .usage)
        }
        let root: ContainerSpec.Root = has("--overlay") || overlayDir != nil
            ? .overlay(lower: [rootfs], writableDir: overlayDir, readOnly: readOnly) : .directory(rootfs, readOnly: readOnly)

        var env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        var serviceEnv: [String] = []
        for entry in all("--env") {
            if entry.contains("=") {
                serviceEnv.append(entry)
            } else if let value = variable(entry) {
                serviceEnv.append(entry + "=" + value)
            }
        }
        env = ContainerSpec.mergeEnvironment(image: env, service: serviceEnv)
        var process = ContainerSpec.Process(args: command, env: env)
        if let dir = last("--workdir") {
            guard dir.hasPrefix("/") else { throw RuntimeError("--workdir \(dir) must be an absolute path", kind: .usage) }
            process.cwd = dir
        }
        if let user = last("--user") { process.user = user }
        process.additionalGroups = all("--group-add")
        process.terminal = has("--tty")
        process.openStdin = has("--interactive")

        var spec = ContainerSpec(name: name, project: last("--project") ?? "runtime", root: root, process: process)
        spec.hostname = last("--hostname")
        spec.domainname = last("--domainname")
        spec.useInit = has("--init")
        spec.security.capAdd = all("--cap-add")
        spec.security.capDrop = all("--cap-drop")
        spec.security.privileged = has("--privileged")
        for opt in all("--security-opt") {
            switch opt {
            case "no-new-privileges", "no-new-privileges:true", "no-new-privileges=true": spec.security.noNewPrivileges = true
            case "no-new-privileges:false", "no-new-privileges=false": spec.security.noNewPrivileges = false
            case "seccomp=unconfined", "seccomp:unconfined": spec.security.seccomp = .unconfined
            default:
                throw RuntimeError("unsupported --security-opt \(opt): use no-new-privileges or seccomp=unconfined", kind: .usage)
            }
        }
        for volume in all("--volume") {
            let parts = volume.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2 || parts.count == 3, parts[0].hasPrefix("/"), parts[1].hasPrefix("/") else {
                throw RuntimeError("invalid --volume \(volume): use /host/path:/container/path[:ro] (named volumes need the orchestrator)", kind: .usage)
            }
            var readOnlyVolume = false
            if parts.count == 3 {
                for flag in parts[2].split(separator: ",") {
                    switch flag {
                    case "ro": readOnlyVolume = true
                    case "rw": readOnlyVolume = false
                    default: throw RuntimeError("invalid --volume mode \(flag) in \(volume): use ro or rw", kind: .usage)
                    }
                }
            }
            spec.mounts.append(.init(kind: .bind(source: parts[0]), destination: parts[1], readOnly: readOnlyVolume))
        }
        for tmpfs in all("--tmpfs") {
            let parts = tmpfs.split(separator: ":", maxSplits: 1).map(String.init)
            guard let dest = parts.first, dest.hasPrefix("/") else {
                throw RuntimeError("invalid --tmpfs \(tmpfs): use /path[:options]", kind: .usage)
            }
            // Docker's default tmpfs flags: noexec, nosuid, nodev.
            spec.mounts.append(.init(kind: .tmpfs(options: parts.count > 1 ? parts[1] : ""), destination: dest,
                                     flags: MountFlags.noExec | MountFlags.noSuid | MountFlags.noDev))
        }
        for sysctl in all("--sysctl") {
            let kv = sysctl.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { throw RuntimeError("invalid --sysctl \(sysctl): use key=value", kind: .usage) }
            spec.sysctls.append((kv[0], kv[1]))
        }
        for ulimit in all("--ulimit") { spec.rlimits.append(try parseUlimit(ulimit)) }

        if let v = last("--memory") { spec.resources.memoryLimit = try parseBytes(v, option: "--memory") }
        if let v = last("--memory-swap") { spec.resources.memorySwapLimit = v == "-1" ? -1 : try parseBytes(v, option: "--memory-swap") }
        if let v = last("--memory-reservation") { spec.resources.memoryReservation = try parseBytes(v, option: "--memory-reservation") }
        if let v = last("--cpus") {
            guard let cpus = Double(v), cpus > 0 else { throw RuntimeError("invalid --cpus \(v): use a positive number such as 0.5", kind: .usage) }
            spec.resources.cpus = cpus
        }
        if let v = last("--cpu-shares") { spec.resources.cpuShares = try parseInt(v, option: "--cpu-shares") }
        spec.resources.cpusetCpus = last("--cpuset-cpus")
        spec.resources.cpusetMems = last("--cpuset-mems")
        if let v = last("--pids-limit") { spec.resources.pidsLimit = try parseInt(v, option: "--pids-limit") }
        if let v = last("--blkio-weight") {
            let weight = try parseInt(v, option: "--blkio-weight")
            guard (10...1000).contains(weight) else { throw RuntimeError("invalid --blkio-weight \(v): use 10 to 1000", kind: .usage) }
            spec.resources.blkioWeight = weight
        }
        if let v = last("--shm-size") { spec.shmSize = try parseBytes(v, option: "--shm-size") }
        if let v = last("--stop-signal") {
            guard let sig = Signals.parse(v) else { throw RuntimeError("invalid --stop-signal \(v): use a name such as SIGTERM or a number", kind: .usage) }
            spec.stopSignal = sig
        }
        if let v = last("--stop-timeout") { spec.stopTimeoutMilliseconds = try parseDurationMilliseconds(v, option: "--stop-timeout") }
        if let path = last("--log-path") {
            var maxSize: Int64?
            if let v = last("--log-max-size") { maxSize = try parseBytes(v, option: "--log-max-size") }
            let maxFiles = try last("--log-max-file").map { try parseInt($0, option: "--log-max-file") } ?? 1
            guard maxFiles >= 1 else { throw RuntimeError("invalid --log-max-file \(maxFiles): use 1 or more", kind: .usage) }
            spec.log = .init(path: path, maxSize: maxSize, maxFiles: Int(maxFiles))
        } else if has("--log-max-size") || has("--log-max-file") {
            throw RuntimeError("--log-max-size and --log-max-file need --log-path", kind: .usage)
        }
        spec.namespaces.pid = try namespaceMode(last("--pid"), option: "--pid", allowed: ["private", "host"])
        spec.namespaces.network = try namespaceMode(last("--network"), option: "--network", allowed: ["none", "private", "host"])
        spec.namespaces.ipc = try namespaceMode(last("--ipc"), option: "--ipc", allowed: ["private", "shareable", "host"])
        spec.namespaces.uts = try namespaceMode(last("--uts"), option: "--uts", allowed: ["private", "host"])
        spec.namespaces.cgroup = try namespaceMode(last("--cgroupns"), option: "--cgroupns", allowed: ["private", "host"])

        return Parsed(spec: spec, options: runOptions, statusFile: last("--status-file"), exitHook: last("--exit-hook"))
    }

    /// `--stdio IN,OUT,ERR` (open descriptors) or `none` (all -1).
    static func parseStdio(_ text: String) throws -> (Int32, Int32, Int32) {
        if text == "none" { return (-1, -1, -1) }
        let fds = text.split(separator: ",", omittingEmptySubsequences: false).map { Int32($0) }
        guard fds.count == 3, let input = fds[0], let output = fds[1], let error = fds[2],
              [input, output, error].allSatisfy({ $0 >= 0 && fcntl($0, F_GETFD) >= 0 }) else {
            throw RuntimeError("invalid --stdio \(text): give three open descriptors IN,OUT,ERR (such as 4,5,6) or none", kind: .usage)
        }
        return (input, output, error)
    }

    static func namespaceMode(_ value: String?, option: String, allowed: [String]) throws -> ContainerSpec.NamespaceMode {
        guard let value else { return .private }
        if value.hasPrefix("ns:") { return .path(String(value.dropFirst(3))) }
        if value.hasPrefix("container:") { return .container(String(value.dropFirst(10))) }
        guard allowed.contains(value) else {
            throw RuntimeError("invalid \(option) \(value): use \(allowed.joined(separator: ", ")), container:NAME or ns:PATH", kind: .usage)
        }
        return value == "host" ? .host : .private
    }

    static func parseInt(_ text: String, option: String) throws -> Int64 {
        guard let value = Int64(text) else { throw RuntimeError("invalid \(option) \(text): not an integer", kind: .usage) }
        return value
    }

    /// Docker's RAMInBytes: a number with an optional b/k/m/g/t suffix (powers of 1024).
    public static func parseBytes(_ text: String, option: String) throws -> Int64 {
        var digits = text.lowercased()
        var multiplier: Int64 = 1
        if digits.hasSuffix("b") { digits.removeLast() }  // 1024b, 512kb, 64mb
        if let last = digits.last {
            switch last {
            case "k": multiplier = 1 << 10
            case "m": multiplier = 1 << 20
            case "g": multiplier = 1 << 30
            case "t": multiplier = 1 << 40
            default: break
            }
            if multiplier != 1 { digits.removeLast() }
        }
        guard let number = Double(digits), number >= 0 else {
            throw RuntimeError("invalid \(option) \(text): use a size such as 512k, 64m or 1g", kind: .usage)
        }
        return Int64(number * Double(multiplier))
    }

    /// `10` (seconds), `1.5`, `500ms`, `2s`, `1m`.
    static func parseDurationMilliseconds(_ text: String, option: String) throws -> Int {
        var number = text
        var scale = 1000.0
        if text.hasSuffix("ms") { number = String(text.dropLast(2)); scale = 1 }
        else if text.hasSuffix("s") { number = String(text.dropLast()) }
        else if text.hasSuffix("m") { number = String(text.dropLast()); scale = 60_000 }
        guard let value = Double(number), value >= 0 else {
            throw RuntimeError("invalid \(option) \(text): use seconds, for example 10 or 500ms", kind: .usage)
        }
        return Int(value * scale)
    }

    static let rlimitNames: [String: Int32] = [
        "cpu": 0, "fsize": 1, "data": 2, "stack": 3, "core": 4, "rss": 5, "nproc": 6, "nofile": 7,
        "memlock": 8, "as": 9, "locks": 10, "sigpending": 11, "msgqueue": 12, "nice": 13, "rtprio": 14, "rttime": 15,
    ]

    public static func parseUlimit(_ text: String) throws -> ContainerSpec.Rlimit {
        let kv = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard kv.count == 2, let resource = rlimitNames[kv[0]] else {
            throw RuntimeError("invalid --ulimit \(text): use NAME=SOFT[:HARD] with NAME one of \(rlimitNames.keys.sorted().joined(separator: ", "))", kind: .usage)
        }
        let parts = kv[1].split(separator: ":").map(String.init)
        func value(_ s: String) throws -> UInt64 {
            if s == "-1" || s == "unlimited" { return UInt64.max }
            guard let v = UInt64(s) else { throw RuntimeError("invalid --ulimit \(text): \(s) is not a number", kind: .usage) }
            return v
        }
        guard parts.count == 1 || parts.count == 2 else { throw RuntimeError("invalid --ulimit \(text)", kind: .usage) }
        let soft = try value(parts[0])
        let hard = parts.count == 2 ? try value(parts[1]) : soft
        if soft > hard { throw RuntimeError("invalid --ulimit \(text): soft limit above hard limit", kind: .usage) }
        return ContainerSpec.Rlimit(resource: resource, name: kv[0], soft: soft, hard: hard)
    }

    static func writeStderr(_ text: String) {
        try? FS.writeAll(fd: 2, Array(text.utf8), path: "stderr")
    }

    static func writeStdout(_ text: String) {
        try? FS.writeAll(fd: 1, Array(text.utf8), path: "stdout")
    }
}

/// The process environment, without Foundation.
public enum ProcessEnvironment {
    /// One variable (`getenv`).
    public static func value(_ key: String) -> String? {
        getenv(key).map { String(cString: $0) }
    }

    /// All of them (the first of a repeated name, as `getenv`).
    public static func all() -> [String: String] {
        var out: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let eq = text.firstIndex(of: "="), out[String(text[..<eq])] == nil {
                out[String(text[..<eq])] = String(text[text.index(after: eq)...])
            }
            pointer += 1
        }
        return out
    }
}
