#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// What the child of `clone()` needs; a copy of the parent's memory, so plain values.
struct InitContext {
    var spec: ContainerSpec
    var rootfs: String
    var stateDir: String
    var cgroupLayout: CgroupLayout
    var cgroup: Cgroup
    /// cgroup v2: the child was cloned straight into its cgroup (CLONE_INTO_CGROUP).
    var bornInCgroup: Bool
    var capabilities: UInt64
    /// Parent → child: one byte once the child sits in its cgroup.
    var syncRead: Int32
    /// Child → parent: a structured error (`kind\nmessage`), or EOF at a successful exec.
    var errorWrite: Int32
    var stdin: Int32
    var stdout: Int32
    var stderr: Int32
    /// With a terminal: the child's end of a socketpair over which it sends the pty master
    /// it allocated from the container's own devpts (runc's console socket).
    var consoleSocket: Int32?
    /// With a private network: the child's end of a socketpair over which the parent sends
    /// the network namespace a helper made meanwhile (EOF: unshare one here).
    var netnsSocket: Int32?
    /// Namespaces the child creates itself (network, IPC, UTS).
    var unshareFlags: Int32
    /// Namespaces to join with setns (type, fd), opened by the parent.
    var joins: [(type: Int32, fd: Int32)]
    struct Overlay {
        var lower: [String]
        var writableDir: String?
    }
    var overlay: Overlay?
    var killWithParent: Bool
}

/// The container's first process: the child of `clone()` with the new namespaces.
///
/// Order (runc `standard_init_linux.go`, vmexec `childSetup`, STYLE.md item 8): stdio →
/// join namespaces → mounts slave → rootfs (overlay or bind) → default mounts, devices,
/// /dev symlinks → user mounts → `pivot_root` → console → read-only root →
/// hostname/domainname → lo up → sysctls **before** masked and read-only paths → rlimits →
/// user lookup → wait for the cgroup (the parent creates it meanwhile) → join it → cgroupns
/// → /sys/fs/cgroup → seccomp (when no_new_privs is off it must be loaded while still
/// privileged) → groups/uid with keepcaps → capabilities → no_new_privs → seccomp (when
/// no_new_privs is on: as late as possible) → signals, fds → execve.
enum ContainerInit {
    static func main(_ context: InitContext) -> Never {
        Trace.mark("child-entry")
        do {
            try setup(context)
            report(context.errorWrite, RuntimeError("container init returned without exec"))
        } catch let error as RuntimeError {
            report(context.errorWrite, error)
        } catch let error as UserError {
            report(context.errorWrite, RuntimeError(error.message))
        } catch {
            report(context.errorWrite, RuntimeError("\(error)"))
        }
    }

