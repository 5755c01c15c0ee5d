import BerthRuntime
import BerthSystem
import ComposeSpec

/// The runtime's view of an image config, by a name that does not clash with BerthImages'.
public typealias RuntimeImageConfig = ImageConfig

/// What the image contributes to a service container.
public struct ResolvedImage: Sendable, Equatable {
    /// The reference as written in the service (`busybox`), for `ps` and labels.
    public var reference: String
    /// The image's manifest digest, stamped on the container (`com.docker.compose.image`).
    public var digest: String?
    /// Unpacked layers, top first (overlay `lowerdir=` order).
    public var layers: [String]
    public var config: ImageConfig
    /// The image config's `Volumes` (`VOLUME` in a Dockerfile): anonymous volumes unless
    /// the service mounts something there.
    public var volumes: [String]
    /// The image's `HEALTHCHECK` (Docker's `Config.Healthcheck`), which a service's
    /// `healthcheck:` is merged over.
    public var healthcheck: HealthConfig?
    /// The image's `SHELL` (Docker's `Config.Shell`): what a `CMD-SHELL` check runs through.
    public var shell: [String]?
    /// The image's `ExposedPorts` (`EXPOSE`), as `80/tcp`.
    public var exposedPorts: [String]
    /// The image's `Labels`, which a container's own labels are merged over.
    public var labels: [String: String]

    public init(
        reference: String, digest: String?, layers: [String], config: ImageConfig, volumes: [String] = [],
        healthcheck: HealthConfig? = nil, shell: [String]? = nil, exposedPorts: [String] = [], labels: [String: String] = [:]
    ) {
        self.reference = reference
        self.digest = digest
        self.layers = layers
        self.config = config
        self.volumes = volumes
        self.healthcheck = healthcheck
        self.shell = shell
        self.exposedPorts = exposedPorts
        self.labels = labels
    }
}

/// A service setting that berth reads but cannot honour: refused with where and why, never
/// silently dropped.
public struct ServiceConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public var service: String
    public var key: String
    public var message: String
    public var description: String { "service \"\(service)\": \(key): \(message)" }
}

/// Compose service + image → the runtime's `ContainerSpec`, with Docker's defaults
/// (SEMANTICS.md §2a): the image's entrypoint/cmd/env/workdir/user unless the service
/// overrides them, `PATH`/`HOSTNAME`/`TERM` as the engine adds them, the default stop
/// signal and 10 s grace period, json-file logs. Pure: no I/O.
public enum ServiceContainer {
    public static let defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

