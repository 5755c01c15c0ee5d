#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// How a container ended.
public struct ContainerResult: Sendable, Equatable {
    /// Docker's convention: the exit code, or 128 + signal number.
    public var exitCode: Int32
    /// The signal that ended PID 1, if any.
    public var signal: Int32?
    /// The kernel OOM killer killed a process of the container.
    public var oomKilled: Bool
    public var pid: Int32
    public var startedAt: String
    public var finishedAt: String

    /// A small JSON document (`--status-file`), written without Foundation.
    public var json: String {
        "{\"ExitCode\":\(exitCode),\"Signal\":\(signal.map(String.init) ?? "null"),\"OOMKilled\":\(oomKilled),"
            + "\"Pid\":\(pid),\"StartedAt\":\"\(startedAt)\",\"FinishedAt\":\"\(finishedAt)\"}\n"
    }
}

/// Options of one foreground run that are not part of the container itself.
public struct RunOptions: Sendable {
    /// State directories live in `<runRoot>/runtime/<project>/<name>` (BERTH_RUN_ROOT).
    public var runRoot: String
    /// Kill the container if this process dies (foreground `runtime run`); a supervisor
    /// that must survive restarts sets this to false.
    public var killWithParent: Bool
    /// The container's standard streams; -1: none (input from /dev/null, output only to
    /// the log — a supervised container's monitor, which nobody is attached to).
    public var stdin: Int32
    public var stdout: Int32
    public var stderr: Int32
    /// When ≥ 0: once the command has been executed, `{"Pid":…,"StartedAt":…}` and a
    /// newline are written here — how a supervisor that spawned this monitor learns that
    /// the container runs (a failure writes `{"Error":…}` instead, see `RuntimeCommand`).
    public var readyFD: Int32

    public init(runRoot: String = "/run/berth", killWithParent: Bool = true, stdin: Int32 = 0, stdout: Int32 = 1, stderr: Int32 = 2, readyFD: Int32 = -1) {
        self.runRoot = runRoot
        self.killWithParent = killWithParent
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.readyFD = readyFD
    }
}

/// Runs one container in the foreground: the parent side of the start path and the monitor.
///
/// ## Process model
/// The caller must be **single-threaded** (no Dispatch, no Swift concurrency, no
/// Foundation.Process started): `berth runtime run` is such a process by construction, and a
/// multi-threaded supervisor gets one by spawning `berth runtime run --spec FILE` (a re-exec
/// of its own binary via `/proc/self/exe`: posix_spawn + execve is safe from any thread).
/// That process is also the container's monitor (like conmon): one per container, so a
/// supervisor that dies takes no container with it.
///
/// In that process we `clone()` the container's first process straight from the C shim
/// with `CLONE_NEWPID|CLONE_NEWNS` (plus `CLONE_INTO_CGROUP` via clone3 on cgroup v2). The
/// child is a copy of a single-threaded process, so it may run Swift code, `unshare` and
/// `setns` into any namespace (mount included) and `execve`: it unshares network, IPC and
/// UTS itself (in parallel with our cgroup work), joins its cgroup, then unshares the cgroup
/// namespace. `berth runtime exec` (`ContainerExec`) uses the same path: a fresh
/// single-threaded process `setns`es the pid namespace for its children and clones a child
/// that joins the cgroup and the other namespaces of the running container. Why not the
/// alternatives: runc's C constructor would move all setup into C; a second re-exec per
/// container (`berth init`) costs another process start (1.7–3.4 ms here) on every start.
///
/// The child reports failures on a close-on-exec pipe as `kind\nmessage` (EOF = exec
/// succeeded), so the caller sees "mount proc on …/rootfs/proc: EPERM", never a bare status.
public enum ContainerRunner {
    public static func run(_ spec: ContainerSpec, options: RunOptions = RunOptions()) throws -> ContainerResult {
        var cleanups = CleanupStack()
        defer { cleanups.run() }
        return try run(spec, options: options, cleanups: &cleanups)
    }