    /// Sends a structured error to the parent and exits with the matching code.
    static func report(_ fd: Int32, _ error: RuntimeError) -> Never {
        let kind: String
        switch error.kind {
        case .runtime, .usage: kind = "runtime"
        case .cannotInvoke: kind = "cannot-invoke"
        case .commandNotFound: kind = "not-found"
        }
        let bytes = Array((kind + "\n" + error.message).utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        _exit(error.exitCode)
    }

    static func setup(_ c: InitContext) throws {
        let spec = c.spec
        if c.killWithParent {
            // If the parent is already gone, the sync read below sees EOF and we exit.
            _ = berth_set_pdeathsig(SIGKILL)
        }
        // Stdio first (a terminal comes later, from the container's own devpts).
        _ = setsid()  // a session of its own, as runc's nsexec does
        if c.consoleSocket == nil {
            for (from, to) in [(c.stdin, Int32(0)), (c.stdout, Int32(1)), (c.stderr, Int32(2))] where from != to {
                _ = try Sys.check("dup3") { berth_dup3(from, to, 0) }
            }
        }

        Trace.mark("child-preunshare")
        if c.unshareFlags != 0 {
            _ = try Sys.check("unshare", path: "network/IPC/UTS namespaces") { berth_unshare(c.unshareFlags) }
        }
        for join in c.joins where join.type != Int32(CLONE_NEWPID) {
            _ = try Sys.check("setns", path: namespaceName(join.type)) { berth_setns(join.fd, join.type) }
        }

        Trace.mark("child-start")
        let cgroupRoots = c.bornInCgroup ? [] : try c.cgroup.openRoots()
        if spec.infra {
            // The infra holds the pod's network namespace: the helper's, when it made one.
            if let socket = c.netnsSocket { try joinNetworkNamespace(socket) }
            try InfraInit.run(c, cgroupRoots: cgroupRoots)
        }
        // Mounts: keep ours from propagating back to the host.
        try Mounts.mount(source: "none", target: "/", type: nil, flags: MountFlags.slave | MountFlags.recursive, displayTarget: "/ (make rslave)")
        if let overlay = c.overlay {
            var scratch: String
            if let writableDir = overlay.writableDir {
                scratch = writableDir
            } else {
                // The upper/work dirs live on a tmpfs inside this mount namespace: they
                // vanish with the container and cost nothing to delete (LINUX-NOTES: ext4
                // rm is slow).
                scratch = c.stateDir + "/overlay"
                try Mounts.mount(source: "tmpfs", target: scratch, type: "tmpfs", flags: 0, data: "mode=755")
                for dir in ["upper", "work"] {
                    _ = try Sys.check("mkdir", path: scratch + "/" + dir) { mkdir(scratch + "/" + dir, 0o755) }
                }
            }
            let data = "lowerdir=\(overlay.lower.joined(separator: ":")),upperdir=\(scratch)/upper,workdir=\(scratch)/work"
            try Mounts.mount(source: "overlay", target: c.rootfs, type: "overlay", flags: 0, data: data)
        } else {
            try Mounts.mount(source: c.rootfs, target: c.rootfs, type: nil, flags: MountFlags.bind | MountFlags.recursive)
        }
        if let socket = c.netnsSocket { try joinNetworkNamespace(socket) }
        try RootfsSetup(spec: spec, rootfs: c.rootfs, stateDir: c.stateDir, cgroupLayout: c.cgroupLayout).run()
        Trace.mark("child-mounted")
        try FinalizeRootfs.pivot(into: c.rootfs)

        // What needs no cgroup runs before the parent's "go", while it creates the cgroup.
        if let socket = c.consoleSocket { try setupConsole(socket) }
        if spec.root.readOnly { try FinalizeRootfs.readOnlyRoot() }

        try nameAndLoopback(spec)
        for sysctl in spec.sysctls {
            let path = "/proc/sys/" + sysctl.key.split(separator: ".").joined(separator: "/")
            do {
                try FS.writeExisting(path, sysctl.value)
            } catch let error as SystemError {
                throw RuntimeError("sysctl \(sysctl.key)=\(sysctl.value): write \(path): \(SystemError.errnoName(error.errno)) (\(SystemError.strerror(error.errno))); only namespaced sysctls (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*) can be set")
            }
        }
        // Masked and read-only paths after the sysctls; those on or above /sys/fs/cgroup wait
        // for the cgroup file systems mounted there after the go.
        let masked = spec.security.privileged ? [] : FinalizeRootfs.expandMasked(spec.security.maskedPaths)
        let readonly = spec.security.privileged ? [] : spec.security.readonlyPaths
        try FinalizeRootfs.mask(masked.filter { !FinalizeRootfs.touchesCgroupMount($0) })
        try FinalizeRootfs.readOnly(readonly.filter { !FinalizeRootfs.touchesCgroupMount($0) })
        umask(0o022)

        for limit in spec.rlimits {
            var value = rlimit(rlim_cur: rlim_t(limit.soft), rlim_max: rlim_t(limit.hard))
            let rc = setrlimit(__rlimit_resource_t(UInt32(limit.resource)), &value)
            if rc != 0 {
                throw RuntimeError("setrlimit \(limit.name)=\(limit.soft):\(limit.hard): \(SystemError.errnoName(errno)) (\(SystemError.strerror(errno))); the hard limit cannot exceed the caller's")
            }
        }

        // User and groups from the image's own files (read after pivot_root).
        let passwd = try? FS.readString("/etc/passwd")
        let group = try? FS.readString("/etc/group")
        let user = try UserResolver.resolve(user: spec.process.user, groupAdd: spec.process.additionalGroups, passwd: passwd, group: group)
        var env = spec.process.env
        if !env.contains(where: { $0.hasPrefix("HOME=") }) { env.append("HOME=" + user.home) }
        if !env.contains(where: { $0.hasPrefix("HOSTNAME=") }), spec.namespaces.uts == .private {
            env.append("HOSTNAME=" + (spec.hostname ?? String(spec.name.prefix(63))))
        }
        if spec.process.terminal && !env.contains(where: { $0.hasPrefix("TERM=") }) { env.append("TERM=xterm") }

        // Working directory: created if missing, owned by root, as Docker's
        // SetupWorkingDirectory does; entered after setuid.
        if spec.process.cwd != "/" && !FS.isDirectory(spec.process.cwd) {
            try FS.makeDirectories(spec.process.cwd)
        }
        Trace.mark("child-ready")

        // The go and the seccomp program. Into the cgroup before any fork, then a cgroup
        // namespace rooted there, then /sys/fs/cgroup as seen through it.
        let seccompProgram = try receiveGo(c.syncRead)
        Trace.mark("child-go")
        if !c.bornInCgroup { try c.cgroup.attachSelf(rootFDs: cgroupRoots) }
        cgroupRoots.forEach { close($0) }
        if spec.namespaces.cgroup == .private {
            _ = try Sys.check("unshare", path: "cgroup namespace") { berth_unshare(Int32(CLONE_NEWCGROUP)) }
        }
        try RootfsSetup.mountCgroups(root: RootfsFD(path: "/"), layout: c.cgroupLayout, privileged: spec.security.privileged)
        try FinalizeRootfs.mask(masked.filter(FinalizeRootfs.touchesCgroupMount))
        try FinalizeRootfs.readOnly(readonly.filter(FinalizeRootfs.touchesCgroupMount))
        Trace.mark("child-cgroup")

        Trace.mark("child-preseccomp")
        try dropPrivileges(user: user, capabilities: c.capabilities, seccompProgram: seccompProgram, noNewPrivileges: spec.security.noNewPrivileges)

        if spec.process.cwd != "/" {
            let (_, code) = Sys.attempt { chdir(spec.process.cwd) }
            if code != 0 {
                throw RuntimeError("cannot enter working directory \(spec.process.cwd) as uid \(user.uid): \(SystemError.errnoName(code)) (\(SystemError.strerror(code)))")
            }
        }

        Trace.mark("child-creds")
        guard let argv0 = spec.process.args.first else {
            throw RuntimeError("no command specified: give one after -- or set the image's Cmd/Entrypoint")
        }
        let path = try lookPath(argv0, env: env)

        if spec.useInit {
            try runInit(c, path: path, env: env)
        }
        execContainer(c, path: path, env: env)
    }

    /// The host and domain name of a UTS namespace of its own, and `lo` up in a network
    /// namespace of its own.
    static func nameAndLoopback(_ spec: ContainerSpec) throws {
        if spec.namespaces.uts == .private {
            let host = spec.hostname ?? String(spec.name.prefix(63))
            _ = try Sys.check("sethostname", path: host) { berth_sethostname(host, host.utf8.count) }
            if let domain = spec.domainname {
                _ = try Sys.check("setdomainname", path: domain) { berth_setdomainname(domain, domain.utf8.count) }
            }
        }
        if spec.namespaces.network == .private {
            _ = try Sys.check("set lo up", path: "container network namespace") { berth_loopback_up() }
        }
    }

    /// The network namespace from the parent, before /sys is mounted (sysfs shows the
    /// devices of the mounter's namespace); without one, a namespace of our own.
    static func joinNetworkNamespace(_ socket: Int32) throws {
        let fd = berth_recv_fd(socket)
        close(socket)
        if fd >= 0 {
            _ = try Sys.check("setns", path: "network namespace") { berth_setns(fd, Int32(CLONE_NEWNET)) }
            close(fd)
        } else {
            _ = try Sys.check("unshare", path: "network namespace") { berth_unshare(Int32(CLONE_NEWNET)) }
        }
        Trace.mark("child-netns")
    }

    /// Seccomp, ids and capabilities, in runc's order: without no_new_privs the filter must
    /// be loaded while still privileged (CAP_SYS_ADMIN); with it, as late as possible. The
    /// bounding set is cut first (needs CAP_SETPCAP), then groups and ids with keepcaps,
    /// then the permitted/effective sets (empty for a non-root user, as Docker does).
    static func dropPrivileges(user: ResolvedUser, capabilities: UInt64, seccompProgram: [UInt8], noNewPrivileges: Bool) throws {
        let seccomp = !seccompProgram.isEmpty
        let earlySeccomp = seccomp && !noNewPrivileges
        if earlySeccomp { try SeccompProfile.load(program: seccompProgram) }
        Trace.mark("child-seccomp")
        let last = Int(berth_cap_last_cap())
        for cap in 0...max(0, last) where capabilities & (1 << UInt64(cap)) == 0 {
            if berth_capbset_read(Int32(cap)) > 0 {
                _ = try Sys.check("drop capability from bounding set", path: cap < Capabilities.names.count ? Capabilities.names[cap] : String(cap)) { berth_capbset_drop(Int32(cap)) }
            }
        }
        _ = try Sys.check("prctl PR_SET_KEEPCAPS") { berth_set_keepcaps(1) }
        let gids = user.additionalGids.map { gid_t($0) }
        _ = try Sys.check("setgroups", path: gids.map(String.init).joined(separator: ",")) { gids.withUnsafeBufferPointer { berth_setgroups($0.count, $0.baseAddress) } }
        _ = try Sys.check("setresgid", path: String(user.gid)) { berth_setresgid(gid_t(user.gid)) }
        _ = try Sys.check("setresuid", path: String(user.uid)) { berth_setresuid(uid_t(user.uid)) }
        _ = try Sys.check("prctl PR_SET_KEEPCAPS") { berth_set_keepcaps(0) }
        let sets: UInt64 = user.uid == 0 ? capabilities : 0
        _ = try Sys.check("capset") { berth_capset(sets, sets, 0) }
        _ = berth_clear_ambient()
        if noNewPrivileges {
            _ = try Sys.check("prctl PR_SET_NO_NEW_PRIVS") { berth_set_no_new_privs() }
        }
        if seccomp && !earlySeccomp { try SeccompProfile.load(program: seccompProgram) }
    }

    /// Allocates the terminal in the container's devpts, makes it the controlling terminal
    /// and stdio, binds it to /dev/console, and hands the master to the parent.
    static func setupConsole(_ socket: Int32, bindConsole: Bool = true) throws {
        var master: Int32 = -1
        var number: Int32 = 0
        _ = try Sys.check("open", path: "/dev/ptmx (container devpts)") { berth_open_ptmx("/dev/pts/ptmx", &master, &number) }
        defer { close(master) }
        let slave = "/dev/pts/\(number)"
        let fd = try Sys.check("open", path: slave) { open(slave, O_RDWR | O_CLOEXEC) }
        _ = try Sys.check("ioctl TIOCSCTTY", path: slave) { berth_set_ctty(fd) }
        for target: Int32 in [0, 1, 2] { _ = try Sys.check("dup3", path: slave) { berth_dup3(fd, target, 0) } }
        close(fd)
        if bindConsole {
            let console = try RootfsFD(path: "/")
            defer { console.close() }
            try console.mount(source: slave, inside: "/dev/console", type: nil, flags: MountFlags.bind, directory: false)
        }
        _ = try Sys.check("send pty master", path: "console socket") { berth_send_fd(socket, master) }
        close(socket)
    }

    /// Reads the parent's go: one byte, a little-endian UInt32 length, then the seccomp
    /// program. EOF means the parent died: nobody to run for.
    static func receiveGo(_ fd: Int32) throws -> [UInt8] {
        func readExactly(_ count: Int) -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: count)
            var offset = 0
            while offset < count {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress.map { $0 + offset }, count - offset) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return nil }
                offset += n
            }
            return buffer
        }
        guard let header = readExactly(5), header[0] == 1 else { _exit(125) }
        let length = Int(header[1]) | Int(header[2]) << 8 | Int(header[3]) << 16 | Int(header[4]) << 24
        if length == 0 { return [] }
        guard let program = readExactly(length) else { _exit(125) }
        return program
    }

    /// `execvp`-like lookup in the container's PATH, with Docker's exit-code semantics.
    static func lookPath(_ command: String, env: [String]) throws -> String {
        if command.contains("/") {
            return try checkExecutable(command)
        }
        let pathVar = env.last(where: { $0.hasPrefix("PATH=") }).map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        var denied: String?
        for dir in pathVar.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + command
            var st = stat()
            if stat(candidate, &st) != 0 { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR { continue }
            if access(candidate, X_OK) == 0 { return candidate }
            denied = candidate
        }
        if let denied {
            throw RuntimeError("exec \(command): \(denied) is not executable (EACCES)", kind: .cannotInvoke)
        }
        throw RuntimeError("exec \(command): executable file not found in $PATH (\(pathVar))", kind: .commandNotFound)
    }

    static func checkExecutable(_ path: String) throws -> String {
        var st = stat()
        if stat(path, &st) != 0 {
            throw RuntimeError("exec \(path): no such file or directory", kind: .commandNotFound)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            throw RuntimeError("exec \(path): is a directory", kind: .cannotInvoke)
        }
        if access(path, X_OK) != 0 {
            throw RuntimeError("exec \(path): permission denied", kind: .cannotInvoke)
        }
        return path
    }

    /// Clean signal state and fds, then execve. Never returns.
    static func execContainer(_ c: InitContext, path: String, env: [String]) -> Never {
        execProcess(path: path, args: c.spec.process.args, env: env, errorWrite: c.errorWrite)
    }

    static func execProcess(path: String, args: [String], env: [String], errorWrite: Int32) -> Never {
        _ = berth_reset_signals()
        _ = berth_close_range_cloexec(3)
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        execve(path, &argv, &envp)
        let code = errno
        let kind: RuntimeError.Kind = (code == ENOENT) ? .commandNotFound : .cannotInvoke
        report(errorWrite, RuntimeError("exec \(path): \(SystemError.errnoName(code)) (\(SystemError.strerror(code)))", kind: kind))
    }

    /// `init: true`: stay as PID 1 (this process, already confined like the container),
    /// fork the command, forward signals to it and reap every orphan until it exits; exit
    /// with its code (128+n for a signal, as tini/docker-init). Needs nothing from the image.
    static func runInit(_ c: InitContext, path: String, env: [String]) throws -> Never {
        _ = berth_block_all_signals()
        let child = fork()
        if child < 0 { throw SystemError("fork", path: "init child", errno: errno) }
        if child == 0 {
            if c.spec.process.terminal {
                // Like tini: the command becomes the terminal's foreground process group
                // (SIGTTOU is still blocked here, so tcsetpgrp cannot stop us).
                _ = setpgid(0, 0)
                _ = tcsetpgrp(0, getpid())
            }
            execContainer(c, path: path, env: env)
        }
        close(c.errorWrite)
        while true {
            var sender: Int32 = 0
            let sig = berth_sigtimedwait_all(-1, &sender)
            if sig <= 0 { continue }
            if sig == SIGCHLD {
                while true {
                    var status: Int32 = 0
                    let pid = berth_waitpid(-1, &status, 1)
                    if pid <= 0 { break }
                    if pid == child {
                        _exit(ExitStatus(waitStatus: status).code)
                    }
                }
            } else {
                _ = kill(child, sig)
            }
        }
    }

    static func namespaceName(_ type: Int32) -> String {
        switch type {
        case Int32(CLONE_NEWNET): return "network namespace"
        case Int32(CLONE_NEWIPC): return "ipc namespace"
        case Int32(CLONE_NEWUTS): return "uts namespace"
        case Int32(CLONE_NEWPID): return "pid namespace"
        case Int32(CLONE_NEWCGROUP): return "cgroup namespace"
        case Int32(CLONE_NEWNS): return "mount namespace"
        default: return "namespace"
        }
    }
}
