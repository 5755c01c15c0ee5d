import BerthNetwork
import ComposeSpec
import Foundation

/// `berth network create|ls|inspect|rm|prune|connect|disconnect`: berth's bridge networks, in
/// the shapes of the `docker network` commands.
enum NetworkCommand {
    static let spec = CommandSpec(
        name: "network", arguments: "create|ls|inspect|rm|prune|connect|disconnect [NETWORK...] [CONTAINER]",
        abstract: "Create, list, inspect, connect and remove berth's networks.",
        discussion: """
            create NETWORK makes a bridge network: a subnet from berth's pool 10.213.0.0/16 (or --subnet, --gateway, --ip-range), --internal for no way out, -o com.docker.network.driver.mtu=N and -o com.docker.network.bridge.name=NAME, --label. ls lists the networks in the store (--root), sorted by name, as a table or with --format json one JSON object per line; -q prints only the IDs. inspect prints a JSON array with the full configuration and endpoints of each named network. rm removes named networks that have no containers attached: their bridge, firewall rules and state. prune removes every network without containers, after a confirmation unless --force.

            connect NETWORK CONTAINER attaches a container's network namespace, pinned at RUN_ROOT/netns/CONTAINER and created when missing, and prints its path for `berth runtime run --network ns:PATH` (plumbing; the supervisor does this for services). --ip, --alias, --mac-address and --publish (-p [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]) apply; published ports stay forwarded until disconnect, but the host port is only held while a supervisor runs. disconnect NETWORK CONTAINER detaches it and removes the namespace pin once it is on no network.

            Filters (--filter, repeatable, all must match): name=SUBSTRING, label=KEY or label=KEY=VALUE, id=PREFIX, driver=bridge.
            """,
        options: [
            OptionSpec("alias", value: "NAME", help: "connect: an extra DNS name on the network.", repeatable: true),
            OptionSpec("filter", value: "FILTER", help: "ls and prune: only networks matching FILTER (name=, label=, id=, driver=).", repeatable: true),
            OptionSpec("force", short: "f", help: "prune: do not ask for confirmation."),
            OptionSpec("format", value: "FORMAT", help: "ls: table or json; inspect: json.", default: "table"),
            OptionSpec("gateway", value: "ADDRESS", help: "create: the bridge's address (default: the first address of the subnet)."),
            OptionSpec("internal", help: "create: no default route and no forwarding out of the network."),
            OptionSpec("ip", value: "ADDRESS", help: "connect: a static IPv4 address."),
            OptionSpec("ip-range", value: "SUBNET", help: "create: allocate container addresses from this part of the subnet."),
            OptionSpec("label", value: "KEY=VALUE", help: "create: set a label.", repeatable: true),
            OptionSpec("mac-address", value: "MAC", help: "connect: the interface's MAC address (default: derived from the IP)."),
            OptionSpec("no-trunc", help: "ls: show full network IDs."),
            OptionSpec("opt", short: "o", value: "KEY=VALUE", help: "create: a driver option (com.docker.network.driver.mtu, com.docker.network.bridge.name).", repeatable: true),
            OptionSpec("publish", short: "p", value: "PORT", help: "connect: publish [IP:][HOST_PORT:]CONTAINER_PORT[/PROTO].", repeatable: true),
            OptionSpec("quiet", short: "q", help: "ls: print only network IDs."),
            OptionSpec("subnet", value: "SUBNET", help: "create: the IPv4 subnet in CIDR form (default: a free /24 of 10.213.0.0/16)."),
        ],
        examples: [
            ("berth network create --subnet 10.213.50.0/24 demo_back", "Create a network with a given subnet."),
            ("berth network ls", "List berth's networks."),
            ("berth network ls --filter label=com.docker.compose.project=demo", "List the networks of the project demo."),
            ("berth network inspect demo_default", "Show a network's subnet, gateway, bridge and endpoints as JSON."),
            ("berth network prune -f", "Remove every network without containers."),
        ]
    ) { invocation in
        do {
            return try run(invocation)
        } catch let error as NetworkError {
            throw CLIError(error.message)
        }
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        guard let verb = invocation.arguments.first else {
            throw UsageError(message: "missing subcommand: use ls, inspect, rm or prune", command: "network")
        }
        let names = Array(invocation.arguments.dropFirst())
        let manager = invocation.networkManager
        let filters = try invocation.options.all("filter").map(Filter.parse)
        switch verb {
        case "create":
            guard names.count == 1 else { throw UsageError(message: "\"network create\" requires exactly 1 argument", command: "network") }
            let record = try manager.create(name: names[0], options: try createOptions(invocation.options))
            invocation.console.out(record.id + "\n")
            return 0
        case "connect":
            guard names.count == 2 else { throw UsageError(message: "\"network connect\" requires exactly 2 arguments: NETWORK CONTAINER", command: "network") }
            return try connect(manager, invocation, network: names[0], container: names[1])
        case "disconnect":
            guard names.count == 2 else { throw UsageError(message: "\"network disconnect\" requires exactly 2 arguments: NETWORK CONTAINER", command: "network") }
            try manager.detach(network: names[0], container: names[1])
            if try manager.endpoints(container: names[1]).isEmpty { try manager.removeNamespace(container: names[1]) }
            return 0
        case "ls", "list":
            try noArguments(names, verb)
            return try list(manager, invocation, filters: filters)
        case "inspect":
            return try inspect(manager, invocation, names: names)
        case "rm", "remove":
            return try remove(manager, invocation, names: names)
        case "prune":
            try noArguments(names, verb)
            return try prune(manager, invocation, filters: filters)
        default:
            let hint = Spelling.closest(to: verb, in: ["create", "ls", "inspect", "rm", "prune", "connect", "disconnect"]).map { "\nDid you mean \"\($0)\"?" } ?? ""
            throw UsageError(message: "unknown network subcommand \"\(verb)\"\(hint)", command: "network")
        }
    }

