import BerthOrchestrator
import BerthSystem
import Foundation

/// `berth exec`: a command in a running service container, through the runtime's
/// single-threaded join path (`berth-runtime exec` replaces this process, so the exit code,
/// the terminal and stdin pass straight through).
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
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices([service])
        var index: Int?
        if let text = invocation.options.value("index") {
            guard let n = Int(text), n >= 1 else { throw UsageError(message: "invalid --index \"\(text)\": give 1 or more", command: "exec") }
            index = n
        }
        // Compose's `getSpecifiedContainer`: the running containers of the service (with that
        // number), the lowest number first.
        let running = context.stack.containers()
            .filter { $0.service == service && !$0.oneOff && (index == nil || $0.number == index) }
            .filter { (try? context.stack.engine.observe($0.id))?.status == .running }
            .sorted { $0.number < $1.number }
        guard let record = running.first else {
            if let index { throw CLIError("service \"\(service)\" is not running container #\(index)", exitCode: 1) }
            throw CLIError("service \"\(service)\" is not running", exitCode: 1)
        }
        if context.stack.isPaused(record) {
            throw CLIError("container \(record.name) is paused, unpause the container before exec", exitCode: 1)
        }
        let runtime = StackContext.runtimeBinary(invocation)
        var args = [runtime, "exec", "--project", context.name, "--run-root", invocation.runRoot]
        for entry in invocation.options.all("env") {
            if entry.contains("=") { args += ["--env", entry] } else if let value = invocation.environment[entry] { args += ["--env", "\(entry)=\(value)"] }
        }
        if let user = invocation.options.value("user") { args += ["--user", user] }
        if let dir = invocation.options.value("workdir") { args += ["--workdir", dir] }
        let detach = invocation.options.flag("detach")
        if !detach {
            args.append("--interactive")
            if !invocation.options.flag("no-TTY") && isatty(0) == 1 { args.append("--tty") }
        }
        // The name its run started under (a container renamed while running keeps it).
        let runName = (try? context.stack.engine.store.spec(record.id).name) ?? record.name
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
