#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CSeccomp
import CBerthSys

/// The seccomp allowlist, equivalent to Docker's default profile
/// (`moby/profiles/seccomp/default.json`, SEMANTICS.md §2a): default action `ERRNO(EPERM)`,
/// ~360 syscalls allowed unconditionally, then rules selected by the container's capability
/// set and by argument (socket family, personality, clone flags), and `clone3` → `ENOSYS`
/// without CAP_SYS_ADMIN so that libcs fall back to `clone`.
///
/// The table is data (unit-tested on its own); `SeccompProfile.load` turns it into a BPF
/// program with libseccomp in the container's init, as late as the privilege order allows.
public enum SeccompProfile {
    public enum Action: Sendable, Equatable {
        case allow
        case errno(Int32)
    }

    public struct ArgCondition: Sendable, Equatable {
        public enum Op: Sendable, Equatable { case notEqual, lessThan, equal, greaterThan, maskedEqual(mask: UInt64) }
        public var index: UInt32
        public var op: Op
        public var value: UInt64
    }

    public struct Rule: Sendable, Equatable {
        public var names: [String]
        public var action: Action
        public var args: [ArgCondition]
        /// Applies only if the container holds all of these capabilities.
        public var requiresCaps: [String]
        /// Applies only if the container holds none of these.
        public var excludedByCaps: [String]

        init(_ names: [String], _ action: Action = .allow, args: [ArgCondition] = [], requires: [String] = [], excludedBy: [String] = []) {
            self.names = names
            self.action = action
            self.args = args
            self.requiresCaps = requires
            self.excludedByCaps = excludedBy
        }
    }

    /// Syscalls allowed for every container.
    public static let alwaysAllowed: [String] = [
        "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
        "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
        "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
        "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
        "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
        "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
        "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
        "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
        "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr",
        "flistxattr", "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64",
        "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex",
        "futex_requeue", "futex_time64", "futex_wait", "futex_waitv", "futex_wake", "futimesat",
        "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32", "geteuid",
        "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername",
        "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid",
        "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
        "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid", "gettimeofday",
        "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
        "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents", "io_pgetevents",
        "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
        "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
        "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
        "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
        "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
        "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod",
        "mknodat", "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr",
        "mq_notify", "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
        "mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
        "msync", "munlock", "munlockall", "munmap", "name_to_handle_at", "nanosleep",
        "newfstatat", "_newselect", "open", "openat", "openat2", "pause", "pidfd_open",
        "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
        "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
        "process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
        "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
        "recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
        "renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
        "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
        "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
        "sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
        "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
        "sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
        "sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
        "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
        "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
        "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
        "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
        "setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
        "set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt",
        "shmget", "shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn",
        "socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx",
        "symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
        "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
        "timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
        "timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
        "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
        "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
        "waitid", "waitpid", "write", "writev",
    ]

