import ComposeSpec

/// A container of the project as found on the machine (by its labels).
public struct ObservedContainer: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case created
        case running
        case paused
        case restarting
        case exited(Int32)

        public var isRunning: Bool {
            switch self {
            case .running, .paused, .restarting: return true
            case .created, .exited: return false
            }
        }
    }

    public var name: String
    public var service: String
    public var number: Int
    public var configHash: String
    /// The image digest the container was created from (`com.docker.compose.image`).
    public var imageDigest: String?
    public var oneOff: Bool
    public var state: State

    public init(name: String, service: String, number: Int, configHash: String, imageDigest: String? = nil, oneOff: Bool = false, state: State) {
        self.name = name
        self.service = service
        self.number = number
        self.configHash = configHash
        self.imageDigest = imageDigest
        self.oneOff = oneOff
        self.state = state
    }
}

/// `up`/`create` options that shape the plan.
public struct UpOptions: Sendable, Equatable {
    /// The services named on the command line; empty means all.
    public var services: [String] = []
    public var noDeps = false
    public var forceRecreate = false
    public var noRecreate = false
    public var removeOrphans = false
    /// `--scale SERVICE=N`.
    public var scale: [String: Int] = [:]
    /// `create`: containers are created, not started.
    public var noStart = false
    /// `-t/--timeout`: seconds to wait for containers that are replaced to stop (nil: each
    /// container's own grace period).
    public var timeout: Int?
    /// `-V/--renew-anon-volumes`: recreated containers get new anonymous volumes.
    public var renewAnonymousVolumes = false

    public init() {}
}

/// What happens to one container.
public enum ContainerAction: Sendable, Equatable {
    /// A new container with this name and number (then started, unless `noStart`).
    case create(name: String, number: Int)
    /// The config changed (or `--force-recreate`): the old container is replaced by a new
    /// one with the same name and number.
    case recreate(old: String, name: String, number: Int)
    /// Like `recreate`, for a running container of a service with `deploy.update_config`:
    /// replaced by the rolling update (`RollingUpdate`), its new container started next to it
    /// or after it, per the update's order.
    case update(old: String, name: String, number: Int)
    /// Exists, up to date, not running.
    case start(name: String)
    /// Running and up to date: nothing to do.
    case keep(name: String)
    /// Running and up to date, but a dependency with `restart: true` is recreated.
    case restart(name: String)
    /// Beyond the wanted scale: stopped and removed.
    case remove(name: String)
    /// Up to date but under another name (an update cut short left it under its temporary
    /// name): renamed once the step's other containers are done.
    case rename(old: String, name: String)

    /// A new container takes this one's place (`recreate`, `update`).
    public var replaces: Bool {
        switch self {
        case .recreate, .update: return true
        case .create, .start, .keep, .restart, .remove, .rename: return false
        }
    }

    /// The container the action is about as it is now (nil for `create`).
    public var existingName: String? {
        switch self {
        case .create: return nil
        case .recreate(let old, _, _), .update(let old, _, _), .rename(let old, _): return old
        case .start(let name), .keep(let name), .restart(let name), .remove(let name): return name
        }
    }

    public var containerName: String {
        switch self {
        case .create(let name, _), .recreate(_, let name, _), .update(_, let name, _), .start(let name), .keep(let name),
             .restart(let name), .remove(let name), .rename(_, let name):
            return name
        }
    }
}

/// The result of planning an `up`: services in dependency levels (the services of a
/// level start in parallel, each after its own dependencies' conditions hold).
public struct Plan: Sendable, Equatable {
    public struct ServiceStep: Sendable, Equatable {
        public var service: String
        /// The dependencies to wait for before this service's containers start (only
        /// services of this plan that run: scale 0 and `--no-deps` ones are not waited on).
        public var waitFor: [Dependency]
        public var actions: [ContainerAction]
        /// How the `update` actions roll, and roll back (the service's `deploy.update_config`
        /// and `deploy.rollback_config`).
        public var updatePolicy: RolloutPolicy? = nil
    }

    /// A berth pod whose members have `deploy.update_config`: its running pod replicas that
    /// are out of date (any of their containers) are replaced whole by a rolling update,
    /// after the steps, which keep their containers.
    public struct PodUpdate: Sendable, Equatable {
        public var pod: String
        public var policy: RolloutPolicy
        public var replicas: [Int]
    }

