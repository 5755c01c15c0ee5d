import BerthOrchestrator
import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation

/// A private root and run root, a busybox "image" layer, and a container engine over them:
/// containers of a project created and started without any supervisor (shared by the
/// orchestrator's and the CLI's root-tier tests). Everything is removed on deinit.
public final class EngineFixture {
    /// Root with /bin/busybox (Debian busybox-static): what running containers needs.
    public static let canRun = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")

    /// `berth-runtime`, built next to `berth` ($BERTH_BINARY, else the test bundle's build dir).
    public static let runtimeBinary: String = (berthBinary as NSString).deletingLastPathComponent + "/berth-runtime"

    public let base: String
    public let engine: ContainerEngine
    public let layer: String
    public let project: String
    /// `--root` and `--run-root` for the CLI.
    public var root: String { base + "/root" }
    public var runRoot: String { base + "/run" }
    /// The Compose file the containers are said to come from (their config_files label).
    public var composeFile: String { base + "/project/compose.yaml" }

    public init() throws {
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        project = "e\(id)"
        base = NSTemporaryDirectory() + "berth-engine-\(id)"
        layer = base + "/layer"
        try FileManager.default.createDirectory(atPath: layer + "/bin", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "/project", withIntermediateDirectories: true)
        for dir in ["etc", "tmp", "proc", "sys", "dev"] {
            try FileManager.default.createDirectory(atPath: layer + "/" + dir, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: layer + "/bin/busybox")
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: layer + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\n".write(toFile: layer + "/etc/group", atomically: true, encoding: .utf8)
        for applet in ["sh", "echo", "sleep", "cat", "true", "seq"] {
            try FileManager.default.createSymbolicLink(atPath: layer + "/bin/" + applet, withDestinationPath: "busybox")
        }
        engine = ContainerEngine(root: base + "/root", runRoot: base + "/run", runtimeBinary: Self.runtimeBinary)
    }

    /// Loads `yaml` as this fixture's project (from `composeFile`).
    public func load(_ yaml: String) throws -> Project {
        try yaml.write(toFile: composeFile, atomically: true, encoding: .utf8)
        var options = LoadOptions()
        options.files = [composeFile]
        options.environment = [:]
        return try ProjectLoader().load(options).project
    }

    /// Creates container `number` of `service` running `command` (`extra`: more lines of the
    /// service, indented by four spaces).
    public func create(_ command: String, service: String = "web", number: Int = 1, extra: String = "") throws -> ContainerRecord {
        let yaml = "name: \(project)\nservices:\n  \(service):\n    image: busybox\n    command: [sh, -c, '\(command.replacingOccurrences(of: "'", with: "''"))']\n" + extra
        let p = try load(yaml)
        guard let config = p.services[service] else { throw TestSupportError("service \(service) did not load") }
        let id = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined()
        let name = Naming.containerName(project: p.name, service: service, number: number, serviceConfig: config)
        let image = ResolvedImage(reference: "busybox", digest: nil, layers: [layer], config: ImageConfig())
        let spec = try ServiceContainer.spec(project: p, service: service, service: config, containerName: name, id: id, image: image, directory: engine.store.path(id))
        let hash = CanonicalOutput.configHash(config)
        let record = ContainerRecord(
            id: id, name: name, project: p.name, service: service, number: number, oneOff: false,
            labels: Label.container(project: p, service: service, service: config, number: number, configHash: hash, imageDigest: nil).map { [$0.0, $0.1] },
            image: "busybox", imageDigest: nil, configHash: hash, command: spec.process.args, created: Clock.rfc3339Nano())
        try engine.store.create(record, spec: spec.encoded)
        return record
    }

    /// Blocks until the container's json log holds `text` (inotify on its directory, up to
    /// 30 s): the container has got that far (a trap it set before printing is in place).
    @discardableResult
    public func waitForLog(_ id: String, containing text: String) -> Bool {
        let directory = engine.store.path(id)
        let log = directory + "/\(id)-json.log"
        let watcher = inotify_init1(Int32(IN_CLOEXEC))
        guard watcher >= 0 else { return false }
        defer { close(watcher) }
        _ = inotify_add_watch(watcher, directory, UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO))
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(text) { return true }
            var entry = pollfd(fd: watcher, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                _ = read(watcher, &buffer, buffer.count)
            }
        }
        return false
    }

    /// Waits (event-driven, on the monitor's pidfd) until the container's monitor has ended.
    @discardableResult
    public func waitForExit(_ id: String) -> ContainerState {
        let state = engine.store.state(id)
        if let pid = state.monitorPid, let start = state.monitorStartTime, let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while poll(&entry, 1, 30_000) < 0 && errno == EINTR {}
            close(fd)
        }
        return (try? engine.observe(id)) ?? state
    }

    /// Cgroups, runtime state and processes of the project that are still there.
    public func leftovers() -> [String] {
        var found: [String] = []
        for controller in ["memory", "pids", "cpu", "unified"] where FileManager.default.fileExists(atPath: "/sys/fs/cgroup/\(controller)/berth/\(project)") {
            found.append("cgroup: \(controller)/berth/\(project)")
        }
        if FileManager.default.fileExists(atPath: "/sys/fs/cgroup/berth/\(project)") { found.append("cgroup: berth/\(project)") }
        if let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) {
            found += mounts.split(separator: "\n").filter { $0.contains(base) }.map { "mount: \($0)" }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: base + "/run/runtime"), !entries.isEmpty {
            found.append("state: \(entries)")
        }
        return found
    }

    deinit {
        for record in engine.store.records() {
            _ = try? engine.stop(record.id, signal: SIGKILL, timeoutSeconds: 0)
        }
        _ = umount2(base + "/run/runtime", Int32(MNT_DETACH))
        try? FileManager.default.removeItem(atPath: base)
    }
}
