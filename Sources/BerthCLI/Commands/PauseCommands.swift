import BerthOrchestrator

/// `berth pause` and `berth unpause`: the cgroup freezer on the services' containers.
enum PauseCommands {
    static let pauseSpec = CommandSpec(
        name: "pause", arguments: "[SERVICE...]",
        abstract: "Pause services.",
        discussion: "Freezes every process of the services' running containers (the cgroup freezer, v1 or v2): they keep their memory and state but get no CPU time and handle no signal until unpause. berth ps shows them as paused; health checks wait, exec is refused. Stopping a paused container thaws it first.",
        examples: [("berth pause worker", "Freeze worker's containers.")]
    ) { invocation in
        try run(invocation, title: "Pausing") { context, records, board in try context.stack.pause(records, progress: board.progress) }
    }

    static let unpauseSpec = CommandSpec(
        name: "unpause", arguments: "[SERVICE...]",
        abstract: "Unpause services.",
        discussion: "Thaws the services' paused containers: their processes continue where they were frozen.",
        examples: [("berth unpause worker", "Let worker's containers run again.")]
    ) { invocation in
        try run(invocation, title: "Unpausing") { context, records, board in try context.stack.unpause(records, progress: board.progress) }
    }

    static func run(_ invocation: Invocation, title: String, _ body: (StackContext, [ContainerRecord], ProgressBoard) throws -> Void) throws -> Int32 {
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices(invocation.arguments)
        let records = context.withoutOrphans(context.containers(services: invocation.arguments, oneOff: false, all: false))
        let board = try context.board(title: title)
        defer { board.finish() }
        try body(context, records, board)
        return 0
    }
}
