import BerthOrchestrator
import BerthSystem
import Foundation

/// `berth rm`: remove the project's stopped service containers.
enum RmCommand {
    static let spec = CommandSpec(
        name: "rm", arguments: "[SERVICE...]",
        abstract: "Removes stopped service containers.",
        discussion: """
            Removes the stopped containers of the services (all services when none is named); running ones are left alone unless -s stops them first. One-off containers (berth run) are not removed: berth down does that. Before removing, berth names the containers and asks for confirmation on standard input (y, or true/1, confirms) unless -f. Anonymous volumes stay unless -v; named volumes always stay.
            """,
        options: [
            OptionSpec("force", short: "f", help: "Don't ask to confirm removal."),
            OptionSpec("stop", short: "s", help: "Stop the containers, if required, before removing."),
            OptionSpec("volumes", short: "v", help: "Remove any anonymous volumes attached to containers."),
        ],
        examples: [("berth rm -f", "Remove every stopped container of the project."), ("berth rm -sf worker", "Stop and remove worker's containers.")]
    ) { invocation in
        let context = try StackContext(invocation, needsFile: false)
        let services = invocation.arguments
        try context.checkServices(services)
        let lock = try context.lock()
        defer { lock.release() }
        if invocation.options.flag("stop") {
            let board = try context.board(title: "Stopping")
            try context.stack.stop(context.project, services: services, timeout: nil, progress: board.progress)
            board.finish()
        }
        let stopped = context.withoutOrphans(context.containers(services: services, oneOff: false, all: true)).filter {
            (try? context.stack.engine.observe($0.id))?.status != .running
        }
        if stopped.isEmpty {
            invocation.console.err("No stopped containers\n")
            return 0
        }
        let message = "Going to remove \(stopped.map(\.name).joined(separator: ", "))"
        if invocation.options.flag("force") {
            invocation.console.out(message + "\n")
        } else {
            invocation.console.out(invocation.console.stdoutIsTerminal && isatty(0) == 1 ? "? \(message) (y/N) " : message)
            guard answersYes(readLine(invocation)) else { return 0 }
        }
        let board = try context.board(title: "Removing")
        defer { board.finish() }
        try context.stack.remove(stopped, removeVolumes: invocation.options.flag("volumes"), progress: board.progress)
        return 0
    }

    /// Compose's `utils.StringToBool`: y, or what Go's ParseBool takes as true.
    static func answersYes(_ text: String) -> Bool {
        let answer = text.trimmingCharacters(in: .whitespaces).lowercased()
        return ["y", "1", "t", "true"].contains(answer)
    }

    /// One line of standard input (a terminal answers with Enter, not end of file).
    static func readLine(_ invocation: Invocation) -> String {
        if isatty(0) == 1 {
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while read(0, &byte, 1) == 1 && byte != 0x0a { line.append(byte) }
            return String(decoding: line, as: UTF8.self)
        }
        let all = String(decoding: invocation.readStandardInput(), as: UTF8.self)
        return all.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }
}
