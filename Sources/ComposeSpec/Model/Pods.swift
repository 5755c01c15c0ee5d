/// berth's pods: the services whose `x-berth:` says `pod: NAME` share the network, IPC and
/// UTS namespaces that an infra process of the pod holds (Kubernetes' default set), and run
/// as pod replicas — replica *i* holds member *i* of every service. Members with
/// `init: true` run to completion, one after the other in file order, before the others
/// start (Kubernetes' init containers). The loader's validator checks what belongs
/// together; see berth-compose(5).
public struct Pod: Sendable, Equatable {
    public var name: String
    /// The init members, in the order they run (the file's).
    public var initMembers: [String]
    /// The other members, in file order.
    public var members: [String]
    /// The pod's replica count: what its members declare (`deploy.replicas` or `scale`), 1
    /// when none does.
    public var replicas: Int
    /// The pod's host name: a member's `hostname:` (they must agree), else the pod's name.
    public var hostname: String
    /// The pod's domain name: a member's `domainname:`, if any.
    public var domainname: String?

    public init(name: String, initMembers: [String], members: [String], replicas: Int, hostname: String, domainname: String? = nil) {
        self.name = name
        self.initMembers = initMembers
        self.members = members
        self.replicas = replicas
        self.hostname = hostname
        self.domainname = domainname
    }

    public var allMembers: [String] { initMembers + members }

    /// The key `x-berth` is read from.
    public static let extensionKey = "x-berth"

    /// The name of the (internal) service of the pod's infra.
    public static func infraService(_ pod: String) -> String { pod + "-infra" }
}

extension Service {
    /// The service's `x-berth` mapping, if it is one.
    var berthExtension: [(String, ComposeValue)]? {
        guard case .map(let pairs)? = extensions?.values.last(where: { $0.0 == Pod.extensionKey })?.1 else { return nil }
        return pairs
    }

    /// `x-berth.pod`: the pod the service belongs to.
    public var podName: String? {
        guard case .string(let name)? = berthExtension?.last(where: { $0.0 == "pod" })?.1 else { return nil }
        return name
    }

    /// `x-berth.init: true`: an init member of its pod.
    public var isPodInit: Bool {
        guard case .bool(let value)? = berthExtension?.last(where: { $0.0 == "init" })?.1 else { return false }
        return value
    }

    /// The service sets its replica count (`deploy.replicas` or `scale`).
    public var declaresReplicas: Bool { deploy?.replicas != nil || scale != nil }
}

extension Project {
    /// The project's pods, in the order their first member appears in the file.
    public var pods: [Pod] {
        var pods: [Pod] = []
        for (name, service) in services {
            guard let pod = service.podName else { continue }
            var index = pods.firstIndex { $0.name == pod } ?? -1
            if index < 0 {
                pods.append(Pod(name: pod, initMembers: [], members: [], replicas: 1, hostname: pod))
                index = pods.count - 1
            }
            if service.isPodInit { pods[index].initMembers.append(name) } else { pods[index].members.append(name) }
        }
        for index in pods.indices {
            let members = pods[index].allMembers.compactMap { services[$0] }
            pods[index].replicas = members.first(where: \.declaresReplicas)?.replicas ?? 1
            pods[index].hostname = members.compactMap(\.hostname).first ?? pods[index].name
            pods[index].domainname = members.compactMap(\.domainname).first
        }
        return pods
    }

    /// The pod `service` is a member of.
    public func pod(of service: String) -> Pod? {
        guard services[service]?.podName != nil else { return nil }
        return pods.first { $0.allMembers.contains(service) }
    }
}
