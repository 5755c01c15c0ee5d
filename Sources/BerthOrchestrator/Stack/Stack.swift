import BerthNetwork
import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation
import Synchronization

/// The CLI's side of a project's lifecycle: plans against what is on disk, creates networks
/// and containers, and has the supervisor start, stop and remove containers — in
/// dependency order, independent services in parallel, reporting Compose's progress.
///
/// Callers serialise commands on one project with `ProjectLock`.
public struct Stack: Sendable {
    public let projectName: String
    public let engine: ContainerEngine
    public let networks: NetworkManager
    public let client: SupervisorClient
    public let volumes: VolumeStore

    /// `firewallTable`: berth's nftables table (`BERTH_NFT_TABLE`), passed on to the supervisor.
    public init(projectName: String, root: String, runRoot: String, berthBinary: String, runtimeBinary: String, firewallTable: String = "berth") {
        self.projectName = projectName
        engine = ContainerEngine(root: root, runRoot: runRoot, runtimeBinary: runtimeBinary)
        volumes = VolumeStore(root: root)
        networks = NetworkManager(root: root, runRoot: runRoot, firewall: Firewall(table: firewallTable))
        client = SupervisorClient(
            project: projectName, root: root, runRoot: runRoot, berthBinary: berthBinary,
            environment: SupervisorClient.environment(firewallTable: firewallTable))
    }

    /// The project's event log (`berth events`).
    public var events: EventLog { EventLog(runRoot: engine.runRoot, project: projectName) }

    /// This project's containers, by name.
    public func containers() -> [ContainerRecord] {
        engine.store.records().filter { $0.project == projectName }
    }

    // MARK: up

    /// Brings the project to its declared state. `images` holds every selected service's
    /// resolved image; `environment` is the interpolation environment (secrets and configs
    /// from `environment:`). Warnings go to `warn`: orphans and volumes before anything
    /// changes, optional dependencies that failed as they fail.
    public func up(
        _ project: Project, options: UpOptions, images: [String: ResolvedImage], environment: [String: String] = [:],
        progress: @escaping StackProgress, warn: @escaping @Sendable (String) -> Void
    ) throws {
        client.wakeIfNeeded(engine: engine)
        let options = try PodExpansion.options(options, project: project, withInfras: true)
        let project = PodExpansion.expand(project)
        let observed = engine.observed(project: projectName)
        var hashes: [String: String] = [:]
        for (name, service) in project.services { hashes[name] = CanonicalOutput.configHash(service) }
        let plan = try Planner.planUp(
            project: project, observed: observed.map(\.container), options: options, configHashes: hashes,
            imageDigests: images.compactMapValues(\.digest))
        for warning in plan.warnings { warn(warning) }

        let used = Set(plan.steps.flatMap { step in (project.services[step.service]?.networks ?? KeyedMap()).map(\.key) })
        for key in (project.networks ?? KeyedMap()).map(\.key) where used.contains(key) {
            try ensureNetwork(project, key: key, progress: progress)
        }
        let existingVolumes = Set(volumes.list().map(\.name))
        let projectVolumes = try volumes.ensure(project: project)
        for record in projectVolumes.records.values.sorted(by: { $0.name < $1.name }) where !existingVolumes.contains(record.name) {
            progress(.init(.volume, "\"\(record.name)\"", "Created", .done))
        }
        for warning in projectVolumes.warnings { warn(warning) }
        let storage = StorageContext(stack: self, volumes: projectVolumes, environment: environment, renewAnonymous: options.renewAnonymousVolumes)
        let byName = Dictionary(observed.map { ($0.record.name, $0.record) }, uniquingKeysWith: { a, _ in a })
        // Every container's name, read once: the new names are the plan's own (unique).
        let names = Set(engine.store.records().map(\.name))
        if plan.removeOrphans {
            let orphans = plan.orphans.compactMap { byName[$0] }
            try concurrently(orphans) { record in try removeContainer(record, timeout: options.timeout, progress: progress) }
        }

        for level in plan.levels {
            try concurrently(level) { step in
                // Conditions are about running containers: creating alone waits for none.
                for dependency in step.waitFor where !options.noStart {
                    try waitFor(dependency, of: step.service, progress: progress, warn: warn)
                }
                guard let service = project.services[step.service] else { return }
                var updates: [(ContainerRecord, String)] = []
                var renames: [(ContainerRecord, String)] = []
                for action in step.actions {
                    if case .update(let old, let name, _) = action, let record = byName[old] { updates.append((record, name)) }
                    if case .rename(let old, let name) = action, let record = byName[old] { renames.append((record, name)) }
                }
                try concurrently(step.actions.filter { action in
                    switch action {
                    case .update, .rename: return false
                    default: return true
                    }
                }) { action in
                    try perform(action, project: project, service: step.service, config: service, image: images[step.service],
                                existing: byName, names: names, options: options, storage: storage, progress: progress, warn: warn)
                }
                if let policy = step.updatePolicy, !updates.isEmpty {
                    let updater = RollingUpdater(
                        stack: self, subject: "service \"\(step.service)\"", policy: policy, timeout: options.timeout,
                        create: { slot, number, name, id, _ in
                            try createReplacement(
                                slot, project: project, number: number, name: name, id: id, images: images, storage: storage, names: names, warn: warn)
                        },
                        progress: progress)
                    for warning in try updater.run(service: step.service, updates) { warn(warning) }
                }
                for (record, name) in renames {
                    try request(.rename, [record], name: name)
                    progress(.init(.container, name, "Renamed", .done))
                }
            }
        }
        for update in plan.podUpdates {
            try updatePod(update, project: project, images: images, storage: storage, names: names, timeout: options.timeout, progress: progress, warn: warn)
        }
    }

