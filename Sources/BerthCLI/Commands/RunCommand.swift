import BerthOrchestrator
import BerthSystem
import CBerthSys
import ComposeSpec
import Foundation

/// `berth run`: a one-off container of a service (Compose's `run`), attached to this
/// terminal unless `-d`; berth's exit status is the command's.
enum RunCommand {
    static let spec = CommandSpec(
        name: "run", arguments: "SERVICE [COMMAND] [ARG...]",
        abstract: "Run a one-off command on a service.",
        discussion: """
            Creates a container of SERVICE named <project>-<service>-run-<12 hex digits> (labelled com.docker.compose.oneoff=True), with COMMAND instead of the service's command, and runs it attached: standard input, output and error are this terminal's (a pseudo-terminal when standard input is one, unless -T), signals berth receives (Ctrl-C) are passed on to the container, and berth exits with the command's exit status (125: berth could not run it, 126: not executable, 127: not found). The service's dependencies are created and started first, and their depends_on conditions waited for, unless --no-deps.

            A one-off container publishes no ports unless -p or --service-ports, answers in DNS to its container name only unless --use-aliases, is never restarted, and is left stopped when it ends unless --rm (then it is removed with its anonymous volumes, also when berth itself was interrupted). berth ps -a and berth down see it; berth up does not touch it.

            A one-off of a pod member (x-berth: {pod: NAME}) joins the network, IPC and UTS namespaces of replica 1 of its pod, as podman run --pod does: it reaches the members on localhost and has the pod's host name. The pod is started first (as berth up MEMBER starts it) unless --no-deps, which needs it running; such a one-off publishes no ports.
            """,
        options: [
            OptionSpec("cap-add", value: "CAP", help: "Add a Linux capability; repeatable.", repeatable: true),
            OptionSpec("cap-drop", value: "CAP", help: "Drop a Linux capability; repeatable.", repeatable: true),
            OptionSpec("detach", short: "d", help: "Run the container in the background and print its ID."),
            OptionSpec("entrypoint", value: "CMD", help: "Override the entrypoint (split like a shell command line); the image's command is then dropped."),
            OptionSpec("env", short: "e", value: "KEY[=VALUE]", help: "Set an environment variable; KEY alone takes berth's value (unset: left out); repeatable.", repeatable: true),
            OptionSpec("interactive", short: "i", help: "Keep standard input attached (--interactive=false: /dev/null).", default: "true"),
            OptionSpec("label", short: "l", value: "KEY=VALUE", help: "Add or override a label; repeatable.", repeatable: true),
            OptionSpec("name", value: "NAME", help: "Name the container (default <project>-<service>-run-<id>)."),
            OptionSpec("no-TTY", short: "T", help: "Do not allocate a pseudo-terminal (the default when standard input is not a terminal)."),
            OptionSpec("no-deps", help: "Do not start the service's dependencies."),
            OptionSpec("publish", short: "p", value: "[IP:][HOST:]CONTAINER", help: "Publish a container port on the host; repeatable.", repeatable: true),
            OptionSpec("pull", value: "POLICY", help: "Pull the image before running: always, missing, never (default: the service's pull_policy)."),
            OptionSpec("quiet-pull", help: "Pull without printing progress."),
            OptionSpec("remove-orphans", help: "Remove containers of services that are no longer in the Compose file."),
            OptionSpec("rm", help: "Remove the container (and its anonymous volumes) when it exits."),
            OptionSpec("service-ports", short: "P", help: "Publish the service's ports (as up does)."),
            OptionSpec("tty", short: "t", help: "Allocate a pseudo-terminal (standard input must be a terminal)."),
            OptionSpec("use-aliases", help: "Answer in DNS to the service name and its network aliases too."),
            OptionSpec("user", short: "u", value: "USER[:GROUP]", help: "Run as this user."),
            OptionSpec("volume", short: "v", value: "[SOURCE:]TARGET[:OPTIONS]", help: "Mount a bind or volume (the service's volumes syntax); repeatable.", repeatable: true),
            OptionSpec("workdir", short: "w", value: "DIR", help: "Working directory of the command."),
        ],
        examples: [
            ("berth run --rm web sh -c 'migrate && seed'", "A one-off job in web's image and networks; removed when done."),
            ("berth run --rm -T db pg_dump app > dump.sql", "Output piped to a file: no terminal."),
            ("berth run -d --name debug --no-deps web sleep 3600", "A background container to exec into."),
        ],
        passThrough: true
    ) { invocation in
        try run(invocation)
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        guard let serviceName = invocation.arguments.first else {
            throw UsageError(message: "run needs a service: berth run SERVICE [COMMAND] [ARG...]", command: "run")
        }
        let options = invocation.options
        let detach = options.flag("detach")
        if options.flag("service-ports") && !options.all("publish").isEmpty {
            throw UsageError(message: "--service-ports and --publish are incompatible", command: "run")
        }
        if options.values["tty"] != nil && options.values["no-TTY"] != nil {
            throw UsageError(message: "--tty and --no-TTY can't be used together", command: "run")
        }
        let interactive = options.flag("interactive", default: true) && !detach
        // Compose's defaults: a terminal when stdin is one, unless -T; -t insists on one.
        let tty = options.values["tty"] != nil ? options.flag("tty") : !options.flag("no-TTY") && isatty(0) == 1
        if tty && interactive && !detach && isatty(0) != 1 {
            throw CLIError("the input device is not a TTY: drop -t (or give -T)")
        }

        let context = try StackContext(invocation, needsFile: true, selectedServices: [serviceName])
        guard let project = context.project else { return 1 }
        guard project.services[serviceName] != nil else {
            if project.disabledServices[serviceName] != nil {
                throw CLIError("service \"\(serviceName)\" is not enabled: enable its profile with --profile")
            }
            throw CLIError("no such service: \(serviceName)")
        }
        var oneOff = try oneOffOptions(invocation, project: project)
        oneOff.tty = tty
        oneOff.interactive = interactive

        let (id, name) = try prepare(invocation, context: context, project: project, service: serviceName, oneOff: oneOff)
        if detach {
            let response = try context.stack.client.send(.init(op: .start, containers: [id]))
            if let failure = response.results.first?.error { throw CLIError(failure) }
            invocation.console.out(id + "\n")
            return 0
        }
        return try OneOffSession(stack: context.stack, id: id, name: name, tty: tty).run()
    }

