import BerthOrchestrator
import BerthSystem
import ComposeSpec
import Glibc

/// The project that `ps` and `logs` look at, found as Compose's `projectOrName` does: `-p`
/// without `-f` names it and no file is read (it works where no Compose file exists);
/// otherwise the Compose file is loaded for its name and services, and if that fails,
/// `COMPOSE_PROJECT_NAME` still names the project.
struct ProjectScope {
    var name: String
    /// The loaded project, when a file was read.
    var project: Project?
    var engine: ContainerEngine

    init(_ invocation: Invocation, services: [String]) throws {
        engine = try Self.engine(invocation)
        if let flag = invocation.globals.value("project-name"), !flag.isEmpty, invocation.globals.all("file").isEmpty {
            name = flag
            return
        }
        do {
            let project = try invocation.loadProject(selectedServices: services)
            self.project = project
            name = project.name
        } catch {
            guard let fromEnvironment = invocation.environment["COMPOSE_PROJECT_NAME"], !fromEnvironment.isEmpty else { throw error }
            name = fromEnvironment
        }
    }

    /// The engine over `--root`, whose container store must be readable: an unreadable
    /// store would look empty.
    static func engine(_ invocation: Invocation) throws -> ContainerEngine {
        let engine = ContainerEngine(root: invocation.root, runRoot: invocation.runRoot, runtimeBinary: ContainerEngine.defaultRuntimeBinary())
        let directory = engine.store.directory
        if FS.exists(directory) && access(directory, R_OK | X_OK) != 0 {
            throw CLIError("cannot read the container store \(directory): \(String(cString: strerror(errno))); berth keeps its state as root: run it as root, or give --root a directory of yours")
        }
        return engine
    }

    /// Starts the project's supervisor when a container waits for a restart that no
    /// supervisor will do (see `SupervisorClient.wakeIfNeeded`).
    func wakeSupervisor(_ invocation: Invocation) {
        let client = SupervisorClient(
            project: name, root: invocation.root, runRoot: invocation.runRoot, berthBinary: StackContext.berthBinary(invocation),
            environment: SupervisorClient.environment(firewallTable: invocation.firewallTable))
        client.wakeIfNeeded(engine: engine)
    }

    /// Fails on a service the loaded project does not have (nothing to check without one).
    func checkServices(_ services: [String]) throws {
        guard let project else { return }
        for name in services where project.services[name] == nil {
            let hint = Spelling.closest(to: name, in: project.services.keys).map { " — did you mean \"\($0)\"?" } ?? ""
            throw CLIError("no such service: \(name)\(hint)")
        }
    }

    /// The project's containers (sorted by name), one-off ones only when asked for.
    func containers(oneOff: Bool = false) -> [ContainerRecord] {
        engine.store.records().filter { $0.project == name && (oneOff || !$0.oneOff) }
    }

    /// Compose's name for a container in logs: `web-1`, or its `container_name`.
    static func shortName(_ record: ContainerRecord) -> String {
        let standard = Naming.containerName(project: record.project, service: record.service, number: record.number)
        guard record.name == standard, !record.oneOff else { return record.name }
        return String(record.name.dropFirst(record.project.count + Naming.separator.count))
    }
}
