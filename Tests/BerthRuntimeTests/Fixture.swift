import Foundation
import Testing
@testable import BerthRuntime
import BerthSystem
import CBerthSys
import BerthTestSupport

/// Root-tier gate: real namespaces, mounts and cgroups need root and Debian's busybox-static.
let canRunContainers: Bool = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/busybox")
let containerGateReason: Comment = "needs root and /bin/busybox (Debian busybox-static)"

/// `berth-runtime`, built next to `berth`: the Foundation-free binary the orchestrator spawns
/// per container. Most tests drive it; a few go through `berth runtime` to cover that entry.
let runtimeBinary: String = (berthBinary as NSString).deletingLastPathComponent + "/berth-runtime"

/// A private world for one test: a busybox rootfs, a run root, a project name (so cgroups
/// are `berth/<project>/…`), and LIFO cleanups that run even when the test fails.
final class ContainerFixture {
    let base: String
    let rootfs: String
    let runRoot: String
    let project: String
    private var cleanups: [() -> Void] = []

    init() throws {
        let id = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        project = "t\(id)"
        base = NSTemporaryDirectory() + "berth-test-\(id)"
        rootfs = base + "/rootfs"
        runRoot = base + "/run"
        let fm = FileManager.default
        try fm.createDirectory(atPath: base, withIntermediateDirectories: true)
        let base = self.base  // captured by value: a closure holding `self` would never let deinit run
        cleanups.append {
            // A state tmpfs that a failed test left mounted (the leak checks report it).
            _ = umount2(base + "/run/runtime", Int32(MNT_DETACH))
            try? FileManager.default.removeItem(atPath: base)
        }
        let layout = try CgroupLayout.detect()
        let project = self.project
        cleanups.append {
            // Anything a failed test left: kill it, remove its cgroups, then the parents.
            // Kill, then wait for each exit (pidfd): a cgroup with a dying process cannot go.
            for pid in processesOf(project: project) {
                let fd = berth_pidfd_open(pid)
                kill(pid, SIGKILL)
                if fd >= 0 {
                    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    _ = poll(&entry, 1, 10_000)
                    close(fd)
                }
            }
            let roots: [String]
            switch layout {
            case .v1(let hierarchies): roots = hierarchies.map(\.mountPoint)
            case .v2(let mount): roots = [mount]
            }
            for root in roots {
                let dir = "\(root)/berth/\(project)"
                for child in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where FS.isDirectory(dir + "/" + child) {
                    rmdir(dir + "/" + child)
                }
            }
            Cgroup.removeParents(layout: layout, project: project)
        }
        try TestProcess.makeBusyboxRootfs(rootfs, directories: ["etc", "tmp", "proc", "sys", "dev", "root", "home/alice", "mnt"])
        try """
            root:x:0:0:root:/root:/bin/sh
            alice:x:1000:1000:alice:/home/alice:/bin/sh
            nobody:x:65534:65534:nobody:/nonexistent:/bin/false

            """.write(toFile: rootfs + "/etc/passwd", atomically: true, encoding: .utf8)
        try """
            root:x:0:
            alice:x:1000:
            staff:x:50:alice
            audio:x:29:
            nogroup:x:65534:

            """.write(toFile: rootfs + "/etc/group", atomically: true, encoding: .utf8)
        try fm.setAttributes([.posixPermissions: 0o1777], ofItemAtPath: rootfs + "/tmp")
    }

    deinit { cleanup() }

    func defer_(_ action: @escaping () -> Void) { cleanups.append(action) }

    func cleanup() {
        while let action = cleanups.popLast() { action() }
    }

    /// `berth-runtime run --rootfs <rootfs> --run-root <run> --project <p> <options> -- <command>`.
    func run(_ options: [String], _ command: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> RunOutput {
        let args = ["run", "--rootfs", rootfs, "--run-root", runRoot, "--project", project] + options + ["--"] + command
        return try Self.spawn([runtimeBinary] + args, stdin: stdin, environment: environment)
    }

    func sh(_ script: String, _ options: [String] = []) throws -> RunOutput {
        try run(options, ["sh", "-c", script])
    }

    /// Starts a container in the background running `script` after it printed "ready", and
    /// returns once that line arrived; the fixture kills it (SIGKILL to berth, which takes
    /// the container along) at cleanup.
    func start(_ options: [String], _ script: String) throws -> Process {
        try startUntilReady(options, ["sh", "-c", "echo ready; " + script]).process
    }

    /// Starts `command` in the background and waits, without sleeping, until its stdout
    /// says "ready"; returns the process and what it printed so far.
    func startUntilReady(_ options: [String], _ command: [String]) throws -> (process: Process, output: String) {
        let process = Process()
        let argv = runArguments(options, command)
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let ready = Foundation.Pipe()
        process.standardOutput = ready
        process.standardInput = FileHandle.nullDevice
        try process.run()
        defer_ { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("ready") {
            let chunk = ready.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        return (process, String(decoding: seen, as: UTF8.self))
    }

    func exec(_ options: [String], _ name: String, _ command: [String]) throws -> RunOutput {
        try Self.spawn([runtimeBinary, "exec", "--run-root", runRoot, "--project", project] + options + [name, "--"] + command)
    }

    func runArguments(_ options: [String], _ command: [String]) -> [String] {
        [runtimeBinary, "run", "--rootfs", rootfs, "--run-root", runRoot, "--project", project] + options + ["--"] + command
    }

    static func spawn(_ argv: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> RunOutput {
        try TestProcess.spawn(argv, stdin: stdin, environment: environment)
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Mount points, cgroup leaves, state files and processes that mention `needle`.
func leftovers(fixture: ContainerFixture) -> [String] {
    var found: [String] = []
    if let mounts = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) {
        found += mounts.split(separator: "\n").filter { $0.contains(fixture.base) }.map { "mount: \($0)" }
    }
    if case .v1(let hierarchies)? = try? CgroupLayout.detect() {
        for h in hierarchies {
            let dir = "\(h.mountPoint)/berth/\(fixture.project)"
            // The project's parent goes with its last container.
            if FS.isDirectory(dir) { found.append("cgroup: \(dir)") }
            if let children = try? FileManager.default.contentsOfDirectory(atPath: dir) {
                found += children.filter { !$0.contains(".") && !["tasks", "notify_on_release"].contains($0) }
                    .filter { FS.isDirectory(dir + "/" + $0) }.map { "cgroup: \(dir)/\($0)" }
            }
        }
    } else if case .v2(let mount)? = try? CgroupLayout.detect() {
        let dir = "\(mount)/berth/\(fixture.project)"
        if FS.isDirectory(dir) { found.append("cgroup: \(dir)") }
        if let children = try? FileManager.default.contentsOfDirectory(atPath: dir) {
            found += children.filter { FS.isDirectory(dir + "/" + $0) }.map { "cgroup: \(dir)/\($0)" }
        }
    }
    if let state = FileManager.default.enumerator(atPath: fixture.runRoot + "/runtime") {
        for case let path as String in state { found.append("state: \(path)") }
    }
    for pid in processesOf(project: fixture.project) { found.append("process: \(pid)") }
    return found
}

/// Processes whose cgroup is below `berth/<project>/`.
func processesOf(project: String) -> [Int32] {
    guard let pids = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return pids.compactMap { Int32($0) }.filter { pid in
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) else { return false }
        return text.contains("/berth/\(project)/")
    }
}