    /// Dependencies started (unless --no-deps) and waited for, image resolved, container
    /// created — under the project lock, which is released before the container runs.
    static func prepare(
        _ invocation: Invocation, context: StackContext, project: Project, service: String, oneOff: OneOffOptions
    ) throws -> (id: String, name: String) {
        let lock = try context.lock()
        defer { lock.release() }
        let options = invocation.options
        let noDeps = options.flag("no-deps")
        let pod = project.pods.first { $0.allMembers.contains(service) }
        if let pod { try PodOneOff.check(pod, service: service, oneOff: oneOff, noDeps: noDeps, project: project, stack: context.stack) }
        let board = try context.board(title: "Running")
        defer { board.finish() }
        if !noDeps {
            // A pod member's one-off joins its pod: the pod runs first, as up starts it.
            let dependencies = DependencyGraph(project: project).withDependencies([service]).filter { $0 != service } + (pod?.allMembers ?? [])
            let wanted = dependencies.filter { (project.services[$0]?.replicas ?? 1) > 0 }
            if !wanted.isEmpty {
                var up = UpOptions()
                up.services = wanted
                up.noDeps = true
                up.noRecreate = true
                up.removeOrphans = options.flag("remove-orphans")
                let images = try StackImages.resolve(
                    project, services: wanted, invocation: invocation, pullOverride: nil, quiet: options.flag("quiet-pull"))
                try context.stack.up(project, options: up, images: images, environment: context.environment, progress: board.progress, warn: context.warner)
            }
        }
        let images = try StackImages.resolve(
            project, services: [service], invocation: invocation, pullOverride: options.value("pull"), quiet: options.flag("quiet-pull"))
        guard let image = images[service] else { throw CLIError("service \"\(service)\": no image resolved for it") }
        // A pod member as the stack runs it: in the namespaces of its pod's infra.
        let target = pod == nil ? project : PodExpansion.expand(project)
        if !noDeps {
            try context.stack.waitForDependencies(of: service, in: target, progress: board.progress, warn: context.warner)
        }
        return try context.stack.createOneOff(
            target, service: service, options: oneOff, image: image, environment: context.environment, progress: board.progress,
            warn: context.warn)
    }

