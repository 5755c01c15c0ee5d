import ComposeSpec

/// Compose services that run as one pod: a berth pod (`x-berth: {pod: NAME}`) with all its
/// members — its init members as init containers — or a service of its own.
struct PodGroup {
    var name: String
    var services: [String]
    var initServices: [String] = []
    /// A berth pod (its members' names reach it; a lone service is reached by its own).
    var isPod = false

    static func groups(_ project: Project, services selected: [String]) -> [PodGroup] {
        var groups: [PodGroup] = []
        for name in selected {
            guard let pod = project.pod(of: name) else {
                groups.append(PodGroup(name: name, services: [name]))
                continue
            }
            if groups.contains(where: { $0.isPod && $0.name == pod.name }) { continue }
            groups.append(PodGroup(name: pod.name, services: pod.members, initServices: pod.initMembers, isPod: true))
        }
        return groups
    }
}

/// A pod group → a Deployment and the Service that reaches its ports.
struct PodTemplateWriter {
    let group: PodGroup
    let context: GenerateContext

    var name: String { KubeNames.label(group.name) }

    func write() {
        let project = context.project
        let members = group.services.compactMap { name in project.services[name].map { (name, $0) } }
        guard let (_, first) = members.first else { return }
        var volumes = PodVolumes()
        // Init members: the pod's init containers, in the order they run.
        var initContainers: [OutputValue] = []
        for serviceName in group.initServices {
            guard let service = project.services[serviceName] else { continue }
            let writer = ContainerWriter(name: KubeNames.label(serviceName), service: service, context: context, subject: "service \"\(serviceName)\"")
            initContainers.append(writer.container(volumes: &volumes, probes: false))
        }
        var containers: [OutputValue] = []
        var ports: [(port: Int64, proto: String)] = []
        var labels = context.selector(name)
        var annotations: [(String, String)] = []
        var pod: [(String, OutputValue?)] = []
        for (serviceName, service) in members {
            let subject = "service \"\(serviceName)\""
            let writer = ContainerWriter(name: KubeNames.label(serviceName), service: service, context: context, subject: subject)
            containers.append(writer.container(volumes: &volumes))
            ports += writer.servicePorts.filter { port in !ports.contains { $0 == port } }
            for (key, value) in (service.labels ?? KeyedMap()).sortedByKey() where !labels.contains(where: { $0.0 == key }) {
                if KubeNames.isLabelKey(key) && KubeNames.isLabelValue(value) {
                    labels.append((key, value))
                } else {
                    annotations.append((key, value))
                    context.report.warn(subject, "labels.\(key)", "not a valid Kubernetes label: written as an annotation")
                }
            }
            for (key, value) in (service.annotations ?? KeyedMap()).sortedByKey() { annotations.append((key, value)) }
            reportPodLevel(serviceName, service, subject: subject)
        }
        pod.append(("initContainers", KubeTree.list(initContainers)))
        pod.append(("containers", .list(containers)))
        pod.append(("volumes", volumes.list))
        let grace = first.stop_grace_period.map { KubeTree.seconds($0, minimum: 0) } ?? 10
        pod.append(("terminationGracePeriodSeconds", .int(grace)))
        pod.append(("hostname", first.hostname.map { .string($0) }))
        pod.append(("hostNetwork", first.network_mode == "host" ? .bool(true) : nil))
        pod.append(("hostPID", first.pid == "host" ? .bool(true) : nil))
        pod.append(("hostIPC", first.ipc == "host" ? .bool(true) : nil))
        pod.append(("dnsConfig", dnsConfig(first)))
        pod.append(("hostAliases", hostAliases(first, subject: "service \"\(group.name)\"")))
        pod.append(("securityContext", podSecurity(first, subject: "service \"\(group.name)\"")))

        let selector = context.selector(name)
        let replicas = group.isPod ? project.pod(of: group.services[0])?.replicas ?? first.replicas : first.replicas
        context.deployments[name] = KubeTree.tree([
            ("apiVersion", .string("apps/v1")), ("kind", .string("Deployment")),
            ("metadata", context.metadata(name: name, labels: selector)),
            ("spec", KubeTree.tree([
                ("replicas", .int(Int64(replicas))),
                ("selector", .map([("matchLabels", .map(selector.map { ($0.0, .string($0.1)) }))])),
                ("template", KubeTree.tree([
                    ("metadata", KubeTree.tree([("labels", KubeTree.strings(labels)), ("annotations", KubeTree.strings(annotations))])),
                    ("spec", KubeTree.tree(pod)),
                ])),
            ])),
        ])
        guard !ports.isEmpty else { return }
        // The service's DNS names: its own (a pod's: its members'), and its network aliases.
        var names = group.isPod ? group.services.map { KubeNames.label($0) } : [name]
        for alias in members.flatMap({ member in (member.1.networks ?? KeyedMap()).values.flatMap { $0?.aliases ?? [] } }) {
            let aliasName = KubeNames.label(alias)
            if !names.contains(aliasName) { names.append(aliasName) }
        }
        for serviceName in names {
            context.services[serviceName] = KubeTree.tree([
                ("apiVersion", .string("v1")), ("kind", .string("Service")),
                ("metadata", context.metadata(name: serviceName, labels: selector)),
                ("spec", .map([
                    ("selector", .map(selector.map { ($0.0, .string($0.1)) })),
                    ("ports", .list(ports.map { port in
                        .map([
                            ("name", .string("\(port.proto)-\(port.port)")), ("port", .int(port.port)), ("targetPort", .int(port.port)),
                            ("protocol", .string(port.proto.uppercased())),
                        ])
                    })),
                ])),
            ])
        }
    }

