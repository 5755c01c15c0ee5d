import BerthNetwork
import BerthRuntime
import BerthSystem
import CBerthSys
import Foundation

/// Starts, stops and removes the containers of one project with everything around the
/// process: the network namespace and its endpoints, the published ports (held open here
/// while the container runs), `/etc/hosts` and `resolv.conf`, and the names the embedded DNS
/// server answers. The supervisor owns one; every operation is idempotent and may run on any
/// thread (one container's operations are serialised by its own lock).
///
/// A container's network lives exactly as long as its process: it is set up at each start
/// and released when the container stops or exits (as Docker does), so a crash of the
/// supervisor leaves at most an exited container's namespace behind, which the next
/// supervisor releases when it adopts the project.
public final class ContainerLifecycle: @unchecked Sendable {
    public let project: String
    public let engine: ContainerEngine
    public let networks: NetworkManager
    public let dnsRecords = DNSRecords()
    /// Runs the containers' health checks; a container with one is in DNS only while healthy.
    public let prober: HealthProber
    /// Wakes the requests waiting for containers to start, end or change health.
    let changes = ChangeSignal()
    /// The project's event log (`berth events`).
    public let events: EventLog
    /// The restarts waiting for their back-off delay, and those under way.
    let restarts = RestartScheduler()
    /// What the monitor of a container with a restart policy runs when it ends (wakes a
    /// supervisor if none runs); the container's id is appended. nil: nothing.
    public let exitHook: ExitHook?

    private let lock = NSLock()
    private var containerLocks: [String: NSLock] = [:]
    /// The host ports of the containers' published ports, held while they run.
    let ports = PublishedPorts()
    private var dnsServer: DNSServer?
    private var listeningOn: Set<String> = []
    /// Containers whose exit this process waits for, with their monitor's pidfd.
    private var watched: [String: Int32] = [:]
    private var pendingSweeps = 0
    /// Containers this supervisor stopped for `on-unhealthy: restart`: their exit is followed
    /// by a restart whatever their policy.
    private var forcedRestarts: Set<String> = []
    /// Called (on some thread) when a watched container's monitor is gone.
    public var onWatchChange: @Sendable () -> Void = {}
    /// Exit codes of auto-removed containers (`run --rm`), for the `wait` requests that
    /// come after the container is gone.
    private var removedExitCodes: [String: Int32] = [:]
    /// Containers of an attached start (`run`) whose `wait`, which comes right after the
    /// start, has not begun yet.
    private var expectedWaits: Set<String> = []
    /// Those of them auto-removed before it came, with when (monotonic ns): a container that
    /// ends that fast must not take the supervisor — and its exit code — with it.
    private var uncollectedRemovals: [String: Int64] = [:]
    static let removedExitCodeHoldNanoseconds: Int64 = 30_000_000_000

    /// An auto-removed container's exit code, now collected.
    private func removedExitCode(_ id: String) -> Int32? {
        lock.withLock {
            guard let code = removedExitCodes[id] else { return nil }
            uncollectedRemovals[id] = nil
            return code
        }
    }

    /// Until when (monotonic ns) uncollected exit codes keep the supervisor; nil when none do.
    public func exitCodesHeld(now: Int64) -> Int64? {
        lock.withLock {
            uncollectedRemovals = uncollectedRemovals.filter { now - $0.value < Self.removedExitCodeHoldNanoseconds }
            return uncollectedRemovals.values.max().map { $0 + Self.removedExitCodeHoldNanoseconds }
        }
    }

    public init(project: String, engine: ContainerEngine, networks: NetworkManager, exitHook: ExitHook? = nil) throws {
        self.project = project
        self.engine = engine
        self.networks = networks
        self.exitHook = exitHook
        events = EventLog(runRoot: engine.runRoot, project: project)
        prober = try HealthProber(project: project, runRoot: engine.runRoot, runtimeBinary: engine.runtimeBinary, store: engine.store)
        let records = dnsRecords
        let changes = changes
        let events = events
        let store = engine.store
        prober.onChange = { [weak self] id, name, status in
            // Readiness, as Kubernetes': only a healthy container answers to its names and
            // gets the traffic of a host port it shares.
            records.setReady(container: name, ready: status == .healthy)
            try? networks.setReady(container: name, ready: status == .healthy)
            if let container = try? store.record(id) {
                events.record(ContainerEvent.healthAction(status), container)
                self?.refreshPodReadiness(of: container)
            }
            changes.notify()
            if status == .unhealthy, let self {
                Thread { self.actOnUnhealthy(id) }.start()
            }
        }
        prober.isPaused = { [engine] id in
            guard let spec = try? engine.store.spec(id), let layout = try? CgroupLayout.detect() else { return false }
            return Cgroup(layout: layout, project: spec.project, name: spec.name).isFrozen
        }
    }