    static func validate(_ spec: ContainerSpec) throws {
        let nameOK = !spec.name.isEmpty && spec.name.utf8.count <= 128
            && spec.name.unicodeScalars.enumerated().allSatisfy { index, c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9")
                    || (index > 0 && (c == "_" || c == "." || c == "-"))
            }
        if !nameOK {
            throw RuntimeError("invalid container name \"\(spec.name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", kind: .usage)
        }
        if spec.project.isEmpty || spec.project.contains("/") || spec.project.hasPrefix(".") {
            throw RuntimeError("invalid project name \"\(spec.project)\"", kind: .usage)
        }
        if spec.process.args.isEmpty {
            throw RuntimeError("no command specified: give one after --", kind: .usage)
        }
        for mount in spec.mounts where !mount.destination.hasPrefix("/") {
            throw RuntimeError("mount destination \"\(mount.destination)\" must be an absolute path", kind: .usage)
        }
    }

    /// The capability set to grant, checked against what this process can hand out.
    static func capabilitySet(_ spec: ContainerSpec) throws -> UInt64 {
        let last = Int(berth_cap_last_cap())
        let wanted: UInt64
        do {
            wanted = try Capabilities.effective(add: spec.security.capAdd, drop: spec.security.capDrop, privileged: spec.security.privileged, lastCap: last)
        } catch {
            throw RuntimeError(error.description, kind: .usage)
        }
        var bounding: UInt64 = 0
        for cap in 0...last where berth_capbset_read(Int32(cap)) > 0 { bounding |= 1 << UInt64(cap) }
        let explicitlyAdded = Capabilities.mask(spec.security.capAdd.filter { Capabilities.normalize($0) != "ALL" })
        let missing = explicitlyAdded & ~bounding
        if missing != 0 {
            throw RuntimeError("cannot add \(Capabilities.namesOf(mask: missing).joined(separator: ", ")): berth itself does not hold it (bounding set of pid \(getpid())); drop it from cap_add or run berth with it")
        }
        return wanted & bounding
    }

    static func checkRlimits(_ spec: ContainerSpec) throws {
        var eff: UInt64 = 0
        _ = berth_capget(&eff, nil, nil)
        let canRaise = eff & (1 << 24) != 0  // CAP_SYS_RESOURCE
        for limit in spec.rlimits {
            if limit.soft > limit.hard {
                throw RuntimeError("ulimit \(limit.name)=\(limit.soft):\(limit.hard): the soft limit is above the hard limit", kind: .usage)
            }
            var current = rlimit()
            if getrlimit(__rlimit_resource_t(UInt32(limit.resource)), &current) == 0, !canRaise,
               current.rlim_max != rlim_t.max, UInt64(current.rlim_max) < limit.hard {
                throw RuntimeError("ulimit \(limit.name)=\(limit.soft):\(limit.hard): the hard limit is above berth's own hard limit \(current.rlim_max) and berth lacks CAP_SYS_RESOURCE to raise it; use at most \(current.rlim_max)")
            }
        }
    }

    static func writeEtcFiles(_ spec: ContainerSpec, stateDir: String) throws {
        let hostname = spec.hostname ?? String(spec.name.prefix(63))
        let hosts = spec.etcHosts ?? """
            127.0.0.1\tlocalhost
            ::1\tlocalhost ip6-localhost ip6-loopback
            fe00::0\tip6-localnet
            ff00::0\tip6-mcastprefix
            ff02::1\tip6-allnodes
            ff02::2\tip6-allrouters

            """
        let resolv: String
        if let given = spec.resolvConf {
            resolv = given
        } else {
            // The host's resolv.conf; loopback resolvers only make sense in the host netns.
            let host = (try? FS.readString("/etc/resolv.conf")) ?? ""
            let keepLoopback = spec.namespaces.network == .host
            let lines = host.split(separator: "\n", omittingEmptySubsequences: false).filter { line in
                keepLoopback || !(line.hasPrefix("nameserver 127.") || line.hasPrefix("nameserver ::1"))
            }
            resolv = lines.joined(separator: "\n")
        }
        try FS.write(stateDir + "/hosts", Array(hosts.utf8))
        try FS.write(stateDir + "/hostname", Array((hostname + "\n").utf8))
        try FS.write(stateDir + "/resolv.conf", Array(resolv.utf8))
    }

