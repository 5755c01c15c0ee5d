import ComposeSpec

/// A pod to run: a Pod, or the pod template of a Deployment or ReplicaSet.
struct Workload {
    var object: ManifestObject
    var replicas: Int
    var labels: [(key: String, value: String)]
    var annotations: [(key: String, value: String)]
    var spec: ManifestMap
}

/// What a translated pod offers Kubernetes Services: the Compose service whose network
/// namespace the pod's containers share (it carries the Service names and ports), and the
/// pod's ports.
struct PodServices {
    var workload: Workload
    /// The Compose service that holds the pod's network (its first container).
    var owner: String
    var services: [String]
    var ports: [ContainerPort]
}

/// A pod → Compose services, one per container.
///
/// A pod with one container and no init containers becomes a service of the workload's
/// name. Otherwise the pod becomes a berth pod named after the workload (`x-berth: {pod:
/// NAME}`): each container a member `<workload>-<container>` (a lone container keeps the
/// workload's name), sharing the pod's network, IPC and UTS namespaces — localhost, one
/// address per replica, which the pod's Services' names reach — and each init container an
/// init member (`init: true`) that runs to completion, in order, before the others start in
/// each pod replica; a sidecar (an init container with restartPolicy Always) is a member
/// that starts before the containers and keeps running. A pod on the host's network or IPC
/// namespace (hostNetwork, hostIPC) is not a berth pod: its containers share the host's.
struct PodTranslator {
    let workload: Workload
    let index: ObjectIndex
    let draft: ComposeDraft

    var name: String { workload.object.name }

    func translate() throws(KubeError) -> PodServices {
        let spec = workload.spec
        let containers = try spec.maps("containers")
        guard !containers.isEmpty else { throw spec.error("containers", "a pod needs at least one container") }
        let initContainers = try spec.maps("initContainers")
        let defaults = try podDefaults()
        let volumes = try VolumeTranslator(pod: spec, containers: containers + initContainers, workload: name, index: index, draft: draft)
        let single = containers.count == 1
        let asPod = !defaults.hostNetwork && !defaults.hostIPC && (!single || !initContainers.isEmpty)

        // Init containers: run to completion, one after the other. A sidecar (an init
        // container with restartPolicy Always) starts before the app containers and keeps running.
        var previous: (name: String, condition: String)?
        for container in initContainers {
            let serviceName = "\(name)-\(try container.requiredString("name"))"
            var service = try base(container, defaults: defaults, volumes: volumes)
            let sidecar = try container.string("restartPolicy") == "Always"
            service.restart = sidecar ? "always" : "no"
            if let previous { service.depends_on = KeyedMap([(previous.name, DependsOn(condition: previous.condition))]) }
            if asPod {
                // Its ports land on the pod; the pod's replica count is its containers'.
                Self.addBerthKeys([("pod", .string(name))] + (sidecar ? [] : [("init", .bool(true))]), to: &service)
                try publishOwn(container, &service, defaults: defaults)
            } else {
                if workload.replicas == 0 { service.deploy = DeployConfig(replicas: 0) }
                try publishOwn(container, &service, defaults: defaults)
                if workload.replicas > 1 && !sidecar {
                    container.warn("name", "runs once before the \(workload.replicas) replicas start, not once per replica")
                }
            }
            try draft.addService(serviceName, service, from: workload.object.subject, at: container.mark)
            previous = (serviceName, sidecar ? DependsOn.started : DependsOn.completedSuccessfully)
        }

        var owner = ""
        var services: [String] = []
        var ports: [ContainerPort] = []
        for (position, container) in containers.enumerated() {
            let containerName = try container.requiredString("name")
            let serviceName = single ? name : "\(name)-\(containerName)"
            var service = try base(container, defaults: defaults, volumes: volumes)
            service.restart = defaults.restart
            service.deploy = service.deploy ?? DeployConfig(replicas: nil)
            service.deploy?.replicas = workload.replicas
            if let previous { service.depends_on = KeyedMap([(previous.name, DependsOn(condition: previous.condition))]) }
            let own = try ContainerTranslator(container: container, defaults: defaults, index: index).translate(into: &service)
            ports += own
            if asPod {
                Self.addBerthKeys([("pod", .string(name))], to: &service)
            }
            if position == 0 {
                owner = serviceName
            } else if !defaults.hostNetwork && !asPod {
                service.network_mode = "service:\(owner)"
            }
            try draft.addService(serviceName, service, from: workload.object.subject, at: container.mark)
            services.append(serviceName)
        }
        if !single && !defaults.hostNetwork && !asPod {
            spec.warn("containers", "hostIPC: the containers share the host's IPC namespace and \(owner)'s network namespace (localhost), but not a UTS namespace")
        }
        draft.updateService(owner) { service in Self.publish(ports, on: &service) }
        return PodServices(workload: workload, owner: owner, services: services, ports: ports)
    }

