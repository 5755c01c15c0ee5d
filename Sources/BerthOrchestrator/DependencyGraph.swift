import ComposeSpec

/// One edge of the service graph: `service` waits for `dependency`.
public struct Dependency: Sendable, Equatable {
    public enum Condition: String, Sendable {
        case started = "service_started"
        case healthy = "service_healthy"
        case completedSuccessfully = "service_completed_successfully"
    }

    public var service: String
    public var condition: Condition
    public var required: Bool
    /// `restart: true`: recreating the dependency restarts the dependent.
    public var restart: Bool

    public init(service: String, condition: Condition = .started, required: Bool = true, restart: Bool = false) {
        self.service = service
        self.condition = condition
        self.required = required
        self.restart = restart
    }
}

public struct DependencyCycle: Error, Sendable, Equatable, CustomStringConvertible {
    /// The services of the cycle, the first repeated at the end (`a → b → a`).
    public var path: [String]
    public var description: String {
        "dependency cycle between services: \(path.joined(separator: " → ")); remove one of these depends_on, links, network_mode or volumes_from references"
    }
}

/// The services' start order. Besides `depends_on`, Compose orders by the references that
/// need the other service's container to exist (compose-go `inferImplicitDependencies`):
/// `links`, `network_mode`/`ipc`/`pid`/`uts`/`cgroup: service:X`, and `volumes_from: X` —
/// each as `service_started`, required.
public struct DependencyGraph: Sendable {
    /// Service → what it waits for, `depends_on` entries first in file order.
    public let dependencies: [String: [Dependency]]
    /// The services in the order of the file.
    public let services: [String]

    public init(project: Project) {
        var dependencies: [String: [Dependency]] = [:]
        var services: [String] = []
        let known = Set(project.services.keys)
        for (name, service) in project.services {
            services.append(name)
            var edges: [Dependency] = []
            for (dep, config) in service.depends_on ?? KeyedMap() {
                edges.append(Dependency(
                    service: dep, condition: Dependency.Condition(rawValue: config.condition) ?? .started,
                    required: config.required, restart: config.restart ?? false))
            }
            for implied in Self.impliedDependencies(service) where known.contains(implied) && !edges.contains(where: { $0.service == implied }) {
                edges.append(Dependency(service: implied))
            }
            dependencies[name] = edges
        }
        self.dependencies = dependencies
        self.services = services
    }

    static func impliedDependencies(_ service: Service) -> [String] {
        var out: [String] = []
        for mode in [service.network_mode, service.ipc, service.pid, service.uts, service.cgroup] {
            if let mode, mode.hasPrefix("service:") { out.append(String(mode.dropFirst(8))) }
        }
        for source in service.volumes_from ?? [] where !source.hasPrefix("container:") {
            let named = source.hasPrefix("service:") ? source.dropFirst(8) : Substring(source)
            out.append(String(named.split(separator: ":", maxSplits: 1).first ?? ""))
        }
        for link in service.links ?? [] {
            out.append(String(link.split(separator: ":", maxSplits: 1).first ?? ""))
        }
        return out
    }

    /// The services that wait for `service`.
    public func dependents(of service: String) -> [String] {
        services.filter { dependencies[$0]?.contains { $0.service == service } == true }
    }

    /// `selected` and everything they depend on, transitively (what `up SERVICE…` starts
    /// without `--no-deps`), in file order.
    public func withDependencies(_ selected: [String]) -> [String] {
        var seen = Set<String>()
        var stack = selected
        while let next = stack.popLast() {
            guard seen.insert(next).inserted else { continue }
            stack += (dependencies[next] ?? []).map(\.service)
        }
        return services.filter(seen.contains)
    }

    /// `selected` and everything that depends on them, transitively (what `stop`/`down`
    /// of a service must stop first).
    public func withDependents(_ selected: [String]) -> [String] {
        var seen = Set<String>()
        var stack = selected
        while let next = stack.popLast() {
            guard seen.insert(next).inserted else { continue }
            stack += dependents(of: next)
        }
        return services.filter(seen.contains)
    }

    /// `among` in start order as levels: each level depends only on earlier ones, so the
    /// services of one level start in parallel. Dependencies outside `among` are ignored
    /// (`--no-deps`). Throws the first cycle found, with its path.
    public func levels(_ among: [String]) throws(DependencyCycle) -> [[String]] {
        let members = Set(among)
        let ordered = services.filter(members.contains)
        var level: [String: Int] = [:]
        var visiting: [String] = []

        func depth(_ name: String) throws(DependencyCycle) -> Int {
            if let known = level[name] { return known }
            if let index = visiting.firstIndex(of: name) {
                throw DependencyCycle(path: Array(visiting[index...]) + [name])
            }
            visiting.append(name)
            var deepest = -1
            for dep in dependencies[name] ?? [] where members.contains(dep.service) {
                deepest = max(deepest, try depth(dep.service))
            }
            visiting.removeLast()
            level[name] = deepest + 1
            return deepest + 1
        }

        for name in ordered { _ = try depth(name) }
        let count = (level.values.max() ?? -1) + 1
        return (0..<count).map { n in ordered.filter { level[$0] == n } }
    }
}
