import ComposeSpec

/// A namespace a container shares with another container (Compose's `network_mode`, `ipc`,
/// `pid`, `uts` and `cgroup` set to `service:NAME` or `container:NAME`; a pod member's
/// network, IPC and UTS). Kept in the launch config and resolved by the supervisor at each
/// start to the container that runs then, so that a joiner started again after its target
/// was recreated joins the new one.
public struct NamespaceJoin: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case network, ipc, pid, uts, cgroup

        /// The file under `/proc/PID/ns/`.
        public var file: String { self == .network ? "net" : rawValue }

        /// The Compose key that asks for it.
        public var key: String { self == .network ? "network_mode" : rawValue }
    }

    public var namespace: Kind
    /// `service:NAME`: a running container of that service of the project — the one with
    /// `replica` as its number when given (a pod member joins its own pod replica's infra),
    /// else the one with the lowest number (as Compose picks the service's first container).
    public var service: String?
    /// `container:NAME`: that container.
    public var container: String?
    public var replica: Int?

    public init(namespace: Kind, service: String? = nil, container: String? = nil, replica: Int? = nil) {
        self.namespace = namespace
        self.service = service
        self.container = container
        self.replica = replica
    }

    /// How the join is written in the Compose file (`service:db`), for messages.
    public var reference: String {
        if let service { return "service:" + service }
        return "container:" + (container ?? "")
    }

    /// The service's `service:`/`container:` namespace modes; nil when it has none.
    static func of(_ service: Service) -> [NamespaceJoin]? {
        let modes: [(Kind, String?)] = [
            (.network, service.network_mode), (.ipc, service.ipc), (.pid, service.pid), (.uts, service.uts), (.cgroup, service.cgroup),
        ]
        let joins = modes.compactMap { kind, value -> NamespaceJoin? in
            guard let value else { return nil }
            if value.hasPrefix("service:") { return NamespaceJoin(namespace: kind, service: String(value.dropFirst(8))) }
            if value.hasPrefix("container:") { return NamespaceJoin(namespace: kind, container: String(value.dropFirst(10))) }
            return nil
        }
        return joins.isEmpty ? nil : joins
    }
}