    /// The conditional rules, in the profile's order (x86_64/aarch64 variants only).
    public static let conditionalRules: [Rule] = [
        // ptrace and process_vm_* are allowed without CAP_SYS_PTRACE on kernels ≥ 4.8.
        Rule(["process_vm_readv", "process_vm_writev", "ptrace"]),
        // socket: everything except AF_VSOCK (40).
        Rule(["socket"], args: [ArgCondition(index: 0, op: .notEqual, value: 40)]),
        Rule(["personality"], args: [ArgCondition(index: 0, op: .equal, value: 0)]),
        Rule(["personality"], args: [ArgCondition(index: 0, op: .equal, value: 8)]),
        Rule(["personality"], args: [ArgCondition(index: 0, op: .equal, value: 0x20000)]),
        Rule(["personality"], args: [ArgCondition(index: 0, op: .equal, value: 0x20008)]),
        Rule(["personality"], args: [ArgCondition(index: 0, op: .equal, value: 0xffff_ffff)]),
        Rule(["arch_prctl", "modify_ldt"]),
        Rule(["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"]),
        Rule(["open_by_handle_at"], requires: ["CAP_DAC_READ_SEARCH"]),
        Rule(["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
              "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree", "perf_event_open",
              "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns", "syslog", "umount",
              "umount2", "unshare"], requires: ["CAP_SYS_ADMIN"]),
        // Without CAP_SYS_ADMIN, clone only without any CLONE_NEW* flag.
        Rule(["clone"], args: [ArgCondition(index: 0, op: .maskedEqual(mask: 0x7E02_0000), value: 0)], excludedBy: ["CAP_SYS_ADMIN"]),
        Rule(["clone3"], .errno(ENOSYS), excludedBy: ["CAP_SYS_ADMIN"]),
        Rule(["reboot"], requires: ["CAP_SYS_BOOT"]),
        Rule(["chroot"], requires: ["CAP_SYS_CHROOT"]),
        Rule(["delete_module", "init_module", "finit_module"], requires: ["CAP_SYS_MODULE"]),
        Rule(["acct"], requires: ["CAP_SYS_PACCT"]),
        Rule(["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"], requires: ["CAP_SYS_PTRACE"]),
        Rule(["iopl", "ioperm"], requires: ["CAP_SYS_RAWIO"]),
        Rule(["settimeofday", "stime", "clock_settime", "clock_settime64"], requires: ["CAP_SYS_TIME"]),
        Rule(["vhangup"], requires: ["CAP_SYS_TTY_CONFIG"]),
        Rule(["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], requires: ["CAP_SYS_NICE"]),
        Rule(["syslog"], requires: ["CAP_SYSLOG"]),
        Rule(["bpf"], requires: ["CAP_BPF"]),
        Rule(["perf_event_open"], requires: ["CAP_PERFMON"]),
    ]

    /// The rules that apply to a container holding `capabilities` (a capability mask).
    public static func rules(capabilities: UInt64) -> [Rule] {
        func holds(_ name: String) -> Bool {
            guard let n = Capabilities.number(name) else { return false }
            return capabilities & (1 << UInt64(n)) != 0
        }
        var out = [Rule(alwaysAllowed)]
        for rule in conditionalRules {
            if !rule.requiresCaps.allSatisfy(holds) { continue }
            if rule.excludedByCaps.contains(where: holds) { continue }
            out.append(rule)
        }
        return out
    }

    static let actionAllow: UInt32 = 0x7fff_0000
    static func actionErrno(_ code: Int32) -> UInt32 { 0x0005_0000 | (UInt32(code) & 0xffff) }

    /// A stable hash of the rule table (FNV-1a), so that a cached program is rebuilt when
    /// the table changes. Computed once per process.
    public static let tableHash: UInt64 = {
        var hash = FNV1a(seed: 2)  // the optimize level
        for name in alwaysAllowed { hash.mix(name) }
        for rule in conditionalRules {
            for name in rule.names { hash.mix(name) }
            switch rule.action {
            case .allow: hash.mix("allow")
            case .errno(let code): hash.mix("errno \(code)")
            }
            for arg in rule.args {
                hash.mix("\(arg.index) \(arg.value)")
                switch arg.op {
                case .notEqual: hash.mix("ne")
                case .lessThan: hash.mix("lt")
                case .equal: hash.mix("eq")
                case .greaterThan: hash.mix("gt")
                case .maskedEqual(let mask): hash.mix("me \(mask)")
                }
            }
            for name in rule.requiresCaps { hash.mix(name) }
            hash.mix("|")
            for name in rule.excludedByCaps { hash.mix(name) }
        }
        return hash.value
    }()

    /// FNV-1a over strings, each followed by a 0xff separator.
    struct FNV1a {
        var value: UInt64
        init(seed: UInt64) { value = 0xcbf2_9ce4_8422_2325 ^ seed }
        mutating func mix(_ text: String) {
            var hash = value
            for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
            value = (hash ^ 0xff) &* 0x100_0000_01b3
        }
    }

    /// The BPF program for `capabilities`, from `<cacheDir>/<hash>-<caps>.bpf` when present,
    /// else compiled with libseccomp and cached (atomic rename). Compiling the ~400 rules for
    /// three architectures takes ~10 ms here; loading the cached program takes microseconds.
    public static func program(capabilities: UInt64, cacheDir: String) throws -> [UInt8] {
        #if arch(x86_64)
        let arch = "x86_64"
        #elseif arch(arm64)
        let arch = "aarch64"
        #else
        let arch = "other"
        #endif
        let path = "\(cacheDir)/\(arch)-\(String(tableHash, radix: 16))-\(String(capabilities, radix: 16)).bpf"
        if let cached = try? FS.read(path), !cached.isEmpty, cached.count % 8 == 0 { return cached }
        try FS.makeDirectories(cacheDir, mode: 0o700)
        let temp = path + ".\(getpid()).tmp"
        let fd = try Sys.check("open", path: temp) { open(temp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600) }
        defer { close(fd) }
        do {
            let ctx = try build(capabilities: capabilities)
            defer { seccomp_release(ctx) }
            let rc = seccomp_export_bpf(ctx, fd)
            if rc < 0 { throw RuntimeError("export seccomp program to \(temp): \(SystemError.errnoName(-rc))") }
            _ = try Sys.check("rename", path: "\(temp) to \(path)") { rename(temp, path) }
            // Programs of an older table are dead weight now.
            let current = "-\(String(tableHash, radix: 16))-"
            for name in (try? FS.listDirectory(cacheDir)) ?? [] where name.hasSuffix(".bpf") && !name.contains(current) {
                _ = unlink(cacheDir + "/" + name)
            }
        } catch {
            unlink(temp)
            throw error
        }
        _ = lseek(fd, 0, SEEK_SET)
        return try FS.readAll(fd: fd, path: path)
    }

    /// Loads a program from `program(capabilities:cacheDir:)` into the calling process (the
    /// container init). NO_NEW_PRIVS is left to the caller (Docker leaves it off).
    public static func load(program: [UInt8]) throws {
        let rc = program.withUnsafeBytes { berth_seccomp_load_bpf($0.baseAddress, $0.count) }
        if rc != 0 {
            throw RuntimeError("load seccomp filter: \(SystemError.errnoName(errno)) (\(SystemError.strerror(errno))); use --security-opt seccomp=unconfined to run without it")
        }
    }

    /// Builds the libseccomp filter context for `capabilities`.
    static func build(capabilities: UInt64) throws -> scmp_filter_ctx {
        guard let ctx = seccomp_init(actionErrno(EPERM)) else {
            throw RuntimeError("seccomp_init failed: is libseccomp usable on this kernel?")
        }
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        // A binary tree over syscall numbers: fewer instructions run per syscall.
        _ = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)
        #if arch(x86_64)
        // Docker's archMap: x86_64 plus its sub-architectures x86 and x32.
        for arch: UInt32 in [0x4000_0003, 0x4000_003E] { _ = seccomp_arch_add(ctx, arch) }
        #elseif arch(arm64)
        _ = seccomp_arch_add(ctx, 0x4000_0028)
        #endif
        for rule in rules(capabilities: capabilities) {
            let action: UInt32
            switch rule.action {
            case .allow: action = actionAllow
            case .errno(let code): action = actionErrno(code)
            }
            var conditions: [scmp_arg_cmp] = rule.args.map { arg in
                switch arg.op {
                case .notEqual: return scmp_arg_cmp(arg: arg.index, op: SCMP_CMP_NE, datum_a: arg.value, datum_b: 0)
                case .lessThan: return scmp_arg_cmp(arg: arg.index, op: SCMP_CMP_LT, datum_a: arg.value, datum_b: 0)
                case .equal: return scmp_arg_cmp(arg: arg.index, op: SCMP_CMP_EQ, datum_a: arg.value, datum_b: 0)
                case .greaterThan: return scmp_arg_cmp(arg: arg.index, op: SCMP_CMP_GT, datum_a: arg.value, datum_b: 0)
                case .maskedEqual(let mask): return scmp_arg_cmp(arg: arg.index, op: SCMP_CMP_MASKED_EQ, datum_a: mask, datum_b: arg.value)
                }
            }
            for name in rule.names {
                let nr = seccomp_syscall_resolve_name(name)
                if nr == -1 { continue }  // not a syscall on this architecture
                let rc = conditions.withUnsafeMutableBufferPointer { buffer in
                    seccomp_rule_add_array(ctx, action, nr, UInt32(buffer.count), buffer.baseAddress)
                }
                // -EEXIST/-EACCES/-EDOM: a rule for a pseudo or duplicate syscall; tolerated.
                if rc < 0 && rc != -EEXIST && rc != -EACCES && rc != -EDOM && rc != -EOPNOTSUPP {
                    seccomp_release(ctx)
                    throw RuntimeError("seccomp rule for \(name) failed: \(SystemError.errnoName(-rc)) (\(SystemError.strerror(-rc)))")
                }
            }
        }
        return ctx
    }
}
