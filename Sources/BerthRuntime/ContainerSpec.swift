import BerthSystem

/// The runtime's input: everything needed to run one container, OCI-runtime-shaped.
///
/// A later orchestrator fills this from a Compose service plus the image config (see
/// `ImageConfig` and `ContainerSpec.merge`); `berth runtime run` fills it from flags. Plain
/// value types, `Sendable`, no Foundation, so it can be built and validated anywhere and
/// handed to the single-threaded start path unchanged.
public struct ContainerSpec: Sendable, Equatable {
    /// Container name; also the last component of its cgroup path and state directory.
    public var name: String
    /// Project the container belongs to: cgroup `berth/<project>/<name>`.
    public var project: String
    public var root: Root
    public var process: Process
    public var hostname: String?
    public var domainname: String?
    public var mounts: [Mount]
    public var namespaces: Namespaces
    public var resources: Resources
    public var security: Security
    /// Namespaced sysctls (`net.*`, `kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*`).
    public var sysctls: [(key: String, value: String)]
    public var rlimits: [Rlimit]
    public var stopSignal: Int32
    /// Grace period between the stop signal and SIGKILL, in milliseconds.
    public var stopTimeoutMilliseconds: Int
    public var log: LogConfig?
    /// Run a reaping, signal-forwarding init as PID 1 (`init: true`).
    public var useInit: Bool
    /// Contents for the per-container `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`
    /// bind mounts; `nil` means generated defaults.
    public var etcHosts: String?
    public var resolvConf: String?
    /// Size of `/dev/shm` in bytes (Docker: 64 MiB).
    public var shmSize: Int64
    /// A pod's infra (Kubernetes' pause container): the process only holds its namespaces
    /// for the pod's members to join. No root file system of its own (an empty tmpfs; `root`
    /// is not used), no program (`process` is not run): it sleeps until SIGTERM or SIGINT,
    /// then exits 0.
    public var infra: Bool

    public init(name: String, project: String = "runtime", root: Root, process: Process) {
        self.name = name
        self.project = project
        self.root = root
        self.process = process
        hostname = nil
        domainname = nil
        mounts = []
        namespaces = Namespaces()
        resources = Resources()
        security = Security()
        sysctls = []
        rlimits = []
        stopSignal = 15
        stopTimeoutMilliseconds = 10_000
        log = nil
        useInit = false
        etcHosts = nil
        resolvConf = nil
        shmSize = 64 * 1024 * 1024
        infra = false
    }

    public static func == (a: ContainerSpec, b: ContainerSpec) -> Bool {
        a.name == b.name && a.project == b.project && a.root == b.root && a.process == b.process
            && a.hostname == b.hostname && a.domainname == b.domainname && a.mounts == b.mounts
            && a.namespaces == b.namespaces && a.resources == b.resources && a.security == b.security
            && a.sysctls.map { "\($0.key)=\($0.value)" } == b.sysctls.map { "\($0.key)=\($0.value)" }
            && a.rlimits == b.rlimits && a.stopSignal == b.stopSignal
            && a.stopTimeoutMilliseconds == b.stopTimeoutMilliseconds && a.log == b.log
            && a.useInit == b.useInit && a.etcHosts == b.etcHosts && a.resolvConf == b.resolvConf
            && a.shmSize == b.shmSize && a.infra == b.infra
    }

    /// The container's root filesystem.
    public enum Root: Sendable, Equatable {
        /// A plain directory used in place (like an OCI bundle's rootfs).
        case directory(String, readOnly: Bool)
        /// overlayfs: read-only lower layers (top first, as in `lowerdir=`) and the
        /// container's writable layer: `writableDir/upper` + `writableDir/work` when given
        /// (kept across runs, e.g. for a restarted service), else a tmpfs inside the
        /// container's mount namespace that vanishes with it (`--rm`-style, free to delete).
        case overlay(lower: [String], writableDir: String?, readOnly: Bool)

        public var readOnly: Bool {
            switch self {
            case .directory(_, let ro), .overlay(_, _, let ro): return ro
            }
        }
    }

    public struct Process: Sendable, Equatable {
        public var args: [String]
        public var env: [String]
        public var cwd: String
        /// `uid[:gid]` or `name[:group]`, resolved in the image's /etc/passwd and /etc/group.
        public var user: String
        public var additionalGroups: [String]
        public var terminal: Bool
        public var openStdin: Bool