    /// The parts of a service every container of the pod has: labels, volumes, restart, DNS.
    private func base(_ container: ManifestMap, defaults: PodDefaults, volumes: VolumeTranslator) throws(KubeError) -> Service {
        var service = Service()
        if !defaults.labels.isEmpty { service.labels = KeyedMap(defaults.labels.map { ($0.key, $0.value) }) }
        if !defaults.annotations.isEmpty { service.annotations = KeyedMap(defaults.annotations.map { ($0.key, $0.value) }) }
        service.stop_grace_period = .seconds(defaults.gracePeriod)
        if defaults.hostNetwork { service.network_mode = "host" }
        if defaults.hostPID { service.pid = "host" }
        if defaults.hostIPC { service.ipc = "host" }
        service.hostname = defaults.hostname
        if !defaults.dns.isEmpty { service.dns = defaults.dns }
        if !defaults.dnsSearch.isEmpty { service.dns_search = defaults.dnsSearch }
        if !defaults.dnsOptions.isEmpty { service.dns_opt = defaults.dnsOptions }
        if !defaults.extraHosts.isEmpty { service.extra_hosts = KeyedMap(defaults.extraHosts.map { ($0.host, $0.addresses) }) }
        if !defaults.sysctls.isEmpty { service.sysctls = KeyedMap(defaults.sysctls.map { ($0.key, $0.value) }) }
        try volumes.mount(container, into: &service)
        let namedPorts = Dictionary(
            (container.node["ports"]?.items ?? []).compactMap { port -> (String, Int64)? in
                guard let name = port["name"]?.scalarText, case .int(let number)? = port["containerPort"]?.resolved else { return nil }
                return (name, number)
            }, uniquingKeysWith: { first, _ in first })
        let probes = try ProbeTranslator(container: container, namedPorts: namedPorts).translate()
        service.healthcheck = probes.healthcheck
        if probes.restartOnUnhealthy {
            service.extensions = Extensions([("x-berth", .map([("on-unhealthy", .string("restart"))]))])
        }
        return service
    }

    /// Adds keys to the service's `x-berth` mapping (which may hold `on-unhealthy` already).
    static func addBerthKeys(_ pairs: [(String, ComposeValue)], to service: inout Service) {
        var values = service.extensions?.values ?? []
        var berth: [(String, ComposeValue)] = []
        if let index = values.firstIndex(where: { $0.0 == "x-berth" }) {
            if case .map(let existing) = values[index].1 { berth = existing }
            values.remove(at: index)
        }
        for (key, value) in pairs where !berth.contains(where: { $0.0 == key }) { berth.append((key, value)) }
        values.append(("x-berth", .map(berth)))
        service.extensions = Extensions(values)
    }

    /// An init container's own settings and ports (it does not share the pod's network: the
    /// pod's first container, which holds it, starts after the init containers).
    private func publishOwn(_ container: ManifestMap, _ service: inout Service, defaults: PodDefaults) throws(KubeError) {
        let ports = try ContainerTranslator(container: container, defaults: defaults, index: index).translate(into: &service)
        Self.publish(ports, on: &service)
    }