    /// A rolling update of whole pod replicas (`Plan.PodUpdate`): each new pod replica —
    /// infra, init members, members, joined to the new infra — next to (start-first) or after
    /// (stop-first) the old one.
    private func updatePod(
        _ update: Plan.PodUpdate, project: Project, images: [String: ResolvedImage], storage: StorageContext, names: Set<String>,
        timeout: Int?, progress: @escaping StackProgress, warn: @escaping @Sendable (String) -> Void
    ) throws {
        guard let pod = project.pods.first(where: { $0.name == update.pod }) else { return }
        let infra = Pod.infraService(pod.name)
        let records = containers().filter { !$0.oneOff }
        var replicas: [Int: RollingUpdater.Replica] = [:]
        for n in update.replicas {
            func slot(_ service: String, init isInit: Bool = false) -> RollingUpdater.Replica.Slot {
                let name = Naming.containerName(project: project.name, service: service, number: n, serviceConfig: project.services[service])
                let olds = records.filter { $0.service == service && $0.number == n }
                return .init(service: service, name: name, old: olds.first { $0.name == name } ?? olds.first, runsToCompletion: isInit, holdsNamespaces: service == infra)
            }
            replicas[n] = RollingUpdater.Replica(slots: [slot(infra)] + pod.initMembers.map { slot($0, init: true) } + pod.members.map { slot($0) })
        }
        let updater = RollingUpdater(
            stack: self, subject: "pod \"\(pod.name)\"", policy: update.policy, timeout: timeout,
            create: { slot, number, name, id, created in
                try createReplacement(
                    slot, project: project, number: number, name: name, id: id, images: images, storage: storage, names: names,
                    podInfra: created[infra], warn: warn)
            },
            progress: progress)
        for warning in try updater.run(replicas) { warn(warning) }
    }