        public init(
            args: [String], env: [String] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            cwd: String = "/", user: String = "0", additionalGroups: [String] = [], terminal: Bool = false,
            openStdin: Bool = false
        ) {
            self.args = args
            self.env = env
            self.cwd = cwd
            self.user = user
            self.additionalGroups = additionalGroups
            self.terminal = terminal
            self.openStdin = openStdin
        }
    }

    public struct Mount: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            /// Bind mount of a host path (`volumes:` bind / `-v /host:/ctr`).
            case bind(source: String)
            /// A tmpfs (`tmpfs:` / `--tmpfs /run:size=64m`), `options` passed as mount data.
            case tmpfs(options: String)
            /// A named or anonymous volume: its `_data` directory (or a subpath of it) bound
            /// in, after the copy-up of the image's content when the volume is empty.
            case volume(Volume)
        }

        /// Where mount events propagate (`bind.propagation`); Docker's default is rprivate.
        public enum Propagation: String, Sendable, Equatable, CaseIterable {
            case `private`, rprivate, shared, rshared, slave, rslave

            /// The `MS_*` propagation type, and whether it applies to submounts too.
            public var flags: (type: UInt, recursive: Bool) {
                switch self {
                case .private: return (MountFlags.privatePropagation, false)
                case .rprivate: return (MountFlags.privatePropagation, true)
                case .shared: return (MountFlags.shared, false)
                case .rshared: return (MountFlags.shared, true)
                case .slave: return (MountFlags.slave, false)
                case .rslave: return (MountFlags.slave, true)
                }
            }
        }

        /// How a bind treats the mounts below its source (`bind.recursive`, Docker ≥ 25):
        /// `enabled` binds them too and makes them read-only with a read-only bind where
        /// the kernel can (mount_setattr, ≥ 5.12); `disabled` binds only the top mount;
        /// `writable` binds them but leaves them writable; `readonly` requires them to be
        /// made read-only.
        public enum Recursion: String, Sendable, Equatable, CaseIterable {
            case enabled, disabled, writable, readonly
        }

        public var kind: Kind
        public var destination: String
        public var readOnly: Bool
        /// Extra flags such as nosuid/nodev/noexec, as `MS_*` bits.
        public var flags: UInt
        /// Binds and volumes; nil leaves the bind as created (private in the container).
        public var propagation: Propagation?
        public var recursion: Recursion

        public init(
            kind: Kind, destination: String, readOnly: Bool = false, flags: UInt = 0, propagation: Propagation? = nil,
            recursion: Recursion = .enabled
        ) {
            self.kind = kind
            self.destination = destination
            self.readOnly = readOnly
            self.flags = flags
            self.propagation = propagation
            self.recursion = recursion
        }
    }

    /// A volume as the runtime sees it: where its data lives, and how to make it available.
    public struct Volume: Sendable, Equatable {
        /// The volume's name (a 64-hex id for an anonymous volume).
        public var name: String
        /// `<root>/volumes/<name>`: the data in `_data`, and for a volume with its own file
        /// system the users and lock of `VolumeLease`.
        public var directory: String
        /// `driver_opts` `type`/`device`/`o`: mounted on `_data` while a container uses it.
        public var filesystem: Filesystem?
        /// Copy the image's content at the destination into the volume when it is empty
        /// (Docker's default; `volume.nocopy: true` turns it off).
        public var copyUp: Bool
        /// Mount only this path inside the volume (`volume.subpath`); it must exist.
        public var subpath: String?

        public init(name: String, directory: String, filesystem: Filesystem? = nil, copyUp: Bool = true, subpath: String? = nil) {
            self.name = name
            self.directory = directory
            self.filesystem = filesystem
            self.copyUp = copyUp
            self.subpath = subpath
        }

        public var data: String { directory + "/_data" }
    }

    /// A file system to mount for a volume, as `mount -t TYPE -o OPTIONS DEVICE` (Docker's
    /// local driver options `type`, `o` and `device`).
    public struct Filesystem: Sendable, Equatable {
        public var type: String
        public var device: String
        public var options: String
        public init(type: String, device: String, options: String) {
            self.type = type
            self.device = device
            self.options = options
        }
    }

    /// How one namespace is obtained.
    public enum NamespaceMode: Sendable, Equatable {
        case `private`
        /// Share the caller's namespace (`pid: host`, `network_mode: host`, ...).
        case host
        /// Join an existing namespace by path (`/proc/PID/ns/net`, a bind-mounted ns file).
        case path(String)
        /// Join the namespace of another running container of the same project
        /// (`network_mode: service:x`, `ipc: service:x`, `--network container:NAME`).
        case container(String)
    }

    public struct Namespaces: Sendable, Equatable {
        public var pid: NamespaceMode = .private
        public var network: NamespaceMode = .private
        public var ipc: NamespaceMode = .private
        public var uts: NamespaceMode = .private
        public var cgroup: NamespaceMode = .private
        public init() {}
    }

    public struct Resources: Sendable, Equatable {
        public var memoryLimit: Int64?
        /// Memory + swap (`memswap_limit`); -1 means unlimited swap.
        public var memorySwapLimit: Int64?
        public var memoryReservation: Int64?
        /// CPU quota as a number of CPUs (`cpus: 1.5`), applied as CFS quota/period.
        public var cpus: Double?
        public var cpuShares: Int64?
        public var cpusetCpus: String?
        public var cpusetMems: String?
        public var pidsLimit: Int64?
        public var blkioWeight: Int64?
        public init() {}
    }

    public enum SeccompMode: Sendable, Equatable {
        /// Docker's default allowlist (see `SeccompProfile`).
        case `default`
        case unconfined
    }

    public struct Security: Sendable, Equatable {
        public var capAdd: [String] = []
        public var capDrop: [String] = []
        public var privileged = false
        public var noNewPrivileges = false
        public var seccomp: SeccompMode = .default
        public var maskedPaths: [String] = Security.defaultMaskedPaths
        public var readonlyPaths: [String] = Security.defaultReadonlyPaths
        public init() {}

        /// moby `defaultLinuxMaskedPaths` (SEMANTICS.md §2a); the per-CPU thermal_throttle
        /// entries are added at run time where they exist.
        public static let defaultMaskedPaths = [
            "/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
            "/proc/latency_stats", "/proc/sched_debug", "/proc/scsi", "/proc/timer_list",
            "/proc/timer_stats", "/sys/devices/virtual/powercap", "/sys/firmware",
        ]
        public static let defaultReadonlyPaths = [
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
        ]
    }

    public struct Rlimit: Sendable, Equatable {
        /// RLIMIT_* number.
        public var resource: Int32
        public var name: String
        public var soft: UInt64
        public var hard: UInt64
        public init(resource: Int32, name: String, soft: UInt64, hard: UInt64) {
            self.resource = resource
            self.name = name
            self.soft = soft
            self.hard = hard
        }
    }

    public struct LogConfig: Sendable, Equatable {
        public var path: String
        /// Rotate when the current file would exceed this many bytes; `nil`: never.
        public var maxSize: Int64?
        /// Number of files kept including the current one (Docker's `max-file`, default 1).
        public var maxFiles: Int
        public init(path: String, maxSize: Int64? = nil, maxFiles: Int = 1) {
            self.path = path
            self.maxSize = maxSize
            self.maxFiles = max(1, maxFiles)
        }
    }
}

