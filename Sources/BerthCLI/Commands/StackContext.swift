import BerthOrchestrator
import ComposeSpec
import Foundation

/// What the stack commands share: the project (loaded from the Compose file, or only its
/// name when `-p` is given and there is no file), the `Stack` over berth's roots, and the
/// project lock that serialises commands changing the project.
struct StackContext {
    let invocation: Invocation
    let project: Project?
    /// The interpolation environment of the load (secrets and configs from `environment:`).
    let environment: [String: String]
    let name: String
    let stack: Stack

    /// `needsFile`: `up`/`create` need the Compose file; `down`/`stop`/`start` work from
    /// `-p NAME` alone, as Compose's do.
    init(_ invocation: Invocation, needsFile: Bool, selectedServices: [String] = []) throws {
        self.invocation = invocation
        var loaded: Project?
        var loadEnvironment: [String: String] = [:]
        var projectName = invocation.globals.value("project-name") ?? invocation.environment["COMPOSE_PROJECT_NAME"]
        do {
            let result = try invocation.load(selectedServices: selectedServices)
            loaded = result.project
            loadEnvironment = result.interpolationEnvironment
            projectName = loaded?.name
        } catch {
            if needsFile || projectName == nil { throw error }
        }
        environment = loadEnvironment
        guard let projectName else { throw CLIError("no project name: give -p NAME or run in a directory with a Compose file") }
        project = loaded
        name = projectName
        stack = Self.stack(invocation, projectName: projectName)
    }

    /// The `Stack` of project `projectName` over the invocation's roots.
    static func stack(_ invocation: Invocation, projectName: String) -> Stack {
        Stack(
            projectName: projectName, root: invocation.root, runRoot: invocation.runRoot,
            berthBinary: berthBinary(invocation), runtimeBinary: runtimeBinary(invocation),
            firewallTable: invocation.firewallTable)
    }

    /// This executable (the supervisor is `berth supervise`); `BERTH_BINARY` overrides it
    /// for tests that run the CLI inside another process.
    static func berthBinary(_ invocation: Invocation) -> String {
        if let binary = invocation.environment["BERTH_BINARY"], !binary.isEmpty { return binary }
        return (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// `berth-runtime`, next to `berth`.
    static func runtimeBinary(_ invocation: Invocation) -> String {
        (berthBinary(invocation) as NSString).deletingLastPathComponent + "/berth-runtime"
    }

    func lock() throws -> ProjectLock {
        try ProjectLock(root: invocation.root, project: name)
    }

    func board(title: String) throws -> ProgressBoard {
        ProgressBoard(console: invocation.console, mode: try ProgressBoard.mode(invocation), title: title)
    }

    func warn(_ text: String) {
        invocation.console.err("WARN[0000] \(text)\n")
    }

    /// `warn`, for work on other threads.
    var warner: @Sendable (String) -> Void {
        let console = invocation.console
        return { console.err("WARN[0000] \($0)\n") }
    }

    /// `-t/--timeout SECONDS`.
    static let timeoutOption = OptionSpec("timeout", short: "t", value: "SECONDS", help: "Seconds to wait for a container to stop before killing it (default: its stop_grace_period, 10 s).")

    func timeout() throws -> Int? {
        guard let text = invocation.options.value("timeout") else { return nil }
        guard let seconds = Int(text), seconds >= 0 else {
            throw UsageError(message: "invalid --timeout \"\(text)\": give a number of seconds", command: invocation.command.name)
        }
        return seconds
    }

    /// Services named on the command line must exist in the project.
    func checkServices(_ names: [String]) throws {
        guard let project else { return }
        for name in names where project.services[name] == nil && project.disabledServices[name] == nil {
            throw CLIError("no such service: \(name)")
        }
    }
}
