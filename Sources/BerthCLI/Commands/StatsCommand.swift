import BerthOrchestrator
import BerthRuntime
import BerthSystem
import Foundation

/// `berth stats`: live resource usage of the project's containers, as `docker stats`.
enum StatsCommand {
    static let spec = CommandSpec(
        name: "stats", arguments: "[SERVICE]",
        abstract: "Display a live stream of container(s) resource usage statistics.",
        discussion: """
            Shows each running container's CPU %, MEM USAGE / LIMIT, MEM %, NET I/O, BLOCK I/O and PIDS, refreshed every second until interrupted (--no-stream: one table). The numbers come from the container's cgroup (v1 controllers or v2) and its network namespace, computed as Docker does: CPU % is the container's CPU time over all CPUs' time in a one-second window, times the number of CPUs (a busy loop on one core shows about 100%); memory leaves out the inactive page cache and, without a limit, is measured against the machine's memory; NET I/O counts every interface but lo (0B for network_mode: host).

            --format takes table (the default), json (one object per line: BlockIO, CPUPerc, Container, ID, MemPerc, MemUsage, Name, NetIO, PIDs) or a Go template such as '{{.Name}} {{.CPUPerc}}'; 'table TEMPLATE' adds the header row.
            """,
        options: [
            OptionSpec("all", short: "a", help: "Show all containers (default shows just running)."),
            OptionSpec("format", value: "FORMAT", help: "Format the output: table, json, or a Go template.", default: "table"),
            OptionSpec("no-stream", help: "Disable streaming stats and only pull the first result."),
            OptionSpec("no-trunc", help: "Do not truncate output."),
        ],
        examples: [("berth stats --no-stream", "One table of every running container's usage."), ("berth stats --format '{{.Name}}: {{.CPUPerc}}' web", "web's CPU, live.")]
    ) { invocation in
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        let format = StatsFormat(source: invocation.options.value("format") ?? "table", truncate: !invocation.options.flag("no-trunc"))
        _ = try format.header()  // a bad template fails before the first window
        let all = invocation.options.flag("all")
        let layout = try CgroupLayout.detect()
        var previous: [String: (container: UInt64, system: UInt64)] = [:]
        var first = true
        while true {
            let records = context.containers(services: invocation.arguments, oneOff: true, all: all)
            var samples = Self.sample(records, context: context, layout: layout)
            if first {
                // The first reading starts the window; the engine's collector has the same one-second period.
                for sample in samples { previous[sample.record.id] = (sample.usage.cpuNanoseconds, sample.system) }
                waitForNextWindow()
                samples = Self.sample(records, context: context, layout: layout)
                first = false
            }
            var rows: [StatsRow] = []
            for sample in samples {
                let before = previous[sample.record.id]
                rows.append(StatsRow(sample: sample, before: before))
                previous[sample.record.id] = (sample.usage.cpuNanoseconds, sample.system)
            }
            let noStream = invocation.options.flag("no-stream")
            invocation.console.out((noStream ? "" : "\u{1B}[2J\u{1B}[H") + (try format.render(rows)))
            if noStream { return 0 }
            waitForNextWindow()
        }
    }

    /// The measuring window: CPU % is a rate, so the second reading comes one second after
    /// the first (Docker's stats collector period). Not a synchronisation wait.
    static func waitForNextWindow() {
        let deadline = Clock.monotonicNanoseconds() + 1_000_000_000
        while true {
            let left = (deadline - Clock.monotonicNanoseconds()) / 1_000_000
            if left <= 0 { return }
            _ = poll(nil, 0, Int32(left))
        }
    }

    struct Sample {
        var record: ContainerRecord
        var running: Bool
        var usage: ResourceUsage
        var system: UInt64
    }

    static func sample(_ records: [ContainerRecord], context: StackContext, layout: CgroupLayout) -> [Sample] {
        records.map { record in
            let state = (try? context.stack.engine.observe(record.id)) ?? ContainerState()
            var usage = ResourceUsage()
            let running = state.status == .running
            if running {
                usage = context.stack.cgroup(of: record, layout: layout).usage()
                if let pid = state.pid { (usage.networkReceived, usage.networkSent) = NetworkCounters.of(pid: pid) }
                if usage.memoryLimit == nil || usage.memoryLimit ?? 0 > HostUsage.memoryBytes() { usage.memoryLimit = HostUsage.memoryBytes() }
            }
            return Sample(record: record, running: running, usage: usage, system: HostUsage.systemCPUNanoseconds())
        }
    }
}

/// One container's line, Docker's `statsContext` fields.
struct StatsRow {
    var id: String
    var name: String
    var cpuPercent: Double
    var usage: ResourceUsage
}

extension StatsRow {
    /// CPU % from the readings of the window's start (`before`) and end.
    init(sample: StatsCommand.Sample, before: (container: UInt64, system: UInt64)?) {
        id = sample.record.id
        name = sample.record.name
        usage = sample.usage
        cpuPercent = 0
        if sample.running, let before, sample.usage.cpuNanoseconds >= before.container, sample.system > before.system {
            let container = Double(sample.usage.cpuNanoseconds - before.container)
            let system = Double(sample.system - before.system)
            cpuPercent = container / system * Double(HostUsage.onlineCPUs) * 100
        }
    }

    var memoryPercent: Double {
        guard let limit = usage.memoryLimit, limit > 0 else { return 0 }
        return Double(usage.memoryBytes) / Double(limit) * 100
    }
}

/// `--format` of `stats`: Docker's default table, json, or a template.
struct StatsFormat {
    static let defaultTable = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
    static let headers: [String: String] = [
        "Container": "CONTAINER", "Name": "NAME", "ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
        "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS",
    ]

    var template: String
    var table: Bool
    var truncate: Bool

    init(source: String, truncate: Bool) {
        var text = source
        if text == "table" || text.isEmpty { text = Self.defaultTable }
        if text == "json" { text = "{{json .}}" }
        table = text.hasPrefix("table")
        if table { text = String(text.dropFirst("table".count)).trimmingCharacters(in: CharacterSet(charactersIn: " ")) }
        template = text
        self.truncate = truncate
    }

    /// Docker's formatter: `%.2f%%`, go-units binary sizes for memory, decimal for I/O.
    func fields(_ row: StatsRow) -> [(String, String)] {
        [
            ("BlockIO", Human.size(Int64(row.usage.blockRead)) + " / " + Human.size(Int64(row.usage.blockWritten))),
            ("CPUPerc", String(format: "%.2f%%", row.cpuPercent)),
            ("Container", row.id),
            ("ID", truncate ? String(row.id.prefix(12)) : row.id),
            ("MemPerc", String(format: "%.2f%%", row.memoryPercent)),
            ("MemUsage", Human.binarySize(row.usage.memoryBytes) + " / " + Human.binarySize(row.usage.memoryLimit ?? 0)),
            ("Name", row.name),
            ("NetIO", Human.size(Int64(row.usage.networkReceived)) + " / " + Human.size(Int64(row.usage.networkSent))),
            ("PIDs", String(row.usage.pids)),
        ]
    }

    func header() throws -> String {
        try GoTemplate.render(template, fields: Self.headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, command: "stats")
    }

    func render(_ rows: [StatsRow]) throws -> String {
        var text = ""
        for row in rows.sorted(by: { $0.name < $1.name }) { text += try GoTemplate.render(template, fields: fields(row), command: "stats") + "\n" }
        return table ? TabWriter.render(text: try header() + "\n" + text) : text
    }
}
