import BerthOrchestrator
import BerthSystem
import CBerthSys
import ComposeSpec
import Foundation
import Synchronization

/// A foreground `up` once its containers are created, as Compose's `runInteractiveUp`:
/// prints `Attaching to web-1, worker-1`, starts the containers (dependencies first, their
/// `depends_on` conditions waited for), streams their output behind `web-1  | ` prefixes
/// with `web-1 exited with code N` lines, and returns once every watched container has
/// exited for good.
///
/// - First SIGINT or SIGTERM: `Gracefully stopping... (press Ctrl+C again to force)`, the
///   services are stopped as `stop` does (containers kept), `canceled`, exit 130.
/// - Second: the containers are killed (SIGKILL). Later ones are ignored, as in Compose.
/// - `--abort-on-container-exit`/`-failure`: `Aborting on container exit...`, then the
///   same stop; the exit code follows `ExitCascade`.
///
/// Event-driven: the main thread polls the signal pipe and a wake pipe; the log streamer
/// (inotify + the monitors' pidfds), the start phase and the stops run on threads of
/// their own and wake it. As in Compose, the start phase is not cancelled by a stop: a
/// container whose start completes after the stop began is stopped as it comes up (its
/// `Started` event), and `up` does not wait for a start phase still blocked on a
/// `depends_on` condition once nothing runs.
final class ForegroundUp: @unchecked Sendable {
    struct Settings {
        var project: Project
        var plan: AttachPlan
        var options: AttachOptions
        /// What the start phase starts: the services brought up.
        var startServices: [String]
        /// What a Ctrl-C or an abort stops: the services named on the command line (all
        /// when none is), as Compose's `StopOptions{Services: options.Create.Services}`.
        var stopServices: [String]
        var timeout: Int?
        var progressMode: ProgressBoard.Mode
    }

    private struct State {
        var cascade: ExitCascade
        /// Watched containers that have not exited for good yet.
        var remaining: Set<String> = []
        /// After Ctrl-C or an abort: no more lines nor exit lines (Compose stops its printer),
        /// and containers that come up are stopped.
        var muted = false
        var abortRequested = false
        var aborted = false
        /// SIGINT/SIGTERM received: the first stops, the second kills.
        var signalCount = 0
        var startOver = false
        var startError: (any Error)?
        /// Containers (names) whose start request is under way.
        var starting: Set<String> = []
        /// Watched containers whose never-started logs were ended.
        var dropped: Set<String> = []
        /// Containers (names) a stop has taken on; `unreported`: those another stop had
        /// already, whose lines the stack's stop leaves out.
        var claimed: Set<String> = []
        var unreported: Set<String> = []
        var stopsRunning = 0
        var stopError: (any Error)?
    }

    /// A watched container as the session found it: one that was not running then and has
    /// not started since never gets an exit to report.
    private struct Found {
        var running: Bool
        var startedAt: String?
    }

    private let settings: Settings
    private let stack: Stack
    private let console: any Console
    private let warn: @Sendable (String) -> Void
    private let output: LogOutput
    private let state: Mutex<State>
    private let wake: BerthSystem.Pipe
    /// The progress of the stops (Ctrl-C, abort, late starters): one board.
    private let stopBoard: ProgressBoard
    // Set in `run` before any other thread starts, read-only afterwards.
    private var streamer: LogStreamer?
    private var attachedIDs: Set<String> = []
    private var watchedIDs: Set<String> = []
    private var serviceOf: [String: String] = [:]
    private var found: [String: Found] = [:]

    init(settings: Settings, stack: Stack, console: any Console, environment: [String: String], warn: @escaping @Sendable (String) -> Void) throws {
        self.settings = settings
        self.stack = stack
        self.console = console
        self.warn = warn
        let colors = ANSIMode.colors(noColor: settings.options.noColor, environment: environment, console: console)
        output = LogOutput(
            LogPrinter(colors: colors, prefixes: settings.options.prefixes, timestamps: settings.options.timestamps),
            console: console, exitStatus: true, splitStreams: true)
        state = Mutex(State(cascade: ExitCascade(onExit: settings.options.onExit, exitCodeFrom: settings.options.exitCodeFrom)))
        stopBoard = ProgressBoard(console: console, mode: settings.progressMode, title: "Stopping")
        wake = try BerthSystem.Pipe()
        _ = berth_fcntl_setfl_nonblock(wake.read)
        _ = berth_fcntl_setfl_nonblock(wake.write)
    }

    deinit {
        Glibc.close(wake.read)
        Glibc.close(wake.write)
    }

