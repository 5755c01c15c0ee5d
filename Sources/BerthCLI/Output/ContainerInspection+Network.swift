import BerthNetwork
import BerthOrchestrator

/// `NetworkSettings` of `ContainerInspection`: the networks the container is configured
/// for, with the address, MAC and published ports of its endpoints while it runs (berth
/// releases them when it stops, as Docker clears their operational data).
extension ContainerInspection {
    var networkSettings: TemplateData {
        var ports: [(String, TemplateData)] = []
        if isRunning {
            for key in exposedPorts { ports.append((key, .list(nil))) }
            for binding in endpoints.flatMap(\.endpoint.ports) {
                let key = "\(binding.containerPort)/\(binding.proto.rawValue)"
                let entry = TemplateData.object([("HostIp", .string(binding.hostIP?.description ?? "0.0.0.0")), ("HostPort", .string(String(binding.hostPort)))])
                if let index = ports.firstIndex(where: { $0.0 == key }), case .list(let existing) = ports[index].1 {
                    ports[index].1 = .list((existing ?? []) + [entry])
                } else {
                    ports.append((key, .list([entry])))
                }
            }
        }
        let hasNamespace = isRunning && (launch?.networkMode == .bridge || launch?.networkMode == LaunchConfig.NetworkMode.none)
        return .object([
            ("Bridge", .string("")),
            ("SandboxID", .string("")),
            ("SandboxKey", .string(hasNamespace ? "\(runRoot)/netns/\(runName)" : "")),
            ("Ports", .map(ports)),
            ("HairpinMode", .bool(false)),
            ("LinkLocalIPv6Address", .string("")),
            ("LinkLocalIPv6PrefixLen", .int(0)),
            ("SecondaryIPAddresses", .list(nil)),
            ("SecondaryIPv6Addresses", .list(nil)),
            ("EndpointID", .string("")),
            ("Gateway", .string("")),
            ("GlobalIPv6Address", .string("")),
            ("GlobalIPv6PrefixLen", .int(0)),
            ("IPAddress", .string("")),
            ("IPPrefixLen", .int(0)),
            ("IPv6Gateway", .string("")),
            ("MacAddress", .string("")),
            ("Networks", .map(networkEntries)),
        ])
    }

    /// The running container's endpoints, by network.
    var endpoints: [(network: NetworkRecord, endpoint: Endpoint)] {
        guard isRunning else { return [] }
        return networks.compactMap { network in network.endpoints[runName].map { (network, $0) } }
    }

    var networkEntries: [(String, TemplateData)] {
        switch launch?.networkMode {
        case .bridge?:
            return (launch?.networks ?? []).map { attachment in
                let network = networks.first { $0.name == attachment.network }
                let endpoint = isRunning ? network?.endpoints[runName] : nil
                return (attachment.network, endpointSettings(attachment: attachment, network: network, endpoint: endpoint))
            }
        case .none?: return [("none", endpointSettings(attachment: nil, network: nil, endpoint: nil))]
        case .host?: return [("host", endpointSettings(attachment: nil, network: nil, endpoint: nil))]
        case .shared?, nil: return []
        }
    }

    /// Docker's `EndpointSettings`: the configuration (aliases, a fixed address), then what
    /// the running endpoint has.
    func endpointSettings(attachment: LaunchConfig.Attachment?, network: NetworkRecord?, endpoint: Endpoint?) -> TemplateData {
        let aliases = attachment.map { [record.name] + $0.aliases.filter { $0 != record.name } }
        var dnsNames: [String]?
        if endpoint != nil, let aliases {
            dnsNames = aliases
            for name in [String(record.id.prefix(12)), launch?.hostname ?? ""] where !name.isEmpty && !(dnsNames ?? []).contains(name) {
                dnsNames?.append(name)
            }
        }
        let gateway = endpoint != nil ? network?.gateway.description ?? "" : ""
        return .object([
            ("IPAMConfig", attachment?.ipv4Address.map { TemplateData.object([("IPv4Address", .string($0))]) } ?? .null),
            ("Links", .list(nil)),
            ("Aliases", .strings(aliases)),
            ("MacAddress", .string(endpoint?.mac.description ?? "")),
            ("DriverOpts", .map(nil)),
            ("GwPriority", .int(0)),
            ("NetworkID", .string(network?.id ?? "")),
            ("EndpointID", .string("")),
            ("Gateway", .string(gateway)),
            ("IPAddress", .string(endpoint?.address.description ?? "")),
            ("IPPrefixLen", .int(endpoint != nil ? Int64(network?.subnet.prefixLength ?? 0) : 0)),
            ("IPv6Gateway", .string("")),
            ("GlobalIPv6Address", .string("")),
            ("GlobalIPv6PrefixLen", .int(0)),
            ("DNSNames", .strings(dnsNames)),
        ])
    }
}
