import Foundation

/// `berth scale SERVICE=N...`: Compose's `scale` — `up -d` of the named services (and their
/// dependencies unless --no-deps) with these replica counts.
enum ScaleCommand {
    static let spec = CommandSpec(
        name: "scale", arguments: "SERVICE=REPLICAS...",
        abstract: "Set the number of containers of services.",
        discussion: """
            Runs REPLICAS containers of each SERVICE, as up -d --scale SERVICE=REPLICAS does: new containers are numbered after the highest existing one; scaling down stops and removes the highest numbers first and keeps the low ones. The services' dependencies are brought up too, unless --no-deps.

            A service with container_name, or with a fixed host port, cannot have more than one container (the name or the port would clash); publish a range with a host port per replica instead ("8000-8002:80"). The counts last until the next up, which goes back to the Compose file's scale or deploy.replicas.
            """,
        options: [OptionSpec("no-deps", help: "Do not start the services' dependencies.")],
        examples: [
            ("berth scale worker=5", "Run five worker containers."),
            ("berth scale --no-deps web=3 worker=0", "Three of web, none of worker, dependencies left as they are."),
        ]
    ) { invocation in
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "scale needs at least one SERVICE=REPLICAS", command: "scale")
        }
        var scale: [String: Int] = [:]
        var services: [String] = []
        for argument in invocation.arguments {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex, argument.index(after: equals) != argument.endIndex else {
                throw UsageError(message: "invalid scale specifier: \(argument): use SERVICE=REPLICAS", command: "scale")
            }
            let service = String(argument[..<equals])
            guard let count = Int(argument[argument.index(after: equals)...]), count >= 0 else {
                throw UsageError(message: "invalid scale specifier: can't parse replica value as int: \(argument)", command: "scale")
            }
            if scale.updateValue(count, forKey: service) == nil { services.append(service) }
        }
        return try UpCommand.converge(invocation, noStart: false, services: services, scale: scale)
    }
}