    /// The new container of a rolling update's slot (a service's, a pod's infra or member),
    /// its storage taking over the old one's anonymous volumes; `podInfra`: the new pod
    /// replica's infra, which a member joins.
    func createReplacement(
        _ slot: RollingUpdater.Replica.Slot, project: Project, number: Int, name: String, id: String, images: [String: ResolvedImage],
        storage: StorageContext, names: Set<String>, podInfra: String? = nil, warn: (String) -> Void
    ) throws -> String {
        guard let config = project.services[slot.service] else { throw EngineError("no such service: \(slot.service)") }
        if let pod = project.pods.first(where: { Pod.infraService($0.name) == slot.service }) {
            return try ContainerFactory(store: engine.store).createInfra(project: project, pod: pod, config: config, number: number, name: name, id: id)
        }
        guard let image = images[slot.service] else { throw EngineError("service \"\(slot.service)\": no image resolved for it") }
        let oldSpec = slot.old.flatMap { try? engine.store.spec($0.id) }
        let created = try ContainerFactory(store: engine.store).create(
            project: project, service: slot.service, config: config, number: number, name: name, image: image,
            storage: storage.inputs(replacing: oldSpec), id: id, existingNames: names, podInfra: podInfra)
        for warning in created.warnings { warn(warning) }
        return created.id
    }

    private func perform(
        _ action: ContainerAction, project: Project, service: String, config: Service, image: ResolvedImage?,
        existing: [String: ContainerRecord], names: Set<String>, options: UpOptions, storage: StorageContext, progress: StackProgress,
        warn: (String) -> Void
    ) throws {
        /// `old`: the name of the container this one replaces (removed by now).
        func newContainer(name: String, number: Int, replacing: ContainerSpec? = nil, old: String? = nil) throws -> String {
            if let pod = project.pods.first(where: { Pod.infraService($0.name) == service }) {
                let id = try ContainerFactory(store: engine.store).createInfra(
                    project: project, pod: pod, config: config, number: number, name: name, existingNames: names.subtracting([old ?? ""]))
                if let record = try? engine.store.record(id) { events.record("create", record) }
                return id
            }
            guard let image else { throw EngineError("service \"\(service)\": no image resolved for it") }
            let created = try ContainerFactory(store: engine.store).create(
                project: project, service: service, config: config, number: number, name: name, image: image,
                storage: storage.inputs(replacing: replacing), existingNames: names.subtracting([old ?? ""]))
            for warning in created.warnings { warn(warning) }
            if let record = try? engine.store.record(created.id) { events.record("create", record) }
            return created.id
        }
        switch action {
        case .create(let name, let number):
            progress(.init(.container, name, "Creating", .working))
            let id = try newContainer(name: name, number: number)
            progress(.init(.container, name, "Created", .done))
            if !options.noStart { try start(id, name: name, progress: progress) }
        case .recreate(let old, let name, let number):
            progress(.init(.container, name, "Recreate", .working))
            var oldSpec: ContainerSpec?
            if let record = existing[old] {
                oldSpec = try? engine.store.spec(record.id)
                try request(.stop, [record], timeout: options.timeout)
                try request(.remove, [record])
            }
            let id = try newContainer(name: name, number: number, replacing: oldSpec, old: old)
            // Anonymous volumes the new container did not take over (-V) go with the old one.
            if options.renewAnonymousVolumes, let oldSpec { _ = volumes.removeAnonymousVolumes(of: oldSpec) }
            progress(.init(.container, name, "Recreated", .done))
            if !options.noStart { try start(id, name: name, progress: progress) }
        case .start(let name):
            guard let record = existing[name] else { return }
            if options.noStart { return }
            try start(record.id, name: name, progress: progress)
        case .keep(let name):
            // Without starting (create, a foreground up's create phase), a kept container may
            // be stopped: Compose shows it as Created then.
            let status = existing[name].flatMap { try? engine.observe($0.id) }?.status
            // A completed init member of a pod (see Planner.reconcile) has exited.
            let shown = options.noStart ? (status == .running ? "Running" : "Created") : (status == .exited ? "Exited" : "Running")
            progress(.init(.container, name, shown, .done))
        case .update, .rename:
            break  // after the others: the rolling update's, renames
        case .restart(let name):
            guard let record = existing[name] else { return }
            progress(.init(.container, name, "Restarting", .working))
            try request(.stop, [record], timeout: options.timeout)
            try request(.start, [record])
            events.record("restart", record)
            progress(.init(.container, name, "Restarted", .done))
        case .remove(let name):
            guard let record = existing[name] else { return }
            try removeContainer(record, timeout: options.timeout, progress: progress)
        }
    }

