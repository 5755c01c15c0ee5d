import BerthOrchestrator
import BerthRuntime
import Foundation

/// `berth cp`: files and directories between a service container and the host.
enum CpCommand {
    static let spec = CommandSpec(
        name: "cp", arguments: "SERVICE:SRC_PATH DEST_PATH | SRC_PATH SERVICE:DEST_PATH",
        abstract: "Copy files/folders between a service container and the local filesystem.",
        discussion: """
            Copies as docker cp does: a file to a missing path creates it, to a file replaces it, to a directory goes into it; a directory to a missing path becomes it, to an existing directory goes into it under its own name (only its contents with SRC_PATH/.); a DEST_PATH ending in / must be an existing directory. Modes, times and extended attributes are kept; files are owned by root in the container and by the caller on the host, unless -a keeps the source's owners. A symlink SRC_PATH is copied as a symlink unless -L.

            Copying from a service reads its first container (or --index N); copying to a service writes to every one of its containers. The container must be running: paths are resolved in its own root file system (its volumes and tmpfs mounts included) with openat2 RESOLVE_IN_ROOT, so a symlink inside can never make berth read or write outside the container; inside the copied trees nothing is followed.
            """,
        options: [
            OptionSpec("all", help: "Include containers created by the run command."),
            OptionSpec("archive", short: "a", help: "Archive mode (copy all uid/gid information)."),
            OptionSpec("follow-link", short: "L", help: "Always follow symbol link in SRC_PATH."),
            OptionSpec("index", value: "N", help: "Index of the container if the service has multiple replicas."),
        ],
        examples: [
            ("berth cp web:/etc/nginx/nginx.conf .", "A file out of web's container."),
            ("berth cp ./site/. web:/usr/share/nginx/html", "A directory's contents into web's containers."),
        ]
    ) { invocation in
        guard invocation.arguments.count == 2 else {
            throw UsageError(message: "cp needs a source and a destination: berth cp SERVICE:SRC_PATH DEST_PATH or SRC_PATH SERVICE:DEST_PATH", command: "cp")
        }
        let (sourceService, sourcePath) = split(invocation.arguments[0])
        let (destinationService, destinationPath) = split(invocation.arguments[1])
        if sourcePath == "-" || destinationPath == "-" {
            throw CLIError("berth cp does not read or write tar streams (-) yet: copy to or from a path")
        }
        if sourceService != nil && destinationService != nil { throw CLIError("copying between services is not supported") }
        guard let service = sourceService ?? destinationService else { throw CLIError("unknown copy direction: name a service as SERVICE:PATH on one side") }
        let index = try StackContext.index(invocation)
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices([service])
        var records = context.containers(services: [service], oneOff: invocation.options.flag("all"), all: true)
            .sorted { ($0.oneOff ? 1 : 0, $0.number) < ($1.oneOff ? 1 : 0, $1.number) }
        if let index {
            guard let chosen = records.first(where: { $0.number == index && !$0.oneOff }) else {
                throw CLIError("service \"\(service)\" is not running container #\(index)")
            }
            records = [chosen]
        }
        guard !records.isEmpty else { throw CLIError("no container found for service \"\(service)\"") }
        if sourceService != nil { records = [records[0]] }
        let host = { (path: String) in path.hasPrefix("/") ? path : invocation.workingDirectory + "/" + path }
        let options = ContainerCopy.Options(archive: invocation.options.flag("archive"), followLink: invocation.options.flag("follow-link"))
        let board = try context.board(title: "Copying")
        defer { board.finish() }
        for record in records {
            let state = try context.stack.engine.observe(record.id)
            guard state.status == .running, let pid = state.pid else {
                throw CLIError("container \(record.name) is not running: berth cp reads and writes a running container's file system (start it first)")
            }
            board.record(.init(.container, record.name, "Copying", .working))
            do {
                let container = try CopyLocation.container(pid: pid, name: record.name)
                if sourceService != nil {
                    try ContainerCopy.copy(from: container, sourcePath, to: .host(), host(destinationPath), options: options)
                } else {
                    try ContainerCopy.copy(from: .host(), host(sourcePath), to: container, destinationPath, options: options)
                }
            } catch {
                board.record(.init(.container, record.name, "Error", .failed))
                throw CLIError((error as? RuntimeError)?.message ?? "\(error)")
            }
            board.record(.init(.container, record.name, "Copied", .done))
        }
        return 0
    }

    /// Compose's `splitCpArg`: `SERVICE:PATH`, or a local path (absolute, `./…`, or no colon).
    static func split(_ argument: String) -> (service: String?, path: String) {
        if argument.hasPrefix("/") { return (nil, argument) }
        guard let colon = argument.firstIndex(of: ":"), !argument[..<colon].hasPrefix(".") else { return (nil, argument) }
        return (String(argument[..<colon]), String(argument[argument.index(after: colon)...]))
    }
}
