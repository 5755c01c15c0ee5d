import Foundation
import Testing
import BerthRuntime
import BerthSystem
import ComposeSpec
@testable import BerthOrchestrator

let canRunContainers = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")

/// `berth-runtime`, built next to `berth` ($BERTH_BINARY, else the test bundle's build dir).
let runtimeBinary: String = {
    if let berth = ProcessInfo.processInfo.environment["BERTH_BINARY"], !berth.isEmpty {
        return (berth as NSString).deletingLastPathComponent + "/berth-runtime"
    }
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("berth-runtime").path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("berth-runtime").path
}()

/// A private root and run root, a busybox "image" layer, and an engine over them.
final class EngineFixture {
    let base: String
    let engine: ContainerEngine
    let layer: String
    let project: String

    init() throws {
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        project = "e\(id)"
        base = NSTemporaryDirectory() + "berth-engine-\(id)"
        layer = base + "/layer"
        try FileManager.default.createDirectory(atPath: layer + "/bin", withIntermediateDirectories: true)
        for dir in ["etc", "tmp", "proc", "sys", "dev"] {
            try FileManager.default.createDirectory(atPath: layer + "/" + dir, withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: "/bin/busybox", toPath: layer + "/bin/busybox")
        try "root:x:0:0:root:/root:/bin/sh\n".write(toFile: layer + "/etc/passwd", atomically: true, encoding: .utf8)
        try "root:x:0:\n".write(toFile: layer + "/etc/group", atomically: true, encoding: .utf8)
        for applet in ["sh", "echo", "sleep", "cat", "true"] {
            try FileManager.default.createSymbolicLink(atPath: layer + "/bin/" + applet, withDestinationPath: "busybox")
        }
        engine = ContainerEngine(root: base + "/root", runRoot: base + "/run", runtimeBinary: runtimeBinary)
    }

    /// Creates the container of service `web` (number 1) running `command`.
    func create(_ command: String, extra: String = "") throws -> ContainerRecord {
        let yaml = "name: \(project)\nservices:\n  web:\n    image: busybox\n    command: [sh, -c, '\(command.replacingOccurrences(of: "'", with: "''"))']\n" + extra
        let p = try loadProject(yaml)
        let id = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined()
        let name = Naming.containerName(project: p.name, service: "web", number: 1)
        let image = ResolvedImage(reference: "busybox", digest: nil, layers: [layer], config: ImageConfig())
        let spec = try ServiceContainer.spec(project: p, service: "web", service: p.services["web"]!, containerName: name, id: id, image: image, directory: engine.store.path(id))
        let hash = CanonicalOutput.configHash(p.services["web"]!)
        let record = ContainerRecord(
            id: id, name: name, project: p.name, service: "web", number: 1, oneOff: false,
            labels: Label.container(project: p, service: "web", service: p.services["web"]!, number: 1, configHash: hash, imageDigest: nil).map { [$0.0, $0.1] },
            image: "busybox", imageDigest: nil, configHash: hash, command: spec.process.args, created: Clock.rfc3339Nano())
        try engine.store.create(record, spec: spec.encoded)
        return record
    }

    /// Waits (event-driven) until the container's monitor has ended.
    func waitForExit(_ id: String) -> ContainerState {
        let state = engine.store.state(id)
        if let pid = state.monitorPid, let start = state.monitorStartTime, let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() {
            _ = ContainerEngine.waitReadable(fd, milliseconds: 30_000)
            close(fd)
        }
        return (try? engine.observe(id)) ?? state
    }

    /// Cgroups, runtime state and processes of the project that are still there.
    func leftovers() -> [String] {
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

@Suite("container engine (root)", .enabled(if: canRunContainers, "needs root and /bin/busybox (Debian busybox-static)"))
struct ContainerEngineTests {
    @Test func startRecordsTheRunningContainerAndTheMonitorRecordsItsExit() throws {
        let f = try EngineFixture()
        let record = try f.create("echo hello from web; exit 3")
        let started = try f.engine.start(record.id)
        #expect(started.status == .running && (started.pid ?? 0) > 0 && started.monitorPid != nil)
        let ended = f.waitForExit(record.id)
        #expect(ended.status == .exited && ended.exitCode == 3)
        #expect(f.engine.observed(project: f.project).map(\.container) == [
            ObservedContainer(name: "\(f.project)-web-1", service: "web", number: 1, configHash: record.configHash, state: .exited(3)),
        ])
        #expect(f.engine.observed(project: "other").isEmpty)
        let log = try String(contentsOfFile: f.engine.store.path(record.id) + "/\(record.id)-json.log", encoding: .utf8)
        #expect(log.hasPrefix("{\"log\":\"hello from web\\n\",\"stream\":\"stdout\",\"time\":\""), "\(log)")
        #expect(f.leftovers() == [])
    }

    /// Nothing of a running container depends on the process that started it: the exit of a
    /// container that ends while no supervisor watches is read back from its monitor's report.
    @Test func anExitWhileNobodyWatchesIsRecovered() throws {
        let f = try EngineFixture()
        let record = try f.create("exec sleep 1000")
        let started = try f.engine.start(record.id)
        // A new engine instance, as a restarted supervisor would make.
        let later = ContainerEngine(root: f.base + "/root", runRoot: f.base + "/run", runtimeBinary: runtimeBinary)
        #expect(try later.observe(record.id).status == .running)
        kill(started.pid ?? 0, SIGKILL)
        let ended = f.waitForExit(record.id)
        #expect(ended.status == .exited && ended.exitCode == 137 && !ended.stoppedByUser)
        #expect(f.leftovers() == [])
    }

    @Test func stopSignalsThenKillsAfterTheTimeout() throws {
        let f = try EngineFixture()
        let record = try f.create("trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 1; done")
        try f.engine.start(record.id)
        let stopped = try f.engine.stop(record.id, signal: SIGTERM, timeoutSeconds: 10)
        #expect(stopped.status == .exited && stopped.exitCode == 0 && stopped.stoppedByUser, "the trap ran: \(stopped)")
        // PID 1 with no handler ignores SIGTERM: SIGKILL after the (zero) timeout.
        let stubborn = try f.create("exec sleep 1000")
        try f.engine.start(stubborn.id)
        let killed = try f.engine.stop(stubborn.id, signal: SIGTERM, timeoutSeconds: 0)
        #expect(killed.status == .exited && killed.exitCode == 137)
        try f.engine.remove(stubborn.id)
        #expect(!FileManager.default.fileExists(atPath: f.engine.store.path(stubborn.id)))
        #expect(f.leftovers() == [])
    }

    @Test func aCommandThatCannotStartIsAClearError() throws {
        let f = try EngineFixture()
        let record = try f.create("true", extra: "    entrypoint: [\"/no/such/binary\"]\n")
        #expect {
            try f.engine.start(record.id)
        } throws: { error in
            "\(error)".hasPrefix("container \(f.project)-web-1: ") && "\(error)".contains("/no/such/binary")
        }
        let state = f.engine.store.state(record.id)
        #expect(state.status == .exited && state.exitCode == 127)
        #expect(f.leftovers() == [])
    }
}
