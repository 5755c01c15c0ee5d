import BerthSystem
import ComposeSpec

/// What `berth run` changes in the service it runs a one-off container of (Compose's
/// `applyRunOptions` and `prepareRun`).
public struct OneOffOptions: Sendable {
    /// The command (nil: the service's). With `entrypoint` set and no command, none.
    public var command: [String]?
    public var entrypoint: [String]?
    /// `-e KEY=VALUE` in order; nil values remove nothing (Compose drops unset variables).
    public var environment: [(String, String)] = []
    public var labels: [(String, String)] = []
    public var user: String?
    public var workingDirectory: String?
    /// `-v`, already in long form.
    public var volumes: [ServiceVolume] = []
    /// `-p`: the ports published instead of the service's (which only `--service-ports` keeps).
    public var ports: [PortConfig] = []
    public var servicePorts = false
    /// `--use-aliases`: the service name and its network aliases resolve to this container too.
    public var useAliases = false
    /// `--name` (default `<project>-<service>-run-<12 hex>`).
    public var name: String?
    /// `--rm`.
    public var autoRemove = false
    public var tty = false
    public var interactive = false
    public var capAdd: [String] = []
    public var capDrop: [String] = []

    public init() {}
}

/// A one-off container's identity: Compose's slug (64 hex digits; its first 12 name the
/// container) and what its launch needs besides the service's.
public struct OneOffSettings: Sendable {
    public var slug: String
    public var autoRemove: Bool
    public var useAliases: Bool
}

extension Stack {
    /// The service as the one-off runs it: command, entrypoint, environment, labels, user,
    /// working directory, volumes and ports as given, a terminal and stdin as asked, and
    /// no restart policy (a one-off is never restarted).
    public static func oneOffService(_ base: Service, options: OneOffOptions) -> Service {
        var service = base
        if let entrypoint = options.entrypoint {
            service.entrypoint = entrypoint
            // As `docker run --entrypoint`: the image's command does not follow a new entrypoint.
            service.command = options.command ?? []
        } else if let command = options.command {
            service.command = command
        }
        if !options.environment.isEmpty {
            var environment = service.environment ?? KeyedMap()
            for (key, value) in options.environment { environment[key] = Optional(Optional(value)) }
            service.environment = environment
        }
        if !options.labels.isEmpty {
            var labels = service.labels ?? KeyedMap()
            for (key, value) in options.labels { labels[key] = value }
            service.labels = labels
        }
        if let user = options.user { service.user = user }
        if let directory = options.workingDirectory { service.working_dir = directory }
        if !options.volumes.isEmpty { service.volumes = (service.volumes ?? []) + options.volumes }
        if !options.servicePorts { service.ports = options.ports.isEmpty ? nil : options.ports }
        if !options.capAdd.isEmpty { service.cap_add = (service.cap_add ?? []) + options.capAdd }
        if !options.capDrop.isEmpty { service.cap_drop = (service.cap_drop ?? []) + options.capDrop }
        service.tty = options.tty
        service.stdin_open = options.interactive
        service.restart = nil
        service.deploy?.restart_policy = nil
        service.container_name = nil
        return service
    }

    /// Creates the one-off container of `service` (not started): labelled
    /// `com.docker.compose.oneoff=True` with Compose's slug, number -1 (one-offs do not take
    /// a replica number). Returns its id and name.
    /// The service's networks are created first if missing (as Compose's `run` does, also
    /// with `--no-deps`).
    public func createOneOff(
        _ project: Project, service name: String, options: OneOffOptions, image: ResolvedImage, environment: [String: String] = [:],
        progress: @escaping StackProgress, warn: (String) -> Void
    ) throws -> (id: String, name: String) {
        guard let base = project.services[name] else { throw EngineError("no such service: \(name)") }
        for key in (base.networks ?? KeyedMap()).map(\.key) {
            try ensureNetwork(project, key: key, progress: progress)
        }
        let service = Self.oneOffService(base, options: options)
        let slug = ContainerFactory.newID()
        let containerName = options.name ?? Naming.oneOffName(project: project.name, service: name, suffix: String(slug.prefix(12)))
        let projectVolumes = try volumes.ensure(project: project)
        let storage = StorageContext(stack: self, volumes: projectVolumes, environment: environment, renewAnonymous: true)
        let created = try ContainerFactory(store: engine.store).create(
            project: project, service: name, config: service, number: -1, name: containerName, image: image,
            storage: storage.inputs(replacing: nil),
            oneOff: OneOffSettings(slug: slug, autoRemove: options.autoRemove, useAliases: options.useAliases))
        for warning in created.warnings { warn(warning) }
        if let record = try? engine.store.record(created.id) { events.record("create", record) }
        return (created.id, containerName)
    }

    /// Compose's `waitDependencies` for one service: its `depends_on` conditions
    /// (`service_healthy`, `service_completed_successfully`) as `up` waits for them.
    public func waitForDependencies(
        of service: String, in project: Project, progress: @escaping StackProgress, warn: @escaping @Sendable (String) -> Void
    ) throws {
        for dependency in DependencyGraph(project: project).dependencies[service] ?? [] {
            try waitFor(dependency, of: service, progress: progress, warn: warn)
        }
    }
}