    static func noArguments(_ names: [String], _ verb: String) throws {
        if !names.isEmpty {
            throw UsageError(message: "\"network \(verb)\" accepts no arguments", command: "network")
        }
    }

    // MARK: create, connect

    static func createOptions(_ options: ParsedOptions) throws -> NetworkOptions {
        func parse<T>(_ name: String, _ make: (String) -> T?) throws -> T? {
            guard let text = options.value(name) else { return nil }
            guard let value = make(text) else { throw UsageError(message: "invalid --\(name) \"\(text)\"", command: "network") }
            return value
        }
        func pairs(_ name: String) throws -> [String: String] {
            var out: [String: String] = [:]
            for item in options.all(name) {
                let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard !kv[0].isEmpty else { throw UsageError(message: "invalid --\(name) \"\(item)\": use KEY=VALUE", command: "network") }
                out[kv[0]] = kv.count == 2 ? kv[1] : ""
            }
            return out
        }
        return NetworkOptions(
            subnet: try parse("subnet") { IPv4Subnet($0) }, gateway: try parse("gateway") { IPv4Address($0) },
            ipRange: try parse("ip-range") { IPv4Subnet($0) }, internal: options.flag("internal"),
            driverOptions: try pairs("opt"), labels: try pairs("label"))
    }

    static func connect(_ manager: NetworkManager, _ invocation: Invocation, network: String, container: String) throws -> Int32 {
        let options = invocation.options
        let ip = try options.value("ip").map { text in
            guard let address = IPv4Address(text) else { throw UsageError(message: "invalid --ip \"\(text)\"", command: "network") }
            return address
        }
        let mac = try options.value("mac-address").map { text in
            guard let address = MACAddress(text), !address.isMulticast else { throw UsageError(message: "invalid --mac-address \"\(text)\"", command: "network") }
            return address
        }
        let requests = try options.all("publish").map { try PortRequest(shortSyntax: $0) }
        _ = try manager.inspect(name: network)
        let reservation = try PortReservation.reserve(requests, owner: "container \(container)")
        defer { reservation.release() }
        let path = manager.namespacePath(container: container)
        let namespace = NetworkNamespace(path: path).exists ? NetworkNamespace(path: path) : try manager.createNamespace(container: container)
        do {
            try manager.attach(network: network, AttachRequest(
                container: container, namespace: namespace, ipv4Address: ip, macAddress: mac, aliases: options.all("alias"),
                ports: reservation.bindings))
        } catch {
            if try manager.endpoints(container: container).isEmpty { try? namespace.remove() }
            throw error
        }
        invocation.console.out(namespace.path + "\n")
        return 0
    }

    // MARK: ls