    private func start(_ id: String, name: String, progress: StackProgress) throws {
        progress(.init(.container, name, "Starting", .working))
        do {
            try request(.start, [try engine.store.record(id)])
        } catch {
            progress(.init(.container, name, "Error", .failed))
            throw error
        }
        progress(.init(.container, name, "Started", .done))
    }

    /// Compose's `depends_on` conditions that need more than the level order
    /// (`waitDependencies`), waited on by the supervisor — event-driven, not polled. A
    /// dependency that is not `required` and fails is a warning, and the dependent starts.
    func waitFor(_ dependency: Dependency, of service: String, progress: StackProgress, warn: (String) -> Void) throws {
        guard dependency.condition != .started else { return }
        let records = containers().filter { $0.service == dependency.service && !$0.oneOff }
        if records.isEmpty {
            let message = "\(service) is missing dependency \(dependency.service)"
            if dependency.required { throw EngineError(message) }
            return warn(message)
        }
        func skip(_ reason: String) {
            for record in records { progress(.init(.container, record.name, "Skipped", .info)) }
            warn(reason)
        }
        switch dependency.condition {
        case .started:
            return
        case .healthy:
            for record in records { progress(.init(.container, record.name, "Waiting", .working)) }
            let response = try client.send(.init(op: .waitCondition, containers: records.map(\.id), condition: .healthy))
            if let failure = response.results.compactMap(\.error).first {
                if !dependency.required { return skip("optional dependency \"\(dependency.service)\" failed to start: \(failure)") }
                for record in records { progress(.init(.container, record.name, "Error", .failed)) }
                throw EngineError("dependency failed to start: \(failure)")
            }
            for record in records { progress(.init(.container, record.name, "Healthy", .done)) }
        case .completedSuccessfully:
            for record in records {
                progress(.init(.container, record.name, "Waiting", .working))
                let response = try client.send(.init(op: .wait, containers: [record.id]))
                let code = response.results.first?.exitCode ?? 0
                if let error = response.results.first?.error { throw EngineError(error) }
                if code != 0 {
                    let suffix = "\"\(dependency.service)\" didn't complete successfully: exit \(code)"
                    if !dependency.required { return skip("optional dependency \(suffix)") }
                    progress(.init(.container, record.name, "Exited", .failed))
                    throw EngineError("service \(suffix)")
                }
                progress(.init(.container, record.name, "Exited", .done))
            }
        }
    }

    /// `up --wait`: every container of `services` running — or healthy, where it has a
    /// healthcheck — and those of services others depend on with
    /// `service_completed_successfully` exited 0 (Compose's `running_or_healthy` and
    /// `getDependencyCondition`). Fails on an exited or unhealthy container, and after
    /// `timeoutSeconds` (nil: no limit) with Compose's "application not healthy after …".
    public func waitUntilReady(_ project: Project, services: [String], timeoutSeconds: Int?, progress: @escaping StackProgress) throws {
        let deadline = timeoutSeconds.map { Clock.monotonicNanoseconds() + Int64($0) * 1_000_000_000 }
        let completed = Set(project.services.values.flatMap { service in
            (service.depends_on ?? KeyedMap()).filter { $0.value.condition == Dependency.Condition.completedSuccessfully.rawValue }.map(\.key)
        })
        let all = containers().filter { !$0.oneOff }
        let groups = services.map { name in (service: name, records: all.filter { $0.service == name }) }
        for group in groups {
            if group.records.isEmpty { throw EngineError("\(projectName) is missing dependency \(group.service)") }
            for record in group.records { progress(.init(.container, record.name, "Waiting", .working)) }
        }
        try concurrently(groups) { group in
            let toExit = completed.contains(group.service)
            let left = deadline.map { Int(max(0, ($0 - Clock.monotonicNanoseconds()) / 1_000_000)) }
            let response = try client.send(.init(
                op: .waitCondition, containers: group.records.map(\.id), condition: toExit ? .exited : .runningOrHealthy, waitMilliseconds: left))
            if response.results.contains(where: { $0.timedOut == true }), let timeoutSeconds {
                throw EngineError("application not healthy after \(ComposeSpec.Duration.seconds(Int64(timeoutSeconds)))")
            }
            if let failure = response.results.compactMap(\.error).first { throw EngineError(failure) }
            if toExit, let code = response.results.compactMap(\.exitCode).first(where: { $0 != 0 }) {
                for record in group.records { progress(.init(.container, record.name, "Error", .failed)) }
                throw EngineError("service \"\(group.service)\" didn't complete successfully: exit \(code)")
            }
            for record in group.records { progress(.init(.container, record.name, toExit ? "Exited" : "Healthy", .done)) }
        }
    }

