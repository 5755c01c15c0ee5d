import Foundation
import Testing
@testable import BerthNetwork
@testable import BerthRuntime
import BerthSystem
import BerthTestSupport

let canRunNetworkedContainers: Bool = isRoot && FileManager.default.isExecutableFile(atPath: "/bin/busybox") && Firewall().nftPath != nil
let networkedGateReason: Comment = "needs root, /bin/busybox (Debian busybox-static) and nft (Debian nftables)"

/// Busybox containers on berth networks, the way the orchestrator will run them: a pinned
/// namespace per container, attached to its networks before `berth runtime run --spec` joins
/// it, DNS records set when it is ready, and everything undone in reverse at the end.
final class NetworkedContainers {
    let world: NetworkWorld
    let rootfs: String
    let runRoot: String
    var project: String { world.prefix }
    let records = DNSRecords()
    let dns: DNSServer
    private var running: [String: Process] = [:]

    init() throws {
        world = try NetworkWorld()
        rootfs = world.dir + "/rootfs"
        runRoot = world.dir + "/containers"
        dns = try DNSServer(records: records, upstreams: [])
        dns.start()
        let dns = self.dns
        world.onTeardown { dns.stop() }
        try Self.makeRootfs(rootfs)
        let project = world.prefix
        let layout = try CgroupLayout.detect()
        world.onTeardown { Cgroup.removeParents(layout: layout, project: project) }
    }

    func teardown() {
        for name in Array(running.keys) { stop(name) }
        world.teardown()
    }

    static func makeRootfs(_ rootfs: String) throws {
        try TestProcess.makeBusyboxRootfs(rootfs, directories: ["etc", "tmp", "proc", "sys", "dev", "www"])
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\n".write(toFile: rootfs + "/etc/group", atomically: true, encoding: .utf8)
        try "hello from berth\n".write(toFile: rootfs + "/www/index.html", atomically: true, encoding: .utf8)
    }

    /// Creates the namespace, attaches the container to `networks` (the first one also
    /// gets the published `ports`), and writes its spec file.
    func prepare(_ name: String, networks: [String], script: String, ports: [PortBinding] = [], aliases: [String] = []) throws -> String {
        let namespace = try world.manager.createNamespace(container: name)
        var endpoints: [(NetworkRecord, Endpoint)] = []
        for (index, network) in networks.enumerated() {
            let endpoint = try world.manager.attach(network: network, AttachRequest(
                container: name, namespace: namespace, aliases: aliases, ports: index == 0 ? ports : []))
            endpoints.append((try world.manager.inspect(name: network), endpoint))
        }
        var spec = ContainerSpec(name: name, project: project, root: .directory(rootfs, readOnly: false), process: .init(args: ["sh", "-c", script]))
        spec.namespaces.network = .path(namespace.path)
        spec.stopSignal = 9
        if let (record, _) = endpoints.first {
            spec.etcHosts = try EtcFiles.hosts(hostname: name, addresses: endpoints.map(\.1.address), hostGateway: record.gateway)
            spec.resolvConf = EtcFiles.resolvConf(nameserver: record.gateway, network: record.name, search: [], options: [])
        }
        let path = world.dir + "/\(name).spec"
        try spec.encoded.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Runs a container to completion and tears its networking down.
    func run(_ name: String, networks: [String], _ script: String) throws -> RunOutput {
        let spec = try prepare(name, networks: networks, script: script)
        defer { unplug(name) }
        return try TestProcess.spawn([berthBinary, "runtime", "run", "--run-root", runRoot, "--spec", spec])
    }

    /// Starts a long-running container whose script prints "ready" once it serves, and marks
    /// it ready in DNS under `names` on each of its networks.
    func start(_ name: String, networks: [String], _ script: String, ports: [PortBinding] = [], names: [String] = []) throws {
        let spec = try prepare(name, networks: networks, script: script, ports: ports, aliases: names)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: berthBinary)
        process.arguments = ["runtime", "run", "--run-root", runRoot, "--spec", spec]
        let out = Foundation.Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        running[name] = process
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { throw FixtureFailure("container \(name) ended before it was ready: \(String(decoding: seen, as: UTF8.self))") }
            seen.append(chunk)
        }
        for (record, endpoint) in try world.manager.endpoints(container: name) {
            records.set(network: record.name, container: name, address: endpoint.address, names: names, ready: true)
        }
    }

    /// Stops a started container (SIGTERM to its monitor, which sends the stop signal,
    /// SIGKILL here) and removes its networking.
    func stop(_ name: String) {
        records.remove(container: name)
        if let process = running.removeValue(forKey: name) {
            if process.isRunning { kill(process.processIdentifier, SIGTERM) }
            process.waitUntilExit()
        }
        unplug(name)
    }

    private func unplug(_ name: String) {
        for (record, _) in (try? world.manager.endpoints(container: name)) ?? [] {
            try? world.manager.detach(network: record.name, container: name)
        }
        try? world.manager.removeNamespace(container: name)
    }

    func network(_ key: String, internal: Bool = false) throws -> NetworkRecord {
        let record = try world.manager.create(name: "\(project)_\(key)", options: NetworkOptions(internal: `internal`))
        try dns.listen(network: record.name, address: record.gateway)
        let dns = self.dns
        world.onTeardown { dns.stopListening(network: record.name) }
        return record
    }
}

struct FixtureFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// An HTTP GET to `address:port` from this process; returns the body or nil.
func httpGet(_ address: IPv4Address, port: UInt16) -> String? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { close(fd) }
    var sa = sockaddr_in(address: address, port: port)
    let connected = withUnsafePointer(to: &sa) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = Array("GET / HTTP/1.0\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    while let chunk = DNSClient.receive(fd, timeoutMilliseconds: 5000), !chunk.isEmpty { response += chunk }
    let text = String(decoding: response, as: UTF8.self)
    return text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
}

/// The host's own address on the interface of its default route (traffic to it stays local).
func hostAddress() throws -> IPv4Address? {
    let netlink = try RouteNetlink()
    guard let link = try netlink.routes().first(where: { $0.table == 254 && $0.destination.prefixLength == 0 })?.outputInterface else { return nil }
    return try netlink.addresses().first { $0.index == link }?.address
}

/// A TCP server on the host that accepts and closes every connection at once (so a busybox
/// `nc` probe ends with status 0 when it got through), until it is deallocated.
final class ClosingServer: @unchecked Sendable {
    let fd: Int32
    let port: UInt16
    private let stopPipe: BerthSystem.Pipe
    private let finished = DispatchSemaphore(value: 0)

    init(address: IPv4Address) throws {
        fd = try DNSServer.bound(type: Int32(SOCK_STREAM.rawValue), address: address, port: 0, network: "test")
        guard listen(fd, 16) == 0 else { throw FixtureFailure("listen failed") }
        port = DNSServer.localPort(fd)
        stopPipe = try BerthSystem.Pipe()
        let fd = self.fd, stop = stopPipe.read, finished = self.finished
        Thread {
            defer { finished.signal() }
            while true {
                var entries = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: stop, events: Int16(POLLIN), revents: 0)]
                guard poll(&entries, 2, -1) > 0, entries[1].revents == 0 else { return }
                let client = accept(fd, nil, nil)
                if client >= 0 { close(client) }
            }
        }.start()
    }

    deinit {
        _ = write(stopPipe.write, "q", 1)
        finished.wait()
        close(fd)
        close(stopPipe.read)
        close(stopPipe.write)
    }
}