    static func run(_ spec: ContainerSpec, options: RunOptions, cleanups: inout CleanupStack) throws -> ContainerResult {
        Trace.mark("start")
        try validate(spec)
        // A closed pipe must be an EPIPE error here, not a fatal signal (the child resets
        // every disposition before exec).
        _ = signal(SIGPIPE, SIG_IGN)
        // A private network namespace is made beside what follows (state dir, /etc files,
        // pipes) instead of by the child, where its ~0.6 ms came before any mount. Should
        // that fail, the child unshares one itself and reports why it cannot.
        var netnsMaker = spec.namespaces.network == .private ? berth_netns_async_start() : nil
        cleanups.push { if let maker = netnsMaker { let fd = berth_netns_async_finish(maker); if fd >= 0 { close(fd) } } }
        let capabilities = try capabilitySet(spec)
        try checkRlimits(spec)
        let layout = try CgroupLayout.detect()
        Trace.mark("layout")
        let cgroup = Cgroup(layout: layout, project: spec.project, name: spec.name)

        // State directory: the container's own files; its presence marks the name as taken.
        let stateTmpfs = try StateTmpfs.acquire(runRoot: options.runRoot)
        cleanups.push { stateTmpfs.release(); Trace.mark("state-tmpfs-released") }
        Trace.mark("state-tmpfs")
        let projectDir = "\(options.runRoot)/runtime/\(spec.project)"
        let stateDir = "\(projectDir)/\(spec.name)"
        // Another container of the project may remove the (then empty) project dir between
        // our mkdir -p and mkdir: retry that race a few times.
        var mkdirCode: Int32 = ENOENT
        for _ in 0..<8 where mkdirCode == ENOENT {
            try FS.makeDirectories(projectDir, mode: 0o700)
            (_, mkdirCode) = Sys.attempt { mkdir(stateDir, 0o700) }
        }
        if mkdirCode == EEXIST {
            try reclaimStale(stateDir: stateDir, cgroup: cgroup, name: spec.name)
            _ = try Sys.check("mkdir", path: stateDir) { mkdir(stateDir, 0o700) }
        } else if mkdirCode != 0 {
            throw SystemError("mkdir", path: stateDir, errno: mkdirCode)
        }
        // The state dir's flock is held for the container's life (by this monitor, and by an
        // --init PID 1, which inherits the fd): a dir with a free lock is a leftover.
        let lockFD = try Sys.check("open", path: stateDir) { open(stateDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        _ = flock(lockFD, LOCK_EX | LOCK_NB)
        cleanups.push {
            Trace.mark("cgroup-removed")
            try? FS.removeTree(stateDir)
            close(lockFD)
            Trace.mark("state-removed")
            // The project's last container is gone: its `berth/<project>` cgroup parents go
            // too (at exit, off the start path; a racing start re-creates them, see create).
            if rmdir(projectDir) == 0 { Cgroup.removeParents(layout: layout, project: spec.project) }
        }
        Trace.mark("state-dir")
        sweepStale(projectDir: projectDir, layout: layout, project: spec.project, except: spec.name)
        try writeEtcFiles(spec, stateDir: stateDir)
        Trace.mark("etc-files")
        // Volumes with their own file system: mounted (or shared) before the container's
        // mount namespace is copied from ours; released once it has ended (LIFO: after the
        // child is reaped).
        var leases: [VolumeLease] = []
        for mount in spec.mounts {
            guard case .volume(let volume) = mount.kind, volume.filesystem != nil else { continue }
            let lease = try VolumeLease.acquire(volume)
            leases.append(lease)
            cleanups.push { lease.release() }
        }

        var rootfs: String
        var overlay: InitContext.Overlay?
        switch spec.root {
        case _ where spec.infra:
            rootfs = stateDir + "/rootfs"  // an empty tmpfs is mounted there (InfraInit)
            _ = try Sys.check("mkdir", path: rootfs) { mkdir(rootfs, 0o755) }
        case .directory(let path, _):
            guard FS.isDirectory(path) else {
                throw RuntimeError("rootfs \(path) is not a directory: give an unpacked image root with --rootfs")
            }
            rootfs = path
            if !rootfs.hasPrefix("/") {
                var buffer = [CChar](repeating: 0, count: 4096)
                if getcwd(&buffer, buffer.count) != nil {
                    let bytes = buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }
                    rootfs = String(decoding: bytes, as: UTF8.self) + "/" + rootfs
                }
            }
        case .overlay(let lower, let writableDir, _):
            for dir in lower where !FS.isDirectory(dir) {
                throw RuntimeError("overlay lower layer \(dir) is not a directory")
            }
            rootfs = stateDir + "/rootfs"
            _ = try Sys.check("mkdir", path: rootfs) { mkdir(rootfs, 0o755) }
            if let writableDir {
                try FS.makeDirectories(writableDir + "/upper")
                try FS.makeDirectories(writableDir + "/work")
            } else {
                _ = try Sys.check("mkdir", path: stateDir + "/overlay") { mkdir(stateDir + "/overlay", 0o755) }
            }
            overlay = InitContext.Overlay(lower: lower, writableDir: writableDir)
        }

        // Signals this monitor handles; blocked before clone so none is lost.
        let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]
        let signalFD = try Sys.check("signalfd") { handled.withUnsafeBufferPointer { berth_signalfd($0.baseAddress, Int32($0.count)) } }
        cleanups.push { close(signalFD) }
        _ = berth_set_child_subreaper()

        let sync = try Pipe()
        let errors = try Pipe()
        cleanups.push { close(sync.write); close(errors.read) }
        // The child's ends of pipes and sockets: closed right after clone, or by the
        // cleanup if we fail before that.
        var childEnds: [Int32] = [sync.read, errors.write]
        cleanups.push { childEnds.forEach { close($0) } }

        // Stdio: a pty for -t; pipes when logging; otherwise our own fds passed through.
        var ptyMaster: Int32 = -1
        var consoleSocket: (parent: Int32, child: Int32)?
        var childStdin = options.stdin, childStdout = options.stdout, childStderr = options.stderr
        var outPipe: Pipe?, errPipe: Pipe?
        var devNull: Int32 = -1
        if spec.process.terminal {
            var fds: [Int32] = [-1, -1]
            _ = try Sys.check("socketpair", path: "console socket") { berth_socketpair(&fds) }
            consoleSocket = (fds[0], fds[1])
            let parentEnd = fds[0]
            cleanups.push { close(parentEnd) }
            childEnds.append(fds[1])
        } else {
            let detached = options.stdout < 0 || options.stderr < 0
            if !spec.process.openStdin || options.stdin < 0 || (detached && spec.log == nil) {
                devNull = try Sys.check("open", path: "/dev/null") { open("/dev/null", O_RDWR | O_CLOEXEC) }
                if !spec.process.openStdin || options.stdin < 0 { childStdin = devNull }
                if options.stdout < 0 { childStdout = devNull }
                if options.stderr < 0 { childStderr = devNull }
                childEnds.append(devNull)
            }
            if spec.log != nil {
                let o = try Pipe(), e = try Pipe()
                outPipe = o
                errPipe = e
                childStdout = o.write
                childStderr = e.write
                cleanups.push { close(o.read); close(e.read) }
                childEnds += [o.write, e.write]
            }
        }
        let logWriter = try spec.log.map { try JSONLogWriter(config: $0) }

        // Namespaces to join by path.
        var joins: [(type: Int32, fd: Int32)] = []
        let modes: [(ContainerSpec.NamespaceMode, Int32)] = [
            (spec.namespaces.pid, Int32(CLONE_NEWPID)), (spec.namespaces.network, Int32(CLONE_NEWNET)),
            (spec.namespaces.ipc, Int32(CLONE_NEWIPC)), (spec.namespaces.uts, Int32(CLONE_NEWUTS)),
            (spec.namespaces.cgroup, Int32(CLONE_NEWCGROUP)),
        ]
        // Only the pid and mount namespaces come with clone(); the child unshares network,
        // IPC and UTS itself, so that the ~0.6 ms a network namespace costs runs in
        // parallel with our cgroup setup instead of before it. The cgroup namespace waits
        // until the child sits in its cgroup.
        var cloneFlags: UInt64 = UInt64(CLONE_NEWNS)
        var unshareFlags: Int32 = 0
        for (requested, type) in modes {
            var mode = requested
            if case .container(let other) = requested {
                mode = .path("/proc/\(try runningPid(of: other, projectDir: projectDir))/ns/\(namespaceFile(type))")
            }
            switch mode {
            case .private:
                if type == Int32(CLONE_NEWPID) {
                    cloneFlags |= UInt64(type)
                } else if type != Int32(CLONE_NEWCGROUP) {
                    unshareFlags |= type
                }
            case .host, .container:
                break
            case .path(let path):
                let fd = try Sys.check("open namespace", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
                cleanups.push { close(fd) }
                if type == Int32(CLONE_NEWPID) {
                    // The pid namespace applies to children: join it here, before clone.
                    _ = try Sys.check("setns", path: path) { berth_setns(fd, type) }
                } else {
                    joins.append((type, fd))
                }
            }
        }

        // The network namespace the helper makes reaches the child over a socket once it is
        // ready (the child needs it only before it mounts /sys); EOF there: unshare one itself.
        var netnsSocket: (parent: Int32, child: Int32)?
        if netnsMaker != nil {
            var fds: [Int32] = [-1, -1]
            _ = try Sys.check("socketpair", path: "network namespace socket") { berth_socketpair(&fds) }
            netnsSocket = (fds[0], fds[1])
            cleanups.push { if let socket = netnsSocket { close(socket.parent) } }
            childEnds.append(fds[1])
            unshareFlags &= ~Int32(CLONE_NEWNET)
        }
        let context = InitContext(
            spec: spec, rootfs: rootfs, stateDir: stateDir, cgroupLayout: layout, cgroup: cgroup,
            bornInCgroup: { if case .v2 = layout { return true } else { return false } }(), capabilities: capabilities,
            syncRead: sync.read, errorWrite: errors.write, stdin: childStdin, stdout: childStdout, stderr: childStderr,
            consoleSocket: consoleSocket?.child, netnsSocket: netnsSocket?.child, unshareFlags: unshareFlags, joins: joins,
            overlay: overlay, killWithParent: options.killWithParent)

        Trace.mark("preclone")
        // cgroup v1: the cgroup is created while the child mounts, and the child joins it
        // through `tasks` (no RCU grace period). cgroup v2: created first, and the child is
        // cloned straight into it with CLONE_INTO_CGROUP.
        var cgroupCreated = false
        var cgroupFD: Int32 = -1
        if case .v2 = layout {
            cgroupCreated = true
            do {
                try cgroup.create(resources: spec.resources, deviceRules: spec.security.privileged ? ["a *:* rwm"] : Cgroup.deviceRules)
                let dir = cgroup.directories[0]
                cgroupFD = try Sys.check("open", path: dir) { open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            } catch {
                try? cgroup.remove()
                throw error
            }
        }
        let startedAt = Clock.rfc3339Nano()
        var pidfd: Int32 = -1
        let pid = cgroupFD >= 0 ? berth_clone3_into_cgroup(cloneFlags, cgroupFD, &pidfd) : berth_clone_pidfd(cloneFlags, &pidfd)
        if cgroupFD >= 0 { close(cgroupFD) }
        if pid < 0 && cgroupCreated { try? cgroup.remove() }
        if pid < 0 {
            throw SystemError("clone", path: "container \(spec.name) (namespaces 0x\(String(cloneFlags, radix: 16)))", errno: errno)
        }
        if pid == 0 {
            ContainerInit.main(context)
        }
        let childPidfd = pidfd
        cleanups.push { close(childPidfd) }
        // From here on, a failure must not leave the child behind.
        var reaped = false
        // LIFO: the child is killed and reaped first, then its cgroup can go.
        cleanups.push { if cgroupCreated { try? cgroup.remove() } }
        cleanups.push {
            if !reaped {
                _ = berth_pidfd_send_signal(childPidfd, SIGKILL)
                var status: Int32 = 0
                _ = berth_waitpid(pid, &status, 0)
            }
        }
        childEnds.forEach { close($0) }
        childEnds = []
        for lease in leases { lease.record(container: pid, cgroup: cgroup.processesDirectory) }
        if let maker = netnsMaker, let socket = netnsSocket {
            netnsMaker = nil
            let fd = berth_netns_async_finish(maker)
            if fd >= 0 {
                _ = berth_send_fd(socket.parent, fd)  // a child that failed first reads nothing
                close(fd)
            }
            close(socket.parent)
            netnsSocket = nil
        }

        // While the child mounts: the cgroup, and the seccomp program it will load.
        Trace.mark("precgroup")
        if !cgroupCreated {
            cgroupCreated = true  // even a partial create is removed by the cleanup above
            try cgroup.create(resources: spec.resources, deviceRules: spec.security.privileged ? ["a *:* rwm"] : Cgroup.deviceRules)
        }
        Trace.mark("cgroup-created")
        var seccompProgram: [UInt8] = []
        if !spec.security.privileged && spec.security.seccomp == .default {
            seccompProgram = try SeccompProfile.program(capabilities: capabilities, cacheDir: options.runRoot + "/seccomp")
        }
        // State lives in the run root (tmpfs, gone at reboot by definition): atomic by
        // rename, without fsync. Written before the child may exec, so that whatever the
        // container does first (print, serve) happens with its state visible to exec and ps.
        try FS.writeAtomically(stateDir + "/state.json", sync: false, Array(
            "{\"Name\":\"\(spec.name)\",\"Project\":\"\(spec.project)\",\"Pid\":\(pid),\"Cgroup\":\"\(cgroup.relativePath)\",\"StartedAt\":\"\(startedAt)\"}\n".utf8))
        try FS.writeAtomically(stateDir + "/exec.conf", sync: false, Array(ExecConfig(
            pid: pid, capabilities: capabilities, seccomp: !seccompProgram.isEmpty,
            noNewPrivileges: spec.security.noNewPrivileges, user: spec.process.user,
            groups: spec.process.additionalGroups, cwd: spec.process.cwd, env: spec.process.env).text.utf8))
        Trace.mark("state-written")
        let length = UInt32(seccompProgram.count)
        let go: [UInt8] = [1, UInt8(length & 0xff), UInt8((length >> 8) & 0xff), UInt8((length >> 16) & 0xff), UInt8(length >> 24)] + seccompProgram
        // EPIPE here means the child already failed: its report is on the error pipe.
        try? FS.writeAll(fd: sync.write, go, path: "sync pipe")
        Trace.mark("sync-sent")

        if let consoleSocket {
            // The child sends the pty master once it exists; EOF means it failed first.
            let master = berth_recv_fd(consoleSocket.parent)
            if master >= 0 {
                ptyMaster = master
                cleanups.push { close(master) }
                var rows: UInt16 = 0, cols: UInt16 = 0
                if berth_get_winsize(options.stdout, &rows, &cols) == 0 { _ = berth_set_winsize(master, rows, cols) }
            }
        }
        // EOF on the error pipe = execve succeeded; anything else is the child's report.
        let report = try FS.readAll(fd: errors.read, path: "container error pipe", limit: 65536)
        if !report.isEmpty {
            var status: Int32 = 0
            _ = berth_waitpid(pid, &status, 0)
            reaped = true
            throw RuntimeError(childReport: String(decoding: report, as: UTF8.self), context: "container \(spec.name)")
        }

        Trace.mark("exec-ok")
        if options.readyFD >= 0 {
            try? FS.writeAll(fd: options.readyFD, Array("{\"Pid\":\(pid),\"StartedAt\":\"\(startedAt)\"}\n".utf8), path: "ready fd")
        }
        var monitor = Monitor(
            pid: pid, pidfd: childPidfd, signalFD: signalFD, spec: spec, options: options, outPipe: outPipe?.read,
            errPipe: errPipe?.read, ptyMaster: ptyMaster, log: logWriter)
        let status = try monitor.wait()
        reaped = true
        Trace.mark("exited")
        let finishedAt = Clock.rfc3339Nano()

        // With a private pid namespace the kernel has killed the rest when PID 1 died;
        // otherwise kill what is left in the cgroup and reap it (we are the subreaper).
        if spec.namespaces.pid != .private {
            for leftover in cgroup.processes() { _ = kill(leftover, SIGKILL) }
            var st: Int32 = 0
            while berth_waitpid(-1, &st, 0) > 0 {}
        }
        monitor.drainOutput()
        let oom = cgroup.oomKilled()

        var signal: Int32?
        if case .signaled(let s) = status { signal = s }
        return ContainerResult(exitCode: status.code, signal: signal, oomKilled: oom, pid: pid, startedAt: startedAt, finishedAt: finishedAt)
    }

    /// The pid of a running container of the same project, from its state file.
    static func runningPid(of name: String, projectDir: String) throws -> Int32 {
        let path = projectDir + "/" + name + "/state.json"
        guard let state = try? FS.readString(path),
              let field = state.split(separator: ",").first(where: { $0.hasPrefix("\"Pid\":") }),
              let pid = Int32(field.dropFirst(6).prefix(while: \.isNumber)), kill(pid, 0) == 0 else {
            throw RuntimeError("container \"\(name)\" is not running in this project (no live \(path)); start it first")
        }
        return pid
    }

    static func namespaceFile(_ type: Int32) -> String {
        switch type {
        case Int32(CLONE_NEWPID): return "pid"
        case Int32(CLONE_NEWNET): return "net"
        case Int32(CLONE_NEWIPC): return "ipc"
        case Int32(CLONE_NEWUTS): return "uts"
        default: return "cgroup"
        }
    }

    /// A state dir left by a runtime that was killed: reclaim it if nobody holds its lock
    /// and its cgroup is empty. Dirs without state.json are being created right now.
    static func isStale(stateDir: String, cgroup: Cgroup) -> Bool {
        guard FS.exists(stateDir + "/state.json") else { return false }
        let fd = open(stateDir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return false }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 { return false }
        return cgroup.processes().isEmpty
    }

    static func reclaimStale(stateDir: String, cgroup: Cgroup, name: String) throws {
        guard isStale(stateDir: stateDir, cgroup: cgroup) else {
            throw RuntimeError("container name \"\(name)\" is already in use (state in \(stateDir)); choose another --name")
        }
        try FS.removeTree(stateDir)
        try? cgroup.remove()
    }

    /// Removes what containers of `project` left when their runtime was killed (SIGKILL
    /// leaves no chance to clean up): state dirs with a free lock, and their empty cgroups.
    static func sweepStale(projectDir: String, layout: CgroupLayout, project: String, except name: String) {
        guard let names = try? FS.listDirectory(projectDir) else { return }
        for other in names where other != name {
            let dir = projectDir + "/" + other
            let cgroup = Cgroup(layout: layout, project: project, name: other)
            if isStale(stateDir: dir, cgroup: cgroup) {
                try? FS.removeTree(dir)
                try? cgroup.remove()
            }
        }
    }
}

/// LIFO cleanups that run whether the run succeeds or throws.
struct CleanupStack {
    private var actions: [() -> Void] = []
    mutating func push(_ action: @escaping () -> Void) { actions.append(action) }
    mutating func run() {
        while let action = actions.popLast() { action() }
    }
}
