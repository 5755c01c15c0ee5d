import BerthNetwork
import BerthOrchestrator

/// `berth port`: the host address a container port is published on.
enum PortCommand {
    static let spec = CommandSpec(
        name: "port", arguments: "SERVICE PRIVATE_PORT",
        abstract: "Print the public port for a port binding.",
        discussion: "Prints IP:PORT, the host address and port that PRIVATE_PORT (of --protocol) of the service's running container is published on (0.0.0.0 for every address). The container is the service's first one, or --index N; one-off containers come last.",
        options: [
            OptionSpec("index", value: "N", help: "Index of the container if service has multiple replicas."),
            OptionSpec("protocol", value: "PROTO", help: "tcp or udp.", default: "tcp"),
        ],
        examples: [("berth port web 80", "Where web's port 80 is reachable on the host, such as 0.0.0.0:8080.")]
    ) { invocation in
        guard invocation.arguments.count == 2 else {
            throw UsageError(message: "port needs a service and a port: berth port SERVICE PRIVATE_PORT", command: "port")
        }
        let service = invocation.arguments[0]
        guard let port = UInt16(invocation.arguments[1]) else {
            throw UsageError(message: "invalid port \"\(invocation.arguments[1])\": give a number from 0 to 65535", command: "port")
        }
        let proto = invocation.options.value("protocol") ?? "tcp"
        guard proto == "tcp" || proto == "udp" else { throw UsageError(message: "invalid --protocol \"\(proto)\": use tcp or udp", command: "port") }
        let index = try StackContext.index(invocation)
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices([service])
        let container = try context.specifiedContainer(service, index: index)
        let bindings = ((try? NetworkStore(root: invocation.root).all()) ?? []).flatMap { $0.endpoints[container.name]?.ports ?? [] }
        guard let binding = bindings.first(where: { $0.containerPort == port && $0.proto.rawValue == proto }) else {
            throw CLIError("no port \(port)/\(proto) for container \(container.name)")
        }
        invocation.console.out("\(binding.hostIP?.description ?? "0.0.0.0"):\(binding.hostPort)\n")
        return 0
    }
}