    /// A network of the project, created unless it exists (external ones must).
    func ensureNetwork(_ project: Project, key: String, progress: StackProgress) throws {
        guard let network = project.networks?[key] else { return }
        let name = network.name ?? "\(project.name)_\(key)"
        if (try? networks.inspect(name: name)) != nil { return }
        if network.external == true {
            throw EngineError("network \(name) declared as external, but could not be found")
        }
        progress(.init(.network, name, "Creating", .working))
        let options = try NetworkSettings.options(for: network, project: project.name, key: key)
        do {
            _ = try networks.create(name: name, options: options)
        } catch let error as NetworkError where error.code == .exists {
            // Created meanwhile by a concurrent command: fine.
        }
        progress(.init(.network, name, "Created", .done))
    }

    // MARK: down, stop, start, restart

    /// Stops and removes the project's containers (dependents first), then its networks.
    /// `services` empty means all; `removeOrphans` also takes containers of services no
    /// longer in the file (given `project`).
    public func down(
        _ project: Project?, timeout: Int?, removeOrphans: Bool, removeVolumes: Bool = false, progress: @escaping StackProgress,
        warn: (String) -> Void
    ) throws {
        let project = project.map(PodExpansion.expand)
        var all = containers()
        if let project {
            let known = Set(project.services.keys).union(project.disabledServices.keys)
            let orphans = all.filter { !known.contains($0.service) && !$0.oneOff }
            if !orphans.isEmpty && !removeOrphans {
                warn("Found orphan containers (\(orphans.map(\.name).joined(separator: ", "))) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.")
                all.removeAll { orphan in orphans.contains { $0.id == orphan.id } }
            }
        }
        let specs = all.compactMap { try? engine.store.spec($0.id) }
        for level in shutdownLevels(all, project: project) {
            try concurrently(level) { record in try removeContainer(record, timeout: timeout, progress: progress) }
        }
        if removeVolumes {
            var removals = specs.flatMap { volumes.removeAnonymousVolumes(of: $0) }
            if let project {
                removals += volumes.removeVolumes(of: project)
            } else {
                removals += volumes.volumes(labelledFor: projectName).map { volumes.removal($0.name) }
            }
            for removal in removals {
                let id = "\"\(removal.name)\""
                switch removal.outcome {
                case .removed: progress(.init(.volume, id, "Removed", .done))
                case .notFound: warn("No resource found to remove for volume \(id)")
                case .inUse: warn("volume \(id): Resource is still in use")
                case .failed(let message): throw EngineError("volume \(id): \(message)")
                }
            }
        }
        // The project's networks: those stamped with its name, unless a container of another
        // project still uses them.
        for record in (try? networks.list()) ?? [] where record.labels[Label.project] == projectName {
            let others = record.endpoints.keys.filter { name in !all.contains { $0.name == name } }
            if !others.isEmpty {
                warn("network \(record.name) is still used by \(others.sorted().joined(separator: ", ")): not removed")
                continue
            }
            progress(.init(.network, record.name, "Removing", .working))
            try networks.removeLeavingBridge(name: record.name)
            progress(.init(.network, record.name, "Removed", .done))
        }
        try deleteBridgesInBackground()
    }