    deinit {
        prober.shutdown()
        for fd in watched.values { close(fd) }
        dnsServer?.stop()
    }

    func containerLock(_ id: String) -> NSLock {
        lock.withLock {
            if let existing = containerLocks[id] { return existing }
            let created = NSLock()
            containerLocks[id] = created
            return created
        }
    }

    /// Marks (or, with `take`, consumes the mark of) a container stopped for
    /// `on-unhealthy: restart`.
    func forcedRestart(_ id: String, take: Bool) -> Bool {
        lock.withLock { take ? forcedRestarts.remove(id) != nil : !forcedRestarts.insert(id).inserted }
    }

    /// The pidfds to poll: a readable one means that container's monitor has ended.
    public func watchedDescriptors() -> [(id: String, fd: Int32)] {
        lock.withLock { watched.map { ($0.key, $0.value) } }
    }

    /// Containers that run or wait for a restart: the supervisor lives while there are any.
    /// What keeps the supervisor alive: containers it watches, restarts it owes, and volume
    /// sweeps waiting for the last processes of a container whose monitor was killed.
    public var runningCount: Int { lock.withLock { watched.count + pendingSweeps } + restarts.count }

    /// When the supervisor must wake up for the next restart (monotonic nanoseconds).
    public var nextRestartDue: Int64? { restarts.nextDue() }

    /// Wakes the supervisor's loop when the restart schedule changes.
    public var onRestartScheduleChange: @Sendable () -> Void {
        get { restarts.onChange }
        set { restarts.onChange = newValue }
    }

    // MARK: start

    /// Starts the container by hand (`start`, `up`, `restart`): a pending restart is
    /// dropped, and the restart count and back-off begin anew, as Docker's do.
    /// `stdio`: an attached client's stdin, stdout and stderr (`berth run`), nil: none.
    @discardableResult
    public func start(_ id: String, stdio: [Int32]? = nil) throws -> ContainerState {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        let state = try startLocked(id, byPolicy: false, stdio: stdio)
        if stdio != nil { lock.withLock { _ = expectedWaits.insert(id) } }
        return state
    }

