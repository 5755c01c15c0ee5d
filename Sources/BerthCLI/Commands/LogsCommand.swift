import BerthOrchestrator
import Foundation

/// `berth logs`: the output of the project's containers, as `docker compose logs`.
enum LogsCommand {
    static let spec = CommandSpec(
        name: "logs", arguments: "[SERVICE...]",
        abstract: "View output from containers.",
        discussion: """
            Prints what the project's containers wrote to stdout and stderr (kept in json-file logs, rotated files included), each line behind the container's name: web-1  | hello. Lines of several containers are merged in the order they were logged. Colours distinguish the containers when standard output is a terminal (NO_COLOR or COMPOSE_ANSI=never turn them off).

            With --follow, new lines are printed as they are written until every followed container has stopped for good, as Compose does: a container that its restart policy starts again is followed through its restarts (its next run's lines come after the wait), one that is neither running nor restarting is shown and left, and one stopped by hand (stop, down) ends there; containers created meanwhile (scaled up, recreated) are followed from their first line; Ctrl-C ends it sooner. Services whose attach is false are left out unless named. One-off containers (berth run) are not shown.

            --since and --until take an RFC 3339 time (2013-01-02T13:23:37Z, or 2013-01-02T13:23:37 and 2013-01-02 in local time), Unix seconds (1700000000.5), or a duration counted back from now (42m, 1h30m, 10s).
            """,
        options: [
            OptionSpec("follow", short: "f", help: "Follow log output."),
            OptionSpec("index", value: "INDEX", help: "Only the container with this number (of replicas of the one SERVICE named)."),
            OptionSpec("no-color", help: "Produce monochrome output."),
            OptionSpec("no-log-prefix", help: "Don't print the container name before each line."),
            OptionSpec("since", value: "TIME", help: "Show logs since a time (2013-01-02T13:23:37Z) or a duration before now (42m)."),
            OptionSpec("tail", short: "n", value: "N", help: "Number of lines to show from the end of the logs of each container; all for everything.", default: "all"),
            OptionSpec("timestamps", short: "t", help: "Show the time of each line."),
            OptionSpec("until", value: "TIME", help: "Show logs before a time (2013-01-02T13:23:37Z) or a duration before now (42m)."),
        ],
        examples: [
            ("berth logs", "Everything the project's containers logged."),
            ("berth logs -f --tail 10 web", "The last 10 lines of each web container, then new lines as they come."),
            ("berth logs --since 5m -t", "The last five minutes, with the time of each line."),
        ]
    ) { invocation in
        try run(invocation)
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        let options = invocation.options
        var services = invocation.arguments
        let index = try Self.index(options.value("index"))
        if index != nil && services.count != 1 {
            throw UsageError(message: "--index requires one service to be selected", command: "logs")
        }
        let now = LogTime.now()
        let logOptions = LogOptions(
            tail: LogOptions.tail(options.value("tail") ?? "all"),
            since: try time(options.value("since"), flag: "since", now: now),
            until: try time(options.value("until"), flag: "until", now: now))

        let scope = try ProjectScope(invocation, services: services)
        try scope.checkServices(services)
        scope.wakeSupervisor(invocation)
        if let project = scope.project, services.isEmpty {
            services = project.services.entries.filter { $0.value.attach ?? true }.map(\.key)
        }
        // A pod's infra runs no program: it has no log.
        var containers = scope.containers().filter { $0.label(Label.podInfra) != "True" }
        if !services.isEmpty { containers = containers.filter { services.contains($0.service) } }
        if let index {
            containers = containers.filter { $0.number == index }
            if containers.isEmpty { throw CLIError("service \"\(services[0])\" is not running container #\(index)") }
        }

        let colors = ANSIMode.colors(noColor: options.flag("no-color"), environment: invocation.environment, console: invocation.console)
        let output = LogOutput(
            LogPrinter(colors: colors, prefixes: !options.flag("no-log-prefix"), timestamps: options.flag("timestamps")),
            console: invocation.console, exitStatus: false)
        let streamer = try LogStreamer(engine: scope.engine, sink: output.write)
        let follow = options.flag("follow")
        if follow {
            // Containers created meanwhile (scaled up, recreated) are followed too, from
            // their first line, as Compose follows the containers that start.
            let project = scope.name
            let until = logOptions.until
            try streamer.discoverNewContainers { [services] record in
                guard record.project == project, !record.oneOff, services.isEmpty || services.contains(record.service),
                      index.map({ record.number == $0 }) ?? true else { return nil }
                let name = ProjectScope.shortName(record)
                output.register(name)
                return (name, LogOptions(until: until), .nextRun)
            }
        }
        for record in containers {
            let name = ProjectScope.shortName(record)
            output.register(name)
            do {
                try streamer.add(record, name: name, options: logOptions, follow: follow ? .whileRunning : .no)
            } catch {
                guard error.code == .notLogged else { throw error }
                invocation.console.err("WARN[0000] Can't retrieve logs for \"\(record.name)\": \(error.message)\n")
            }
        }
        try streamer.run()
        return 0
    }

    static func index(_ text: String?) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text) else {
            throw UsageError(message: "invalid argument \"\(text)\" for \"--index\" flag: not a number", command: "logs")
        }
        return value > 0 ? value : nil
    }

    /// A `--since`/`--until` value, relative to `now`, in the local time zone when it has none.
    static func time(_ text: String?, flag: String, now: LogTime) throws -> LogTime? {
        guard let text, !text.isEmpty else { return nil }
        do {
            return try LogTimeArgument.parse(text, now: now, utcOffset: TimeZone.current.secondsFromGMT())
        } catch {
            throw CLIError("invalid value for \"\(flag)\": \(error)")
        }
    }
}
