import BerthNetwork
import BerthOrchestrator
import BerthRuntime
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
            OptionSpec("wake-for", value: "ID", help: "Do not serve: make sure a supervisor runs (starting one if none does) to handle the end of container ID, unless it was stopped by hand or is gone. Run by the container's monitor when it ends."),
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
        let paths = SupervisorPaths(runRoot: invocation.runRoot, project: project)
        let berth = StackContext.berthBinary(invocation)
        let environment = SupervisorClient.environment(firewallTable: invocation.firewallTable)
        if let id = invocation.options.value("wake-for") {
            return try wake(for: id, project: project, engine: engine, client: SupervisorClient(
                project: project, root: invocation.root, runRoot: invocation.runRoot, berthBinary: berth, environment: environment))
        }
        let hook = ExitHook(
            arguments: [berth, "--root", invocation.root, "--run-root", invocation.runRoot, "supervise", "--project", project, "--wake-for"],
            environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"] + environment, log: paths.log, unless: paths.lock)
        let lifecycle = try ContainerLifecycle(project: project, engine: engine, networks: invocation.networkManager, exitHook: hook)
        let supervisor = try Supervisor(paths: paths, lifecycle: lifecycle)
        return supervisor.run(readyFD: readyFD)
    }

    /// `--wake-for ID`: a container with a restart policy ended while no supervisor held the
    /// project's lock (it was killed). Unless the container was stopped by hand or removed,
    /// a supervisor is started; it adopts the project and applies the policy to the end.
    static func wake(for id: String, project: String, engine: ContainerEngine, client: SupervisorClient) throws -> Int32 {
        guard let record = try? engine.store.record(id), record.project == project else { return 0 }
        // Its monitor, which runs this, is still there: the exit report tells the run is over.
        guard engine.runHasEnded(id), !engine.store.state(id).stoppedByUser else { return 0 }
        let pid = try client.send(.init(op: .hello)).pid.map(String.init) ?? "?"
        FileHandle.standardError.write(Data("berth supervise: container \(record.name) ended with no supervisor running: supervisor \(pid) handles it\n".utf8))
        return 0
    }
}