    /// Runs the session; `lock` (the project lock taken for the create phase) is released
    /// once the start phase is over, so that other commands (`stop` from another terminal)
    /// can run while the output streams. Returns up's exit status.
    func run(signals: SignalPipe, lock: ProjectLock) throws -> Int32 {
        let records = stack.containers().filter { !$0.oneOff }
        let attached = records.filter { settings.plan.attached.contains($0.service) }.sorted { $0.name < $1.name }
        let watched = records.filter { settings.plan.watched.contains($0.service) }
        attachedIDs = Set(attached.map(\.id))
        watchedIDs = Set(watched.map(\.id))
        serviceOf = Dictionary(records.map { ($0.id, $0.service) }, uniquingKeysWith: { a, _ in a })
        for record in watched {
            let current = (try? stack.engine.observe(record.id)) ?? stack.engine.store.state(record.id)
            found[record.id] = Found(running: current.status == .running, startedAt: current.startedAt)
        }
        state.withLock { $0.remaining = watchedIDs }

        if !attached.isEmpty {
            console.out("Attaching to \(attached.map(ProjectScope.shortName).joined(separator: ", "))\n")
        }
        // Colours in name order, as Compose assigns them.
        for record in attached { output.register(ProjectScope.shortName(record)) }

        let streamer = try LogStreamer(engine: stack.engine) { [self] events in deliver(events) }
        self.streamer = streamer
        var unloggedRecords: [ContainerRecord] = []
        for record in records where attachedIDs.contains(record.id) || watchedIDs.contains(record.id) {
            do {
                // The next run's whole output (or the current run's from now on), through
                // the restarts of its restart policy until it stops for good (`.ended`).
                try streamer.add(record, name: ProjectScope.shortName(record), options: LogOptions(tail: 0), follow: .nextRun)
            } catch {
                guard error.code == .notLogged else { throw error }
                warn("Can't retrieve logs for \"\(record.name)\": \(error.message)")
                unloggedRecords.append(record)
            }
        }
        let unlogged = unloggedRecords
        let streaming = DispatchGroup()
        streaming.enter()
        Thread { [self] in
            defer { streaming.leave() }
            do { try streamer.run() } catch { warn("\(error)") }
        }.start()
        defer {
            streamer.stop()
            streaming.wait()
            if state.withLock({ $0.muted }) { stopBoard.finish() }
        }

        // A Ctrl-C during the create phase: nothing is started.
        let early = signals.drain()
        if !early.isEmpty {
            lock.release()
            state.withLock { $0.startOver = true }
            handle(signals: early)
        } else {
            Thread { [self] in
                do {
                    if !settings.startServices.isEmpty {
                        try stack.start(
                            settings.project, services: settings.startServices, waitForConditions: true,
                            progress: { [self] event in starting(event) }, warn: warn)
                    }
                    for record in unlogged where watchedIDs.contains(record.id) { waitForExit(record) }
                } catch {
                    state.withLock { $0.startError = error }
                }
                lock.release()
                state.withLock { $0.startOver = true }
                notify()
            }.start()
        }

        while true {
            handle(signals: signals.drain())
            let abortNow = state.withLock { s -> Bool in
                guard s.abortRequested && !s.aborted else { return false }
                s.aborted = true
                return true
            }
            if abortNow { beginStop("Aborting on container exit...") }
            let now = state.withLock { $0 }
            if now.startOver, let error = now.startError, !now.muted { throw error }
            // Stopping: done once nothing is starting or stopping and every watched container
            // has exited or never started. Otherwise: once the start phase is over and every
            // watched container has exited.
            if now.muted ? now.starting.isEmpty && now.stopsRunning == 0 : now.startOver {
                if now.muted { dropNeverStarted() }
                if now.remaining.isEmpty { break }
            }
            var fds = [pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 && errno != EINTR {
                throw CLIError("up: poll: \(SystemError.errnoName(errno))")
            }
            var drained = [UInt8](repeating: 0, count: 64)
            while Glibc.read(wake.read, &drained, drained.count) > 0 {}
        }

        let end = state.withLock { $0 }
        if end.signalCount > 0 {
            console.err("canceled\n")
            return 130
        }
        if let error = end.stopError { throw error }
        return end.cascade.exitCode
    }

    private func notify() {
        var byte: UInt8 = 1
        _ = Glibc.write(wake.write, &byte, 1)
    }

    /// The start phase's progress: which starts are under way, and a container that comes
    /// up once the stack is being stopped is stopped too (Compose's `stopLateStarters`).
    private func starting(_ event: StackEvent) {
        guard event.kind == .container else { return }
        let late = state.withLock { s -> Bool in
            switch event.status {
            case "Starting":
                s.starting.insert(event.name)
                return false
            case "Started":
                s.starting.remove(event.name)
                if s.muted { s.stopsRunning += 1 }
                return s.muted
            default:
                if event.phase != .working { s.starting.remove(event.name) }
                return false
            }
        }
        let stopped = settings.stopServices
        if late, let record = stack.containers().first(where: { $0.name == event.name && (stopped.isEmpty || stopped.contains($0.service)) }) {
            stop([record])
        } else {
            if late { state.withLock { $0.stopsRunning -= 1 } }
            notify()
        }
    }

    /// The first SIGINT/SIGTERM stops the stack, the second kills it, later ones are ignored.
    private func handle(signals: [Int32]) {
        for _ in signals {
            let count = state.withLock { s in
                s.signalCount += 1
                return s.signalCount
            }
            if count == 1 { beginStop("Gracefully stopping... (press Ctrl+C again to force)") }
            if count == 2 { killAll() }
        }
    }

    /// Once the stack is being stopped and nothing starts: watched containers that were
    /// not running when the session began and have not started since (their start was never
    /// reached) have no run to wait for: their logs are ended (`.ended` follows).
    private func dropNeverStarted() {
        let candidates = state.withLock { s -> Set<String> in
            let fresh = s.remaining.subtracting(s.dropped)
            s.dropped.formUnion(fresh)
            return fresh
        }
        for id in candidates {
            guard let before = found[id], !before.running else { continue }
            let now = (try? stack.engine.observe(id)) ?? stack.engine.store.state(id)
            if now.status != .running && now.startedAt == before.startedAt {
                streamer?.finish(id)
            } else {
                state.withLock { _ = $0.dropped.remove(id) }
            }
        }
    }

    /// Stops the services as `stop` does, with Compose's progress.
    private func beginStop(_ message: String) {
        state.withLock { s in
            s.muted = true
            s.stopsRunning += 1
        }
        console.err(message + "\n")
        stop(nil)
    }

    /// Stops `records` (nil: the stop services' running containers) on a thread of its
    /// own; `stopsRunning` was counted up for it. A container is stopped by whichever stop
    /// claims it first — the stack's (when it finds it running) or its own as a late starter
    /// (when the stack's looked before its start completed) — and shows one Stopping/Stopped;
    /// neither waits for the other (a stack stop waiting out a long grace period must not
    /// hold a late starter up).
    private func stop(_ records: [ContainerRecord]?) {
        Thread { [self] in
            defer {
                state.withLock { $0.stopsRunning -= 1 }
                notify()
            }
            do {
                if let records {
                    for record in records where claim(record.name) && (try? stack.engine.observe(record.id))?.status == .running {
                        stopBoard.record(.init(.container, record.name, "Stopping", .working))
                        let response = try stack.client.send(.init(op: .stop, containers: [record.id], timeout: settings.timeout))
                        if let message = response.results.compactMap(\.error).first { throw CLIError(message) }
                        stopBoard.record(.init(.container, record.name, "Stopped", .done))
                    }
                } else {
                    let board = stopBoard
                    // The stack's stop reports only the containers it claims (a repeated
                    // request for one a late starter's stop has is harmless: stop is idempotent).
                    try stack.stop(settings.project, services: settings.stopServices, timeout: settings.timeout) { [self] event in
                        if event.kind == .container && event.status == "Stopping" && !claim(event.name) {
                            state.withLock { _ = $0.unreported.insert(event.name) }
                            return
                        }
                        if event.kind == .container && event.status == "Stopped" && state.withLock({ $0.unreported.remove(event.name) != nil }) {
                            return
                        }
                        board.record(event)
                    }
                }
            } catch {
                state.withLock { if $0.stopError == nil { $0.stopError = error } }
            }
        }.start()
    }

    /// True for the first stop that asks to stop container `name`.
    private func claim(_ name: String) -> Bool {
        state.withLock { $0.claimed.insert(name).inserted }
    }

    /// SIGKILL to every running container of the services (Compose's `kill`, errors of
    /// containers already gone ignored).
    private func killAll() {
        let records = stack.containers().filter { record in
            !record.oneOff && (settings.stopServices.isEmpty || settings.stopServices.contains(record.service))
                && (try? stack.engine.observe(record.id))?.status == .running
        }
        guard !records.isEmpty else { return }
        _ = try? stack.client.send(.init(op: .kill, containers: records.map(\.id), signal: SIGKILL))
    }

    /// The exit of a watched container whose output is not kept (`logging.driver: none`),
    /// from the supervisor.
    private func waitForExit(_ record: ContainerRecord) {
        Thread { [self] in
            let response = try? stack.client.send(.init(op: .wait, containers: [record.id]))
            let code = response?.results.first?.exitCode ?? 255
            let name = ProjectScope.shortName(record)
            deliver([.exited(containerID: record.id, name: name, exitCode: code), .ended(containerID: record.id, name: name)])
        }.start()
    }

    /// The streamer's batches (on its thread): lines of attached containers, the runs'
    /// exits of watched ones with Compose's decisions on them (every exit counts, one its
    /// restart policy follows too, as in Compose's monitor), and the ends of their logs —
    /// a watched container stopped for good.
    private func deliver(_ events: [LogEvent]) {
        var shown: [LogEvent] = []
        var decided = false
        func flush() {
            if !shown.isEmpty { output.write(shown) }
            shown = []
        }
        for event in events {
            switch event {
            case .line(let line):
                if attachedIDs.contains(line.containerID) && !state.withLock({ $0.muted }) { shown.append(event) }
            case .exited(let id, _, let code):
                guard watchedIDs.contains(id) else { continue }
                if attachedIDs.contains(id) && !state.withLock({ $0.muted }) { shown.append(event) }
                flush()
                decided = true
                let service = serviceOf[id] ?? ""
                state.withLock { s in
                    if s.cascade.exited(service: service, code: code) { s.abortRequested = true }
                }
            case .ended(let id, _):
                guard watchedIDs.contains(id) else { continue }
                decided = true
                state.withLock { _ = $0.remaining.remove(id) }
            }
        }
        flush()
        if decided { notify() }
    }
}