    /// `start` under the container's lock; `byPolicy`: a restart by the restart policy.
    func startLocked(_ id: String, byPolicy: Bool, stdio: [Int32]? = nil) throws -> ContainerState {
        let record = try engine.store.record(id)
        var state = try engine.observe(id)
        if state.status == .running {
            watch(id, state)
            return state
        }
        var restartRecord = engine.store.restartRecord(id)
        let recorded = restartRecord
        if !byPolicy {
            restarts.cancel(id)
            restartRecord.tracker = RestartTracker()
        }
        let directory = engine.store.path(id)
        let launch = try LaunchConfig.load(directory: directory)
        var spec = try ContainerSpec(decoding: try FS.readString(directory + "/spec"))
        // Leftovers of a start that did not finish (a supervisor killed half-way).
        releaseNetwork(spec.name, id: id)
        // A run is known by the container's name when it starts (`runName`).
        spec.name = record.name
        // A pod's infra is ready once its members are (Kubernetes' pod readiness).
        let ready = record.label(Label.podInfra) == "True" ? podIsReady(record) : launch.healthcheck == nil
        var endpoints: [(network: NetworkRecord, endpoint: Endpoint)] = []
        do {
            let joined = try applyJoins(launch, record: record, spec: &spec)
            if launch.shareableIPC == true { try shareIPC(id, spec: &spec) }
            switch launch.networkMode {
            case .bridge:
                endpoints = try attach(record, launch: launch, ready: ready)
                spec.namespaces.network = .path(networks.namespacePath(container: record.name))
                let first = endpoints.first
                spec.etcHosts = try EtcFiles.hosts(
                    hostname: launch.hostname, domainname: launch.domainname, addresses: endpoints.map(\.endpoint.address),
                    extraHosts: launch.extraHostEntries, hostGateway: first?.network.gateway)
                if let first {
                    let hostSearch = EtcFiles.searchDomains(inResolvConf: (try? FS.readString("/etc/resolv.conf")) ?? "")
                    spec.resolvConf = EtcFiles.resolvConf(
                        nameserver: first.network.gateway, network: first.network.name,
                        search: launch.dnsSearch.isEmpty ? hostSearch : launch.dnsSearch, options: launch.dnsOptions)
                }
            case .none:
                let namespace = try networks.createNamespace(container: record.name)
                spec.namespaces.network = .path(namespace.path)
                spec.etcHosts = try EtcFiles.hosts(hostname: launch.hostname, domainname: launch.domainname, addresses: [], hostGateway: nil)
                spec.resolvConf = ""
            case .host:
                spec.namespaces.network = .host
                spec.etcHosts = (try? FS.readString("/etc/hosts")) ?? spec.etcHosts
                spec.resolvConf = EtcFiles.resolvConf(
                    host: (try? FS.readString("/etc/resolv.conf")) ?? "", dns: launch.dns, search: launch.dnsSearch,
                    options: launch.dnsOptions, keepLoopback: true)
            case .shared:
                // Docker's joiner uses the files of the container whose network it joins.
                if let target = joined[.network], let shared = try? engine.store.spec(target.id) {
                    spec.etcHosts = shared.etcHosts
                    spec.resolvConf = shared.resolvConf
                }
            }
            // This run's namespaces and files: every start writes them again, so no sync.
            try FS.writeAtomically(directory + "/spec", sync: false, Array(spec.encoded.utf8), mode: 0o600)
            state = try engine.start(id, stdio: stdio, exitHook: launch.restart == nil ? nil : exitHook.map { hook in
                var hook = hook
                hook.arguments.append(id)
                return hook
            })
        } catch {
            releaseNetwork(record.name, id: id)
            throw error
        }
        restartRecord.pending = nil
        // Written only when it changed: a synced file per start, and a new inode each time.
        if restartRecord != recorded { try? engine.store.saveRestartRecord(restartRecord, for: id) }
        // Stamped with the run's start, so that a `die` that follows at once is not earlier.
        events.record("start", record, time: state.startedAt.flatMap(Self.nanoseconds))
        for (network, endpoint) in endpoints {
            dnsRecords.set(network: network.name, container: record.name, address: endpoint.address,
                           names: endpoint.aliases, ready: ready)
        }
        if let config = launch.healthcheck, let startedAt = state.startedAt {
            prober.track(.init(id: id, name: record.name, config: config, startedAt: startedAt), restore: false)
        }
        refreshPodReadiness(of: record)
        watch(id, state)
        changes.notify()
        return state
    }

    /// The namespace, ports and endpoints of a bridge-mode container.
    private func attach(_ record: ContainerRecord, launch: LaunchConfig, ready: Bool) throws -> [(network: NetworkRecord, endpoint: Endpoint)] {
        let (name, id) = (record.name, record.id)
        // Replica N prefers the N-th port of a range, and shares the ports of its replica
        // slot (its predecessor's, during a rolling update).
        let bindings = try ports.reserve(
            try launch.portRequests, holder: id, slot: Self.slot(record), preferredOffset: record.number - 1, owner: "container \(name)")
        let namespace: NetworkNamespace
        do {
            namespace = try networks.createNamespace(container: name)
        } catch {
            ports.release(holder: id)
            throw error
        }
        var out: [(network: NetworkRecord, endpoint: Endpoint)] = []
        for (index, attachment) in launch.networks.enumerated() {
            let address = try attachment.ipv4Address.map { text in
                guard let address = IPv4Address(text) else { throw EngineError("container \(name): \"\(text)\" is not an IPv4 address") }
                return address
            }
            let mac = try attachment.macAddress.map { text in
                guard let mac = MACAddress(text) else { throw EngineError("container \(name): \"\(text)\" is not a MAC address") }
                return mac
            }
            let (network, endpoint) = try networks.attachEndpoint(network: attachment.network, AttachRequest(
                container: name, namespace: namespace, ipv4Address: address, macAddress: mac, aliases: attachment.aliases,
                ports: index == 0 ? bindings : [], interface: attachment.interface, ready: ready))
            setDNSClient(endpoint.address, launch, container: name)
            try listenForDNS(on: network)
            out.append((network, endpoint))
        }
        return out
    }

    /// The container's own `dns:` servers and `links:` aliases, for queries from `address`.
    private func setDNSClient(_ address: IPv4Address, _ launch: LaunchConfig, container: String) {
        let upstreams = launch.dns.isEmpty ? nil : launch.dns.compactMap { IPv4Address($0).map { DNSUpstream(address: $0) } }
        dnsRecords.setClient(address, container: container, upstreams: upstreams, links: launch.links ?? [:])
    }

