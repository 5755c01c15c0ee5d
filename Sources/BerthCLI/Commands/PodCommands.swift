import BerthNetwork
import BerthOrchestrator
import BerthRuntime
import BerthSystem

/// `berth pod ls|inspect`: the project's pods (services with `x-berth: {pod: NAME}`), one
/// entry per pod replica — its infra, address and members.
enum PodCommand {
    static let spec = CommandSpec(
        name: "pod",
        abstract: "List and inspect the project's pods.",
        discussion: "Services that declare x-berth: {pod: NAME} form a pod (see berth-compose(5)): an infra container per pod replica holds the pod's network, IPC and UTS namespaces, which its members share. Pod replicas are named POD-N: replica N holds member N of every service of the pod.",
        subcommands: [PodListCommand.spec, PodInspectCommand.spec])
}

/// What `pod ls` and `pod inspect` show of one pod replica.
struct PodView {
    struct Member {
        var record: ContainerRecord
        var state: ContainerState
        var health: String
        var ready: Bool
        var restarts: Int
        var isInit: Bool { record.label(Label.podInit) == "True" }
    }

    var replica: PodReplica
    var infraState: ContainerState?
    var infraPorts: String
    /// The infra's address on each of its networks, while it runs.
    var addresses: [(network: String, address: String, aliases: [String])]
    var hostname: String?
    var members: [Member]

    init(_ replica: PodReplica, engine: ContainerEngine, networks: [NetworkRecord], now: LogTime) {
        self.replica = replica
        members = replica.members.map { record in
            let state = (try? engine.observe(record.id)) ?? engine.store.state(record.id)
            let health = state.status == .running ? engine.store.health(record.id, startedAt: state.startedAt)?.status.rawValue ?? "" : ""
            return Member(
                record: record, state: state, health: health, ready: PodReplica.isReady(record, engine: engine),
                restarts: engine.store.restartRecord(record.id).tracker.count)
        }
        addresses = []
        infraPorts = ""
        guard let infra = replica.infra else { return }
        let state = (try? engine.observe(infra.id)) ?? engine.store.state(infra.id)
        infraState = state
        let spec = try? engine.store.spec(infra.id)
        hostname = spec?.hostname
        infraPorts = PortPublisher.display(ContainerSummary(record: infra, state: state, networks: networks, spec: spec, now: now).publishers)
        guard state.status == .running else { return }
        let run = spec?.name ?? infra.name
        addresses = networks.compactMap { network in
            network.endpoints[run].map { (network.name, "\($0.address)", $0.aliases) }
        }.sorted { $0.network < $1.network }
    }

    /// Running (infra and every member that is not an init member run), Degraded (the infra
    /// runs, a member does not), Exited, Created (never started).
    var status: String {
        guard let infraState else { return "Degraded" }
        switch infraState.status {
        case .running:
            return members.filter { !$0.isInit }.allSatisfy { $0.state.status == .running } ? "Running" : "Degraded"
        case .exited where infraState.startedAt != nil: return "Exited"
        case .exited, .created: return "Created"
        }
    }

    var readyCount: String {
        let app = members.filter { !$0.isInit }
        return "\(app.filter(\.ready).count)/\(app.count)"
    }

    var isReady: Bool { members.contains { !$0.isInit } && members.filter { !$0.isInit }.allSatisfy(\.ready) }

    var memberList: String {
        members.map { $0.record.service + ($0.isInit ? " (init)" : "") }.joined(separator: ", ")
    }

    /// The fields of `pod ls --format`, in the (alphabetical) order of its JSON.
    var fields: [(String, GoTemplate.Value)] {
        [
            ("Addresses", .list(addresses.map(\.address))),
            ("Infra", .string(replica.infra?.name ?? "")),
            ("Members", .list(members.map { $0.record.name })),
            ("Name", .string(replica.name)),
            ("Pod", .string(replica.pod)),
            ("Ports", .string(infraPorts)),
            ("Ready", .string(readyCount)),
            ("Replica", .int(Int64(replica.number))),
            ("Services", .string(memberList)),
            ("Status", .string(status)),
        ]
    }

