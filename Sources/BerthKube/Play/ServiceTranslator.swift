import ComposeSpec

/// A Kubernetes Service → what berth has for it. berth gives every container an address on
/// the project network, so a Service is a DNS name: its name becomes a network alias of the
/// pods it selects (berth's DNS answers with their addresses, healthy ones only — a
/// headless Service, in Kubernetes terms). `NodePort` publishes the node port on the host;
/// `LoadBalancer` publishes the Service port on the host, as local clusters do.
struct ServiceTranslator {
    let object: ManifestObject
    let pods: [PodServices]
    let draft: ComposeDraft

    func translate() throws(KubeError) {
        guard let spec = try object.root.map("spec") else {
            throw KubeError("\(object.subject): spec is required", at: object.mark)
        }
        let type = try spec.string("type") ?? "ClusterIP"
        guard ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"].contains(type) else {
            throw spec.error("type", "\(type) is not ClusterIP, NodePort, LoadBalancer or ExternalName")
        }
        if type == "ExternalName" {
            spec.skip(contentsOf: spec.keys)
            spec.warn("type", "ExternalName Services are not supported: \(object.name) is left out")
            return
        }
        if let clusterIP = try spec.string("clusterIP"), clusterIP != "None", !clusterIP.isEmpty {
            spec.warn("clusterIP", "\(clusterIP) is not used: the name \(object.name) resolves to the selected pods' addresses")
        }
        // Cluster plumbing with nothing to do on one machine.
        spec.skip("clusterIPs", "ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy")
        if let affinity = try spec.string("sessionAffinity"), affinity != "None" {
            spec.warn("sessionAffinity", "\(affinity) is not supported: each DNS answer lists the pods in a new order")
        }
        let selector = try spec.stringMap("selector")
        guard !selector.isEmpty else {
            spec.warn("selector", "a Service without a selector selects no pod: \(object.name) is left out")
            _ = try spec.maps("ports")
            return
        }
        let selected = pods.filter { pod in
            selector.allSatisfy { wanted in pod.workload.labels.contains { $0.key == wanted.key && $0.value == wanted.value } }
        }
        if selected.isEmpty {
            spec.warn("selector", "selects no pod of the manifests: the name \(object.name) resolves to nothing")
        }
        for pod in selected {
            guard draft.service(pod.owner)?.network_mode == nil else {
                spec.warn("selector", "\(pod.workload.object.subject) uses the host's network: it has no address for the name \(object.name)")
                continue
            }
            if object.name != pod.owner {
                draft.updateService(pod.owner) { service in Self.addAlias(object.name, to: &service) }
            }
        }
        for port in try spec.maps("ports") {
            try translatePort(port, type: type, selected: selected)
        }
    }

    private func translatePort(_ port: ManifestMap, type: String, selected: [PodServices]) throws(KubeError) {
        guard let number = try port.int("port"), (1...65535).contains(number) else { throw port.error("port", "a port number is required") }
        let proto = (try port.string("protocol") ?? "TCP").uppercased()
        guard proto == "TCP" || proto == "UDP" else {
            port.warn("protocol", "\(proto) is not supported (TCP and UDP are): port \(number) left out")
            return
        }
        _ = try port.string("name")
        _ = try port.string("appProtocol")
        let nodePort = try port.int("nodePort")
        let targetPort = try port.intOrString("targetPort")
        for pod in selected {
            let target = try resolve(targetPort, default: number, in: pod, port: port)
            if type == "ClusterIP" {
                if target != number {
                    port.warn("targetPort", "clients of \(object.name) must use port \(target): berth resolves the name to the pods' addresses, with no port translation")
                }
                continue
            }
            // NodePort and LoadBalancer: a port on the host.
            let published = type == "NodePort" ? nodePort : (nodePort ?? number)
            if pod.workload.replicas > 1 {
                port.warn(
                    type == "NodePort" ? "nodePort" : "port",
                    "not published: one host port reaches one container, and \(pod.workload.object.subject) has \(pod.workload.replicas) replicas")
                continue
            }
            draft.updateService(pod.owner) { service in
                let config = PortConfig(target: UInt16(target), published: published.map(String.init), protocol: proto.lowercased())
                service.ports = (service.ports ?? []) + [config]
            }
        }
    }

    private func resolve(_ targetPort: IntOrString?, default number: Int64, in pod: PodServices, port: ManifestMap) throws(KubeError) -> Int64 {
        switch targetPort {
        case nil: return number
        case .int(let target)?:
            guard (1...65535).contains(target) else { throw port.error("targetPort", "\(target) is not a port number") }
            return target
        case .string(let name)?:
            guard let found = pod.ports.first(where: { $0.name == name }) else {
                throw port.error("targetPort", "\(pod.workload.object.subject) has no container port named \(name)")
            }
            return found.port
        }
    }

    static func addAlias(_ alias: String, to service: inout Service) {
        var networks = service.networks ?? KeyedMap([("default", nil)])
        let key = networks.keys.first ?? "default"
        var network = (networks[key] ?? nil) ?? ServiceNetwork()
        if !(network.aliases ?? []).contains(alias) { network.aliases = (network.aliases ?? []) + [alias] }
        let entry: ServiceNetwork? = network
        networks[key] = entry
        service.networks = networks
    }
}
