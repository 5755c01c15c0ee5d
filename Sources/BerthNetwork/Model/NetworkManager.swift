#if canImport(Glibc)
import Glibc
#endif
import BerthDigest
import BerthSystem

/// What a container asks of one network when it is attached.
public struct AttachRequest: Sendable {
    public var container: String
    /// The container's pinned network namespace (see `NetworkManager.createNamespace`).
    public var namespace: NetworkNamespace
    /// `ipv4_address`: a static address; nil takes the lowest free one.
    public var ipv4Address: IPv4Address?
    /// `mac_address`; nil derives one from the address (02:42:a:b:c:d, as Docker).
    public var macAddress: MACAddress?
    /// DNS names on this network besides the container name (service name, `aliases`, `links`).
    public var aliases: [String]
    /// Published ports, already resolved to concrete host ports (`PortReservations`).
    public var ports: [PortBinding]
    /// Interface name in the container; nil picks the first free `ethN`.
    public var interface: String?
    /// false: not ready for published-port traffic yet (`Endpoint.ready`).
    public var ready: Bool

    public init(
        container: String, namespace: NetworkNamespace, ipv4Address: IPv4Address? = nil, macAddress: MACAddress? = nil,
        aliases: [String] = [], ports: [PortBinding] = [], interface: String? = nil, ready: Bool = true
    ) {
        self.container = container
        self.namespace = namespace
        self.ipv4Address = ipv4Address
        self.macAddress = macAddress
        self.aliases = aliases
        self.ports = ports
        self.interface = interface
        self.ready = ready
    }
}

/// berth's bridge networks: create/remove/list/inspect, and container attach/detach.
///
/// State lives in `NetworkStore` (`<root>/networks`); kernel objects are a bridge per network
/// (`br-<id12>` unless `com.docker.network.bridge.name` says otherwise) and a veth pair per
/// endpoint (`vb<11 hex>` on the bridge, `ethN` in the container's namespace); firewall rules
/// are one nftables ruleset rebuilt from the whole store whenever networks or published
/// ports change. Attaching without published ports touches no firewall.
public struct NetworkManager: Sendable {
    public let store: NetworkStore
    /// Network namespaces are pinned in `<runRoot>/netns/<container>`.
    public let runRoot: String
    public let firewall: Firewall

    public init(root: String, runRoot: String, firewall: Firewall = Firewall()) {
        store = NetworkStore(root: root)
        self.runRoot = runRoot
        self.firewall = firewall
    }

    // MARK: networks

    public func create(name: String, options: NetworkOptions = NetworkOptions()) throws -> NetworkRecord {
        try Self.validate(name: name)
        // A bridge of a removed network still being deleted holds its subnet and its name.
        try deleteScheduledBridges()
        if options.enableIPv6 {
            throw NetworkError(.unsupported, "network \(name): enable_ipv6 is not supported by berth yet; remove it (IPv4 only)")
        }
        let mtu = try Self.mtu(options.driverOptions[NetworkOptions.mtuOption], network: name)
        let id = Self.newID(name: name)
        let bridge = options.driverOptions[NetworkOptions.bridgeNameOption] ?? "br-" + id.prefix(12)
        try Self.validate(interface: bridge, network: name)
        return try store.locked {
            if try store.load(name) != nil {
                throw NetworkError(.exists, "network \(name) already exists")
            }
            let others = try store.all()
            if let clash = others.first(where: { $0.bridge == bridge }) {
                throw NetworkError(.exists, "bridge \(bridge) is already used by network \(clash.name): choose another \(NetworkOptions.bridgeNameOption)")
            }
            // Choosing a free subnet and creating the bridge that takes it must not interleave
            // with another berth (another root) doing the same: the host's links are one.
            return try HostLinks.locked {
                let netlink = try RouteNetlink()
                let subnet: IPv4Subnet
                if let given = options.subnet {
                    if let clash = others.first(where: { $0.subnet.overlaps(given) }) {
                        throw NetworkError(.exists, "subnet \(given) of network \(name) overlaps subnet \(clash.subnet) of network \(clash.name): choose another subnet")
                    }
                    subnet = given
                } else {
                    let routes = try netlink.routes().map(\.destination)
                    subnet = try DefaultAddressPool.choose(taken: others.map(\.subnet), hostRoutes: routes)
                }
                let gateway = try Self.gateway(options.gateway, subnet: subnet, network: name)
                if let range = options.ipRange, !subnet.contains(range) {
                    throw NetworkError(.invalidArgument, "ip_range \(range) of network \(name) is not inside its subnet \(subnet)")
                }
                if try netlink.link(name: bridge) != nil {
                    throw NetworkError(.exists, "a link named \(bridge) already exists on the host: choose another \(NetworkOptions.bridgeNameOption) or remove that link")
                }
                let record = NetworkRecord(
                    name: name, id: id, bridge: bridge, subnet: subnet, gateway: gateway, ipRange: options.ipRange,
                    internal: options.internal, mtu: mtu, labels: options.labels, options: options.driverOptions,
                    created: Clock.rfc3339Nano(), configuredSubnet: options.subnet != nil, endpoints: [:])
                do {
                    try createBridge(record, netlink: netlink)
                    try store.save(record)
                    try syncFirewall(records: others + [record])
                } catch {
                    _ = try? netlink.deleteLink(name: bridge)
                    try? store.delete(name)
                    throw NetworkError.system("create network \(name)", error)
                }
                return record
            }
        }
    }