    /// - Parameters:
    ///   - id: the container's 64-hex id; its first 12 characters are the default hostname.
    ///   - directory: the container's own persistent directory (writable layer in `rw/`,
    ///     log in `<id>-json.log`, secrets and configs in `secrets/`, `configs/`, as Docker
    ///     lays out `/var/lib/docker/containers/<id>`).
    ///   - storage: the container's mounts from `ServiceContainer.storage(...)`; without it,
    ///     only binds and tmpfs (no volume store, no secrets' environment).
    public static func spec(
        project: Project, service name: String, service: Service, containerName: String, id: String,
        image: ResolvedImage, directory: String, storage: StoragePlan? = nil
    ) throws(ServiceConfigError) -> ContainerSpec {
        func fail(_ key: String, _ message: String) -> ServiceConfigError {
            ServiceConfigError(service: name, key: key, message: message)
        }
        let args = ContainerSpec.mergeArguments(entrypoint: service.entrypoint, command: service.command, image: image.config)
        if args.isEmpty {
            throw fail("command", "neither the service nor image \(image.reference) gives a command to run; set command: or entrypoint:")
        }
        let hostname = service.hostname ?? String(id.prefix(12))

        // The engine's environment first (moby `CreateDaemonEnvironment`), then the image's,
        // then the service's; later keys replace earlier ones in place.
        var engine = [defaultPath, "HOSTNAME=\(hostname)"]
        if service.tty == true { engine.append("TERM=xterm") }
        let env = ContainerSpec.mergeEnvironment(image: engine + image.config.env, service: environment(of: service))

        let process = ContainerSpec.Process(
            args: args, env: env, cwd: service.working_dir ?? nonEmpty(image.config.workingDir) ?? "/",
            user: service.user ?? nonEmpty(image.config.user) ?? "0",
            additionalGroups: service.group_add ?? [], terminal: service.tty ?? false, openStdin: service.stdin_open ?? false)
        if !process.cwd.hasPrefix("/") {
            throw fail("working_dir", "\"\(process.cwd)\" must be an absolute path")
        }

        var spec = ContainerSpec(
            name: containerName, project: project.name,
            root: .overlay(lower: image.layers, writableDir: directory + "/rw", readOnly: service.read_only ?? false),
            process: process)
        spec.hostname = hostname
        spec.domainname = service.domainname
        spec.useInit = service.`init` ?? false
        if let size = service.shm_size { spec.shmSize = size.bytes }

        spec.namespaces.pid = try namespace(service.pid, key: "pid", allowed: ["host"], fail: fail)
        spec.namespaces.ipc = try namespace(service.ipc, key: "ipc", allowed: ["host", "private", "shareable"], fail: fail)
        spec.namespaces.uts = try namespace(service.uts, key: "uts", allowed: ["host"], fail: fail)
        spec.namespaces.cgroup = try namespace(service.cgroup, key: "cgroup", allowed: ["host", "private"], fail: fail)
        spec.namespaces.network = try namespace(service.network_mode, key: "network_mode", allowed: ["host", "none", "bridge"], fail: fail)

        spec.resources = try resources(service, fail: fail)
        spec.security = try security(service, fail: fail)
        if let storage {
            spec.mounts = storage.mounts
        } else {
            spec.mounts = try Self.storage(project: project, service: name, service: service, image: image, directory: directory, inputs: StorageInputs()).mounts
        }
        spec.sysctls = (service.sysctls ?? KeyedMap()).map { (key: $0.key, value: $0.value) }
        for (ulimitName, limit) in service.ulimits ?? KeyedMap() {
            do {
                spec.rlimits.append(try RuntimeCommand.parseUlimit("\(ulimitName)=\(limit.soft):\(limit.hard)"))
            } catch {
                throw fail("ulimits.\(ulimitName)", "\(error)")
            }
        }

        let signalName = service.stop_signal ?? nonEmpty(image.config.stopSignal) ?? "SIGTERM"
        guard let signal = Signals.parse(signalName) else {
            throw fail("stop_signal", "unknown signal \"\(signalName)\"; use a name such as SIGTERM or SIGQUIT, or a number")
        }
        spec.stopSignal = signal
        spec.stopTimeoutMilliseconds = Int((service.stop_grace_period?.nanoseconds ?? 10_000_000_000) / 1_000_000)
        spec.log = try logConfig(service, id: id, directory: directory, fail: fail)
        return spec
    }

    /// The service's `environment` as `KEY=value` entries (keys without a value left out).
    static func environment(of service: Service) -> [String] {
        (service.environment ?? KeyedMap()).compactMap { entry in entry.value.map { "\(entry.key)=\($0)" } }
    }

    static func nonEmpty(_ text: String?) -> String? {
        guard let text, !text.isEmpty else { return nil }
        return text
    }

    /// `host`, `private`, `service:x`, `container:x`; `network_mode: none|bridge` keep a
    /// private namespace (its interfaces come from the network layer).
    static func namespace(
        _ value: String?, key: String, allowed: [String], fail: (String, String) -> ServiceConfigError
    ) throws(ServiceConfigError) -> ContainerSpec.NamespaceMode {
        guard let value, !value.isEmpty else { return .private }
        if value == "host" && allowed.contains("host") { return .host }
        if allowed.contains(value) { return .private }
        if value.hasPrefix("service:") {
            // The service's first container; the supervisor resolves it to a running one.
            return .container(String(value.dropFirst(8)))
        }
        if value.hasPrefix("container:") { return .container(String(value.dropFirst(10))) }
        throw fail(key, "\"\(value)\" is not supported; use \((allowed + ["service:NAME", "container:NAME"]).joined(separator: ", "))")
    }