    /// The embedded DNS server answers on each network's gateway address, port 53.
    private func listenForDNS(on network: NetworkRecord) throws {
        try lock.withLock {
            if listeningOn.contains(network.name) { return }
            if dnsServer == nil {
                let server = try DNSServer(records: dnsRecords, upstreams: DNSServer.hostUpstreams())
                server.start()
                dnsServer = server
            }
            do {
                try dnsServer?.listen(network: network.name, address: network.gateway)
            } catch {
                throw EngineError("network \(network.name): the DNS server cannot listen on \(network.gateway):53: \(error)")
            }
            listeningOn.insert(network.name)
        }
    }

    /// Gives back what a container held while it ran (its network, its shareable
    /// `/dev/shm`). Safe to repeat; errors are not fatal (a missing link or pin is what we want).
    func releaseNetwork(_ name: String, id: String) {
        releaseSharedIPC(id)
        dnsRecords.remove(container: name)
        dnsRecords.removeClients(container: name)
        ports.release(holder: id)
        // Endpoints exist only while the namespace pin does (a start pins before it attaches,
        // this detaches before it unpins), so a container that never ran costs nothing here.
        // After a reboot the pins are gone but the network records still hold the endpoints
        // of the containers that ran: those are released.
        guard FS.exists(networks.namespacePath(container: name)) || engine.store.state(id).startedAt != nil else { return }
        let attached = (try? LaunchConfig.load(directory: engine.store.path(id)))?.networks.map(\.network)
            ?? ((try? networks.endpoints(container: name)) ?? []).map(\.network.name)
        for network in attached {
            try? networks.detach(network: network, container: name, deleteLink: false)
        }
        try? networks.removeNamespace(container: name)
    }

    // MARK: exits

    private func watch(_ id: String, _ state: ContainerState) {
        guard let pid = state.monitorPid, let start = state.monitorStartTime,
              let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() else { return }
        let replaced = lock.withLock { () -> Int32? in
            let old = watched[id]
            watched[id] = fd
            return old
        }
        if let replaced { close(replaced) }
        onWatchChange()
    }

    /// A watched monitor ended: record the exit, release the network, and let the restart
    /// policy decide.
    public func monitorEnded(_ id: String) {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        monitorEndedLocked(id)
    }

    /// `monitorEnded` under the container's lock.
    func monitorEndedLocked(_ id: String) {
        guard let state = try? engine.observe(id), state.status != .running else { return }
        if let fd = lock.withLock({ watched.removeValue(forKey: id) }) { close(fd) }
        if let pid = state.monitorPid {
            var status: Int32 = 0
            _ = berth_waitpid(pid, &status, 1)  // our child if we started it; no-op otherwise
        }
        prober.untrack(id)
        if let name = runName(id) { releaseNetwork(name, id: id) }
        if let record = try? engine.store.record(id) { refreshPodReadiness(of: record) }
        // A monitor killed before its container ended could not give back its share of a
        // volume's own file system (driver_opts); the sweep unmounts what nobody holds —
        // again once the container's last processes are gone (a SIGKILL still in flight,
        // children of a `pid: host` container), which hold the volume until then.
        let volumes = VolumeStore(root: engine.root)
        volumes.releaseUnusedMounts()
        if let name = runName(id), let project = try? engine.store.record(id).project {
            let left = ContainerLeftovers.processes(project: project, name: name)
            if !left.isEmpty {
                lock.withLock { pendingSweeps += 1 }
                Thread { [self] in
                    ContainerLeftovers.waitUntilGone(left, milliseconds: 600_000)
                    volumes.releaseUnusedMounts()
                    lock.withLock { pendingSweeps -= 1 }
                    onWatchChange()
                }.start()
            }
        }
        handleExit(id, state)
        if (try? LaunchConfig.load(directory: engine.store.path(id)))?.autoRemove == true {
            lock.withLock {
                removedExitCodes[id] = state.exitCode ?? 0
                if expectedWaits.remove(id) != nil { uncollectedRemovals[id] = Clock.monotonicNanoseconds() }
            }
            removeStopped(id)
        }
        changes.notify()
    }

    /// Deletes an exited container with its anonymous volumes (`--rm`), under its lock.
    private func removeStopped(_ id: String) {
        let spec = try? engine.store.spec(id)
        let record = try? engine.store.record(id)
        do {
            try engine.remove(id)
        } catch {
            Self.log("cannot remove container \(record?.name ?? id) (run --rm): \(error)")
            return
        }
        restarts.cancel(id)
        if let spec { _ = VolumeStore(root: engine.root).removeAnonymousVolumes(of: spec) }
        if let record { events.record("destroy", record) }
    }