    /// Under the store lock: the bridge and firewall rules of `record` again if the host lost
    /// them (a reboot takes both; the record on disk survives), so the first attach after a
    /// reboot finds its network whole.
    private func restoreBridgeIfLost(_ record: NetworkRecord) throws {
        let netlink = try RouteNetlink()
        guard let index = try netlink.linkIndex(name: record.bridge) else {
            try createBridge(record, netlink: netlink)
            try syncFirewall(records: try store.all())
            return
        }
        // Bridges made before berth gave them an address of their own get one now.
        if (try? FS.readString("/sys/class/net/\(record.bridge)/addr_assign_type"))?.hasPrefix("3") == false {
            try netlink.setLink(index: index, mac: Self.bridgeMAC(record))
        }
    }

    /// The bridge's own MAC: derived from its gateway address as containers' are from theirs
    /// (so unique on the network). Without one, a bridge takes its lowest port's MAC and
    /// changes it when that container goes: its neighbours keep the old one in their ARP
    /// cache and cannot reach the gateway (DNS, egress) until it expires.
    static func bridgeMAC(_ record: NetworkRecord) -> MACAddress { MACAddress(derivedFrom: record.gateway) }

    private func createBridge(_ record: NetworkRecord, netlink: RouteNetlink) throws {
        try netlink.createBridge(name: record.bridge, mtu: record.mtu, mac: Self.bridgeMAC(record))
        guard let index = try netlink.linkIndex(name: record.bridge) else {
            throw NetworkError(.system, "bridge \(record.bridge) vanished right after it was created")
        }
        try netlink.addAddress(index: index, address: record.gateway, prefixLength: record.subnet.prefixLength)
        try netlink.setLink(index: index, up: true)
        if !record.internal { try firewall.allowLocalnetRouting(bridge: record.bridge) }
    }

    /// Removes a network without endpoints: its firewall rules, its bridge, its state.
    /// The rules go first: their removal then completes in the kernel (RCU) while the
    /// bridge is deleted, instead of after it. If the bridge cannot be deleted, the record
    /// stays (a later remove retries; the next firewall sync restores its rules).
    public func remove(name: String) throws {
        try store.locked {
            let record = try withdraw(name)
            _ = try RouteNetlink().deleteLink(name: record.bridge)
            try store.delete(name)
        }
    }

    /// Under the store lock: the record of network `name`, which must have no endpoints,
    /// its firewall rules already gone.
    private func withdraw(_ name: String) throws -> NetworkRecord {
        let record = try load(name)
        if !record.endpoints.isEmpty {
            throw NetworkError(.inUse, "network \(name) has active endpoints (\(record.endpoints.keys.sorted().joined(separator: ", "))): stop or disconnect those containers first")
        }
        try syncFirewall(records: try store.all().filter { $0.name != name })
        return record
    }

    /// Removes a network as `remove` does, but leaves its bridge (attached to nothing,
    /// without firewall rules, no longer berth's) to `BridgeDeletions`: the caller then has
    /// a background process delete it (`deleteScheduledBridges` with the lock passed on),
    /// or deletes it later itself.
    public func removeLeavingBridge(name: String) throws {
        try store.locked {
            let record = try withdraw(name)
            try bridgeDeletions.schedule(record.bridge)
            try store.delete(name)
        }
    }

    public var bridgeDeletions: BridgeDeletions { BridgeDeletions(runRoot: runRoot) }

