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

    private let lock = NSLock()
    private var containerLocks: [String: NSLock] = [:]
    private var reservations: [String: PortReservation] = [:]
    private var dnsServer: DNSServer?
    private var listeningOn: Set<String> = []
    /// Containers whose exit this process waits for, with their monitor's pidfd.
    private var watched: [String: Int32] = [:]
    /// Called (on some thread) when a watched container's monitor is gone.
    public var onWatchChange: @Sendable () -> Void = {}
    /// Exit codes of auto-removed containers (`run --rm`), for the `wait` requests that
    /// come after the container is gone.
    private var removedExitCodes: [String: Int32] = [:]

    public init(project: String, engine: ContainerEngine, networks: NetworkManager) throws {
        self.project = project
        self.engine = engine
        self.networks = networks
        prober = try HealthProber(project: project, runRoot: engine.runRoot, runtimeBinary: engine.runtimeBinary, store: engine.store)
        let records = dnsRecords
        let changes = changes
        prober.onChange = { _, name, status in
            // Readiness, as Kubernetes': only a healthy container answers to its names.
            records.setReady(container: name, ready: status == .healthy)
            changes.notify()
        }
        prober.isPaused = { [engine] id in
            guard let record = try? engine.store.record(id), let layout = try? CgroupLayout.detect() else { return false }
            return Cgroup(layout: layout, project: record.project, name: record.name).isFrozen
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

    /// The pidfds to poll: a readable one means that container's monitor has ended.
    public func watchedDescriptors() -> [(id: String, fd: Int32)] {
        lock.withLock { watched.map { ($0.key, $0.value) } }
    }

    public var runningCount: Int { lock.withLock { watched.count } }

    // MARK: start

    /// `stdio`: an attached client's stdin, stdout and stderr (`berth run`), nil: none.
    @discardableResult
    public func start(_ id: String, stdio: [Int32]? = nil) throws -> ContainerState {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        let record = try engine.store.record(id)
        var state = try engine.observe(id)
        if state.status == .running {
            watch(id, state)
            return state
        }
        let directory = engine.store.path(id)
        let launch = try LaunchConfig.load(directory: directory)
        var spec = try ContainerSpec(decoding: try FS.readString(directory + "/spec"))
        // Leftovers of a start that did not finish (a supervisor killed half-way).
        releaseNetwork(record.name, id: id)
        var endpoints: [(network: NetworkRecord, endpoint: Endpoint)] = []
        do {
            switch launch.networkMode {
            case .bridge:
                endpoints = try attach(record.name, id: id, launch: launch)
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
                break
            }
            try FS.writeAtomically(directory + "/spec", Array(spec.encoded.utf8), mode: 0o600)
            state = try engine.start(id, stdio: stdio)
        } catch {
            releaseNetwork(record.name, id: id)
            throw error
        }
        for (network, endpoint) in endpoints {
            dnsRecords.set(network: network.name, container: record.name, address: endpoint.address,
                           names: endpoint.aliases, ready: launch.healthcheck == nil)
        }
        if let config = launch.healthcheck, let startedAt = state.startedAt {
            prober.track(.init(id: id, name: record.name, config: config, startedAt: startedAt), restore: false)
        }
        watch(id, state)
        changes.notify()
        return state
    }

    /// The namespace, ports and endpoints of a bridge-mode container.
    private func attach(_ name: String, id: String, launch: LaunchConfig) throws -> [(network: NetworkRecord, endpoint: Endpoint)] {
        let reservation = try PortReservation.reserve(try launch.portRequests, owner: "container \(name)")
        let namespace: NetworkNamespace
        do {
            namespace = try networks.createNamespace(container: name)
        } catch {
            reservation.release()
            throw error
        }
        lock.withLock { reservations[id] = reservation }
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
            let endpoint = try networks.attach(network: attachment.network, AttachRequest(
                container: name, namespace: namespace, ipv4Address: address, macAddress: mac, aliases: attachment.aliases,
                ports: index == 0 ? reservation.bindings : [], interface: attachment.interface))
            let network = try networks.inspect(name: attachment.network)
            if !launch.dns.isEmpty {
                dnsRecords.setUpstreams(client: endpoint.address, launch.dns.compactMap { IPv4Address($0).map { DNSUpstream(address: $0) } })
            }
            try listenForDNS(on: network)
            out.append((network, endpoint))
        }
        return out
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

    /// Gives back what a container held while it ran. Safe to repeat; errors are not
    /// fatal (a missing link or pin is what we want).
    func releaseNetwork(_ name: String, id: String) {
        dnsRecords.remove(container: name)
        if let reservation = lock.withLock({ reservations.removeValue(forKey: id) }) { reservation.release() }
        for (network, _) in (try? networks.endpoints(container: name)) ?? [] {
            try? networks.detach(network: network.name, container: name, deleteLink: false)
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

    /// A watched monitor ended: record the exit and release the network.
    public func monitorEnded(_ id: String) {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        guard let state = try? engine.observe(id), state.status != .running else { return }
        if let fd = lock.withLock({ watched.removeValue(forKey: id) }) { close(fd) }
        if let pid = state.monitorPid {
            var status: Int32 = 0
            _ = berth_waitpid(pid, &status, 1)  // our child if we started it; no-op otherwise
        }
        prober.untrack(id)
        if let record = try? engine.store.record(id) { releaseNetwork(record.name, id: id) }
        if (try? LaunchConfig.load(directory: engine.store.path(id)))?.autoRemove == true {
            lock.withLock { removedExitCodes[id] = state.exitCode ?? 0 }
            removeStopped(id)
        }
        changes.notify()
    }

    /// Deletes an exited container with its anonymous volumes (`--rm`), under its lock.
    private func removeStopped(_ id: String) {
        let spec = try? engine.store.spec(id)
        do {
            try engine.remove(id)
        } catch {
            FileHandle.standardError.write(Data("berth supervise: cannot remove container \(id): \(error)\n".utf8))
            return
        }
        if let spec { _ = volumes.removeAnonymousVolumes(of: spec) }
    }

    /// The project's volume store (under the root the container store is in).
    private var volumes: VolumeStore {
        VolumeStore(root: String(engine.store.directory.dropLast("/containers".count)))
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
            guard state.status == .running else {
                releaseNetwork(record.name, id: record.id)
                if state.startedAt != nil, (try? LaunchConfig.load(directory: engine.store.path(record.id)))?.autoRemove == true {
                    removeStopped(record.id)
                }
                continue
            }
            let endpoints = (try? networks.endpoints(container: record.name)) ?? []
            let bindings = endpoints.flatMap(\.endpoint.ports)
            if !bindings.isEmpty {
                do {
                    let reservation = try PortReservation.reserve(bindings.map(PortRequest.init), owner: "container \(record.name)")
                    lock.withLock { reservations[record.id] = reservation }
                } catch {
                    log.append("container \(record.name): cannot hold its published ports again: \(error)")
                }
            }
            var ready = true
            if let config = (try? LaunchConfig.load(directory: engine.store.path(record.id)))?.healthcheck, let startedAt = state.startedAt {
                let status = prober.track(.init(id: record.id, name: record.name, config: config, startedAt: startedAt), restore: true)
                ready = status == .healthy
            }
            for (network, endpoint) in endpoints {
                dnsRecords.set(network: network.name, container: record.name, address: endpoint.address, names: endpoint.aliases, ready: ready)
                do { try listenForDNS(on: network) } catch { log.append("\(error)") }
            }
            watch(record.id, state)
        }
        return log
    }

    // MARK: stop, kill, remove

    /// A paused container is thawed first, so that it can handle its stop signal.
    @discardableResult
    public func stop(_ id: String, signal: Int32?, timeout: Int?) throws -> ContainerState {
        let containerLock = containerLock(id)
        containerLock.lock()
        if let cgroup = try? cgroup(id), cgroup.isFrozen { try? cgroup.thaw() }
        let spec = try? ContainerSpec(decoding: try FS.readString(engine.store.path(id) + "/spec"))
        let state: ContainerState
        do {
            state = try engine.stop(
                id, signal: signal ?? spec?.stopSignal ?? SIGTERM,
                timeoutSeconds: timeout ?? (spec?.stopTimeoutMilliseconds).map { ($0 + 999) / 1000 } ?? 10)
        } catch {
            containerLock.unlock()
            throw error
        }
        containerLock.unlock()
        monitorEnded(id)
        return state
    }

    public func kill(_ id: String, signal: Int32) throws {
        let state = try engine.observe(id)
        guard state.status == .running, let pid = state.pid else {
            throw EngineError("container \(try engine.store.record(id).name) is not running")
        }
        let fd = berth_pidfd_open(pid)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = berth_pidfd_send_signal(fd, signal)
        // A frozen process takes SIGKILL only once thawed (cgroup v1), as runc's kill does.
        if signal == SIGKILL, let cgroup = try? cgroup(id), cgroup.isFrozen { try? cgroup.thaw() }
    }

    // MARK: pause

    /// The container's cgroup, `berth/<project>/<name>`.
    func cgroup(_ id: String) throws -> Cgroup {
        let record = try engine.store.record(id)
        return Cgroup(layout: try CgroupLayout.detect(), project: record.project, name: record.name)
    }

    /// Freezes the container's processes (Docker's `pause`).
    public func pause(_ id: String) throws {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        let name = try engine.store.record(id).name
        guard try engine.observe(id).status == .running else { throw EngineError("container \(name) is not running") }
        let cgroup = try cgroup(id)
        if cgroup.isFrozen { throw EngineError("container \(name) is already paused") }
        try cgroup.freeze()
        changes.notify()
    }

    public func unpause(_ id: String) throws {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        let name = try engine.store.record(id).name
        let cgroup = try cgroup(id)
        guard try engine.observe(id).status == .running, cgroup.isFrozen else { throw EngineError("container \(name) is not paused") }
        try cgroup.thaw()
        changes.notify()
    }

    public func remove(_ id: String) throws {
        _ = try stop(id, signal: SIGKILL, timeout: 0)
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        guard (try? engine.store.record(id)) != nil else { return }  // auto-removed as it stopped
        if let record = try? engine.store.record(id) { releaseNetwork(record.name, id: id) }
        try engine.remove(id)
        lock.withLock { containerLocks[id] = nil }
    }

    /// Blocks until the container is not running; returns its exit code. The exit's
    /// consequences (network released, an auto-removed container — `run --rm` — gone) come
    /// first, also when the supervisor's loop is handling them at the same moment.
    public func wait(_ id: String) throws -> Int32 {
        while true {
            if let code = lock.withLock({ removedExitCodes[id] }) { return code }
            _ = try engine.store.record(id)  // removed by someone else: "no such file"
            let state = try engine.observe(id)
            guard state.status == .running else {
                monitorEnded(id)
                if let code = lock.withLock({ removedExitCodes[id] }) { return code }
                return (try? engine.observe(id))?.exitCode ?? state.exitCode ?? 0
            }
            guard let pid = state.monitorPid, let start = state.monitorStartTime,
                  let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() else { continue }
            _ = ContainerEngine.waitReadable(fd, milliseconds: Int(Int32.max))
            close(fd)
        }
    }
}