    /// What a pod has once for all its containers, and Compose keys with no Kubernetes
    /// counterpart at all.
    private func reportPodLevel(_ serviceName: String, _ service: Service, subject: String) {
        let report = context.report
        switch service.restart {
        case nil, "always", "unless-stopped": break
        case let policy?: report.warn(subject, "restart", "\(policy): a Deployment's pods always restart (restartPolicy Always)")
        }
        if let dependencies = service.depends_on?.keys.filter({ !group.initServices.contains($0) }), !dependencies.isEmpty {
            report.warn(subject, "depends_on", "not translated: Kubernetes starts pods in no order; readiness probes gate traffic instead")
        }
        switch service.network_mode {
        case nil, "host", "bridge": break
        case let mode?: report.warn(subject, "network_mode", "\(mode) is not translated: the pod gets its own network")
        }
        if let networks = service.networks, networks.count > 1 || networks.keys.first != "default" {
            report.warn(subject, "networks", "Kubernetes has one network for all pods: \(networks.keys.joined(separator: ", ")) are not kept apart")
        }
        for (key, value) in [("pid", service.pid), ("ipc", service.ipc)] {
            if let value, value != "host" { report.warn(subject, key, "\(value) is not translated") }
        }
        if service.group_add?.contains(where: { Int64($0) == nil }) == true {
            report.warn(subject, "group_add", "only numeric groups are translated (supplementalGroups)")
        }
        if let deploy = service.deploy {
            let handled: Set<String> = ["replicas", "resources"]
            if case .map(let pairs)? = try? OutputEncoder().encode(deploy) {
                for (key, _) in pairs where !handled.contains(key) { report.warn(subject, "deploy.\(key)", "not translated") }
            }
        }
    }

    private func dnsConfig(_ service: Service) -> OutputValue? {
        let options = (service.dns_opt ?? []).map { option -> OutputValue in
            let parts = option.split(separator: ":", maxSplits: 1).map(String.init)
            return KubeTree.tree([("name", .string(parts[0])), ("value", parts.count > 1 ? .string(parts[1]) : nil)])
        }
        let fields: [(String, OutputValue?)] = [
            ("nameservers", KubeTree.list((service.dns ?? []).map { .string($0) })),
            ("searches", KubeTree.list((service.dns_search ?? []).map { .string($0) })),
            ("options", KubeTree.list(options)),
        ]
        return fields.contains { $0.1 != nil } ? KubeTree.tree(fields) : nil
    }

    private func hostAliases(_ service: Service, subject: String) -> OutputValue? {
        var byAddress: [(ip: String, hosts: [String])] = []
        for (host, addresses) in (service.extra_hosts ?? KeyedMap()).sortedByKey() {
            for address in addresses {
                if address == "host-gateway" {
                    context.report.warn(subject, "extra_hosts.\(host)", "host-gateway has no Kubernetes equivalent: not translated")
                    continue
                }
                if let at = byAddress.firstIndex(where: { $0.ip == address }) { byAddress[at].hosts.append(host) } else { byAddress.append((address, [host])) }
            }
        }
        return KubeTree.list(byAddress.map { .map([("ip", .string($0.ip)), ("hostnames", .list($0.hosts.map { .string($0) }))]) })
    }

    private func podSecurity(_ service: Service, subject: String) -> OutputValue? {
        let groups = (service.group_add ?? []).compactMap { Int64($0) }.map { OutputValue.int($0) }
        let sysctls = (service.sysctls ?? KeyedMap()).sortedByKey().map { OutputValue.map([("name", .string($0.key)), ("value", .string($0.value))]) }
        let fields: [(String, OutputValue?)] = [("supplementalGroups", KubeTree.list(groups)), ("sysctls", KubeTree.list(sysctls))]
        return fields.contains { $0.1 != nil } ? KubeTree.tree(fields) : nil
    }
}
