import BerthOrchestrator
import Foundation

/// `berth events`: the project's container events as they happen, as `docker compose events`.
enum EventsCommand {
    static let spec = CommandSpec(
        name: "events", arguments: "[SERVICE...]",
        abstract: "Receive real time events from containers.",
        discussion: """
            Streams the events of the project's containers (one-off containers left out, as Compose leaves them out) until interrupted: create, start, die (with exitCode and execDuration), kill (with signal), stop, restart, destroy, pause, unpause and health_status: healthy or unhealthy; Docker's actions, with Docker's attributes (image, name, the container's labels other than com.docker.compose.*). A restart by the restart policy is a die then a start, as in Docker.

            Each event is a line such as 2026-11-21 10:00:00.123456 container start ID (image=busybox, name=demo-web-1), followed by an empty line as Compose prints it; with --json, one JSON object per line with the fields time, type, action, id, service and attributes.

            berth has no daemon: the supervisor and the commands that change containers append the events to a log under the run root (<run-root>/projects/<project>/events.jsonl, rotated at 1 MiB), which this command follows. Events are kept until down removes the project's run directory, or the machine restarts.
            """,
        options: [
            OptionSpec("json", help: "Output events as a stream of json objects."),
            OptionSpec("since", value: "TIME", help: "Show all events created since timestamp (RFC 3339, Unix seconds, or a duration back from now such as 10m)."),
            OptionSpec("until", value: "TIME", help: "Stream events until this timestamp."),
        ],
        examples: [
            ("berth events", "Follow the project's events."),
            ("berth events --json web", "Follow web's events as JSON lines."),
            ("berth events --since 10m --until 0s", "The events of the last ten minutes, then exit."),
        ]
    ) { invocation in
        try run(invocation)
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        let options = invocation.options
        let services = invocation.arguments
        let now = LogTime.now()
        let since = try LogsCommand.time(options.value("since"), flag: "since", now: now)
        let until = try LogsCommand.time(options.value("until"), flag: "until", now: now)
        let scope = try ProjectScope(invocation, services: services)
        try scope.checkServices(services)
        scope.wakeSupervisor(invocation)
        let json = options.flag("json")
        let follower = try EventFollower(runRoot: invocation.runRoot, project: scope.name)
        let console = invocation.console
        try follower.run(since: since, until: until) { event in
            if event.oneOff || !(services.isEmpty || services.contains(event.service)) { return true }
            console.out(json ? EventFormat.json(event) : EventFormat.plain(event))
            return true
        }
        return 0
    }
}
