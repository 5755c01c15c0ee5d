import BerthOrchestrator
import BerthSystem

/// `berth kill`: a signal (SIGKILL by default) to the project's running containers.
enum KillCommand {
    static let spec = CommandSpec(
        name: "kill", arguments: "[SERVICE...]",
        abstract: "Force stop service containers.",
        discussion: "Sends SIGNAL (default SIGKILL) to the main process of each running container of the services (one-off containers included), without the stop grace period. A container killed this way is stopped: up or start runs it again. Containers of services no longer in the Compose file are left alone unless --remove-orphans.",
        options: [
            OptionSpec("remove-orphans", help: "Also signal containers of services that are no longer in the Compose file."),
            OptionSpec("signal", short: "s", value: "SIGNAL", help: "Signal to send: a name (SIGUSR1, USR1) or a number.", default: "SIGKILL"),
        ],
        examples: [("berth kill", "Kill every running container of the project."), ("berth kill -s SIGHUP web", "Ask web to reload its configuration.")]
    ) { invocation in
        let name = invocation.options.value("signal") ?? "SIGKILL"
        guard let signal = Signals.parse(name) else {
            throw UsageError(message: "invalid signal \"\(name)\": use a name such as SIGHUP or USR1, or a number from 1 to 64", command: "kill")
        }
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        var records = context.containers(services: invocation.arguments, oneOff: true, all: false)
        if !invocation.options.flag("remove-orphans") { records = context.withoutOrphans(records) }
        if records.isEmpty {
            invocation.console.err("no container to kill")
            return 0
        }
        let board = try context.board(title: "Killing")
        defer { board.finish() }
        try context.stack.kill(records, signal: signal, progress: board.progress)
        return 0
    }
}
