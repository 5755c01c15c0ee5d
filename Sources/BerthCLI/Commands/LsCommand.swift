import BerthOrchestrator
import Foundation

/// `berth ls`: the projects that have containers, as `docker compose ls`.
enum LsCommand {
    static let spec = CommandSpec(
        name: "ls", abstract: "List running compose projects.",
        discussion: """
            Lists the projects found from their containers' labels (no Compose file is read), sorted by name: NAME, STATUS (how many containers are in each state, such as exited(1), running(2)) and CONFIG FILES (the Compose files the project was created from). Without --all, only the running containers count, so a project whose containers have all stopped is not shown.
            """,
        options: [
            OptionSpec("all", short: "a", help: "Show all stopped Compose projects."),
            OptionSpec("filter", value: "name=NAME", help: "Filter output based on conditions provided: name=REGEXP; repeatable (any may match).", repeatable: true),
            OptionSpec("format", value: "FORMAT", help: "Format the output: table or json.", default: "table"),
            OptionSpec("quiet", short: "q", help: "Only display project names."),
        ],
        examples: [
            ("berth ls", "Projects with running containers."),
            ("berth ls -a --format json", "Every project that has containers, as a JSON array."),
        ]
    ) { invocation in
        try run(invocation)
    }

    struct Stack: Equatable {
        var name: String
        var status: String
        var configFiles: String
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        let options = invocation.options
        var names: [String] = []
        for filter in options.all("filter") {
            guard let equals = filter.firstIndex(of: "=") else {
                throw CLIError("invalid argument \"\(filter)\" for \"--filter\" flag: bad format of filter (expected name=value)")
            }
            let key = filter[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            guard key == "name" else { throw CLIError("invalid filter '\(key)'") }
            names.append(filter[filter.index(after: equals)...].trimmingCharacters(in: .whitespaces))
        }
        let format = (options.value("format") ?? "table").lowercased()
        guard ["table", "pretty", "", "json"].contains(format) else {
            throw CLIError("format value \"\(options.value("format") ?? "")\" could not be parsed: use table or json")
        }
        let engine = try ProjectScope.engine(invocation)
        var stacks = stacks(engine: engine, all: options.flag("all"))
        if options.flag("quiet") {
            // Before the filters, as Compose does.
            invocation.console.out(stacks.map { $0.name + "\n" }.joined())
            return 0
        }
        if !names.isEmpty {
            stacks = stacks.filter { stack in names.contains { stack.name.range(of: $0, options: .regularExpression) != nil } }
        }
        if format == "json" {
            let items = stacks.map { stack in
                "{\"Name\":\(GoFormat.jsonString(stack.name, escapeHTML: false)),\"Status\":\(GoFormat.jsonString(stack.status, escapeHTML: false)),\"ConfigFiles\":\(GoFormat.jsonString(stack.configFiles, escapeHTML: false))}"
            }
            invocation.console.out("[" + items.joined(separator: ",") + "]\n")
        } else {
            invocation.console.out(Table.render(["NAME", "STATUS", "CONFIG FILES"], stacks.map { [$0.name, $0.status, $0.configFiles] }, minWidth: 20))
        }
        return 0
    }

    /// The projects of the store's containers (running ones only unless `all`).
    static func stacks(engine: ContainerEngine, all: Bool) -> [Stack] {
        var states: [String: [String]] = [:]
        var files: [String: [String]] = [:]
        // Newest first, the order Docker lists containers in.
        let created = { (record: ContainerRecord) in LogTime(rfc3339: record.created) ?? LogTime(seconds: 0) }
        for record in engine.store.records().sorted(by: { created($0) > created($1) }) {
            let state = (try? engine.observe(record.id)) ?? engine.store.state(record.id)
            let restarting = engine.store.pendingRestart(record.id, state: state) != nil
            guard all || state.status == .running || restarting else { continue }
            states[record.project, default: []].append(ContainerSummary.dockerState(state, restarting: restarting))
            for file in (record.label(Label.configFiles) ?? "").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            where !(files[record.project] ?? []).contains(file) {
                files[record.project, default: []].append(file)
            }
        }
        return states.keys.sorted().map { name in
            Stack(name: name, status: combinedStatus(states[name] ?? []), configFiles: (files[name] ?? []).joined(separator: ","))
        }
    }

    /// `exited(1), running(2)`: each state with its count, states sorted.
    static func combinedStatus(_ states: [String]) -> String {
        var counts: [String: Int] = [:]
        for state in states { counts[state, default: 0] += 1 }
        return counts.keys.sorted().map { "\($0)(\(counts[$0] ?? 0))" }.joined(separator: ", ")
    }
}
