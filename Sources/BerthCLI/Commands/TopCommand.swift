import BerthOrchestrator
import BerthRuntime
import BerthSystem

/// `berth top`: the processes of the services' running containers, as `ps -ef` shows them
/// on the host (host PIDs), one block per container.
enum TopCommand {
    static let spec = CommandSpec(
        name: "top", arguments: "[SERVICE...]",
        abstract: "Display the running processes.",
        discussion: "For each running container of the services (sorted by name; one-off containers left out), prints its name, then its processes with the columns of ps -ef: UID, PID, PPID, C, STIME, TTY, TIME, CMD. PIDs are the host's, as docker top shows them, so they can be given to kill, strace or perf on the host. The processes are those in the container's cgroup, exec'd ones included.",
        examples: [("berth top", "Every container's processes."), ("berth top web", "web's processes.")]
    ) { invocation in
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        let records = context.containers(services: invocation.arguments, oneOff: false, all: false)
        guard !records.isEmpty else { return 0 }
        let layout = try CgroupLayout.detect()
        let table = ProcessTable.host()
        var out = ""
        for record in records {
            let pids = context.stack.cgroup(of: record, layout: layout).processes()
            out += table.render(container: record.name, processes: pids.compactMap { ProcessSnapshot.of($0) })
        }
        invocation.console.out(out)
        return 0
    }
}