    /// The bridges of the networks `down` removed are deleted by a detached
    /// `berth reap-bridges`, which gets the deletions' lock from us (held from now until it
    /// is done): the kernel's 30-50 ms per bridge are not `down`'s. If it cannot be
    /// started, they are deleted here.
    private func deleteBridgesInBackground() throws {
        guard !networks.bridgeDeletions.scheduled().isEmpty else { return }
        let lockFD = try networks.bridgeDeletions.lock()
        defer { close(lockFD) }
        do {
            _ = try Spawn.detached(
                path: client.berthBinary,
                arguments: [client.berthBinary, "--root", client.root, "--run-root", client.runRoot, "reap-bridges", "--lock-fd", "3"],
                environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                logPath: networks.bridgeDeletions.directory + "/.reaper.log", passFD: lockFD)
        } catch {
            _ = try networks.deleteScheduledBridges(holding: lockFD)
        }
    }

    /// Stops the services' containers (all when `services` is empty), dependents first —
    /// also those waiting for a restart by their policy, whose restart is cancelled.
    public func stop(_ project: Project?, services: [String], timeout: Int?, progress: @escaping StackProgress) throws {
        let project = project.map(PodExpansion.expand)
        let selected = containers().filter { services.isEmpty || services.contains($0.service) }
        for level in shutdownLevels(selected, project: project) {
            try concurrently(level) { record in
                guard let state = try? engine.observe(record.id),
                      state.status == .running || engine.store.pendingRestart(record.id, state: state) != nil else { return }
                progress(.init(.container, record.name, "Stopping", .working))
                try request(.stop, [record], timeout: timeout)
                progress(.init(.container, record.name, "Stopped", .done))
            }
        }
    }

    /// Starts the services' existing containers, dependencies first. With `waitForConditions`
    /// (Compose's `start`; not its `restart`), a service whose containers need starting first
    /// waits for its dependencies' `depends_on` conditions, as `up` does.
    public func start(
        _ project: Project?, services: [String], waitForConditions: Bool = false, progress: @escaping StackProgress,
        warn: @escaping @Sendable (String) -> Void = { _ in }
    ) throws {
        let project = project.map(PodExpansion.expand)
        let all = containers()
        var selected = all.filter { (services.isEmpty || services.contains($0.service)) && !$0.oneOff }
        if selected.isEmpty && !services.isEmpty {
            throw EngineError("no container found for service \(services.joined(separator: ", "))")
        }
        // A pod member needs its pod replica's infra, which holds its namespaces.
        let replicas = Set(selected.compactMap { record in record.label(Label.pod).map { "\($0)/\(record.number)" } })
        selected += all.filter { record in
            record.label(Label.podInfra) == "True" && replicas.contains("\(record.label(Label.pod) ?? "")/\(record.number)")
                && !selected.contains { $0.id == record.id }
        }
        let dependencies = project.map { DependencyGraph(project: $0).dependencies } ?? [:]
        for level in shutdownLevels(selected, project: project).reversed() {
            let stopped = level.filter { (try? engine.observe($0.id))?.status != .running }
            let byService = Dictionary(grouping: stopped, by: \.service).sorted { $0.key < $1.key }
            try concurrently(byService) { service, records in
                if waitForConditions {
                    for dependency in dependencies[service] ?? [] {
                        try waitFor(dependency, of: service, progress: progress, warn: warn)
                    }
                }
                try concurrently(records) { record in try start(record.id, name: record.name, progress: progress) }
            }
        }
    }

    /// `restart`: stops the services' containers (all when `services` is empty) and starts
    /// them again, with the services that declare `depends_on: {S: {restart: true}}` on
    /// them (transitively) unless `noDeps` — Compose's `restart`; each gets a `restart`
    /// event.
    public func restart(_ project: Project?, services: [String], noDeps: Bool, timeout: Int?, progress: @escaping StackProgress) throws {
        let all = containers()
        let selected = services.isEmpty || noDeps ? services : Label.withRestartDependents(services, among: all)
        try stop(project, services: selected, timeout: timeout, progress: progress)
        try start(project, services: selected, progress: progress)
        for record in containers() where !record.oneOff && (selected.isEmpty || selected.contains(record.service)) {
            events.record("restart", record)
        }
    }

