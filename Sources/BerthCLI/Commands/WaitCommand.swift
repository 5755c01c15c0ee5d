import BerthOrchestrator
import BerthSystem
import Foundation

/// `berth wait`: block until the services' containers stop.
enum WaitCommand {
    static let spec = CommandSpec(
        name: "wait", arguments: "SERVICE [SERVICE...]",
        abstract: "Block until containers of all (or specified) services stop.",
        discussion: "Waits for every running container of the services (one-off containers included) to exit, printing container \"NAME\" exited with status code N as each does, and exits with the status code of the last one to end. With --down-project, the project is then taken down (as down --remove-orphans).",
        options: [OptionSpec("down-project", help: "Take the project down (as down --remove-orphans) once the containers have stopped.")],
        examples: [("berth wait migrate && berth up -d web", "Start web once the migration has finished.")]
    ) { invocation in
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "wait needs at least one service: berth wait SERVICE [SERVICE...]", command: "wait")
        }
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        let records = context.containers(services: invocation.arguments, oneOff: true, all: false)
        if records.isEmpty { throw CLIError("no containers for project \"\(context.name)\"") }
        let last = LockedCode()
        let console = invocation.console
        try context.stack.wait(records) { record, code in
            // Docker's container names start with a slash, which Compose prints.
            console.out("container \"/\(record.name)\" exited with status code \(code)\n")
            last.set(code)
        }
        if invocation.options.flag("down-project") {
            let lock = try context.lock()
            defer { lock.release() }
            let board = try context.board(title: "Running")
            try context.stack.down(context.project, timeout: nil, removeOrphans: true, progress: board.progress, warn: context.warn)
            board.finish()
            if context.stack.containers().isEmpty {
                context.stack.waitForSupervisorExit()
                try? FS.removeTree(SupervisorPaths(runRoot: invocation.runRoot, project: context.name).directory)
            }
        }
        return last.value
    }
}

/// The last exit code reported from the waiting threads.
final class LockedCode: @unchecked Sendable {
    private let lock = NSLock()
    private var code: Int32 = 0
    func set(_ value: Int32) { lock.withLock { code = value } }
    var value: Int32 { lock.withLock { code } }
}
