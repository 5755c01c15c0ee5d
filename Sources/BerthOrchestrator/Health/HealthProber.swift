import BerthSystem
import CBerthSys
import Foundation

/// Runs the health checks of a project's running containers; the supervisor owns one.
///
/// Each probe is an exec in the container (`berth-runtime exec`, with the container's own
/// user, working directory and environment, no terminal) — or, for `HTTP-GET` and
/// `TCP-SOCKET` checks, `berth-runtime probe` from the container's network namespace — its
/// stdout and stderr read from one pipe and kept up to 4096 bytes. One thread serves every container: it waits in poll(2) on
/// a wake pipe and the running probes' pidfds and pipes, with the earliest due probe or
/// timeout as poll's timeout — nothing sleeps, and an idle project costs no CPU between
/// probes. Results go through Docker's state machine (`HealthMachine`), into the
/// container's `health.json`, and status changes to `onChange` (DNS readiness, waiters).
public final class HealthProber: @unchecked Sendable {
    /// A container to check.
    public struct Target: Sendable, Equatable {
        public var id: String
        public var name: String
        public var config: HealthConfig
        /// The run's `startedAt` (RFC 3339): the start period counts from it, and health.json
        /// is stamped with it.
        public var startedAt: String

        public init(id: String, name: String, config: HealthConfig, startedAt: String) {
            self.id = id
            self.name = name
            self.config = config
            self.startedAt = startedAt
        }
    }

    /// One probe under way.
    private struct Probe {
        var pid: pid_t
        var pidfd: Int32
        /// The read end of its output pipe; -1 once at end of file.
        var output: Int32
        /// Monotonic time it was started, and the same instant on the wall clock.
        var start: Int64
        var startWall: String
        var deadline: Int64
        var timedOut = false
        /// Set at the timeout: SIGKILL for an exec that is still there then.
        var killAt: Int64?
        var collected = ProbeOutput()
    }

    private struct Tracked {
        var target: Target
        var machine: HealthMachine
        var due: Int64
        var probe: Probe?
    }

    public let project: String
    public let runRoot: String
    public let runtimeBinary: String
    public let store: ContainerStore
    /// Called when a probe changed a container's status — under the prober's lock and before
    /// health.json is written, so that whoever sees the new status there finds DNS already
    /// updated; it must be quick and must not call back into the prober. Set it before the
    /// first `track`.
    public var onChange: @Sendable (_ id: String, _ name: String, _ status: ContainerHealth.Status) -> Void = { _, _, _ in }
    /// Whether a container is paused: its probes wait (Docker probes only running, unpaused
    /// containers — an exec into a frozen cgroup would freeze too).
    public var isPaused: @Sendable (_ id: String) -> Bool = { _ in false }

    private let lock = NSLock()
    private var tracked: [String: Tracked] = [:]
    /// Probes of containers no longer tracked: signalled, reaped when they end.
    private var abandoned: [Probe] = []
    private let wake: BerthSystem.Pipe
    private var threadStarted = false
    private var shuttingDown = false

    /// How long an exec may outlive the SIGTERM sent at its timeout (it forwards the signal
    /// and kills its command at once; this only bounds a stuck exec).
    static let killGrace: Int64 = 5_000_000_000

    public init(project: String, runRoot: String, runtimeBinary: String, store: ContainerStore) throws {
        self.project = project
        self.runRoot = runRoot
        self.runtimeBinary = runtimeBinary
        self.store = store
        wake = try BerthSystem.Pipe()
        _ = berth_fcntl_setfl_nonblock(wake.read)
        _ = berth_fcntl_setfl_nonblock(wake.write)
    }

    deinit {
        close(wake.read)
        close(wake.write)
    }

    /// Starts checking a running container; returns its status. A fresh run (`restore`
    /// false) starts at `starting`, as Docker's `initHealthMonitor` does. An adopted one
    /// (`restore`: a new supervisor took over a running container) keeps the status, streak
    /// and log its previous supervisor left for this run — unlike a Docker daemon restart,
    /// which resets to `starting`: the container did not restart, and a supervisor SIGKILL
    /// must not take a healthy container out of DNS until its next probe. Either way the
    /// next probe is one interval away.
    @discardableResult
    public func track(_ target: Target, restore: Bool) -> ContainerHealth.Status {
        let now = Clock.monotonicNanoseconds()
        let started = Self.monotonic(ofWall: target.startedAt, now: now)
        let restored = restore ? store.health(target.id, startedAt: target.startedAt) : nil
        let machine = HealthMachine(config: target.config, containerStart: started, restored: restored)
        if restored == nil { try? store.saveHealth(machine.health, startedAt: target.startedAt, for: target.id) }
        let replaced = lock.withLock { () -> Probe? in
            let old = tracked[target.id]?.probe
            tracked[target.id] = Tracked(target: target, machine: machine, due: machine.nextProbe(after: now))
            startThreadIfNeeded()
            return old
        }
        if let replaced { abandon(replaced) }
        poke()
        return machine.status
    }

