import BerthOrchestrator
import BerthSystem
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

            Without -d, up attaches: it prints "Attaching to web-1, worker-1", then every line the attached containers write, behind the container's name (web-1  | hello; colours when standard output is a terminal), what they write to stderr on stderr, and "web-1 exited with code 0" when one ends. It returns once every watched container has exited for good (those of the services named on the command line, else the attached ones; a restart policy's runs are followed, each with its exit line), with status 0. By default the services brought up are attached (not their dependencies, unless --attach-dependencies; not a service with attach: false); --attach and --no-attach choose.

            Ctrl-C (SIGINT) or SIGTERM prints "Gracefully stopping... (press Ctrl+C again to force)" and stops the services as berth stop does: the containers are kept (berth start runs them again), and up exits 130 after "canceled". A second Ctrl-C kills them.

            --abort-on-container-exit stops the stack as soon as one watched container exits ("Aborting on container exit..."), and up exits with that container's code; --abort-on-container-failure does so on the first non-zero exit. --exit-code-from SERVICE (which implies --abort-on-container-exit) returns the code of SERVICE's container instead, 137 or 143 when the abort stopped it.

            With --wait, up returns once every container is running, or healthy where it has a healthcheck (and services others depend on with service_completed_successfully have exited 0); a container that exits or turns unhealthy makes it fail, as does --wait-timeout.
            """,
        options: [
            OptionSpec("detach", short: "d", help: "Run the containers in the background."),
            OptionSpec("wait", help: "Wait until the services are running, or healthy where they have a healthcheck. Implies --detach."),
            OptionSpec("wait-timeout", value: "SECONDS", help: "With --wait: give up after this many seconds (default: no limit)."),
            StackContext.timeoutOption,
        ] + planOptions + AttachOptions.options,
        examples: [
            ("berth up", "Start the whole stack and show its output until it ends; Ctrl-C stops it."),
            ("berth up -d", "Start the whole stack in the background."), ("berth up -d --no-deps web", "Start or update web alone."),
            ("berth up --wait --wait-timeout 60", "Start the stack and return once it is healthy, or fail after a minute."),
            ("berth up --exit-code-from tests", "Run the stack until tests ends, then stop it and exit with the tests' code."),
        ]
    ) { invocation in
        try converge(invocation, noStart: false)
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
        return try converge(invocation, noStart: noStart, services: invocation.arguments, scale: scale, attachable: true)
    }

    /// `up`/`create` of `services` (all when empty) with `scale` overriding their replicas;
    /// also `berth scale` (`attachable` false: always detached, as Compose's scale).
    static func converge(
        _ invocation: Invocation, noStart: Bool, services: [String], scale: [String: Int], attachable: Bool = false
    ) throws -> Int32 {
        let waitFlag = attachable && invocation.options.flag("wait")
        let foreground = attachable && !noStart && !invocation.options.flag("detach") && !waitFlag
        let attach = noStart || !attachable ? AttachOptions() : try AttachOptions.parse(
            invocation.options, detach: invocation.options.flag("detach"), wait: waitFlag, command: invocation.command.name)
        let context = try StackContext(invocation, needsFile: true, selectedServices: services)
        guard let project = context.project else { return 1 }
        try context.checkServices(services)
        if let service = attach.exitCodeFrom, project.services[service] == nil {
            throw CLIError("no such service: \(service)")
        }
        var options = UpOptions()
        options.services = services
        options.noDeps = invocation.options.flag("no-deps")
        options.forceRecreate = invocation.options.flag("force-recreate")
        options.noRecreate = invocation.options.flag("no-recreate")
        if options.forceRecreate && options.noRecreate {
            throw UsageError(message: "--force-recreate and --no-recreate are incompatible", command: invocation.command.name)
        }
        options.removeOrphans = invocation.options.flag("remove-orphans")
        // A foreground up creates first, then starts while attached.
        options.noStart = noStart || foreground
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
        options = try PodExpansion.options(options, project: project)
        let selected = options.services.isEmpty || options.noDeps
            ? (options.services.isEmpty ? project.services.keys.sorted() : options.services)
            : DependencyGraph(project: project).withDependencies(options.services)
        let wanted = selected.filter { (options.scale[$0] ?? project.services[$0]?.replicas ?? 1) > 0 }

        let plan = foreground ? try AttachPlan.make(project: project, named: options.services, included: selected, options: attach) : nil
        // Installed before anything changes: a Ctrl-C while containers are created is
        // handled once they are (the stack is then stopped, nothing started).
        let signals = foreground ? try SignalPipe([SIGINT, SIGTERM]) : nil
        defer { signals?.close() }

        let lock = try context.lock()
        defer { lock.release() }
        let images = try StackImages.resolve(
            project, services: wanted, invocation: invocation, pullOverride: invocation.options.value("pull"),
            quiet: invocation.options.flag("quiet-pull"))
        let board = try context.board(title: noStart ? "Creating" : "Running")
        do {
            defer { board.finish() }
            try context.stack.up(
                project, options: options, images: images, environment: context.environment, progress: board.progress, warn: context.warner)
            if !noStart && waitFlag {
                try context.stack.waitUntilReady(project, services: wanted, timeoutSeconds: waitTimeout, progress: board.progress)
            }
        }
        guard let plan, let signals else { return 0 }
        let settings = ForegroundUp.Settings(
            project: project, plan: plan, options: attach, startServices: wanted, stopServices: options.services,
            timeout: options.timeout, progressMode: try ProgressBoard.mode(invocation))
        let session = try ForegroundUp(
            settings: settings, stack: context.stack, console: invocation.console, environment: invocation.environment, warn: context.warner)
        return try session.run(signals: signals, lock: lock)
    }
}
