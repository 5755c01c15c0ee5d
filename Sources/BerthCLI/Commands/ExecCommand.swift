import BerthOrchestrator
import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation

/// `berth exec`: a command in a running service container, through the runtime's
/// single-threaded join path, run from this process (`ContainerExec`), so the exit code, the
/// terminal and stdin pass straight through.
enum ExecCommand {
    static let spec = CommandSpec(
        name: "exec", arguments: "SERVICE COMMAND [ARG...]",
        abstract: "Run a command in a running container of a service.",
        discussion: """
            Joins the namespaces, cgroup and security settings of the service's container (the lowest-numbered running one, or number N with --index N) and runs COMMAND there. Standard input is attached; a pseudo-terminal is allocated when standard input is a terminal, unless -T. The exit status is COMMAND's (126: not executable, 127: not found, 125: berth could not run it).
            """,
        options: [
            OptionSpec("detach", short: "d", help: "Run the command in the background."),
            OptionSpec("env", short: "e", value: "KEY[=VALUE]", help: "Set an environment variable; repeatable.", repeatable: true),
            OptionSpec("index", value: "N", help: "Which container of the service, by number (default: the lowest-numbered running one)."),
            OptionSpec("no-TTY", short: "T", help: "Do not allocate a pseudo-terminal."),
            OptionSpec("user", short: "u", value: "USER[:GROUP]", help: "Run as this user."),
            OptionSpec("workdir", short: "w", value: "DIR", help: "Working directory for the command."),
        ],
        examples: [("berth exec web sh", "A shell in web's container."), ("berth exec -T db pg_isready", "A check without a terminal; its exit status is berth's.")],
        passThrough: true
    ) { invocation in
        guard invocation.arguments.count >= 2 else {
            throw UsageError(message: "exec needs a service and a command: berth exec SERVICE COMMAND [ARG...]", command: "exec")
        }
        let service = invocation.arguments[0]
        let command = Array(invocation.arguments.dropFirst())
        let target = try ExecTarget.named(invocation, service: service) ?? ExecTarget.loaded(invocation, service: service)
        let stack = target.stack
        let container = target.container
        // The name its run started under (a container renamed while running keeps it), and
        // its cgroup's freezer: a paused container would freeze the command too.
        let runName = stack.engine.store.runName(container.id) ?? container.name
        let layout = try? CgroupLayout.detect()
        if let layout, Cgroup(layout: layout, project: target.projectName, name: runName).isFrozen {
            throw CLIError("container \(container.name) is paused, unpause the container before exec", exitCode: 1)
        }
        var env: [String] = []
        for entry in invocation.options.all("env") {
            if entry.contains("=") { env.append(entry) } else if let value = invocation.environment[entry] { env.append("\(entry)=\(value)") }
        }
        let detach = invocation.options.flag("detach")
        var request = ContainerExec.Request(
            name: runName, project: target.projectName, runRoot: invocation.runRoot, args: command, env: env,
            user: invocation.options.value("user"), cwd: invocation.options.value("workdir"),
            terminal: !detach && !invocation.options.flag("no-TTY") && isatty(0) == 1, openStdin: !detach)
        request.cgroupLayout = layout
        if !detach && ContainerExec.callerIsSingleThreaded {
            return ContainerExec.runReporting(request)
        }
        // Detached, or in a process with threads: `berth-runtime exec`.
        let runtime = StackContext.runtimeBinary(invocation)
        var args = [runtime, "exec", "--project", request.project, "--run-root", request.runRoot]
        for entry in env { args += ["--env", entry] }
        if let user = request.user { args += ["--user", user] }
        if let dir = request.cwd { args += ["--workdir", dir] }
        if request.openStdin { args.append("--interactive") }
        if request.terminal { args.append("--tty") }
        args += [runName, "--"] + command
        let environment = invocation.environment.map { "\($0.key)=\($0.value)" }
        if detach {
            _ = try Spawn.detached(path: runtime, arguments: args, environment: environment, logPath: "/dev/null")
            return 0
        }
        let code = ProcessImage.replace(path: runtime, arguments: args, environment: environment)
        throw CLIError("cannot run \(runtime): \(SystemError.errnoName(code))", exitCode: 125)
    }
}

/// The container `berth exec SERVICE` runs in: Compose's `getSpecifiedContainer` — the
/// running containers of the service (with number `--index`), the lowest number first.
struct ExecTarget {
    let projectName: String
    let stack: Stack
    let container: ContainerBrief

    /// With the project named by `-p` or COMPOSE_PROJECT_NAME, Compose's exec reads no
    /// Compose file (`toProjectName`): the container comes from the labels alone, which
    /// skips the ~2 ms of loading the project. nil when that finds nothing to run in (or the
    /// name or --index is not valid): the full path then reports it as usual.
    static func named(_ invocation: Invocation, service: String) -> ExecTarget? {
        guard let name = invocation.globals.value("project-name") ?? invocation.environment["COMPOSE_PROJECT_NAME"],
              !name.isEmpty, ProjectLoader.isValidProjectName(name) else { return nil }
        var index: Int?
        if let text = invocation.options.value("index") {
            guard let n = Int(text), n >= 1 else { return nil }
            index = n
        }
        let stack = StackContext.stack(invocation, projectName: name)
        guard let container = running(in: stack, service: service, index: index) else { return nil }
        return ExecTarget(projectName: name, stack: stack, container: container)
    }

    /// The project loaded from its Compose file (or named by `-p`), the service checked
    /// against it.
    static func loaded(_ invocation: Invocation, service: String) throws -> ExecTarget {
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices([service])
        var index: Int?
        if let text = invocation.options.value("index") {
            guard let n = Int(text), n >= 1 else { throw UsageError(message: "invalid --index \"\(text)\": give 1 or more", command: "exec") }
            index = n
        }
        guard let container = running(in: context.stack, service: service, index: index) else {
            if let index { throw CLIError("service \"\(service)\" is not running container #\(index)", exitCode: 1) }
            throw CLIError("service \"\(service)\" is not running", exitCode: 1)
        }
        return ExecTarget(projectName: context.name, stack: context.stack, container: container)
    }

    /// Read as briefs (no JSON decoder on this path); a state the brief cannot settle (a
    /// monitor gone) goes through `observe`, which records the end of that run.
    static func running(in stack: Stack, service: String, index: Int?) -> ContainerBrief? {
        let store = stack.engine.store
        return store.briefs()
            .filter { $0.project == stack.projectName && $0.service == service && !$0.oneOff && (index == nil || $0.number == index) }
            .filter { store.runsBrief($0.id) ?? ((try? stack.engine.observe($0.id))?.status == .running) }
            .min { $0.number < $1.number }
    }
}