    /// `pod inspect`'s object.
    var document: TemplateData {
        func member(_ m: Member) -> TemplateData {
            .object([
                ("Name", .string(m.record.name)), ("Id", .string(m.record.id)), ("Service", .string(m.record.service)),
                ("Status", .string(ContainerSummary.dockerState(m.state))), ("ExitCode", .int(Int64(m.state.exitCode ?? 0))),
                ("Health", .string(m.health)), ("Ready", .bool(m.ready)), ("RestartCount", .int(Int64(m.restarts))),
            ])
        }
        let infra: TemplateData = replica.infra.map { record in
            .object([
                ("Name", .string(record.name)), ("Id", .string(record.id)),
                ("Status", .string(infraState.map { ContainerSummary.dockerState($0) } ?? "")),
                ("Pid", .int(Int64(infraState?.status == .running ? infraState?.pid ?? 0 : 0))),
            ])
        } ?? .null
        return .object([
            ("Name", .string(replica.name)),
            ("Pod", .string(replica.pod)),
            ("Replica", .int(Int64(replica.number))),
            ("Project", .string(replica.project)),
            ("State", .object([("Status", .string(status)), ("Ready", .bool(isReady))])),
            ("Hostname", .string(hostname ?? "")),
            ("SharedNamespaces", .strings(["ipc", "net", "uts"])),
            ("Infra", infra),
            ("Networks", .map(addresses.map { entry in
                (entry.network, .object([("IPAddress", .string(entry.address)), ("Aliases", .strings(entry.aliases))]))
            })),
            ("Ports", .string(infraPorts)),
            ("InitMembers", .list(members.filter(\.isInit).map(member))),
            ("Members", .list(members.filter { !$0.isInit }.map(member))),
        ])
    }

    /// The project's pod replicas (of `names` only when given: `app` for all of pod app's,
    /// `app-2` for one), as `ls` and `inspect` list them.
    static func all(_ scope: ProjectScope, root: String) -> [PodView] {
        let networks = (try? NetworkStore(root: root).all()) ?? []
        let now = LogTime.now()
        return PodReplica.all(scope.containers()).map { PodView($0, engine: scope.engine, networks: networks, now: now) }
    }
}

enum PodListCommand {
    static let defaultTable = "table {{.Name}}\t{{.Status}}\t{{.Ready}}\t{{.Addresses}}\t{{.Ports}}\t{{.Services}}"
    static let headers: [String: String] = [
        "Addresses": "ADDRESS", "Infra": "INFRA", "Members": "CONTAINERS", "Name": "NAME", "Pod": "POD", "Ports": "PORTS",
        "Ready": "READY", "Replica": "REPLICA", "Services": "MEMBERS", "Status": "STATUS",
    ]

