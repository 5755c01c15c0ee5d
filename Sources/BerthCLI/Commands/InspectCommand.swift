import BerthImages
import BerthNetwork
import BerthOrchestrator
import BerthRuntime
import BerthSystem

/// `berth inspect`: containers as `docker inspect` shows them.
enum InspectCommand {
    static let spec = CommandSpec(
        name: "inspect", arguments: "NAME|ID|SERVICE [NAME|ID|SERVICE...]",
        abstract: "Show details of containers as JSON.",
        discussion: """
            Prints a JSON array with one object per container, in the shape of docker inspect (Docker's container inspect response: Id, Created, Path, Args, State with Health, Image, the paths of resolv.conf, hostname, hosts and the log, Name, RestartCount, HostConfig, GraphDriver, Mounts, Config, NetworkSettings), from what berth keeps. A NAME is a container name (of any project in --root) or ID or a unique ID prefix; a SERVICE is a service of the current project and stands for its containers. Fields berth has no counterpart for hold Docker's zero values. The values of secrets and configs never appear: only the read-only bind of their file (HostConfig.Mounts, Mounts).

            State.Status is created, running, restarting (waiting for the restart policy's next start: Running and Restarting are then true, as in Docker) or exited. State.Error says why the last start failed (the container stays created then). State.Health is present for a container with a health check: its status, failing streak and last 5 results (output at most 4096 bytes each). RestartCount counts the restarts by the restart policy since the container was last started by hand.

            --format json prints the array on one line; any other --format is a Go template run for each container, one line each, such as '{{.State.Status}}', '{{.State.Health.Status}}', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' or '{{index .Config.Labels "com.docker.compose.service"}}' (nested fields, range, if, with, variables, pipelines; functions json, upper, lower, title, truncate, pad, join, split, index, len, eq, ne, lt, le, gt, ge, and, or, not, print, printf, println). --size adds SizeRw (the bytes of the writable layer) and SizeRootFs (those plus the image's).

            A name that matches no container is reported as Error: No such object: NAME (No such container: NAME with --type container) after the others are printed, and the exit status is 1.
            """,
        options: [
            OptionSpec("format", short: "f", value: "FORMAT", help: "json (on one line), or a Go template run for each container."),
            OptionSpec("size", short: "s", help: "Add SizeRw and SizeRootFs, the sizes of the writable layer and of the whole root file system."),
            OptionSpec("type", value: "TYPE", help: "Only container: berth inspect shows containers (use berth image inspect, network inspect or volume inspect for the others)."),
        ],
        examples: [
            ("berth inspect web", "The containers of service web, as JSON."),
            ("berth inspect -f '{{.State.Status}} {{.RestartCount}}' demo-web-1", "The state and restart count of container demo-web-1."),
            ("berth inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' web", "The addresses of web's containers."),
        ]
    ) { invocation in
        try run(invocation)
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        let names = invocation.arguments
        guard !names.isEmpty else { throw UsageError(message: "\"inspect\" requires at least 1 argument", command: "inspect") }
        let kind = invocation.options.value("type") ?? ""
        guard kind.isEmpty || kind == "container" else {
            throw UsageError(message: "--type \(kind): berth inspect shows containers; use berth image inspect, berth network inspect or berth volume inspect", command: "inspect")
        }
        // docker's words and status for a template that does not parse.
        guard let output = InspectOutput.make(invocation.options.value("format") ?? "", console: invocation.console) else { return 64 }
        let engine = try ProjectScope.engine(invocation)
        var resolver = ContainerResolver(records: engine.store.records(), services: { serviceContainers(invocation) })
        let networks = (try? NetworkStore(root: invocation.root).all()) ?? []
        let images = try? ImageStore(root: invocation.root)
        var documents: [TemplateData] = []
        var errors: [String] = []
        for name in names {
            switch resolver.resolve(name) {
            case .found(let records):
                for record in records {
                    documents.append(inspection(of: record, engine: engine, networks: networks, images: images, invocation: invocation).document)
                }
            case .ambiguous:
                errors.append("Error: multiple IDs found with provided prefix: \(name)")
            case .missing:
                errors.append("Error: No such \(kind.isEmpty ? "object" : "container"): \(name)")
            }
        }
        // As docker's inspect: what was found first, then each failure on a line of its own.
        return output.write(documents, errors: errors, console: invocation.console)
    }

    /// Reads what `ContainerInspection` needs of one container.
    static func inspection(
        of record: ContainerRecord, engine: ContainerEngine, networks: [NetworkRecord], images: ImageStore?, invocation: Invocation
    ) -> ContainerInspection {
        let store = engine.store
        let directory = store.path(record.id)
        let state = (try? engine.observe(record.id)) ?? store.state(record.id)
        let spec = try? store.spec(record.id)
        var size: (rw: Int64, rootFs: Int64)?
        if invocation.options.flag("size") {
            var writable: String?
            if case .overlay(_, let dir, _)? = spec?.root { writable = dir.map { $0 + "/upper" } }
            let rw = writable.map(FS.apparentSize(ofTree:)) ?? 0
            let image = record.imageDigest.flatMap { digest in (try? images?.records())?.first { $0.config.description == digest }?.size } ?? 0
            size = (rw, rw + image)
        }
        return ContainerInspection(
            record: record, state: state, spec: spec, launch: try? LaunchConfig.load(directory: directory),
            health: store.health(record.id, startedAt: state.startedAt), restart: store.restartRecord(record.id), networks: networks,
            directory: directory, runRoot: invocation.runRoot, size: size)
    }

    /// The containers of the current project by service (nil when no project can be found:
    /// then a name is only a container name or ID).
    static func serviceContainers(_ invocation: Invocation) -> [String: [ContainerRecord]]? {
        guard let scope = try? ProjectScope(invocation, services: []) else { return nil }
        var byService: [String: [ContainerRecord]] = [:]
        for record in scope.containers() { byService[record.service, default: []].append(record) }
        return byService.mapValues { $0.sorted { $0.number < $1.number } }
    }
}

/// Docker's lookup of a container reference: the full ID, the exact name (with or without
/// its leading `/`), a unique ID prefix — and, berth's addition, a service of the current
/// project, for its containers.
struct ContainerResolver {
    enum Result {
        case found([ContainerRecord])
        case ambiguous
        case missing
    }

    let records: [ContainerRecord]
    /// The current project's containers by service; asked once, when a name is not a
    /// container (nil: no project).
    let services: () -> [String: [ContainerRecord]]?
    private var byService: [String: [ContainerRecord]]??

    init(records: [ContainerRecord], services: @escaping () -> [String: [ContainerRecord]]?) {
        self.records = records
        self.services = services
    }

    mutating func resolve(_ reference: String) -> Result {
        if let record = records.first(where: { $0.id == reference }) { return .found([record]) }
        let name = reference.hasPrefix("/") ? String(reference.dropFirst()) : reference
        if let record = records.first(where: { $0.name == name }) { return .found([record]) }
        let prefixed = reference.isEmpty ? [] : records.filter { $0.id.hasPrefix(reference) }
        if prefixed.count > 1 { return .ambiguous }
        if let record = prefixed.first { return .found([record]) }
        if byService == nil { byService = .some(services()) }
        if let containers = byService??[reference], !containers.isEmpty { return .found(containers) }
        return .missing
    }
}