    /// Deletes the bridges of removed networks left for later (waiting first for a
    /// background process at it); returns their names.
    @discardableResult
    public func deleteScheduledBridges() throws -> [String] {
        let deletions = bridgeDeletions
        guard !deletions.scheduled().isEmpty else { return [] }
        let fd = try deletions.lock()
        defer { close(fd) }
        return try deletions.deleteScheduled(store: store)
    }

    /// Deletes the scheduled bridges while holding `lockFD`, the deletions' lock (taken by
    /// the process that scheduled them and passed on).
    public func deleteScheduledBridges(holding lockFD: Int32) throws -> [String] {
        // Locking again through the same open file description succeeds at once if (and
        // only if) it holds the lock.
        guard flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
            throw NetworkError(.system, "delete bridges of removed networks: fd \(lockFD) does not hold \(bridgeDeletions.lockPath)")
        }
        return try bridgeDeletions.deleteScheduled(store: store)
    }

    /// Removes every network without endpoints that `matching` selects; returns their names.
    public func prune(matching: (NetworkRecord) -> Bool = { _ in true }) throws -> [String] {
        var removed: [String] = []
        for record in try store.locked({ try store.all() }) where record.endpoints.isEmpty && matching(record) {
            do {
                try remove(name: record.name)
                removed.append(record.name)
            } catch let error as NetworkError where error.code == .inUse || error.code == .notFound {
                continue  // attached or removed meanwhile
            }
        }
        return removed
    }

    public func list() throws -> [NetworkRecord] {
        try store.locked { try store.all() }
    }

    public func inspect(name: String) throws -> NetworkRecord {
        try store.locked { try load(name) }
    }

    func load(_ name: String) throws -> NetworkRecord {
        guard let record = try store.load(name) else {
            throw NetworkError(.notFound, "network \(name) not found")
        }
        return record
    }

    // MARK: namespaces

    public func namespacePath(container: String) -> String { "\(runRoot)/netns/\(container)" }

    /// A fresh network namespace for `container`, with `lo` up; the container joins it with
    /// `NamespaceMode.path(namespace.path)`.
    public func createNamespace(container: String) throws -> NetworkNamespace {
        try Self.validate(name: container)
        try FS.makeDirectories(runRoot + "/netns", mode: 0o755)
        let namespace = try NetworkNamespace.create(at: namespacePath(container: container))
        do {
            let inside = RouteNetlink(transport: try NetlinkSocket(namespace: namespace))
            try inside.setLink(index: 1, up: true)  // lo is always index 1 in a new namespace
        } catch {
            try? namespace.remove()
            throw NetworkError.system("bring up lo in \(namespace.path)", error)
        }
        return namespace
    }

    public func removeNamespace(container: String) throws {
        try NetworkNamespace(path: namespacePath(container: container)).remove()
    }

    // MARK: endpoints

    /// Connects a container to a network: allocates its address (persisted first, so a crash
    /// cannot hand it out twice), creates the veth pair straight into the container's
    /// namespace, configures address, MAC, MTU, default route (unless internal), and
    /// publishes its ports.
    @discardableResult
    public func attach(network name: String, _ request: AttachRequest) throws -> Endpoint {
        try attachEndpoint(network: name, request).endpoint
    }

    /// `attach`, returning the network's record too. One locked read and write of the
    /// network's state (the kernel work happens outside the lock), so containers starting
    /// together do not queue on it longer than that.
    public func attachEndpoint(network name: String, _ request: AttachRequest) throws -> (network: NetworkRecord, endpoint: Endpoint) {
        // The interface in the container's own namespace, chosen before the lock: only this
        // container attaches there.
        let interface = try request.interface
            ?? Self.nextInterfaceName(RouteNetlink(transport: try NetlinkSocket(namespace: request.namespace)).links().map(\.name))
        let (record, endpoint) = try store.locked { () throws -> (NetworkRecord, Endpoint) in
            var record = try load(name)
            if record.endpoints[request.container] != nil {
                throw NetworkError(.exists, "container \(request.container) is already attached to network \(name)")
            }
            try restoreBridgeIfLost(record)
            try Self.validate(interface: interface, network: name)
            var allocator = record.allocator
            let address = try allocator.allocate(request.ipv4Address, network: name)
            let endpoint = Endpoint(
                container: request.container, address: address, mac: request.macAddress ?? MACAddress(derivedFrom: address),
                hostInterface: "vb" + SHA256.hex(record.id + "/" + request.container).prefix(11), interface: interface,
                namespace: request.namespace.path, aliases: request.aliases, ports: request.ports, ready: request.ready ? nil : false)
            record.endpoints[request.container] = endpoint
            try store.save(record, sync: false)
            if !endpoint.ports.isEmpty { try syncFirewall(records: try store.all()) }
            return (record, endpoint)
        }
        do {
            try plumb(endpoint, record: record, namespace: request.namespace)
        } catch {
            if let netlink = try? RouteNetlink() { _ = try? netlink.deleteLink(name: endpoint.hostInterface) }
            try? store.locked {
                if var current = try store.load(name) {
                    current.endpoints[request.container] = nil
                    try store.save(current, sync: false)
                    if !endpoint.ports.isEmpty { try syncFirewall(records: try store.all()) }
                }
            }
            throw NetworkError.system("attach \(request.container) to network \(name)", error)
        }
        return (record, endpoint)
    }

    /// The kernel side of an attach: the veth pair into the namespace as `endpoint.interface`.
    private func plumb(_ endpoint: Endpoint, record: NetworkRecord, namespace: NetworkNamespace) throws {
        let host = try RouteNetlink()
        guard let bridge = try host.linkIndex(name: record.bridge) else {
            throw NetworkError(.notFound, "bridge \(record.bridge) of network \(record.name) vanished while \(endpoint.container) was being attached (deleted by hand?): run the command again")
        }
        let inside = RouteNetlink(transport: try NetlinkSocket(namespace: namespace))
        let name = endpoint.interface
        try namespace.withDescriptor { fd in
            func create() throws {
                try host.createVeth(
                    hostName: endpoint.hostInterface, peerName: name, peerNamespaceFD: fd, mtu: record.mtu, master: bridge,
                    peerMAC: endpoint.mac)
            }
            do {
                try create()
            } catch let error as NetlinkError where error.errno == EEXIST {
                // The host end of this container's previous veth on this network (its name
                // is derived from both): a detach with `deleteLink: false` leaves it to die
                // with the old namespace, which the kernel does asynchronously, so a quick
                // restart can find it still there. It is nobody else's: delete it, retry.
                _ = try host.deleteLink(name: endpoint.hostInterface)
                try create()
            }
        }
        guard let index = try inside.linkIndex(name: name) else {
            throw NetworkError(.system, "\(name) did not appear in \(namespace.path) after the veth was created")
        }
        try inside.setLink(index: index, up: true)
        try inside.addAddress(index: index, address: endpoint.address, prefixLength: record.subnet.prefixLength)
        if !record.internal {
            let hasDefault = try inside.routes().contains { $0.table == 254 && $0.destination.prefixLength == 0 }
            if !hasDefault { try inside.addRoute(gateway: record.gateway, index: index) }
        }
    }

    static func nextInterfaceName(_ taken: [String]) -> String {
        var n = 0
        while taken.contains("eth\(n)") { n += 1 }
        return "eth\(n)"
    }

    /// Disconnects a container: releases its address and published ports, and deletes the
    /// host end of its veth (which takes the peer along). With `deleteLink: false` the link is
    /// left to die with the namespace — ≈15 ms saved when the caller removes the namespace next.
    public func detach(network name: String, container: String, deleteLink: Bool = true) throws {
        let endpoint = try store.locked { () throws -> Endpoint? in
            var record = try load(name)
            guard let endpoint = record.endpoints.removeValue(forKey: container) else { return nil }
            try store.save(record, sync: false)
            if !endpoint.ports.isEmpty { try syncFirewall(records: try store.all()) }
            return endpoint
        }
        guard let endpoint else {
            throw NetworkError(.notFound, "container \(container) is not attached to network \(name)")
        }
        if deleteLink { _ = try RouteNetlink().deleteLink(name: endpoint.hostInterface) }
    }

    /// Marks a container's endpoints ready or not for published-port traffic (a healthcheck
    /// passed or failed); the ruleset is rebuilt when that changes where a port goes.
    public func setReady(container: String, ready: Bool) throws {
        try updateEndpoints(of: container) { $0.ready = ready ? nil : false }
    }

    /// Stops sending published-port traffic to a container (it is about to stop while
    /// another container keeps its ports): its endpoints no longer publish anything.
    public func withdrawPorts(container: String) throws {
        try updateEndpoints(of: container) { $0.ports = [] }
    }

    private func updateEndpoints(of container: String, _ change: (inout Endpoint) -> Void) throws {
        try store.locked {
            var records = try store.all()
            let rulesBefore = FirewallRuleset.render(FirewallState(records: records), table: firewall.table)
            for index in records.indices {
                guard var endpoint = records[index].endpoints[container] else { continue }
                let before = endpoint
                change(&endpoint)
                guard endpoint != before else { continue }
                records[index].endpoints[container] = endpoint
                try store.save(records[index], sync: false)
            }
            // Only when traffic goes elsewhere: a lone endpoint gets its port's traffic whether
            // ready or not.
            if FirewallRuleset.render(FirewallState(records: records), table: firewall.table) != rulesBefore {
                try syncFirewall(records: records)
            }
        }
    }

    /// The networks a container is attached to, with its endpoints.
    public func endpoints(container: String) throws -> [(network: NetworkRecord, endpoint: Endpoint)] {
        try list().compactMap { record in record.endpoints[container].map { (record, $0) } }
    }

    /// Forgets endpoints whose namespace pin is gone (a container removed while no supervisor
    /// ran); returns `network/container` for each.
    public func removeStaleEndpoints() throws -> [String] {
        try store.locked {
            var removed: [String] = []
            var changedPorts = false
            for var record in try store.all() {
                let stale = record.endpoints.values.filter { !NetworkNamespace(path: $0.namespace).exists }
                guard !stale.isEmpty else { continue }
                for endpoint in stale {
                    record.endpoints[endpoint.container] = nil
                    changedPorts = changedPorts || !endpoint.ports.isEmpty
                    removed.append("\(record.name)/\(endpoint.container)")
                    _ = try? RouteNetlink().deleteLink(name: endpoint.hostInterface)
                }
                try store.save(record, sync: false)
            }
            if changedPorts { try syncFirewall(records: try store.all()) }
            return removed.sorted()
        }
    }

    /// Rebuilds berth's nftables ruleset from the store.
    public func syncFirewall() throws {
        try store.locked { try syncFirewall(records: try store.all()) }
    }

    private func syncFirewall(records: [NetworkRecord]) throws {
        try firewall.apply(FirewallState(records: records))
    }

    // MARK: validation

    static func validate(name: String) throws {
        let ok = !name.isEmpty && name.utf8.count <= 128 && name.unicodeScalars.enumerated().allSatisfy { index, c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || (index > 0 && (c == "_" || c == "." || c == "-"))
        }
        if !ok {
            throw NetworkError(.invalidArgument, "invalid name \"\(name)\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        }
    }

    static func validate(interface: String, network: String) throws {
        let ok = !interface.isEmpty && interface.utf8.count <= 15 && interface != "." && interface != ".."
            && !interface.contains(where: { $0 == "/" || $0 == ":" || $0.isWhitespace })
        if !ok {
            throw NetworkError(.invalidArgument, "network \(network): invalid interface name \"\(interface)\": 1 to 15 characters, no '/', ':' or spaces")
        }
    }

    static func mtu(_ text: String?, network: String) throws -> UInt32? {
        guard let text else { return nil }
        guard let value = UInt32(text), (68...65535).contains(value) else {
            throw NetworkError(.invalidArgument, "network \(network): invalid \(NetworkOptions.mtuOption) \"\(text)\": use a number from 68 to 65535")
        }
        return value
    }

    static func gateway(_ given: IPv4Address?, subnet: IPv4Subnet, network: String) throws -> IPv4Address {
        guard let given else {
            guard subnet.prefixLength <= 30 else {
                throw NetworkError(.invalidArgument, "subnet \(subnet) of network \(network) is too small: use /30 or larger")
            }
            return IPv4Address(subnet.network.value + 1)
        }
        guard subnet.contains(given), given != subnet.network, given != subnet.broadcast else {
            throw NetworkError(.invalidArgument, "gateway \(given) of network \(network) is not a host address of its subnet \(subnet)")
        }
        return given
    }

    static func newID(name: String) -> String {
        var seed = name + "/" + String(Clock.monotonicNanoseconds())
        for _ in 0..<4 { seed += "/" + String(UInt64.random(in: 0...UInt64.max)) }
        return SHA256.hex(seed)
    }
}

/// A host-wide lock over creating links that claim address space: an exclusive flock on
/// `/sys/class/net` (a directory every process sees the same; nothing is created, so
/// nothing is left behind). Held only while a network's subnet is chosen and its bridge made.
enum HostLinks {
    static func locked<T>(_ body: () throws -> T) throws -> T {
        let fd = open("/sys/class/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return try body() }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { break }
        }
        return try body()
    }
}