    static func list(_ manager: NetworkManager, _ invocation: Invocation, filters: [Filter]) throws -> Int32 {
        let networks = try manager.list().filter { network in filters.allSatisfy { $0.matches(network) } }.sorted { $0.name < $1.name }
        let full = invocation.options.flag("no-trunc")
        let id = { (record: NetworkRecord) in full ? record.id : String(record.id.prefix(12)) }
        if invocation.options.flag("quiet") {
            invocation.console.out(networks.map { id($0) + "\n" }.joined())
            return 0
        }
        switch invocation.options.value("format") ?? "table" {
        case "table":
            let rows = [["NETWORK ID", "NAME", "DRIVER", "SCOPE"]] + networks.map { [id($0), $0.name, "bridge", "local"] }
            invocation.console.out(table(rows))
        case "json":
            for record in networks {
                let line: OutputValue = .map([
                    ("CreatedAt", .string(record.created)), ("Driver", .string("bridge")), ("ID", .string(id(record))),
                    ("IPv4", .string("true")), ("IPv6", .string("false")), ("Internal", .string(record.internal ? "true" : "false")),
                    ("Labels", .string(record.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ","))),
                    ("Name", .string(record.name)), ("Scope", .string("local")),
                ])
                invocation.console.out(OutputWriter.json(line, indent: 0))
            }
        case let other:
            throw UsageError(message: "invalid value \"\(other)\" for --format: use table or json", command: "network")
        }
        return 0
    }

    /// Docker's tabwriter layout: each column as wide as its widest cell plus 3, at least 10.
    static func table(_ rows: [[String]]) -> String {
        guard let columns = rows.first?.count else { return "" }
        let widths = (0..<columns).map { column in max(10, (rows.map { $0[column].count }.max() ?? 0) + 3) }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == columns - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined() + "\n"
        }.joined()
    }

    // MARK: inspect

    static func inspect(_ manager: NetworkManager, _ invocation: Invocation, names: [String]) throws -> Int32 {
        guard !names.isEmpty else { throw UsageError(message: "\"network inspect\" requires at least 1 argument", command: "network") }
        let format = invocation.options.value("format") ?? "json"
        guard format == "json" || format == "table" else {
            throw UsageError(message: "invalid value \"\(format)\" for --format: inspect prints json", command: "network")
        }
        var found: [OutputValue] = []
        var missing: [String] = []
        let all = try manager.list()
        for name in names {
            if let record = all.first(where: { $0.name == name }) ?? all.first(where: { $0.id.hasPrefix(name) }) {
                found.append(inspectValue(record))
            } else {
                missing.append(name)
            }
        }
        invocation.console.out(OutputWriter.json(.list(found), indent: 4))
        for name in missing { invocation.console.err("Error: No such network: \(name)\n") }
        return missing.isEmpty ? 0 : 1
    }

    static func inspectValue(_ record: NetworkRecord) -> OutputValue {
        var ipamConfig: [(String, OutputValue)] = [("Subnet", .string(record.subnet.description))]
        if let range = record.ipRange { ipamConfig.append(("IPRange", .string(range.description))) }
        ipamConfig.append(("Gateway", .string(record.gateway.description)))
        let containers: [(String, OutputValue)] = record.endpoints.values.sorted { $0.container < $1.container }.map { endpoint in
            (endpoint.container, .map([
                ("Name", .string(endpoint.container)),
                ("MacAddress", .string(endpoint.mac.description)),
                ("IPv4Address", .string("\(endpoint.address)/\(record.subnet.prefixLength)")),
                ("IPv6Address", .string("")),
                ("Interface", .string(endpoint.interface)),
                ("HostInterface", .string(endpoint.hostInterface)),
                ("Aliases", .list(endpoint.aliases.map { .string($0) })),
                ("Ports", .list(endpoint.ports.map { .string($0.description) })),
            ]))
        }
        let options = ([("com.docker.network.bridge.name", record.bridge)] + record.options.filter { $0.key != NetworkOptions.bridgeNameOption }.sorted { $0.key < $1.key })
            .map { ($0.0, OutputValue.string($0.1)) }
        return .map([
            ("Name", .string(record.name)),
            ("Id", .string(record.id)),
            ("Created", .string(record.created)),
            ("Scope", .string("local")),
            ("Driver", .string("bridge")),
            ("EnableIPv6", .bool(false)),
            ("IPAM", .map([("Driver", .string("default")), ("Options", .null), ("Config", .list([.map(ipamConfig)]))])),
            ("Internal", .bool(record.internal)),
            ("Attachable", .bool(false)),
            ("Ingress", .bool(false)),
            ("ConfigFrom", .map([("Network", .string(""))])),
            ("ConfigOnly", .bool(false)),
            ("Containers", .map(containers)),
            ("Options", .map(options)),
            ("Labels", .map(record.labels.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })),
        ])
    }

    // MARK: rm and prune

    static func remove(_ manager: NetworkManager, _ invocation: Invocation, names: [String]) throws -> Int32 {
        guard !names.isEmpty else { throw UsageError(message: "\"network rm\" requires at least 1 argument", command: "network") }
        var failed = false
        for name in names {
            do {
                try manager.remove(name: name)
                invocation.console.out(name + "\n")
            } catch let error as NetworkError {
                failed = true
                let message = error.code == .notFound ? "No such network: \(name)" : error.message
                invocation.console.err("Error: \(message)\n")
            }
        }
        return failed ? 1 : 0
    }

    static func prune(_ manager: NetworkManager, _ invocation: Invocation, filters: [Filter]) throws -> Int32 {
        if !invocation.options.flag("force") {
            guard Confirmation.ask(invocation, warning: "WARNING! This will remove all custom networks not used by at least one container.") else {
                invocation.console.out("\n")
                return 0
            }
        }
        let removed = try manager.prune { record in filters.allSatisfy { $0.matches(record) } }
        if !removed.isEmpty {
            invocation.console.out("Deleted Networks:\n" + removed.sorted().map { $0 + "\n" }.joined())
        }
        return 0
    }

    /// One `--filter KEY=VALUE`.
    struct Filter {
        var key: String
        var value: String

        static func parse(_ text: String) throws -> Filter {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, ["name", "label", "id", "driver"].contains(parts[0]) else {
                throw UsageError(message: "invalid filter \"\(text)\": use name=, label=, id= or driver=", command: "network")
            }
            return Filter(key: parts[0], value: parts[1])
        }

        func matches(_ record: NetworkRecord) -> Bool {
            switch key {
            case "name": return record.name.contains(value)
            case "id": return record.id.hasPrefix(value)
            case "driver": return value == "bridge"
            default:
                let pair = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                guard let label = record.labels[pair[0]] else { return false }
                return pair.count == 1 || label == pair[1]
            }
        }
    }
}
