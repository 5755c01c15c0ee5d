import BerthNetwork
import BerthOrchestrator
import Foundation

/// `berth supervise`: a project's supervisor (plumbing: the stack commands start it on
/// demand, detached; see berth-supervise(8)).
enum SupervisePlumbing {
    static let spec = CommandSpec(
        name: "supervise", arguments: "",
        abstract: "Run a project's supervisor (plumbing: berth starts it on demand).",
        discussion: "Serves the project's control socket, starts and stops its containers on request, and exits once none of them runs. Exits at once with an error if it cannot take the project's supervisor lock or socket.",
        options: [
            OptionSpec("project", value: "NAME", help: "The project to supervise."),
            OptionSpec("ready-fd", value: "FD", help: "Write \"ready PID\" (or \"error: ...\") on this descriptor once serving."),
        ],
        hidden: true
    ) { invocation in
        guard let project = invocation.options.value("project"), !project.isEmpty else {
            throw UsageError(message: "--project NAME is required", command: "supervise")
        }
        var readyFD: Int32?
        if let text = invocation.options.value("ready-fd") {
            guard let fd = Int32(text), fd >= 0 else { throw UsageError(message: "invalid --ready-fd \"\(text)\"", command: "supervise") }
            readyFD = fd
        }
        let engine = ContainerEngine(root: invocation.root, runRoot: invocation.runRoot, runtimeBinary: StackContext.runtimeBinary(invocation))
        let lifecycle = try ContainerLifecycle(
            project: project, engine: engine, networks: invocation.networkManager)
        let supervisor = try Supervisor(paths: SupervisorPaths(runRoot: invocation.runRoot, project: project), lifecycle: lifecycle)
        return supervisor.run(readyFD: readyFD)
    }
}