    /// The command line's overrides, parsed and checked.
    static func oneOffOptions(_ invocation: Invocation, project: Project) throws -> OneOffOptions {
        let options = invocation.options
        var oneOff = OneOffOptions()
        let command = Array(invocation.arguments.dropFirst())
        if !command.isEmpty { oneOff.command = command }
        if let entrypoint = options.value("entrypoint") {
            guard let words = ShellWords.split(entrypoint) else {
                throw UsageError(message: "invalid --entrypoint \"\(entrypoint)\": unbalanced quotes", command: "run")
            }
            oneOff.entrypoint = words
        }
        for entry in options.all("env") {
            if let equals = entry.firstIndex(of: "=") {
                oneOff.environment.append((String(entry[..<equals]), String(entry[entry.index(after: equals)...])))
            } else if let value = invocation.environment[entry] {
                oneOff.environment.append((entry, value))
            }
        }
        for entry in options.all("label") {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw UsageError(message: "invalid --label \"\(entry)\": use KEY=VALUE", command: "run")
            }
            oneOff.labels.append((String(entry[..<equals]), String(entry[entry.index(after: equals)...])))
        }
        oneOff.user = options.value("user")
        if let directory = options.value("workdir") {
            guard directory.hasPrefix("/") else { throw UsageError(message: "invalid --workdir \"\(directory)\": give an absolute path", command: "run") }
            oneOff.workingDirectory = directory
        }
        (oneOff.volumes, oneOff.ports) = try ShortSyntax.parse(
            volumes: options.all("volume"), ports: options.all("publish"), projectDirectory: project.workingDirectory)
        oneOff.servicePorts = options.flag("service-ports")
        oneOff.useAliases = options.flag("use-aliases")
        oneOff.autoRemove = options.flag("rm")
        oneOff.capAdd = options.all("cap-add")
        oneOff.capDrop = options.all("cap-drop")
        if let name = options.value("name") {
            let valid = name.unicodeScalars.enumerated().allSatisfy { index, c in
                (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || (index > 0 && (c == "_" || c == "." || c == "-"))
            }
            guard valid, !name.isEmpty else {
                throw UsageError(message: "invalid --name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", command: "run")
            }
            oneOff.name = name
        }
        return oneOff
    }
}

/// `-v` and `-p` values, read by the Compose loader's own short-syntax code (a one-service
/// document built from them), so that they mean exactly what they mean in a Compose file.
enum ShortSyntax {
    static func parse(volumes: [String], ports: [String], projectDirectory: String) throws -> ([ServiceVolume], [PortConfig]) {
        if volumes.isEmpty && ports.isEmpty { return ([], []) }
        func flow(_ items: [String]) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            return (try? encoder.encode(items)).map { String(decoding: $0, as: UTF8.self) } ?? "[]"
        }
        // Named volumes must be declared for the loader; the project's own declarations
        // decide what they are when the container is created.
        let named = volumes.compactMap { entry -> String? in
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count >= 2, let source = parts.first, !source.isEmpty, !"/.~".contains(source.first ?? "/") else { return nil }
            return String(source)
        }
        var document = "services:\n  run:\n    image: run\n"
        if !volumes.isEmpty { document += "    volumes: \(flow(volumes))\n" }
        if !ports.isEmpty { document += "    ports: \(flow(ports))\n" }
        if !named.isEmpty { document += "volumes:\n" + Set(named).sorted().map { "  \(flow([$0]).dropFirst().dropLast()): {}\n" }.joined() }
        var load = LoadOptions()
        load.files = ["-"]
        load.projectName = "run"
        load.projectDirectory = projectDirectory
        load.workingDirectory = projectDirectory
        load.interpolate = false
        let bytes = Array(document.utf8)
        load.readStandardInput = { bytes }
        do {
            let service = try ProjectLoader().load(load).project.services["run"]
            return (service?.volumes ?? [], service?.ports ?? [])
        } catch {
            throw UsageError(message: "invalid --volume or --publish: \(error.description.replacingOccurrences(of: "services.run.", with: ""))", command: "run")
        }
    }
}
