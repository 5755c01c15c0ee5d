import BerthRuntime
import ComposeSpec

/// The parts of a container's configuration that Docker's `Config` keeps as they were asked
/// for, and that the runtime spec merges away: entrypoint and command apart, the user and
/// working directory as set (empty: the runtime's default), the environment without what the
/// engine adds at start (`HOSTNAME`, `TERM`, a default `PATH`), the stop signal and grace
/// period as given, the logging options as written. Stored in the container's record at
/// create, for `inspect`.
public struct CreateConfig: Codable, Sendable, Equatable {
    /// The effective entrypoint (the service's, else the image's).
    public var entrypoint: [String]?
    /// The effective command: the service's, else the image's unless the service replaced
    /// the entrypoint (Docker drops the image's `Cmd` then).
    public var cmd: [String]?
    public var user: String
    public var workingDir: String
    /// The image's `Env` and the service's `environment`, merged as Docker does.
    public var env: [String]
    /// `stop_signal` or the image's `StopSignal`; nil when neither sets one.
    public var stopSignal: String?
    /// `stop_grace_period` in whole seconds, when the service sets one.
    public var stopTimeout: Int?
    public var logDriver: String
    public var logOptions: [String: String]
    /// The image's `VOLUME`s.
    public var volumes: [String]
    /// The image's labels (the container's own are in its record).
    public var imageLabels: [String: String]

    public init(
        entrypoint: [String]?, cmd: [String]?, user: String, workingDir: String, env: [String], stopSignal: String?, stopTimeout: Int?,
        logDriver: String, logOptions: [String: String], volumes: [String], imageLabels: [String: String] = [:]
    ) {
        self.entrypoint = entrypoint
        self.cmd = cmd
        self.user = user
        self.workingDir = workingDir
        self.env = env
        self.stopSignal = stopSignal
        self.stopTimeout = stopTimeout
        self.logDriver = logDriver
        self.logOptions = logOptions
        self.volumes = volumes
        self.imageLabels = imageLabels
    }

    /// What `service` asks of a container of `image`.
    public static func of(service: Service, image: ResolvedImage) -> CreateConfig {
        let entrypoint = service.entrypoint ?? image.config.entrypoint
        let cmd = service.entrypoint != nil ? service.command : (service.command ?? image.config.cmd)
        var logOptions: [String: String] = [:]
        for (key, value) in service.logging?.options ?? KeyedMap() {
            if let value { logOptions[key] = value }
        }
        return CreateConfig(
            entrypoint: entrypoint, cmd: cmd, user: service.user ?? image.config.user ?? "", workingDir: service.working_dir ?? image.config.workingDir ?? "",
            env: ContainerSpec.mergeEnvironment(image: image.config.env, service: ServiceContainer.environment(of: service)),
            stopSignal: ServiceContainer.nonEmpty(service.stop_signal) ?? ServiceContainer.nonEmpty(image.config.stopSignal),
            stopTimeout: service.stop_grace_period.map { Int($0.nanoseconds / 1_000_000_000) },
            logDriver: service.logging?.driver ?? "json-file", logOptions: logOptions, volumes: image.volumes, imageLabels: image.labels)
    }

    /// The ports a container of `service` exposes: the image's `EXPOSE` and the service's
    /// `expose` (`3000`, `8000-8002`, `53/udp`), as `80/tcp`, sorted by number; unreadable
    /// entries are left out (the loader has checked them).
    public static func exposedPorts(service: Service, image: ResolvedImage) -> [String] {
        var ports: [(number: UInt16, proto: String)] = []
        for entry in image.exposedPorts + (service.expose ?? []) {
            let parts = entry.split(separator: "/", maxSplits: 1).map(String.init)
            let proto = parts.count > 1 ? parts[1] : "tcp"
            let bounds = (parts.first ?? "").split(separator: "-").map { UInt16($0) }
            guard (1...2).contains(bounds.count), let low = bounds.first ?? nil, let high = bounds.last ?? nil, low <= high else { continue }
            for number in low...high where !ports.contains(where: { $0.number == number && $0.proto == proto }) {
                ports.append((number, proto))
            }
        }
        return ports.sorted { ($0.number, $0.proto) < ($1.number, $1.proto) }.map { "\($0.number)/\($0.proto)" }
    }
}
