import ComposeSpec

/// The project as the stack runs it when it has pods (`x-berth: {pod: NAME}`): each pod gets
/// a service of its own for its infra, `<pod>-infra`, whose containers (one per pod replica)
/// hold the pod's network, IPC and UTS namespaces and carry what the members declared about
/// the network — their networks with their service names and aliases as DNS names, their
/// published ports, DNS settings and extra hosts. The members join the infra of their own
/// replica (`service:<pod>-infra`), all run the pod's replica count, init members wait for the
/// one before them to complete, and the other members for the last init member.
///
/// Pure; the Compose file's own project (what `config` prints) is left alone.
public enum PodExpansion {
    public static func expand(_ project: Project) -> Project {
        let pods = project.pods
        guard !pods.isEmpty else { return project }
        var expanded = project
        var services: [(String, Service)] = []
        var placed = Set<String>()
        for (name, service) in project.services {
            // The infra comes before the pod's first member in the file.
            if let pod = pods.first(where: { $0.allMembers.contains(name) }), placed.insert(pod.name).inserted {
                services.append((Pod.infraService(pod.name), infra(pod, project: project)))
            }
            guard let pod = pods.first(where: { $0.allMembers.contains(name) }) else {
                services.append((name, service))
                continue
            }
            services.append((name, member(name, service, of: pod)))
        }
        expanded.services = KeyedMap(services)
        return expanded
    }

    /// `up` options for the expanded project: a pod runs as a whole — naming one member on
    /// the command line brings the pod's other members too, and `--scale` of a member scales
    /// the pod (members and infra); two different counts for one pod are an error.
    /// `withInfras`: the named pods' infra services too (for the expanded project, where
    /// `--no-deps` must not leave them out).
    public static func options(_ options: UpOptions, project: Project, withInfras: Bool = false) throws -> UpOptions {
        var out = options
        for pod in project.pods {
            if options.services.contains(where: pod.allMembers.contains) {
                out.services += pod.allMembers.filter { !out.services.contains($0) }
                if withInfras && !out.services.contains(Pod.infraService(pod.name)) { out.services.append(Pod.infraService(pod.name)) }
            }
            let asked = pod.allMembers.compactMap { member in options.scale[member].map { (member, $0) } }
            guard let first = asked.first else { continue }
            if let other = asked.first(where: { $0.1 != first.1 }) {
                throw EngineError("pod \"\(pod.name)\": --scale \(first.0)=\(first.1) and \(other.0)=\(other.1) disagree; the members of a pod scale together: give one count")
            }
            for member in pod.allMembers + [Pod.infraService(pod.name)] { out.scale[member] = first.1 }
        }
        return out
    }

    /// The infra's service: what the members declared about the network, the pod's replicas.
    static func infra(_ pod: Pod, project: Project) -> Service {
        var infra = Service()
        infra.scale = pod.replicas
        infra.hostname = pod.hostname
        infra.domainname = pod.domainname
        infra.ipc = "shareable"
        // The supervisor brings a pod replica whose infra died back (RestartHandling).
        infra.restart = "always"
        var networks = KeyedMap<ServiceNetwork?>()
        for name in project.services.keys where pod.allMembers.contains(name) {
            guard let member = project.services[name] else { continue }
            for (key, config) in member.networks ?? KeyedMap() {
                var merged = networks[key].flatMap { $0 } ?? ServiceNetwork()
                merged.aliases = unique((merged.aliases ?? []) + [name] + (config?.aliases ?? []))
                merged.ipv4_address = merged.ipv4_address ?? config?.ipv4_address
                merged.mac_address = merged.mac_address ?? config?.mac_address
                merged.interface_name = merged.interface_name ?? config?.interface_name
                if let priority = config?.gw_priority ?? config?.priority { merged.gw_priority = max(merged.gw_priority ?? priority, priority) }
                networks[key] = .some(merged)
            }
            infra.ports = (infra.ports ?? []) + (member.ports ?? [])
            infra.expose = union(infra.expose, member.expose)
            infra.dns = union(infra.dns, member.dns)
            infra.dns_search = union(infra.dns_search, member.dns_search)
            infra.dns_opt = union(infra.dns_opt, member.dns_opt)
            infra.mac_address = infra.mac_address ?? member.mac_address
            for (host, addresses) in member.extra_hosts ?? KeyedMap() {
                var hosts = infra.extra_hosts ?? KeyedMap()
                hosts[host] = unique((hosts[host] ?? []) + addresses)
                infra.extra_hosts = hosts
            }
        }
        infra.networks = networks.isEmpty ? nil : networks
        if infra.ports?.isEmpty == true { infra.ports = nil }
        return infra
    }

    /// A member: in the infra's namespaces, with the pod's replicas and start order.
    static func member(_ name: String, _ service: Service, of pod: Pod) -> Service {
        var member = service
        let infra = "service:" + Pod.infraService(pod.name)
        member.network_mode = infra
        member.ipc = infra
        member.uts = infra
        member.networks = nil
        member.ports = nil
        member.mac_address = nil
        member.hostname = pod.hostname
        member.domainname = pod.domainname
        if !member.declaresReplicas { member.scale = pod.replicas }
        var dependsOn = member.depends_on ?? KeyedMap()
        let previous: String?
        if let index = pod.initMembers.firstIndex(of: name) {
            previous = index > 0 ? pod.initMembers[index - 1] : nil
        } else {
            previous = pod.initMembers.last
        }
        if let previous, dependsOn[previous] == nil {
            dependsOn[previous] = DependsOn(condition: DependsOn.completedSuccessfully)
        }
        member.depends_on = dependsOn.isEmpty ? nil : dependsOn
        return member
    }

    static func union(_ a: [String]?, _ b: [String]?) -> [String]? {
        let all = unique((a ?? []) + (b ?? []))
        return all.isEmpty ? nil : all
    }

    static func unique(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }
}
