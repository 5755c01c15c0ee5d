import BerthNetwork
import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation

let canRunStacks = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")

/// A project directory with private berth roots and a busybox image imported as `busybox`,
/// driving the built `berth` binary. `close()` takes the project down and checks that
/// nothing of it is left; it also runs (without checks) if a test fails half-way.
final class StackFixture {
    let base: String
    let project: String
    let directory: String
    let root: String
    let runRoot: String
    private var closed = false

    init(_ compose: String) throws {
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        project = "s\(id)"
        base = NSTemporaryDirectory() + "berth-stack-\(id)"
        directory = base + "/" + project
        root = base + "/root"
        runRoot = base + "/run"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try TestProcess.makeBusyboxRootfs(base + "/rootfs", directories: ["etc", "tmp", "proc", "sys", "dev", "www"])
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: base + "/rootfs/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\n".write(toFile: base + "/rootfs/etc/group", atomically: true, encoding: .utf8)
        try "hello from berth\n".write(toFile: base + "/rootfs/www/index.html", atomically: true, encoding: .utf8)
        let imported = try run(["image", "import", "--change", "CMD [\"/bin/sh\"]", base + "/rootfs", "busybox:latest"])
        guard imported.code == 0 else { throw TestSupportError("image import failed: \(imported.stderr)") }
        try write(compose)
    }

    deinit { if !closed { _ = try? run(["down", "-t", "0"]); try? FileManager.default.removeItem(atPath: base) } }

    func write(_ compose: String) throws {
        try ("name: \(project)\n" + compose).write(toFile: directory + "/compose.yaml", atomically: true, encoding: .utf8)
    }

    /// `berth ARGS` in the project directory with the private roots.
    @discardableResult
    func run(_ args: [String], stdin: String? = nil) throws -> RunOutput {
        try TestProcess.spawn(
            ["/usr/bin/env", "-C", directory, berthBinary] + args, stdin: stdin,
            environment: environment)
    }

    /// The private roots, and an nftables table of the test's own (see BERTH_NFT_TABLE).
    var environment: [String: String] {
        ["BERTH_ROOT": root, "BERTH_RUN_ROOT": runRoot, "COMPOSE_PROGRESS": "plain", "BERTH_NFT_TABLE": "berth_\(project)"]
    }

    var engine: ContainerEngine {
        ContainerEngine(root: root, runRoot: runRoot, runtimeBinary: (berthBinary as NSString).deletingLastPathComponent + "/berth-runtime")
    }

    /// The container of `service` number `number`, its state brought up to date.
    func container(_ service: String, _ number: Int = 1) throws -> (record: ContainerRecord, state: ContainerState) {
        guard let record = engine.store.records().first(where: { $0.project == project && $0.service == service && $0.number == number }) else {
            throw TestSupportError("no container \(service)-\(number)")
        }
        return (record, try engine.observe(record.id))
    }

    /// Blocks until the container's monitor has ended (its pidfd turns readable).
    func waitForExit(_ service: String, _ number: Int = 1) throws {
        let state = try container(service, number).state
        guard let pid = state.monitorPid, let start = state.monitorStartTime,
              let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() else { return }
        defer { Glibc.close(fd) }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 60_000) == 1 else { throw TestSupportError("\(service)-\(number) did not exit within 60 s") }
    }

    /// Blocks until no supervisor of the project runs (it holds its lock for its life).
    func waitForSupervisorExit() {
        let fd = open(runRoot + "/projects/\(project)/supervisor.lock", O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { Glibc.close(fd) }
        _ = flock(fd, LOCK_SH)
    }

    var supervisorPid: Int32? {
        SupervisorClient(project: project, root: root, runRoot: runRoot, berthBinary: berthBinary).runningPid()
    }

    /// What this project still has on the machine (empty when all is gone).
    func leftovers() -> [String] {
        var found: [String] = []
        let records = engine.store.records().filter { $0.project == project }
        found += records.map { "container \($0.name)" }
        if let pid = supervisorPid { found.append("supervisor pid \(pid)") }
        for entry in (try? FS.listDirectory(runRoot + "/netns")) ?? [] { found.append("netns pin \(entry)") }
        for entry in (try? FS.listDirectory(root + "/networks")) ?? [] where entry.hasSuffix(".json") { found.append("network \(entry)") }
        if FS.exists(runRoot + "/projects/" + project) { found.append("run state \(runRoot)/projects/\(project)") }
        for controller in ["memory", "pids", "cpu", "unified"] {
            let path = "/sys/fs/cgroup/\(controller)/berth/\(project)"
            if FS.exists(path) { found.append("cgroup \(path)") }
        }
        let mounts = (try? FS.readString("/proc/self/mountinfo")) ?? ""
        for line in mounts.split(separator: "\n") where line.contains(base) { found.append("mount \(line)") }
        let tables = (try? TestProcess.spawn(["/usr/sbin/nft", "list", "tables"]))?.stdout ?? ""
        for line in tables.split(separator: "\n") where line.contains("berth_\(project)") { found.append(String(line)) }
        return found
    }

    /// `down`, then what is left (expected empty); removes the temporary directory. The
    /// project's bridges must be gone once the background deletion `down` started is done.
    func close() throws -> (down: RunOutput, leftovers: [String]) {
        closed = true
        let bridges = ((try? FS.listDirectory(root + "/networks")) ?? []).filter { $0.hasSuffix(".json") }.compactMap { file in
            (try? JSONDecoder().decode(NetworkRecord.self, from: Data(FS.read(root + "/networks/" + file))))?.bridge
        }
        let down = try run(["down", "-t", "0"])
        var left = leftovers()
        let deletions = BridgeDeletions(runRoot: runRoot)
        if let lock = try? deletions.lock() { Glibc.close(lock) }
        left += deletions.scheduled().map { "bridge pending deletion \($0)" }
        left += bridges.filter { FS.exists("/sys/class/net/" + $0) }.map { "bridge \($0)" }
        try? FileManager.default.removeItem(atPath: base)
        return (down, left)
    }

    /// A free TCP port below the ephemeral range (no parallel client socket takes it).
    static func freePort() -> UInt16 {
        while true {
            let port = UInt16.random(in: 20000...29999)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            Glibc.close(fd)
            if bound == 0 { return port }
        }
    }

    /// `GET path` over HTTP/1.0 on 127.0.0.1:port; the body, or nil if nothing answered.
    static func httpGet(port: UInt16, path: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { return nil }
        return String(text[split.upperBound...])
    }
}