    public var levels: [[ServiceStep]]
    /// Containers of services that are no longer in the project.
    public var orphans: [String]
    /// Orphans are removed (`--remove-orphans`) or only warned about.
    public var removeOrphans: Bool
    public var warnings: [String]
    public var podUpdates: [PodUpdate] = []

    public var steps: [ServiceStep] { levels.flatMap { $0 } }

    public func step(_ service: String) -> ServiceStep? { steps.first { $0.service == service } }
}

public enum PlanError: Error, Sendable, Equatable, CustomStringConvertible {
    case noSuchService(String)
    case cycle(DependencyCycle)
    case containerNameWithScale(service: String, name: String, scale: Int)
    /// A published host port (or a range) with fewer ports than the service has replicas.
    case hostPortWithScale(service: String, port: PortConfig, scale: Int)
    case updateConfig(ServiceConfigError)

    public var description: String {
        switch self {
        case .noSuchService(let name): return "no such service: \(name)"
        case .cycle(let cycle): return cycle.description
        case .updateConfig(let error): return error.description
        case .containerNameWithScale(let service, let name, _):
            // Compose's `doubledContainerNameWarning`.
            return "The \"\(service)\" service is using the custom container name \"\(name)\". berth requires each container to have a unique name. Remove the custom name to scale the service"
        case .hostPortWithScale(let service, let port, let scale):
            // Compose v1's warning, made an error before anything starts.
            let published = port.published ?? ""
            let ip = port.host_ip.map { $0 + ":" } ?? ""
            let proto = port.protocol.map { $0 == "tcp" ? "" : "/" + $0 } ?? ""
            let low = published.split(separator: "-").first.flatMap { UInt16($0) } ?? 0
            let range = "\(ip)\(low)-\(Int(low) + scale - 1):\(port.target)\(proto)"
            return "The \"\(service)\" service specifies a port on the host (\(ip)\(published):\(port.target)\(proto)) and runs \(scale) containers: the port will clash. Publish a range with a host port per replica (\"\(range)\") or leave the host port out (\"\(port.target)\(proto)\")"
        }
    }
}

