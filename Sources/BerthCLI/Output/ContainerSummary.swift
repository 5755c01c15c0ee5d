import BerthNetwork
import BerthOrchestrator
import BerthRuntime
import BerthSystem

/// One container as `ps` shows it: the fields of Compose's `api.ContainerSummary`, worked
/// out from the container's record and state the way Docker's engine does.
struct ContainerSummary {
    var id: String
    var name: String
    var image: String
    /// Docker's `Path args…`, arguments with a space in single quotes.
    var command: String
    var project: String
    var service: String
    var created: LogTime
    /// `running`, `exited` or `created` (Docker's `State.StateString()`).
    var state: String
    /// `Up 3 minutes (healthy)`, `Exited (0) 5 seconds ago`, `Created`.
    var status: String
    var health: String
    var exitCode: Int32
    var publishers: [PortPublisher]
    var labels: [(String, String)]
    var mounts: [String]
    var networks: [String]

    /// `networks` are the stored networks (their endpoints hold published ports); `health`
    /// is the current run's healthcheck verdict (`ContainerStore.health`).
    /// `paused`: the container's cgroup is frozen (`berth pause`).
    init(
        record: ContainerRecord, state: ContainerState, health: ContainerHealth.Status? = nil, paused: Bool = false, networks: [NetworkRecord],
        spec: ContainerSpec?, now: LogTime
    ) {
        id = record.id
        name = record.name
        image = record.image
        command = Self.command(record.command)
        project = record.project
        service = record.service
        created = LogTime(rfc3339: record.created) ?? now
        let started = state.startedAt.flatMap { LogTime(rfc3339: $0) }
        let finished = state.finishedAt.flatMap { LogTime(rfc3339: $0) }
        self.health = ""
        exitCode = 0
        self.state = paused && state.status == .running ? "paused" : Self.dockerState(state)
        switch state.status {
        case .running:
            self.health = health?.rawValue ?? ""
            status = "Up " + Human.duration(seconds: Int64(now.secondsSince(started ?? now)))
            // Docker's State.String(): Paused wins over the health.
            switch health {
            case _ where paused: status += " (Paused)"
            case nil: break
            case .starting: status += " (health: starting)"
            case let verdict?: status += " (\(verdict.rawValue))"
            }
        case .exited where started != nil:
            let code = state.exitCode ?? 0
            exitCode = code
            status = finished.map { "Exited (\(code)) " + Human.duration(seconds: Int64(now.secondsSince($0))) + " ago" } ?? ""
        case .exited, .created:
            status = "Created"
        }
        let attached = networks.filter { $0.endpoints[record.name] != nil }
        self.networks = attached.map(\.name)
        publishers = []
        if state.status == .running {
            let published = attached.flatMap { $0.endpoints[record.name]?.ports ?? [] }.map {
                PortPublisher(url: $0.hostIP?.description ?? "0.0.0.0", targetPort: $0.containerPort, publishedPort: $0.hostPort, proto: $0.proto.rawValue)
            }
            let exposed = (record.exposedPorts ?? []).compactMap(PortPublisher.init(exposed:)).filter { port in
                !published.contains { $0.targetPort == port.targetPort && $0.proto == port.proto }
            }
            publishers = (published + exposed).sorted { $0.targetPort < $1.targetPort }
        }
        labels = record.labels.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }.sorted { $0.0 < $1.0 }
        mounts = (spec?.mounts ?? []).compactMap { mount in
            if case .bind(let source) = mount.kind { return source }
            return nil
        }
    }

    /// Docker's `State.StateString()`: a start that failed never ran, so it is still
    /// `created`.
    static func dockerState(_ state: ContainerState) -> String {
        switch state.status {
        case .running: return "running"
        case .exited: return state.startedAt == nil ? "created" : "exited"
        case .created: return "created"
        }
    }

    /// Docker's container list `Command`: the path, then the arguments, those holding a
    /// space in single quotes.
    static func command(_ argv: [String]) -> String {
        guard let path = argv.first else { return "" }
        return ([path] + argv.dropFirst().map { $0.contains(" ") ? "'\($0)'" : $0 }).joined(separator: " ")
    }
}