    /// Containers in levels: a container's dependents are in earlier levels than it, so
    /// walking the levels in order stops dependents first; reversed, starts dependencies first.
    func shutdownLevels(_ records: [ContainerRecord], project: Project?) -> [[ContainerRecord]] {
        guard let project, let levels = try? DependencyGraph(project: project).levels(DependencyGraph(project: project).services) else {
            // Without the file: pods' infras after their members, which join them.
            let infras = records.filter { $0.label(Label.podInfra) == "True" }
            let others = records.filter { $0.label(Label.podInfra) != "True" }
            return [others, infras].filter { !$0.isEmpty }
        }
        var out: [[ContainerRecord]] = []
        let known = Set(levels.joined())
        let unknown = records.filter { !known.contains($0.service) }
        if !unknown.isEmpty { out.append(unknown) }
        for level in levels.reversed() {
            let members = records.filter { level.contains($0.service) }
            if !members.isEmpty { out.append(members) }
        }
        return out
    }

    /// Stops (gracefully) and removes a container in one supervisor request.
    private func removeContainer(_ record: ContainerRecord, timeout: Int?, progress: StackProgress) throws {
        let running = (try? engine.observe(record.id))?.status == .running
        progress(.init(.container, record.name, running ? "Stopping" : "Removing", .working))
        try request(.remove, [record], timeout: timeout, stopGracefully: true)
        if running {
            progress(.init(.container, record.name, "Stopped", .done))
            progress(.init(.container, record.name, "Removing", .working))
        }
        progress(.init(.container, record.name, "Removed", .done))
    }

    /// One supervisor request; the first container error is thrown.
    @discardableResult
    func request(
        _ op: SupervisorProtocol.Request.Operation, _ records: [ContainerRecord], timeout: Int? = nil, signal: Int32? = nil,
        name: String? = nil, stopGracefully: Bool? = nil
    ) throws -> SupervisorProtocol.Response {
        let response = try client.send(.init(
            op: op, containers: records.map(\.id), timeout: timeout, signal: signal, name: name, stopGracefully: stopGracefully))
        if let failure = response.results.first(where: { $0.error != nil }), let message = failure.error {
            throw EngineError(message)
        }
        return response
    }

    /// Blocks until this project's supervisor has exited (after `down`, nothing runs).
    public func waitForSupervisorExit() {
        let fd = open(client.paths.lock, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = flock(fd, LOCK_SH)
    }
}

/// Serialises commands that change a project (`up`, `down`, `start`, `stop`, …): an
/// exclusive flock on `<root>/projects/<project>/lock`, held until `release` or exit.
/// `release` may be called from any thread, more than once (a foreground `up` releases it
/// from its start phase).
public final class ProjectLock: Sendable {
    private let fd: Atomic<Int32>

    public init(root: String, project: String) throws {
        let directory = "\(root)/projects/\(project)"
        try FS.makeDirectories(directory, mode: 0o700)
        let path = directory + "/lock"
        let opened = try Sys.check("open", path: path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        do {
            _ = try Sys.check("flock", path: path) { flock(opened, LOCK_EX) }
        } catch {
            close(opened)
            throw error
        }
        fd = Atomic(opened)
    }

    deinit { release() }

    public func release() {
        let old = fd.exchange(-1, ordering: .acquiringAndReleasing)
        if old >= 0 { close(old) }
    }
}

/// What containers of one `up` need to plan their storage.
struct StorageContext: Sendable {
    let stack: Stack
    let volumes: ProjectVolumes
    let environment: [String: String]
    let renewAnonymous: Bool

    func inputs(replacing old: ContainerSpec?) -> StorageInputs {
        let stack = self.stack
        let inherited = renewAnonymous ? [:] : old.map { stack.volumes.anonymousVolumes(of: $0) } ?? [:]
        return StorageInputs(
            store: stack.volumes, volumes: volumes, inheritedAnonymous: inherited,
            mountsOf: { source in
                let records = stack.containers()
                let record: ContainerRecord?
                switch source {
                case .service(let name): record = records.filter { $0.service == name && !$0.oneOff }.min { $0.number < $1.number }
                case .container(let name): record = records.first { $0.name == name }
                }
                return record.flatMap { try? stack.engine.store.spec($0.id).mounts }
            },
            environment: environment)
    }
}