    /// `hostPort`s → published ports; the other ports → `expose`.
    static func publish(_ ports: [ContainerPort], on service: inout Service) {
        for port in ports {
            if let hostPort = port.hostPort {
                var config = PortConfig(target: UInt16(port.port), published: String(hostPort), hostIP: port.hostIP, protocol: port.proto)
                config.name = port.name
                service.ports = (service.ports ?? []) + [config]
            } else {
                let text = port.proto == "tcp" ? String(port.port) : "\(port.port)/\(port.proto)"
                if !(service.expose ?? []).contains(text) { service.expose = (service.expose ?? []) + [text] }
            }
        }
    }

    // MARK: pod-level fields

    private func podDefaults() throws(KubeError) -> PodDefaults {
        let spec = workload.spec
        var defaults = PodDefaults()
        defaults.replicas = workload.replicas
        defaults.labels = workload.labels
        defaults.annotations = workload.annotations
        switch try spec.string("restartPolicy") ?? "Always" {
        case "Always": defaults.restart = "always"
        case "OnFailure": defaults.restart = "on-failure"
        case "Never": defaults.restart = "no"
        case let other: throw spec.error("restartPolicy", "\(other) is not Always, OnFailure or Never")
        }
        if let grace = try spec.seconds("terminationGracePeriodSeconds") { defaults.gracePeriod = grace }
        defaults.hostNetwork = try spec.bool("hostNetwork") ?? false
        defaults.hostPID = try spec.bool("hostPID") ?? false
        defaults.hostIPC = try spec.bool("hostIPC") ?? false
        defaults.hostname = try spec.string("hostname")
        if let subdomain = try spec.string("subdomain") {
            spec.warn("subdomain", "\(subdomain) is not supported: the pod is found by its Services' names")
        }
        if try spec.bool("shareProcessNamespace") == true {
            spec.warn("shareProcessNamespace", "not supported: each container has its own PID namespace")
        }
        switch try spec.string("dnsPolicy") ?? "ClusterFirst" {
        case "ClusterFirst", "ClusterFirstWithHostNet", "None": break
        case "Default": spec.warn("dnsPolicy", "Default is not supported: containers ask berth's DNS server, which forwards other names to the host's servers")
        case let other: throw spec.error("dnsPolicy", "\(other) is not ClusterFirst, ClusterFirstWithHostNet, Default or None")
        }
        if let config = try spec.map("dnsConfig") {
            defaults.dns = try config.strings("nameservers") ?? []
            defaults.dnsSearch = try config.strings("searches") ?? []
            for option in try config.maps("options") {
                let optionName = try option.requiredString("name")
                defaults.dnsOptions.append(try option.string("value").map { "\(optionName):\($0)" } ?? optionName)
            }
        }
        var hosts: [(host: String, addresses: [String])] = []
        for alias in try spec.maps("hostAliases") {
            let ip = try alias.requiredString("ip")
            for host in try alias.strings("hostnames") ?? [] {
                if let at = hosts.firstIndex(where: { $0.host == host }) { hosts[at].addresses.append(ip) } else { hosts.append((host, [ip])) }
            }
        }
        defaults.extraHosts = hosts
        if let security = try spec.map("securityContext") {
            defaults.runAsUser = try security.int("runAsUser")
            defaults.runAsGroup = try security.int("runAsGroup")
            defaults.runAsNonRoot = try security.bool("runAsNonRoot")
            if let profile = try security.map("seccompProfile") {
                defaults.seccomp = try profile.requiredString("type")
                if defaults.seccomp == "Localhost" { _ = try profile.string("localhostProfile") }
            }
            if let fsGroup = try security.int("fsGroup") {
                defaults.groups.append(String(fsGroup))
                security.warn("fsGroup", "\(fsGroup) is added to the containers' groups; volume ownership is not changed")
            }
            for group in security.value("supplementalGroups")?.items ?? [] {
                if case .int(let gid) = group.resolved, !defaults.groups.contains(String(gid)) { defaults.groups.append(String(gid)) }
            }
            for sysctl in try security.maps("sysctls") {
                defaults.sysctls.append((try sysctl.requiredString("name"), try sysctl.string("value") ?? ""))
            }
        }
        return defaults
    }
}
