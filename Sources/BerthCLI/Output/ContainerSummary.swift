import BerthNetwork
import BerthOrchestrator
import BerthRuntime
import BerthSystem
import ComposeSpec

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
    /// `running`, `restarting`, `exited` or `created` (Docker's `State.StateString()`).
    var state: String
    /// `Up 3 minutes (healthy)`, `Restarting (1) 2 seconds ago (next in 4s)`,
    /// `Exited (0) 5 seconds ago`, `Created`.
    var status: String
    var health: String
    var exitCode: Int32
    var publishers: [PortPublisher]
    var labels: [(String, String)]
    var mounts: [String]
    var networks: [String]
    /// The pod replica it belongs to (`app-1`: pod `app`, replica 1); "" when none.
    var pod: String
    /// Its place in its pod replica: 0 the infra, 1 an init member, 2 another member.
    var podRank: Int

    /// `networks` are the stored networks (their endpoints hold published ports); `health`
    /// is the current run's healthcheck verdict (`ContainerStore.health`); `restart` the
    /// restart its policy has scheduled after the current run's end; `paused`: the
    /// container's cgroup is frozen (`berth pause`).
    init(
        record: ContainerRecord, state: ContainerState, health: ContainerHealth.Status? = nil, restart: RestartRecord.Pending? = nil,
        paused: Bool = false, networks: [NetworkRecord], spec: ContainerSpec?, now: LogTime
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
        self.state = paused && state.status == .running ? "paused" : Self.dockerState(state, restarting: restart != nil)
        switch state.status {
        case .exited where restart != nil:
            let code = state.exitCode ?? 0
            exitCode = code
            status = Self.restartingStatus(exitCode: code, finished: finished ?? now, due: restart?.due ?? 0, now: now)
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
        // Endpoints are under the name the container's run started with.
        let runName = spec?.name ?? record.name
        let attached = networks.filter { $0.endpoints[runName] != nil }
        self.networks = attached.map(\.name)
        publishers = []
        if state.status == .running {
            let published = attached.flatMap { $0.endpoints[runName]?.ports ?? [] }.map {
                PortPublisher(url: $0.hostIP?.description ?? "0.0.0.0", targetPort: $0.containerPort, publishedPort: $0.hostPort, proto: $0.proto.rawValue)
            }
            let exposed = (record.exposedPorts ?? []).compactMap(PortPublisher.init(exposed:)).filter { port in
                !published.contains { $0.targetPort == port.targetPort && $0.proto == port.proto }
            }
            publishers = (published + exposed).sorted { $0.targetPort < $1.targetPort }
        }
        pod = record.label(Label.pod).map { "\($0)-\(record.number)" } ?? ""
        podRank = record.label(Label.podInfra) == "True" ? 0 : (record.label(Label.podInit) == "True" ? 1 : 2)
        labels = record.labels.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil }.sorted { $0.0 < $1.0 }
        mounts = (spec?.mounts ?? []).compactMap { mount in
            // A shared /dev/shm (shareable IPC, pods) is the engine's, as Docker's is.
            if case .bind(let source) = mount.kind, mount.destination != "/dev/shm" { return source }
            return nil
        }
    }

    /// `ps` order: by name, the containers of a pod replica together — its infra, its init
    /// members, then its other members.
    static func podGrouped(_ a: ContainerSummary, _ b: ContainerSummary) -> Bool {
        func key(_ c: ContainerSummary) -> (String, Int, String) {
            guard !c.pod.isEmpty, let dash = c.pod.lastIndex(of: "-") else { return (c.name, 0, c.name) }
            return ("\(c.project)-\(c.pod[..<dash])-infra\(c.pod[dash...])", c.podRank, c.name)
        }
        return key(a) < key(b)
    }

    /// Docker's `State.StateString()`: a start that failed never ran, so it is still
    /// `created`; one waiting for its restart policy's restart is `restarting`.
    static func dockerState(_ state: ContainerState, restarting: Bool = false) -> String {
        switch state.status {
        case .running: return "running"
        case .exited: return state.startedAt == nil ? "created" : (restarting ? "restarting" : "exited")
        case .created: return "created"
        }
    }

    /// Docker's `Restarting (137) 2 seconds ago` (the exit code, the time since the end),
    /// and berth's addition: when the restart is due, `(next in 4s)` — rounded up to the
    /// second, `(next in 0s)` once overdue (no supervisor runs to do it).
    static func restartingStatus(exitCode: Int32, finished: LogTime, due: Int64, now: LogTime) -> String {
        let nowNanos = now.seconds * 1_000_000_000 + Int64(now.nanoseconds)
        let left = max(0, (due - nowNanos + 999_999_999) / 1_000_000_000)
        return "Restarting (\(exitCode)) " + Human.duration(seconds: Int64(now.secondsSince(finished))) + " ago (next in \(ComposeSpec.Duration.seconds(left)))"
    }

    /// Docker's container list `Command`: the path, then the arguments, those holding a
    /// space in single quotes.
    static func command(_ argv: [String]) -> String {
        guard let path = argv.first else { return "" }
        return ([path] + argv.dropFirst().map { $0.contains(" ") ? "'\($0)'" : $0 }).joined(separator: " ")
    }
}