    /// Stops checking (the container stopped, exited or is removed): a probe under way is
    /// killed and its result dropped, and the status becomes `unhealthy`, as Docker leaves a
    /// stopped container's health.
    public func untrack(_ id: String) {
        guard let entry = lock.withLock({ tracked.removeValue(forKey: id) }) else { return }
        if let probe = entry.probe { abandon(probe) }
        var machine = entry.machine
        machine.stop()
        try? store.saveHealth(machine.health, startedAt: entry.target.startedAt, for: id)
        poke()
    }

    /// The status of a checked container; nil if it is not checked.
    public func status(_ id: String) -> ContainerHealth.Status? {
        lock.withLock { tracked[id]?.machine.status }
    }

    /// Ends the prober's thread (the probes under way are killed).
    public func shutdown() {
        let probes = lock.withLock { () -> [Probe] in
            shuttingDown = true
            let running = tracked.values.compactMap(\.probe) + abandoned
            tracked.removeAll()
            abandoned.removeAll()
            return running
        }
        for probe in probes {
            _ = berth_pidfd_send_signal(probe.pidfd, SIGKILL)
            var status: Int32 = 0
            _ = berth_waitpid(probe.pid, &status, 0)
            Self.release(probe)
        }
        poke()
    }

    // MARK: the thread

    private func startThreadIfNeeded() {
        guard !threadStarted else { return }
        threadStarted = true
        let thread = Thread { [self] in loop() }
        thread.name = "health"
        thread.start()
    }

    private func poke() {
        var byte: UInt8 = 1
        _ = Glibc.write(wake.write, &byte, 1)
    }

    private func loop() {
        while true {
            let (fds, timeout) = lock.withLock { () -> ([pollfd], Int32)? in
                if shuttingDown { return nil }
                let now = Clock.monotonicNanoseconds()
                var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
                var earliest = Int64.max
                for probe in tracked.values.compactMap(\.probe) + abandoned {
                    fds.append(pollfd(fd: probe.pidfd, events: Int16(POLLIN), revents: 0))
                    if probe.output >= 0 { fds.append(pollfd(fd: probe.output, events: Int16(POLLIN), revents: 0)) }
                    if let at = probe.timedOut ? probe.killAt : probe.deadline { earliest = min(earliest, at) }
                }
                for entry in tracked.values where entry.probe == nil { earliest = min(earliest, entry.due) }
                let timeout = earliest == .max ? -1 : Int32(clamping: max(0, (earliest - now + 999_999) / 1_000_000))
                return (fds, timeout)
            } ?? ([], -2)
            if timeout == -2 { return }
            var pollable = fds
            let n = poll(&pollable, nfds_t(pollable.count), timeout)
            if n < 0 && errno != EINTR { return }
            var buffer = [UInt8](repeating: 0, count: 64)
            while read(wake.read, &buffer, buffer.count) > 0 {}
            step()
        }
    }

    /// One turn: read output, finish ended probes, enforce timeouts, start due probes.
    private func step() {
        lock.withLock {
            let now = Clock.monotonicNanoseconds()
            for index in abandoned.indices.reversed() {
                Self.readOutput(&abandoned[index])
                if Self.reap(abandoned[index]) != nil {
                    Self.release(abandoned[index])
                    abandoned.remove(at: index)
                } else if let at = abandoned[index].killAt, now >= at {
                    _ = berth_pidfd_send_signal(abandoned[index].pidfd, SIGKILL)
                    abandoned[index].killAt = nil
                }
            }
            for id in Array(tracked.keys) {
                guard var entry = tracked[id] else { continue }
                if var probe = entry.probe {
                    Self.readOutput(&probe)
                    if let status = Self.reap(probe) {
                        Self.readOutput(&probe)
                        Self.release(probe)
                        entry.probe = nil
                        let ending: ProbeEnding = probe.timedOut ? .timedOut : status
                        let result = HealthLogEntry(
                            ending, output: probe.collected, start: probe.startWall, end: Clock.rfc3339Nano(), timeout: entry.target.config.effectiveTimeout)
                        let finished = Clock.monotonicNanoseconds()
                        record(result, probeStart: probe.start, in: &entry)
                        entry.due = entry.machine.nextProbe(after: finished)
                    } else if !probe.timedOut && now >= probe.deadline {
                        _ = berth_pidfd_send_signal(probe.pidfd, SIGTERM)
                        probe.timedOut = true
                        probe.killAt = now + Self.killGrace
                        entry.probe = probe
                    } else if let at = probe.killAt, now >= at {
                        _ = berth_pidfd_send_signal(probe.pidfd, SIGKILL)
                        probe.killAt = nil
                        entry.probe = probe
                    } else {
                        entry.probe = probe
                    }
                } else if now >= entry.due && isPaused(id) {
                    entry.due = entry.machine.nextProbe(after: now)
                } else if now >= entry.due {
                    do {
                        entry.probe = try spawn(entry.target)
                    } catch {
                        let at = Clock.rfc3339Nano()
                        let result = HealthLogEntry(.failedToRun("\(error)"), output: ProbeOutput(), start: at, end: at, timeout: 0)
                        record(result, probeStart: now, in: &entry)
                        entry.due = entry.machine.nextProbe(after: now)
                    }
                }
                tracked[id] = entry
            }
        }
    }