/// Diffs the project against what runs (Compose's `convergence.go`): pure, no I/O.
public enum Planner {
    /// - Parameters:
    ///   - configHashes: the expected config hash per service (`CanonicalOutput.configHash`).
    ///   - imageDigests: the digest of each service's image as it is now in the store; a
    ///     container made from another digest is recreated.
    public static func planUp(
        project: Project, observed: [ObservedContainer], options: UpOptions,
        configHashes: [String: String], imageDigests: [String: String] = [:]
    ) throws(PlanError) -> Plan {
        let graph = DependencyGraph(project: project)
        for name in options.services where project.services[name] == nil {
            throw PlanError.noSuchService(name)
        }
        let selected = options.services.isEmpty ? graph.services
            : (options.noDeps ? graph.services.filter(options.services.contains) : graph.withDependencies(options.services))
        let levels: [[String]]
        do { levels = try graph.levels(selected) } catch { throw PlanError.cycle(error) }

        let serviceContainers = observed.filter { !$0.oneOff }
        var actions: [String: [ContainerAction]] = [:]
        var policies: [String: RolloutPolicy] = [:]
        var recreated = Set<String>()
        for name in selected {
            guard let service = project.services[name] else { continue }
            let scale = options.scale[name] ?? service.replicas
            try checkScale(name, service, scale)
            let mine = serviceContainers.filter { $0.service == name }
            if !options.noStart {
                do { policies[name] = try RolloutPolicy(service: name, service.deploy) } catch { throw PlanError.updateConfig(error) }
            }
            actions[name] = reconcile(
                project: project, service: name, config: service, containers: mine, scale: scale, options: options,
                hash: configHashes[name] ?? "", imageDigest: imageDigests[name], rolling: policies[name] != nil)
            if actions[name]?.contains(where: \.replaces) == true {
                recreated.insert(name)
            }
        }
        // A service whose namespaces another joins (`network_mode: service:x`, `ipc`, `pid`,
        // `uts`, `cgroup`) is recreated: so are the joiners, which would keep the old
        // container's namespaces — in level order, so that joiners of joiners follow.
        for name in levels.joined() {
            guard let service = project.services[name], let current = actions[name],
                  NamespaceJoin.of(service)?.contains(where: { $0.service.map(recreated.contains) == true }) == true else { continue }
            let mine = serviceContainers.filter { $0.service == name }
            actions[name] = replacing(current, containers: mine, project: project, service: name, config: service, rolling: policies[name] != nil)
            if actions[name]?.contains(where: \.replaces) == true { recreated.insert(name) }
        }
        // `depends_on: {x: {restart: true}}`: recreating x restarts its running dependents.
        for name in selected {
            let restartOn = (graph.dependencies[name] ?? []).filter { $0.restart && recreated.contains($0.service) }
            guard !restartOn.isEmpty else { continue }
            actions[name] = actions[name]?.map { action in
                if case .keep(let container) = action { return .restart(name: container) }
                return action
            }
        }

        let podUpdates = options.noStart ? [] : foldPodUpdates(project: project, actions: &actions, policies: policies, containers: serviceContainers)

        let running = Set(selected.filter { (options.scale[$0] ?? project.services[$0]?.replicas ?? 1) > 0 })
        let steps = levels.map { level in
            level.map { name in
                Plan.ServiceStep(
                    service: name,
                    waitFor: (graph.dependencies[name] ?? []).filter { running.contains($0.service) },
                    actions: actions[name] ?? [],
                    updatePolicy: (actions[name] ?? []).contains { if case .update = $0 { return true } else { return false } } ? policies[name] : nil)
            }
        }

        let known = Set(project.services.keys).union(project.disabledServices.keys)
        let orphans = serviceContainers.filter { !known.contains($0.service) }.map(\.name).sorted()
        var warnings: [String] = []
        if !orphans.isEmpty && !options.removeOrphans {
            warnings.append("Found orphan containers (\(orphans.joined(separator: ", "))) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.")
        }
        return Plan(levels: steps, orphans: orphans, removeOrphans: options.removeOrphans, warnings: warnings, podUpdates: podUpdates)
    }

    /// Rolling updates act on whole pod replicas: in a pod whose members have an update
    /// policy (the first member's that declares one), a running pod replica (its infra runs)
    /// with any container to replace is updated whole; its containers' actions become `keep`.
    static func foldPodUpdates(
        project: Project, actions: inout [String: [ContainerAction]], policies: [String: RolloutPolicy], containers: [ObservedContainer]
    ) -> [Plan.PodUpdate] {
        var updates: [Plan.PodUpdate] = []
        for pod in project.pods {
            guard let policy = pod.allMembers.lazy.compactMap({ policies[$0] }).first else { continue }
            let infra = Pod.infraService(pod.name)
            let services = [infra] + pod.allMembers
            let live = Set(containers.filter { $0.service == infra && $0.state.isRunning }.map(\.number))
            func number(_ name: String?) -> Int? { containers.first { $0.name == name }.map(\.number) }
            var replicas = Set<Int>()
            for service in services {
                for action in actions[service] ?? [] where action.replaces {
                    if let n = number(action.existingName), live.contains(n) { replicas.insert(n) }
                }
            }
            guard !replicas.isEmpty else { continue }
            for service in services {
                actions[service] = actions[service]?.compactMap { action in
                    guard let existing = action.existingName, let n = number(existing), replicas.contains(n) else { return action }
                    switch action {
                    case .remove: return action
                    case .rename: return nil
                    default: return .keep(name: existing)
                    }
                }
            }
            updates.append(Plan.PodUpdate(pod: pod.name, policy: policy, replicas: replicas.sorted()))
        }
        return updates
    }

    /// Compose refuses `container_name` with more than one replica; a host port (or a range
    /// with fewer ports than replicas) would make all but one of them fail to start — both
    /// are errors before anything starts.
    static func checkScale(_ name: String, _ service: Service, _ scale: Int) throws(PlanError) {
        guard scale > 1 else { return }
        if let fixed = service.container_name {
            throw PlanError.containerNameWithScale(service: name, name: fixed, scale: scale)
        }
        for port in service.ports ?? [] {
            guard let published = port.published, !published.isEmpty else { continue }
            let bounds = published.split(separator: "-").compactMap { Int($0) }
            guard let low = bounds.first, let high = bounds.last else { continue }
            if high - low + 1 < scale { throw PlanError.hostPortWithScale(service: name, port: port, scale: scale) }
        }
    }