    /// At supervisor start: watch the running containers again (re-reserving their ports
    /// and DNS names), release what exited ones still hold.
    public func adopt() -> [String] {
        var log: [String] = []
        for record in engine.store.records() where record.project == project {
            let containerLock = containerLock(record.id)
            containerLock.lock()
            defer { containerLock.unlock() }
            guard let state = try? engine.observe(record.id) else { continue }
            let run = runName(record.id) ?? record.name
            guard state.status == .running else {
                releaseNetwork(run, id: record.id)
                resumeRestart(record.id, state)
                if state.startedAt != nil, (try? LaunchConfig.load(directory: engine.store.path(record.id)))?.autoRemove == true {
                    removeStopped(record.id)
                }
                continue
            }
            let endpoints = (try? networks.endpoints(container: run)) ?? []
            let bindings = endpoints.flatMap(\.endpoint.ports)
            if !bindings.isEmpty {
                do {
                    _ = try ports.reserve(bindings.map(PortRequest.init), holder: record.id, slot: Self.slot(record), owner: "container \(record.name)")
                } catch {
                    log.append("container \(record.name): cannot hold its published ports again: \(error)")
                }
            }
            var ready = true
            let launch = try? LaunchConfig.load(directory: engine.store.path(record.id))
            if let config = launch?.healthcheck, let startedAt = state.startedAt {
                let status = prober.track(.init(id: record.id, name: run, config: config, startedAt: startedAt), restore: true)
                ready = status == .healthy
                try? networks.setReady(container: run, ready: ready)
            }
            if record.label(Label.podInfra) == "True" {
                ready = podIsReady(record)
                try? networks.setReady(container: run, ready: ready)
            }
            for (network, endpoint) in endpoints {
                dnsRecords.set(network: network.name, container: run, address: endpoint.address, names: [record.name] + endpoint.aliases, ready: ready)
                if let launch { setDNSClient(endpoint.address, launch, container: run) }
                do { try listenForDNS(on: network) } catch { log.append("\(error)") }
            }
            if record.label(Label.podInfra) == "True" { refreshPodReadiness(of: record) }  // its members' names
            watch(record.id, state)
        }
        VolumeStore(root: engine.root).releaseUnusedMounts()
        return log
    }

    // MARK: stop, kill, remove

    /// Stops the container. `byUser` (a command): a pending restart is dropped, and the
    /// restart policy leaves it stopped; otherwise (`on-unhealthy: restart`) its policy
    /// decides what follows. Events: `kill` per signal, `die`, `stop`. A paused
    /// container is thawed first, so that it can handle its stop signal.
    @discardableResult
    public func stop(_ id: String, signal: Int32?, timeout: Int?, byUser: Bool = true) throws -> ContainerState {
        let containerLock = containerLock(id)
        containerLock.lock()
        if let cgroup = try? cgroup(id), cgroup.isFrozen { try? cgroup.thaw() }
        let spec = try? ContainerSpec(decoding: try FS.readString(engine.store.path(id) + "/spec"))
        let record = try? engine.store.record(id)
        // Another container keeps serving these ports (a rolling update): it gets their new
        // connections from now on, while this one finishes what it has.
        if ports.isShared(holder: id), let spec { try? networks.withdrawPorts(container: spec.name) }
        let state: ContainerState
        let wasRunning: Bool
        do {
            let before = try engine.observe(id)
            wasRunning = before.status == .running
            if byUser && !wasRunning { try cancelRestart(id, run: before.startedAt) }
            let events = events
            state = try engine.stop(
                id, signal: signal ?? spec?.stopSignal ?? SIGTERM,
                timeoutSeconds: timeout ?? (spec?.stopTimeoutMilliseconds).map { ($0 + 999) / 1000 } ?? 10, byUser: byUser,
                onSignal: { sent in if let record { events.record("kill", record, extra: ["signal": "\(sent)"]) } })
        } catch {
            containerLock.unlock()
            throw error
        }
        // Still under the lock: a restart the end schedules waits until `stop` is logged.
        monitorEndedLocked(id)
        if wasRunning, let record { events.record("stop", record) }
        containerLock.unlock()
        return state
    }