    /// A result into the machine, the state to health.json, then a changed status to the
    /// log and `onChange` (whose readers — a pod's readiness — find health.json up to date).
    /// Called under the lock.
    private func record(_ result: HealthLogEntry, probeStart: Int64, in entry: inout Tracked) {
        let changed = entry.machine.record(result, probeStart: probeStart)
        try? store.saveHealth(entry.machine.health, startedAt: entry.target.startedAt, for: entry.target.id)
        if changed {
            let status = entry.machine.status
            FileHandle.standardError.write(Data("berth supervise: container \(entry.target.name): health_status: \(status.rawValue)\n".utf8))
            onChange(entry.target.id, entry.target.name, status)
        }
    }

    /// `berth-runtime exec` of the check's command, output on a pipe.
    private func spawn(_ target: Target) throws -> Probe {
        guard let arguments = target.config.probeArguments(runtime: runtimeBinary, project: project, runRoot: runRoot, container: target.name) else {
            throw EngineError("the healthcheck has no command")
        }
        let pipe = try BerthSystem.Pipe()
        let start = Clock.monotonicNanoseconds()
        let startWall = Clock.rfc3339Nano()
        let pid: pid_t
        do {
            pid = try Spawn.piped(
                path: runtimeBinary, arguments: arguments,
                environment: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], output: pipe.write)
        } catch {
            close(pipe.read)
            close(pipe.write)
            throw error
        }
        close(pipe.write)
        _ = berth_fcntl_setfl_nonblock(pipe.read)
        let pidfd = berth_pidfd_open(pid)
        guard pidfd >= 0 else {
            let code = errno
            // Cannot happen for our own unreaped child; reap it rather than leak it.
            var status: Int32 = 0
            _ = berth_waitpid(pid, &status, 0)
            close(pipe.read)
            throw SystemError("pidfd_open", path: "health probe of \(target.name)", errno: code)
        }
        return Probe(
            pid: pid, pidfd: pidfd, output: pipe.read, start: start, startWall: startWall,
            deadline: start + target.config.effectiveTimeout)
    }

    /// Signals a probe whose result is no longer wanted; the thread reaps it.
    private func abandon(_ probe: Probe) {
        var probe = probe
        _ = berth_pidfd_send_signal(probe.pidfd, SIGTERM)
        probe.timedOut = true
        probe.killAt = Clock.monotonicNanoseconds() + Self.killGrace
        lock.withLock { abandoned.append(probe) }
        poke()
    }

    /// Reads what the probe's pipe holds (kept up to the limit, the rest dropped).
    private static func readOutput(_ probe: inout Probe) {
        guard probe.output >= 0 else { return }
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(probe.output, &buffer, buffer.count)
            if n > 0 {
                probe.collected.append(buffer[0..<n])
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 {
                close(probe.output)
                probe.output = -1
            }
            return
        }
    }

    /// The probe's ending if its exec has exited (reaped now), else nil.
    private static func reap(_ probe: Probe) -> ProbeEnding? {
        var status: Int32 = 0
        guard berth_waitpid(probe.pid, &status, 1) == probe.pid else { return nil }
        switch ExitStatus(waitStatus: status) {
        case .exited(let code): return .exited(code)
        case .signaled(let signal): return .failedToRun("the health check's exec was killed by \(Signals.name(signal))")
        }
    }

    private static func release(_ probe: Probe) {
        Glibc.close(probe.pidfd)
        if probe.output >= 0 { Glibc.close(probe.output) }
    }

    /// The monotonic time of a wall-clock instant (the container's start), given now.
    static func monotonic(ofWall text: String, now: Int64) -> Int64 {
        guard let then = LogTime(rfc3339: text) else { return now }
        let wall = LogTime.now()
        let elapsed = (wall.seconds - then.seconds) * 1_000_000_000 + Int64(wall.nanoseconds - then.nanoseconds)
        return now - max(0, elapsed)
    }
}
