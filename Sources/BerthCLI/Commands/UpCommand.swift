import BerthOrchestrator
import ComposeSpec
import Foundation

/// `berth up` and `berth create`: Compose's convergence of the project onto the machine.
enum UpCommand {
    static let planOptions: [OptionSpec] = [
        OptionSpec("force-recreate", help: "Recreate containers even if their configuration and image have not changed."),
        OptionSpec("no-recreate", help: "Keep existing containers even if their configuration or image changed."),
        OptionSpec("no-deps", help: "Do not start the services' dependencies."),
        OptionSpec("remove-orphans", help: "Remove containers of services that are no longer in the Compose file."),
        OptionSpec("scale", value: "SERVICE=N", help: "Run N containers of SERVICE (overrides scale and deploy.replicas); repeatable.", repeatable: true),
        OptionSpec("pull", value: "POLICY", help: "Pull images before running: always, missing, never (default: each service's pull_policy)."),
        OptionSpec("quiet-pull", help: "Pull without printing progress."),
        OptionSpec("renew-anon-volumes", short: "V", help: "Give recreated containers new anonymous volumes instead of their predecessors'."),
    ]

    static let spec = CommandSpec(
        name: "up", arguments: "[SERVICE...]",
        abstract: "Create and start the project's containers.",
        discussion: """
            Brings the project to the state its Compose file declares: creates the networks, pulls missing images, then creates and starts the containers in dependency order (services whose dependencies are met start in parallel). Containers whose configuration or image changed are recreated; up-to-date running ones are left alone. A service with deploy.update_config gets a rolling update instead: its running containers are replaced a batch at a time, each new one started next to its old one (order: start-first) or after it, kept only once it is healthy (or running, without a healthcheck), and put back on the old one if it fails (see berth-compose(5)). Named services are brought up with their dependencies unless --no-deps.

            Containers run under the project's supervisor, a small background process that berth starts on demand and that exits once nothing of the project runs.

            A dependency with condition: service_healthy is waited for until its containers' healthchecks pass; if one turns unhealthy or exits, up fails ("dependency failed to start: container X is unhealthy"), unless the dependency has required: false (then a warning, and the dependent starts anyway).

            With --wait, up returns once every container is running, or healthy where it has a healthcheck (and services others depend on with service_completed_successfully have exited 0); a container that exits or turns unhealthy makes it fail, as does --wait-timeout.

            berth runs the stack detached: give -d or --wait (then follow it with berth logs -f). Attaching to the containers' output is not there yet.
            """,
        options: [
            OptionSpec("detach", short: "d", help: "Run the containers in the background (required for now, unless --wait)."),
            OptionSpec("wait", help: "Wait until the services are running, or healthy where they have a healthcheck. Implies --detach."),
            OptionSpec("wait-timeout", value: "SECONDS", help: "With --wait: give up after this many seconds (default: no limit)."),
            StackContext.timeoutOption,
        ] + planOptions,
        examples: [
            ("berth up -d", "Start the whole stack in the background."), ("berth up -d --no-deps web", "Start or update web alone."),
            ("berth up --wait --wait-timeout 60", "Start the stack and return once it is healthy, or fail after a minute."),
        ]
    ) { invocation in
        guard invocation.options.flag("detach") || invocation.options.flag("wait") else {
            throw UsageError(message: "berth up runs stacks detached for now: add -d (or --wait), then follow the output with berth logs -f", command: "up")
        }
        return try converge(invocation, noStart: false)
    }

    static let createSpec = CommandSpec(
        name: "create", arguments: "[SERVICE...]",
        abstract: "Create the project's containers without starting them.",
        discussion: "Like up, but the containers are only created (networks too); berth start runs them.",
        options: planOptions,
        examples: [("berth create", "Create every service's containers.")]
    ) { invocation in
        try converge(invocation, noStart: true)
    }

    static func converge(_ invocation: Invocation, noStart: Bool) throws -> Int32 {
        var scale: [String: Int] = [:]
        for item in invocation.options.all("scale") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let count = Int(parts[1]), count >= 0 else {
                throw UsageError(message: "invalid --scale \"\(item)\": use SERVICE=N", command: invocation.command.name)
            }
            scale[parts[0]] = count
        }
        return try converge(invocation, noStart: noStart, services: invocation.arguments, scale: scale)
    }

    /// `up`/`create` of `services` (all when empty) with `scale` overriding their replicas;
    /// also `berth scale`.
    static func converge(_ invocation: Invocation, noStart: Bool, services: [String], scale: [String: Int]) throws -> Int32 {
        let context = try StackContext(invocation, needsFile: true, selectedServices: services)
        guard let project = context.project else { return 1 }
        try context.checkServices(services)
        var options = UpOptions()
        options.services = services
        options.noDeps = invocation.options.flag("no-deps")
        options.forceRecreate = invocation.options.flag("force-recreate")
        options.noRecreate = invocation.options.flag("no-recreate")
        if options.forceRecreate && options.noRecreate {
            throw UsageError(message: "--force-recreate and --no-recreate are incompatible", command: invocation.command.name)
        }
        options.removeOrphans = invocation.options.flag("remove-orphans")
        options.noStart = noStart
        options.timeout = try context.timeout()
        options.renewAnonymousVolumes = invocation.options.flag("renew-anon-volumes")
        var waitTimeout: Int?
        if let text = invocation.options.value("wait-timeout") {
            guard let seconds = Int(text), seconds >= 0 else {
                throw UsageError(message: "invalid --wait-timeout \"\(text)\": give a number of seconds", command: invocation.command.name)
            }
            waitTimeout = seconds > 0 ? seconds : nil
        }
        for (service, count) in scale {
            guard project.services[service] != nil else { throw CLIError("no such service: \(service)") }
            options.scale[service] = count
        }
        let selected = options.services.isEmpty || options.noDeps
            ? (options.services.isEmpty ? project.services.keys.sorted() : options.services)
            : DependencyGraph(project: project).withDependencies(options.services)
        let wanted = selected.filter { (options.scale[$0] ?? project.services[$0]?.replicas ?? 1) > 0 }

        let lock = try context.lock()
        defer { lock.release() }
        let images = try StackImages.resolve(
            project, services: wanted, invocation: invocation, pullOverride: invocation.options.value("pull"),
            quiet: invocation.options.flag("quiet-pull"))
        let board = try context.board(title: noStart ? "Creating" : "Running")
        defer { board.finish() }
        try context.stack.up(
            project, options: options, images: images, environment: context.environment, progress: board.progress, warn: context.warner)
        if !noStart && invocation.options.flag("wait") {
            try context.stack.waitUntilReady(project, services: wanted, timeoutSeconds: waitTimeout, progress: board.progress)
        }
        return 0
    }
}