    /// `actions` with every container that stays replaced: recreated, or updated when
    /// `rolling` and it runs.
    static func replacing(
        _ actions: [ContainerAction], containers: [ObservedContainer], project: Project, service name: String, config: Service, rolling: Bool
    ) -> [ContainerAction] {
        var renamed = Set<String>()
        let replaced = actions.map { action -> ContainerAction in
            let kept: String
            switch action {
            case .keep(let container), .start(let container), .restart(let container): kept = container
            default: return action
            }
            guard let observed = containers.first(where: { $0.name == kept }) else { return action }
            renamed.insert(kept)
            let own = Naming.containerName(project: project.name, service: name, number: observed.number, serviceConfig: config)
            return rolling && observed.state.isRunning
                ? .update(old: kept, name: own, number: observed.number) : .recreate(old: kept, name: own, number: observed.number)
        }
        return replaced.filter { action in
            if case .rename(let old, _) = action { return !renamed.contains(old) }
            return true
        }
    }

    /// One service: keep the up-to-date containers with the lowest numbers, recreate the
    /// obsolete ones that stay (`rolling`: update the running ones), remove the rest, and
    /// number new ones after the highest.
    static func reconcile(
        project: Project, service name: String, config: Service, containers: [ObservedContainer], scale: Int,
        options: UpOptions, hash: String, imageDigest: String?, rolling: Bool = false
    ) -> [ContainerAction] {
        func obsolete(_ c: ObservedContainer) -> Bool {
            if options.noRecreate { return false }
            if options.forceRecreate { return true }
            if c.configHash != hash { return true }
            if let imageDigest, let theirs = c.imageDigest, theirs != imageDigest { return true }
            return false
        }
        func canonical(_ number: Int) -> String {
            Naming.containerName(project: project.name, service: name, number: number, serviceConfig: config)
        }
        // A number held by several containers (an update cut short): the best one stays —
        // up to date, then running, then under its own name; the others go.
        var unique: [Int: ObservedContainer] = [:]
        var duplicates: [ObservedContainer] = []
        let preferred = containers.sorted { a, b in
            let ka = (obsolete(a) ? 1 : 0, a.state.isRunning ? 0 : 1, a.name == canonical(a.number) ? 0 : 1, a.name)
            let kb = (obsolete(b) ? 1 : 0, b.state.isRunning ? 0 : 1, b.name == canonical(b.number) ? 0 : 1, b.name)
            return ka < kb
        }
        for container in preferred {
            if unique[container.number] == nil { unique[container.number] = container } else { duplicates.append(container) }
        }
        let sorted = unique.values.sorted { a, b in
            let (oa, ob) = (obsolete(a), obsolete(b))
            if oa != ob { return !oa }
            return a.number < b.number
        }
        var out: [ContainerAction] = []
        for (index, container) in sorted.enumerated() {
            let own = canonical(container.number)
            if index >= scale {
                out.append(.remove(name: container.name))
            } else if obsolete(container) {
                out.append(rolling && container.state.isRunning
                    ? .update(old: container.name, name: own, number: container.number)
                    : .recreate(old: container.name, name: own, number: container.number))
            } else {
                // A pod's init member that has completed stays so while its pod replica stays
                // (Kubernetes runs init containers once per pod).
                let completedInit = config.isPodInit && container.state == .exited(0)
                out.append(container.state.isRunning || options.noStart || completedInit ? .keep(name: container.name) : .start(name: container.name))
                if container.name != own { out.append(.rename(old: container.name, name: own)) }
            }
        }
        out += duplicates.map { .remove(name: $0.name) }
        var next = (containers.map(\.number).max() ?? 0) + 1
        for _ in sorted.count..<max(scale, sorted.count) {
            out.append(.create(name: canonical(next), number: next))
            next += 1
        }
        return out
    }
}
