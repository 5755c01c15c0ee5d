import BerthNetwork
import BerthOrchestrator
import BerthRuntime
import BerthSystem

/// `berth ps`: the project's containers, as `docker compose ps`.
enum PsCommand {
    static let spec = CommandSpec(
        name: "ps", arguments: "[SERVICE...]",
        abstract: "List containers.",
        discussion: """
            Lists the project's running containers (with --all, stopped ones and one-off containers too), sorted by name: NAME, IMAGE, COMMAND (truncated to 20 columns unless --no-trunc), SERVICE, CREATED, STATUS (Up 3 minutes (healthy), Exited (0) 5 seconds ago, Created, or Restarting (1) 2 seconds ago (next in 4s) while the restart policy waits to start it again: Docker's words, and berth's addition in the last parentheses, when the next start is due) and PORTS (published ports as 0.0.0.0:8080->80/tcp). The containers of a pod replica (x-berth: {pod: NAME}, see berth-pod(1)) are listed together, its infra container first, and the table gains a POD column with the replica's name (POD-N); --services leaves the infra out.

            --format takes table, json (one JSON object per line, the fields of docker compose ps --format json) or a Go template such as '{{.Name}} {{.Status}}' (fields: Command, CreatedAt, ExitCode, Health, ID, Image, Labels, LocalVolumes, Mounts, Name, Names, Networks, Pod, Ports, Project, Publishers, RunningFor, Service, Size, State, Status, and Label "key"; functions json, upper, lower, title, truncate, pad, join, split); 'table TEMPLATE' adds a header row and aligns the columns.
            """,
        options: [
            OptionSpec("all", short: "a", help: "Show all stopped containers (including those created by the run command)."),
            OptionSpec("filter", value: "KEY=VALUE", help: "Filter services by a property (supported filters: status)."),
            OptionSpec("format", value: "FORMAT", help: "Format the output: table, json, or a Go template.", default: "table"),
            OptionSpec("no-trunc", help: "Don't truncate output."),
            OptionSpec("orphans", help: "Include containers of services the Compose file does not declare (--orphans=false leaves them out).", default: "true"),
            OptionSpec("quiet", short: "q", help: "Only display IDs."),
            OptionSpec("services", help: "Display services."),
            OptionSpec("status", value: "STATUS", help: "Filter services by status: created, running, paused, restarting or exited (also removing, dead, which berth containers never are); repeatable.", repeatable: true),
        ],
        examples: [
            ("berth ps", "The running containers of the project in this directory."),
            ("berth ps -a --format json", "Every container of the project, one JSON object per line."),
            ("berth -p demo ps --format '{{.Name}}\\t{{.Status}}'", "Names and statuses of project demo's containers, without reading a Compose file."),
        ]
    ) { invocation in
        try run(invocation)
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        let options = invocation.options
        var statuses = options.all("status")
        if let filter = options.value("filter"), !filter.isEmpty {
            guard let equals = filter.firstIndex(of: "=") else { throw CLIError("arguments to --filter should be in form KEY=VAL") }
            let key = filter[..<equals]
            switch key {
            case "status": statuses.append(String(filter[filter.index(after: equals)...]))
            case "source": throw CLIError("--filter source is not implemented (Compose does not implement it either)")
            default: throw CLIError("unknown filter \(key)")
            }
        }
        let format = options.value("format") ?? "table"
        if format == "raw" { throw CLIError("--format raw is not supported: use table, json or a Go template") }
        var services = invocation.arguments
        let scope = try ProjectScope(invocation, services: services)
        try scope.checkServices(services)
        scope.wakeSupervisor(invocation)
        if let project = scope.project, services.isEmpty, !options.flag("orphans", default: true) {
            services = project.services.keys.sorted()
        }
        let all = options.flag("all") || !statuses.isEmpty
        let now = LogTime.now()
        let networks = (try? NetworkStore(root: invocation.root).all()) ?? []
        var summaries: [ContainerSummary] = []
        let layout = try? CgroupLayout.detect()
        for record in scope.containers(oneOff: all) where services.isEmpty || services.contains(record.service) {
            let state = (try? scope.engine.observe(record.id)) ?? scope.engine.store.state(record.id)
            let restart = scope.engine.store.pendingRestart(record.id, state: state)
            // Docker lists restarting containers with the running ones.
            guard all || state.status == .running || restart != nil else { continue }
            let spec = (try? FS.readString(scope.engine.store.path(record.id) + "/spec")).flatMap { try? ContainerSpec(decoding: $0) }
            let health = state.status == .running ? scope.engine.store.health(record.id, startedAt: state.startedAt)?.status : nil
            let paused = state.status == .running && layout.map { Cgroup(layout: $0, project: record.project, name: spec?.name ?? record.name).isFrozen } == true
            summaries.append(ContainerSummary(
                record: record, state: state, health: health, restart: restart, paused: paused, networks: networks, spec: spec, now: now))
        }
        if !statuses.isEmpty { summaries = summaries.filter { statuses.contains($0.state) } }
        summaries.sort(by: ContainerSummary.podGrouped)

        if options.flag("quiet") {
            invocation.console.out(summaries.map { $0.id + "\n" }.joined())
            return 0
        }
        if options.flag("services") {
            var seen: [String] = []
            for summary in summaries where !seen.contains(summary.service) && summary.podRank != 0 { seen.append(summary.service) }
            invocation.console.out(seen.joined(separator: "\n") + "\n")
            return 0
        }
        do {
            invocation.console.out(try ContainerFormat(truncate: !options.flag("no-trunc"), now: now).render(summaries, format: format))
        } catch {
            throw CLIError("invalid --format \(GoFormat.quote(format)): \(error)")
        }
        return 0
    }
}