    static func resources(_ service: Service, fail: (String, String) -> ServiceConfigError) throws(ServiceConfigError) -> ContainerSpec.Resources {
        var r = ContainerSpec.Resources()
        let limits = service.deploy?.resources?.limits
        r.memoryLimit = service.mem_limit?.bytes ?? limits?.memory?.bytes
        r.memoryReservation = service.mem_reservation?.bytes ?? service.deploy?.resources?.reservations?.memory?.bytes
        r.memorySwapLimit = service.memswap_limit?.bytes
        r.cpus = service.cpus ?? limits?.cpus
        r.cpuShares = service.cpu_shares
        r.cpusetCpus = service.cpuset
        r.pidsLimit = service.pids_limit ?? limits?.pids
        if let weight = service.blkio_config?.weight { r.blkioWeight = Int64(weight) }
        if let swap = r.memorySwapLimit, swap != -1, let memory = r.memoryLimit, swap < memory {
            throw fail("memswap_limit", "\(swap) is below mem_limit \(memory); memswap_limit counts memory plus swap")
        }
        return r
    }

    static func security(_ service: Service, fail: (String, String) -> ServiceConfigError) throws(ServiceConfigError) -> ContainerSpec.Security {
        var s = ContainerSpec.Security()
        s.capAdd = service.cap_add ?? []
        s.capDrop = service.cap_drop ?? []
        s.privileged = service.privileged ?? false
        for option in service.security_opt ?? [] {
            // `seccomp:unconfined` is the older spelling of `seccomp=unconfined`.
            var normalized = option
            if let colon = normalized.firstIndex(of: ":"), !normalized.contains("=") {
                normalized.replaceSubrange(colon...colon, with: "=")
            }
            switch normalized {
            case "no-new-privileges", "no-new-privileges=true": s.noNewPrivileges = true
            case "no-new-privileges=false": s.noNewPrivileges = false
            case "seccomp=unconfined": s.seccomp = .unconfined
            case "label=disable", "apparmor=unconfined": break  // no SELinux/AppArmor here: nothing to lift
            default:
                throw fail("security_opt", "\"\(option)\" is not supported; use no-new-privileges, seccomp=unconfined, label=disable or apparmor=unconfined")
            }
        }
        return s
    }

    /// json-file (Docker's default) under the container's directory; `none` keeps nothing.
    static func logConfig(_ service: Service, id: String, directory: String, fail: (String, String) -> ServiceConfigError) throws(ServiceConfigError) -> ContainerSpec.LogConfig? {
        let driver = service.logging?.driver ?? "json-file"
        switch driver {
        case "none": return nil
        case "json-file", "local":
            var maxSize: Int64?
            var maxFiles = 1
            if let text = service.logging?.options?["max-size"] ?? nil {
                do { maxSize = try RuntimeCommand.parseBytes(text, option: "max-size") } catch {
                    throw fail("logging.options.max-size", "\"\(text)\" is not a size; use for example 10m")
                }
            }
            if let text = service.logging?.options?["max-file"] ?? nil {
                guard let n = Int(text), n >= 1 else { throw fail("logging.options.max-file", "\"\(text)\" must be a number of 1 or more") }
                maxFiles = n
            }
            return ContainerSpec.LogConfig(path: "\(directory)/\(id)-json.log", maxSize: maxSize, maxFiles: maxFiles)
        default:
            throw fail("logging.driver", "\"\(driver)\" is not supported; berth writes json-file logs (or none)")
        }
    }
}
