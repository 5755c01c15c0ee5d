/// One replica of a berth pod as found on the machine (by the containers' `io.berth.pod`
/// labels): its infra, which holds the pod's namespaces and address, and its members.
public struct PodReplica: Sendable, Equatable {
    public var pod: String
    public var number: Int
    public var project: String
    public var infra: ContainerRecord?
    /// Init members first, then the others; by name within each.
    public var members: [ContainerRecord]

    /// `app-1`: pod `app`, replica 1 (what `ps` and `pod ls` show).
    public var name: String { "\(pod)-\(number)" }

    /// The members that are not init members: those whose readiness makes the pod's.
    public var appMembers: [ContainerRecord] { members.filter { $0.label(Label.podInit) != "True" } }

    /// The project's pod replicas, by pod name then number.
    public static func all(_ records: [ContainerRecord]) -> [PodReplica] {
        var replicas: [String: PodReplica] = [:]
        for record in records where !record.oneOff {
            guard let pod = record.label(Label.pod) else { continue }
            let key = record.label(Label.podSandbox) ?? "\(record.project)/\(pod)/\(record.number)"
            var replica = replicas[key] ?? PodReplica(pod: pod, number: record.number, project: record.project, infra: nil, members: [])
            if record.label(Label.podInfra) == "True" { replica.infra = record } else { replica.members.append(record) }
            replicas[key] = replica
        }
        return replicas.values.map { replica in
            var sorted = replica
            sorted.members.sort { a, b in
                let (ia, ib) = (a.label(Label.podInit) == "True", b.label(Label.podInit) == "True")
                return ia != ib ? ia : a.name < b.name
            }
            return sorted
        }.sorted { ($0.pod, $0.number) < ($1.pod, $1.number) }
    }

    /// The replica `record` belongs to (its infra or a member), among `records`.
    public static func of(_ record: ContainerRecord, among records: [ContainerRecord]) -> PodReplica? {
        guard let pod = record.label(Label.pod) else { return nil }
        let sandbox = record.label(Label.podSandbox)
        return all(records.filter { other in
            other.project == record.project && other.number == record.number && other.label(Label.pod) == pod && other.label(Label.podSandbox) == sandbox
        }).first
    }

    /// A member counts towards the pod's readiness: it runs, and is healthy when it has a
    /// health check (Kubernetes' container readiness).
    public static func isReady(_ member: ContainerRecord, engine: ContainerEngine) -> Bool {
        guard let state = try? engine.observe(member.id), state.status == .running else { return false }
        guard (try? LaunchConfig.load(directory: engine.store.path(member.id)))?.healthcheck != nil else { return true }
        return engine.store.health(member.id, startedAt: state.startedAt)?.status == .healthy
    }

    /// Kubernetes' pod Ready: every member that is not an init member is ready.
    public func isReady(engine: ContainerEngine) -> Bool {
        !appMembers.isEmpty && appMembers.allSatisfy { Self.isReady($0, engine: engine) }
    }
}