    /// Sends `signal` to the container's first process. `byUser` (a command) with its stop
    /// signal or SIGKILL marks it stopped by hand, as Docker's `kill` does; another signal
    /// leaves its restart policy in force should it end.
    public func kill(_ id: String, signal: Int32, byUser: Bool = true) throws {
        let state = try engine.observe(id)
        let record = try engine.store.record(id)
        guard state.status == .running, let pid = state.pid else {
            throw EngineError("container \(record.name) is not running")
        }
        let stopSignal = (try? engine.store.spec(id))?.stopSignal ?? SIGTERM
        if byUser && (signal == SIGKILL || signal == stopSignal) { try engine.markStoppedByUser(id, run: state.startedAt) }
        let fd = berth_pidfd_open(pid)
        guard fd >= 0 else { return }
        defer { close(fd) }
        events.record("kill", record, extra: ["signal": "\(signal)"])
        _ = berth_pidfd_send_signal(fd, signal)
        // A frozen process takes SIGKILL only once thawed (cgroup v1), as runc's kill does.
        if signal == SIGKILL, let cgroup = try? cgroup(id), cgroup.isFrozen { try? cgroup.thaw() }
    }

    // MARK: pause

    /// The container's cgroup, `berth/<project>/<name of its run>`.
    func cgroup(_ id: String) throws -> Cgroup {
        let record = try engine.store.record(id)
        return Cgroup(layout: try CgroupLayout.detect(), project: record.project, name: runName(id) ?? record.name)
    }

    /// Freezes the container's processes (Docker's `pause`).
    public func pause(_ id: String) throws {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        let record = try engine.store.record(id)
        guard try engine.observe(id).status == .running else { throw EngineError("container \(record.name) is not running") }
        let cgroup = try cgroup(id)
        if cgroup.isFrozen { throw EngineError("container \(record.name) is already paused") }
        try cgroup.freeze()
        events.record("pause", record)
        changes.notify()
    }

    public func unpause(_ id: String) throws {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        let record = try engine.store.record(id)
        let cgroup = try cgroup(id)
        guard try engine.observe(id).status == .running, cgroup.isFrozen else { throw EngineError("container \(record.name) is not paused") }
        try cgroup.thaw()
        events.record("unpause", record)
        changes.notify()
    }

    /// Stops the container (SIGKILL; with `gracefully`, as `stop` does with `signal` and
    /// `timeout`), releases its network and deletes it.
    public func remove(_ id: String, gracefully: Bool = false, signal: Int32? = nil, timeout: Int? = nil) throws {
        if gracefully {
            _ = try stop(id, signal: signal, timeout: timeout)
        } else {
            _ = try stop(id, signal: SIGKILL, timeout: 0)
        }
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        guard let record = try? engine.store.record(id) else { return }  // auto-removed as it stopped
        if let name = runName(id) { releaseNetwork(name, id: id) }
        try engine.remove(id)
        restarts.cancel(id)
        lock.withLock { containerLocks[id] = nil }
        events.record("destroy", record)
        if record.label(Label.pod) != nil { refreshPodReadiness(of: record) }
    }

    /// The name the container's current (or last) run started under: its name then. A
    /// container renamed while it runs keeps its namespace, endpoints, DNS entry and runtime
    /// state under that name until it stops.
    func runName(_ id: String) -> String? {
        (try? engine.store.spec(id).name) ?? (try? engine.store.record(id).name)
    }

    /// The replica slot whose host ports a container shares: its service and number.
    static func slot(_ record: ContainerRecord) -> String { "\(record.service)#\(record.number)" }

    /// Blocks until the container is not running; returns its exit code. The exit's
    /// consequences (network released, an auto-removed container — `run --rm` — gone) come
    /// first, also when the supervisor's loop is handling them at the same moment.
    public func wait(_ id: String) throws -> Int32 {
        lock.withLock { _ = expectedWaits.remove(id) }
        while true {
            if let code = removedExitCode(id) { return code }
            do {
                _ = try engine.store.record(id)  // removed by someone else: "no such file"
            } catch {
                // Or auto-removed by the loop between the check above and this read.
                if let code = removedExitCode(id) { return code }
                throw error
            }
            let state = try engine.observe(id)
            guard state.status == .running else {
                monitorEnded(id)
                if let code = removedExitCode(id) { return code }
                return (try? engine.observe(id))?.exitCode ?? state.exitCode ?? 0
            }
            guard let pid = state.monitorPid, let start = state.monitorStartTime,
                  let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() else { continue }
            _ = ContainerEngine.waitReadable(fd, milliseconds: Int(Int32.max))
            close(fd)
        }
    }
}
