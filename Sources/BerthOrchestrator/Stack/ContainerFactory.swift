import BerthRuntime
import BerthSystem
import ComposeSpec

/// Creates a service container on disk: its record with Compose's labels, its runtime spec
/// and its launch config. Nothing runs yet; the supervisor starts it.
public struct ContainerFactory: Sendable {
    public let store: ContainerStore

    public init(store: ContainerStore) { self.store = store }

    /// Returns the new container's id and the storage warnings (SELinux labels ignored).
    /// `storage` describes the project's volumes and what a replaced container leaves.
    /// `existingNames`: the names of all containers, when the caller has them (an `up` of
    /// many containers reads the store once, not once per container).
    public func create(
        project: Project, service: String, config: Service, number: Int, name: String, image: ResolvedImage,
        storage: StorageInputs, oneOff: OneOffSettings? = nil, id: String = ContainerFactory.newID(), existingNames: Set<String>? = nil,
        podInfra: String? = nil
    ) throws -> (id: String, warnings: [String]) {
        let directory = store.path(id)
        let plan = try ServiceContainer.storage(
            project: project, service: service, service: config, image: image, directory: directory, inputs: storage)
        let spec = try ServiceContainer.spec(
            project: project, service: service, service: config, containerName: name, id: id, image: image, directory: directory,
            storage: plan)
        var launch = try LaunchConfig.of(
            project: project, service: service, service: config, hostname: spec.hostname ?? String(id.prefix(12)), image: image)
        let hash = CanonicalOutput.configHash(config)
        var labels = Label.container(
            project: project, service: service, service: config, number: number, configHash: hash, imageDigest: image.digest,
            oneOff: oneOff != nil)
        if oneOff == nil, let pod = config.podName {
            // A member joins the infra of its own pod replica: `podInfra` (a rolling update's
            // new one), else the one of its number.
            let infra = podInfra ?? Self.infra(of: pod, number: number, project: project, among: store.records())
            labels += Self.podLabels(pod: pod, infra: false, isInit: config.isPodInit, sandbox: infra)
            launch.joins = launch.joins?.map { join in
                guard join.service == Pod.infraService(pod) else { return join }
                return infra.map { NamespaceJoin(namespace: join.namespace, container: $0) }
                    ?? NamespaceJoin(namespace: join.namespace, service: join.service, replica: number)
            }
        }
        if oneOff != nil, let pod = config.podName {
            // A pod member's one-off (`berth run`) joins replica 1 of the pod, as exec picks
            // the first container (podman's `run --pod`).
            launch.joins = launch.joins?.map { join in
                join.service == Pod.infraService(pod) ? NamespaceJoin(namespace: join.namespace, service: join.service, replica: 1) : join
            }
        }
        if let oneOff {
            labels.insert((Label.slug, oneOff.slug), at: labels.firstIndex { $0.0 == Label.version } ?? labels.endIndex)
            launch.autoRemove = oneOff.autoRemove
            // Compose's getAliases: a one-off answers to its container name only, unless
            // --use-aliases.
            if !oneOff.useAliases {
                for index in launch.networks.indices { launch.networks[index].aliases = [] }
            }
        }
        let record = ContainerRecord(
            id: id, name: name, project: project.name, service: service, number: number, oneOff: oneOff != nil,
            labels: labels.map { [$0.0, $0.1] }, image: image.reference, imageDigest: image.digest, configHash: hash,
            command: spec.process.args, created: Clock.rfc3339Nano(), exposedPorts: CreateConfig.exposedPorts(service: config, image: image),
            createConfig: CreateConfig.of(service: config, image: image))
        try checkName(name, existingNames: existingNames)
        try store.create(record, spec: spec.encoded, files: [LaunchConfig.fileName: try launch.encoded()])
        if let volumes = storage.store {
            do {
                try plan.materialise(volumes: volumes)
            } catch {
                try? store.remove(id)
                throw EngineError("container \(name): \(error)")
            }
        }
        return (id, plan.warnings)
    }

    /// The infra container of replica `number` of `pod` (`config`: its service from
    /// `PodExpansion`): holds the pod's namespaces (see `ContainerSpec.infra`), attached to
    /// the pod's networks with its members' names, publishing their ports.
    public func createInfra(
        project: Project, pod: Pod, config: Service, number: Int, name: String, id: String = ContainerFactory.newID(),
        existingNames: Set<String>? = nil
    ) throws -> String {
        let service = Pod.infraService(pod.name)
        var spec = ContainerSpec(name: name, project: project.name, root: .directory("", readOnly: true), process: .init(args: ["pause"]))
        spec.infra = true
        spec.hostname = pod.hostname
        spec.domainname = pod.domainname
        var launch = try LaunchConfig.of(project: project, service: service, service: config, hostname: pod.hostname)
        // It answers to its members' names (PodExpansion), not to its internal service's.
        for index in launch.networks.indices { launch.networks[index].aliases.removeAll { $0 == service } }
        let hash = CanonicalOutput.configHash(config)
        let labels = Label.container(project: project, service: service, service: config, number: number, configHash: hash, imageDigest: nil)
            + Self.podLabels(pod: pod.name, infra: true, isInit: false, sandbox: id)
        let record = ContainerRecord(
            id: id, name: name, project: project.name, service: service, number: number, oneOff: false,
            labels: labels.map { [$0.0, $0.1] }, image: "", imageDigest: nil, configHash: hash, command: spec.process.args,
            created: Clock.rfc3339Nano(), exposedPorts: config.expose)
        try checkName(name, existingNames: existingNames)
        try store.create(record, spec: spec.encoded, files: [LaunchConfig.fileName: try launch.encoded()])
        return id
    }

    static func podLabels(pod: String, infra: Bool, isInit: Bool, sandbox: String?) -> [(String, String)] {
        [(Label.pod, pod)] + (infra ? [(Label.podInfra, "True")] : []) + (isInit ? [(Label.podInit, "True")] : [])
            + (sandbox.map { [(Label.podSandbox, $0)] } ?? [])
    }

    /// The id of the infra of replica `number` of `pod`: the one under its own name when a
    /// rolling update has two.
    static func infra(of pod: String, number: Int, project: Project, among records: [ContainerRecord]) -> String? {
        let infras = records.filter { record in
            record.project == project.name && record.number == number && record.label(Label.pod) == pod && record.label(Label.podInfra) == "True"
        }
        let own = Naming.containerName(project: project.name, service: Pod.infraService(pod), number: number)
        return (infras.first { $0.name == own } ?? infras.first)?.id
    }

    private func checkName(_ name: String, existingNames: Set<String>?) throws {
        if existingNames?.contains(name) ?? store.records().contains(where: { $0.name == name }) {
            throw EngineError("Conflict. The container name \"/\(name)\" is already in use. Remove it (berth rm \(name)) or choose another container_name.")
        }
    }

    /// 64 hex digits, like a Docker container id.
    public static func newID() -> String {
        (0..<4).map { _ in
            let hex = String(UInt64.random(in: 0...UInt64.max), radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }.joined()
    }
}
