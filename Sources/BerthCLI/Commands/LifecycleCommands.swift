import BerthImages
import BerthSystem
import BerthOrchestrator
import ComposeSpec
import Foundation

/// `berth down`: stop and remove the project's containers and networks.
enum DownCommand {
    static let spec = CommandSpec(
        name: "down", arguments: "",
        abstract: "Stop and remove the project's containers and networks.",
        discussion: """
            Stops the project's containers (dependents first), removes them, then removes the networks the project created. External networks are left alone. Named volumes keep their data unless -v is given. Works from the Compose file or from -p NAME alone. Once nothing of the project runs, its supervisor exits; down waits for that, so nothing of the project is left behind when it returns, but for the bridges of the removed networks: the kernel takes 30-50 ms to delete one, so a short-lived background process (berth reap-bridges) that down starts deletes them, and a network created meanwhile waits for it.
            """,
        options: [
            StackContext.timeoutOption,
            OptionSpec("remove-orphans", help: "Also remove containers of services that are no longer in the Compose file."),
            OptionSpec("volumes", short: "v", help: "Also remove the project's named volumes and the containers' anonymous volumes (external volumes are kept)."),
            OptionSpec("rmi", value: "TYPE", help: "Also remove images: all (every service's image) or local (images without a custom tag; berth builds none, so none)."),
        ],
        examples: [("berth down", "Take the stack down."), ("berth -p demo down", "Take down project demo without its Compose file.")]
    ) { invocation in
        let rmi = invocation.options.value("rmi")
        if let rmi, rmi != "all" && rmi != "local" {
            throw UsageError(message: "invalid --rmi \"\(rmi)\": use all or local", command: "down")
        }
        let context = try StackContext(invocation, needsFile: false)
        let lock = try context.lock()
        defer { lock.release() }
        let board = try context.board(title: "Running")
        try context.stack.down(
            context.project, timeout: try context.timeout(), removeOrphans: invocation.options.flag("remove-orphans"),
            removeVolumes: invocation.options.flag("volumes"), progress: board.progress, warn: context.warn)
        if rmi == "all", let project = context.project {
            let store = try ImageStore(root: invocation.root)
            var seen = Set<String>()
            for (_, service) in project.services {
                guard let image = service.image, seen.insert(image).inserted, (try? store.find(image)) != nil else { continue }
                board.record(.init(.image, image, "Removing", .working))
                _ = try store.remove(image)
                board.record(.init(.image, image, "Removed", .done))
            }
        }
        board.finish()
        context.awaitSupervisorExit()
        return 0
    }
}

/// `berth start`, `stop`, `restart`.
enum StartStopCommands {
    static let startSpec = CommandSpec(
        name: "start", arguments: "[SERVICE...]",
        abstract: "Start the existing containers of the project's services.",
        discussion: "Starts containers that up or create made and that are not running, dependencies first, waiting for their depends_on conditions (service_healthy, service_completed_successfully) as up does. It creates nothing: use up for that.",
        options: [],
        examples: [("berth start", "Start every stopped container of the project."), ("berth start web", "Start web's containers.")]
    ) { invocation in
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        let lock = try context.lock()
        defer { lock.release() }
        let board = try context.board(title: "Running")
        defer { board.finish() }
        try context.stack.start(
            context.project, services: invocation.arguments, waitForConditions: true, progress: board.progress, warn: context.warner)
        return 0
    }

    static let stopSpec = CommandSpec(
        name: "stop", arguments: "[SERVICE...]",
        abstract: "Stop the project's running containers without removing them.",
        discussion: "Sends each container its stop signal (stop_signal, else the image's, else SIGTERM), waits for the grace period (-t, else stop_grace_period, else 10 s), then kills it. Dependents stop before their dependencies. berth start runs them again.",
        options: [StackContext.timeoutOption],
        examples: [("berth stop", "Stop the whole stack."), ("berth stop -t 1 worker", "Give worker one second to stop.")]
    ) { invocation in
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        let lock = try context.lock()
        defer { lock.release() }
        let board = try context.board(title: "Stopping")
        defer { board.finish() }
        try context.stack.stop(context.project, services: invocation.arguments, timeout: try context.timeout(), progress: board.progress)
        return 0
    }

    static let restartSpec = CommandSpec(
        name: "restart", arguments: "[SERVICE...]",
        abstract: "Restart the project's containers.",
        discussion: "Stops the containers (as stop does) and starts them again, with their configuration unchanged: a changed Compose file needs up to take effect. Naming services restarts them and, as Compose does, the services that declare depends_on with restart: true on them (and theirs in turn), unless --no-deps. A start by hand resets the restart count and back-off of the restart policy.",
        options: [StackContext.timeoutOption, OptionSpec("no-deps", help: "Don't restart dependent services.")],
        examples: [("berth restart", "Restart the whole stack."), ("berth restart db", "Restart db and the services that depend on it with restart: true.")]
    ) { invocation in
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        let lock = try context.lock()
        defer { lock.release() }
        let board = try context.board(title: "Restarting")
        defer { board.finish() }
        try context.stack.restart(
            context.project, services: invocation.arguments, noDeps: invocation.options.flag("no-deps"), timeout: try context.timeout(),
            progress: board.progress)
        return 0
    }
}
