import BerthRuntime
import BerthSystem
import CBerthSys
import Foundation

public struct EngineError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Starts, stops, observes and removes containers of the store.
///
/// Each running container has its own monitor: a `berth-runtime run --spec` process in its
/// own session, parent of the container, which writes its json-file log and, when it ends,
/// its exit report (`exit.json`). Nothing of a running container depends on the process
/// that started it, so a supervisor (or CLI) may die at any moment: the next one finds the
/// monitor by pid + start time, or the exit report if it has ended meanwhile.
public struct ContainerEngine: Sendable {
    public let store: ContainerStore
    /// The persistent root (`/var/lib/berth`); containers are under `store`.
    public let root: String
    public let runRoot: String
    /// The `berth-runtime` binary (next to `berth` when installed).
    public let runtimeBinary: String

    public init(root: String, runRoot: String, runtimeBinary: String) {
        store = ContainerStore(root: root)
        self.root = root
        self.runRoot = runRoot
        self.runtimeBinary = runtimeBinary
    }

    /// `berth-runtime` next to the running executable.
    public static func defaultRuntimeBinary() -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent + "/berth-runtime"
    }

    /// Starts a created or exited container and returns once its command runs, or throws
    /// the runtime's own explanation of why it could not. `exitHook`: what its monitor runs
    /// once it has ended (see `ExitHook`). `stdio`: the standard input, output and error of
    /// whoever is attached (`berth run`), which the container's streams go to besides its
    /// log; nil: nobody (output only to the log, input from /dev/null).
    @discardableResult
    public func start(_ id: String, stdio: [Int32]? = nil, exitHook: ExitHook? = nil) throws -> ContainerState {
        let record = try store.record(id)
        var state = try observe(id)
        if state.status == .running { return state }
        let dir = store.path(id)
        _ = unlink(dir + "/exit.json")
        var hookArguments: [String] = []
        if let exitHook {
            try FS.writeAtomically(dir + "/exit-hook", Array(exitHook.encoded.utf8), mode: 0o600)
            hookArguments = ["--exit-hook", dir + "/exit-hook"]
        } else {
            _ = unlink(dir + "/exit-hook")
        }
        var fds: [Int32] = [-1, -1]
        _ = try Sys.check("pipe2") { berth_pipe2(&fds, O_CLOEXEC) }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        defer { close(readEnd) }
        let pid: pid_t
        do {
            let attached = stdio.map { $0.count == 3 } ?? false
            pid = try Spawn.detached(
                path: runtimeBinary,
                arguments: [runtimeBinary, "run", "--spec", dir + "/spec", "--status-file", dir + "/exit.json",
                            "--ready-fd", "3", "--stdio", attached ? "4,5,6" : "none", "--run-root", runRoot] + hookArguments,
                environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                logPath: dir + "/monitor.log", passing: [writeEnd] + (attached ? stdio ?? [] : []))
        } catch {
            close(writeEnd)
            throw EngineError("container \(record.name): cannot start the monitor \(runtimeBinary): \(error)")
        }
        close(writeEnd)
        let identity = ProcessIdentity.of(pid)
        let line = Self.readLine(readEnd)
        // The monitor is our child while it runs: reap it if it has already failed.
        if line.isEmpty || line.hasPrefix("{\"Error\"") {
            var status: Int32 = 0
            _ = berth_waitpid(pid, &status, 0)
            let reason = Self.errorMessage(line) ?? Self.lastLine(of: dir + "/monitor.log") ?? "the monitor exited without a report"
            state.status = .exited
            state.exitCode = Self.exitCode(line) ?? 125
            state.finishedAt = Clock.rfc3339Nano()
            state.error = reason
            let failed = state
            _ = try? store.modifyState(id) { current in
                current = failed
                return true
            }
            // The runtime's own errors already name the container.
            throw EngineError(reason.hasPrefix("container \(record.name)") ? reason : "container \(record.name): \(reason)")
        }
        struct Ready: Decodable { var Pid: Int32; var StartedAt: String }
        guard let ready = try? JSONDecoder().decode(Ready.self, from: Data(line.utf8)) else {
            throw EngineError("container \(record.name): unreadable report from the monitor: \(line)")
        }
        state = ContainerState()
        state.status = .running
        state.monitorPid = pid
        state.monitorStartTime = identity?.startTime
        state.pid = ready.Pid
        state.startedAt = ready.StartedAt
        try store.save(state, for: id)
        return state
    }

    /// The container's state, brought up to date: a running container whose monitor is
    /// gone has exited, with the code from its exit report (or 255 if its monitor was
    /// killed before it could write one).
    public func observe(_ id: String) throws -> ContainerState {
        let seen = store.state(id)
        guard seen.status == .running else { return seen }
        if let monitor = monitorIdentity(seen), monitor.isAlive { return seen }
        let report = store.exitReport(id)
        // Under the state lock, and only if nobody moved on meanwhile (a supervisor that
        // restarted it, a stop that marked it): the run that ended is the one seen.
        return try store.modifyState(id) { state in
            guard state.status == .running, state.monitorPid == seen.monitorPid, state.startedAt == seen.startedAt else { return false }
            if let report, report.StartedAt == state.startedAt {
                state.exitCode = report.ExitCode
                state.oomKilled = report.OOMKilled
                state.finishedAt = report.FinishedAt
            } else {
                state.exitCode = 255
                state.finishedAt = Clock.rfc3339Nano()
            }
            state.status = .exited
            return true
        }
    }

    /// Whether the container's current run has ended: exited, or its monitor has written the
    /// run's exit report (a monitor that is still finishing, as one running its exit hook).
    public func runHasEnded(_ id: String) -> Bool {
        let state = store.state(id)
        if state.status == .exited { return true }
        return state.status == .running && store.exitReport(id)?.StartedAt == state.startedAt
    }

    /// Sends `signal`, waits up to `timeoutSeconds` (callers pass `-t`, else the service's
    /// `stop_grace_period`), then SIGKILL; returns once the monitor has recorded the exit.
    /// `byUser` (a command, not the supervisor acting on a health check) marks it stopped
    /// by hand, which restart policies respect; `onSignal` hears each signal as it is sent.
    @discardableResult
    public func stop(
        _ id: String, signal: Int32, timeoutSeconds: Int, byUser: Bool = true, onSignal: (Int32) -> Void = { _ in }
    ) throws -> ContainerState {
        let state = try observe(id)
        guard state.status == .running, let monitor = monitorIdentity(state), let pidfd = monitor.openPidfd() else {
            return try observe(id)
        }
        defer { close(pidfd) }
        if byUser { try markStoppedByUser(id, run: state.startedAt) }
        // The container is the monitor's child, so its pid cannot be recycled while the
        // monitor lives: signal it directly, and the monitor reports how it ended.
        if let pid = state.pid {
            let containerFD = berth_pidfd_open(pid)
            if containerFD >= 0 {
                onSignal(signal)
                _ = berth_pidfd_send_signal(containerFD, signal)
                if !Self.waitReadable(pidfd, milliseconds: timeoutSeconds * 1000) {
                    onSignal(SIGKILL)
                    _ = berth_pidfd_send_signal(containerFD, SIGKILL)
                }
                close(containerFD)
            }
        }
        if !Self.waitReadable(pidfd, milliseconds: 30_000) {
            throw EngineError("container \(try store.record(id).name): its monitor (pid \(monitor.pid)) did not finish within 30 s of SIGKILL; see \(store.path(id))/monitor.log")
        }
        // Reap it if it is our child (no-op otherwise).
        var status: Int32 = 0
        _ = berth_waitpid(monitor.pid, &status, 1)
        _ = try observe(id)
        if byUser { try markStoppedByUser(id, run: state.startedAt) }
        return try observe(id)
    }

    /// Marks the run that started at `run` stopped by hand (restart policies leave it).
    public func markStoppedByUser(_ id: String, run: String?) throws {
        try store.modifyState(id) { state in
            guard state.startedAt == run, !state.stoppedByUser else { return false }
            state.stoppedByUser = true
            return true
        }
    }

    /// The project's containers as the planner sees them, states brought up to date.
    public func observed(project: String) -> [(record: ContainerRecord, container: ObservedContainer)] {
        store.records().filter { $0.project == project }.map { record in
            let state = (try? observe(record.id)) ?? store.state(record.id)
            let observedState: ObservedContainer.State
            switch state.status {
            case .created: observedState = .created
            case .running: observedState = .running
            case .exited: observedState = store.pendingRestart(record.id, state: state) != nil ? .restarting : .exited(state.exitCode ?? 255)
            }
            return (record, ObservedContainer(
                name: record.name, service: record.service, number: record.number, configHash: record.configHash,
                imageDigest: record.imageDigest, oneOff: record.oneOff, state: observedState))
        }
    }

    /// Removes a container that is not running.
    public func remove(_ id: String) throws {
        let state = try observe(id)
        let record = try store.record(id)
        if state.status == .running {
            throw EngineError("container \(record.name) is running: stop it first")
        }
        // A monitor that was SIGKILLed left its runtime state and cgroup behind.
        try ContainerLeftovers.reclaim(runRoot: runRoot, project: record.project, name: record.name)
        try store.remove(id)
    }

    func monitorIdentity(_ state: ContainerState) -> ProcessIdentity? {
        guard let pid = state.monitorPid, let start = state.monitorStartTime else { return nil }
        return ProcessIdentity(pid: pid, startTime: start)
    }

    static func waitReadable(_ fd: Int32, milliseconds: Int) -> Bool {
        let deadline = Clock.monotonicNanoseconds() + Int64(milliseconds) * 1_000_000
        while true {
            let left = max(0, (deadline - Clock.monotonicNanoseconds()) / 1_000_000)
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&entry, 1, Int32(min(left, Int64(Int32.max))))
            if n > 0 { return true }
            if n == 0 { return false }
            if errno != EINTR { return false }
        }
    }

    /// The first line on `fd` (without the newline), or "" at EOF.
    static func readLine(_ fd: Int32) -> String {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while bytes.count < 65536 {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
            if let newline = bytes.firstIndex(of: 0x0a) { return String(decoding: bytes[..<newline], as: UTF8.self) }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func errorMessage(_ line: String) -> String? {
        struct Failure: Decodable { var Error: String }
        return try? JSONDecoder().decode(Failure.self, from: Data(line.utf8)).Error
    }

    static func exitCode(_ line: String) -> Int32? {
        struct Failure: Decodable { var ExitCode: Int32 }
        return try? JSONDecoder().decode(Failure.self, from: Data(line.utf8)).ExitCode
    }

    static func lastLine(of file: String) -> String? {
        guard let text = try? FS.readString(file) else { return nil }
        return text.split(separator: "\n").last.map(String.init)
    }
}