/// The parts of an OCI image config that shape the process.
public struct ImageConfig: Sendable, Equatable {
    public var entrypoint: [String]?
    public var cmd: [String]?
    public var env: [String]
    public var workingDir: String?
    public var user: String?
    public var stopSignal: String?

    public init(
        entrypoint: [String]? = nil, cmd: [String]? = nil, env: [String] = [], workingDir: String? = nil,
        user: String? = nil, stopSignal: String? = nil
    ) {
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.env = env
        self.workingDir = workingDir
        self.user = user
        self.stopSignal = stopSignal
    }
}

extension ContainerSpec {
    /// Docker's rule for the process arguments: a service `entrypoint` replaces the image's
    /// Entrypoint **and** drops the image Cmd; a service `command` replaces the image Cmd.
    /// An empty result is an error for the caller to report ("no command specified").
    public static func mergeArguments(
        entrypoint: [String]?, command: [String]?, image: ImageConfig
    ) -> [String] {
        if let entrypoint {
            return entrypoint + (command ?? [])
        }
        return (image.entrypoint ?? []) + (command ?? image.cmd ?? [])
    }

    /// Image Env first, then the service's `environment`, later keys replacing earlier ones
    /// in place (Docker's order). Entries without `=` are kept only if set in the image.
    public static func mergeEnvironment(image: [String], service: [String]) -> [String] {
        var order: [String] = []
        var values: [String: String] = [:]
        for entry in image + service {
            let key = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? entry
            if values[key] == nil { order.append(key) }
            values[key] = entry
        }
        return order.compactMap { values[$0] }
    }
}