    static let spec = CommandSpec(
        name: "ls",
        abstract: "List the project's pods.",
        discussion: """
            Lists one line per pod replica: NAME (POD-N), STATUS (Running: its infra and every member that is not an init member run; Degraded: its infra runs but a member does not; Exited; Created), READY (members ready / members, not counting init members: a member is ready when it runs and, with a health check, is healthy; the pod is ready when all are, and only then answers to its names in DNS), ADDRESS (the pod replica's address on each of its networks), PORTS (the ports its members publish) and MEMBERS (their services, init members marked).

            --format takes table, json (one JSON object per line) or a Go template such as '{{.Name}} {{.Status}}' (fields: Addresses, Infra, Members (container names), Name, Pod, Ports, Ready, Replica, Services, Status); 'table TEMPLATE' adds a header row and aligns the columns.
            """,
        options: [
            OptionSpec("format", value: "FORMAT", help: "Format the output: table, json, or a Go template.", default: "table"),
            OptionSpec("quiet", short: "q", help: "Only display the pod replicas' names."),
        ],
        examples: [
            ("berth pod ls", "The pods of the project in this directory."),
            ("berth -p demo pod ls --format '{{.Name}} {{.Ready}}'", "Names and readiness of project demo's pod replicas."),
        ]
    ) { invocation in
        guard invocation.arguments.isEmpty else { throw UsageError(message: "pod ls takes no arguments", command: "pod ls") }
        let scope = try ProjectScope(invocation, services: [])
        let pods = PodView.all(scope, root: invocation.root)
        if invocation.options.flag("quiet") {
            invocation.console.out(pods.map { $0.replica.name + "\n" }.joined())
            return 0
        }
        var format = invocation.options.value("format") ?? "table"
        if format == "table" || format.isEmpty { format = defaultTable }
        if format == "json" { format = "{{json .}}" }
        let table = format.hasPrefix("table")
        if table { format = String(format.dropFirst("table".count)).trimmingCharacters(in: [" "]) }
        format = format.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
        do {
            let template = try GoTemplate(parsing: format)
            var text = ""
            for pod in pods {
                let fields = pod.fields
                let json = "{" + fields.map { name, value in GoFormat.jsonString(name) + ":" + jsonValue(value) }.joined(separator: ",") + "}"
                text += try template.execute(GoTemplate.Context(
                    field: { name, arguments in
                        guard arguments.isEmpty else { return nil }
                        // Addresses print comma-joined in the table, as a list for templates.
                        if name == "Addresses", table { return .string(pod.addresses.map(\.address).joined(separator: ",")) }
                        return fields.first { $0.0 == name }?.1
                    },
                    json: json, text: "&{" + fields.map(\.1.text).joined(separator: " ") + "}", fieldNames: fields.map(\.0))) + "\n"
            }
            guard table else {
                invocation.console.out(text)
                return 0
            }
            let header = try template.execute(GoTemplate.Context(
                field: { name, _ in .string(headers[name] ?? "<no value>") }, json: "", text: "", fieldNames: Array(headers.keys), isHeader: true))
            invocation.console.out(TabWriter.render(text: header + "\n" + text))
        } catch {
            throw CLIError("invalid --format \(GoFormat.quote(invocation.options.value("format") ?? "")): \(error)")
        }
        return 0
    }

    static func jsonValue(_ value: GoTemplate.Value) -> String {
        switch value {
        case .string(let text): return GoFormat.jsonString(text)
        case .int(let number): return String(number)
        case .list(let items): return "[" + items.map { GoFormat.jsonString($0) }.joined(separator: ",") + "]"
        case .structured(_, let json): return json
        case .data(let data): return data.json.compact()
        }
    }
}

enum PodInspectCommand {
    static let spec = CommandSpec(
        name: "inspect", arguments: "POD|POD-N [POD|POD-N...]",
        abstract: "Show details of pods as JSON.",
        discussion: """
            Prints a JSON array with one object per pod replica: Name (POD-N), Pod, Replica, Project, State (Status as pod ls shows it, Ready), Hostname, SharedNamespaces, Infra (the container holding the namespaces: Name, Id, Status, Pid), Networks (the replica's address and DNS names on each network), Ports, InitMembers and Members (Name, Id, Service, Status, ExitCode, Health, Ready, RestartCount). POD stands for all its replicas, POD-N for one.

            --format json prints the array on one line; any other --format is a Go template run for each pod replica, such as '{{.State.Status}}' or '{{range .Members}}{{.Name}} {{end}}'. A name that matches no pod replica is reported as Error: No such pod: NAME after the others are printed, and the exit status is 1.
            """,
        options: [OptionSpec("format", short: "f", value: "FORMAT", help: "json (on one line), or a Go template run for each pod replica.")],
        examples: [
            ("berth pod inspect app", "Every replica of pod app, as JSON."),
            ("berth pod inspect -f '{{range .Networks}}{{.IPAddress}}{{end}}' app-2", "The address of pod app's second replica."),
        ]
    ) { invocation in
        let names = invocation.arguments
        guard !names.isEmpty else { throw UsageError(message: "\"pod inspect\" requires at least 1 argument", command: "pod inspect") }
        guard let output = InspectOutput.make(invocation.options.value("format") ?? "", console: invocation.console) else { return 64 }
        let scope = try ProjectScope(invocation, services: [])
        let pods = PodView.all(scope, root: invocation.root)
        var documents: [TemplateData] = []
        var errors: [String] = []
        for name in names {
            let matched = pods.filter { $0.replica.name == name || $0.replica.pod == name }
            if matched.isEmpty { errors.append("Error: No such pod: \(name)") }
            documents += matched.map(\.document)
        }
        return output.write(documents, errors: errors, console: invocation.console)
    }
}
