import BerthSystem
import CBerthSys
import Glibc
import Synchronization

/// Streams the logs of several containers to one sink: first what each already logged
/// (`LogOptions`), merged in time order, then — for the containers followed — every new
/// line as it is written. Waiting is event-driven: one inotify watch per container
/// directory (writes, rotation, state changes, removal) and a pidfd per running monitor
/// (the end of a run), no polling.
///
/// `run()` blocks its thread and calls `sink` there with batches of events; `add`, `finish`
/// and `stop` may be called from any thread while it runs. `logs` adds its containers then
/// runs; `up` can add a container whenever it creates one (before starting it, with
/// `.nextRun` and `LogOptions(tail: 0)`: its whole output, nothing older).
public final class LogStreamer: Sendable {
    private let engine: ContainerEngine
    private let sink: @Sendable ([LogEvent]) -> Void
    private let endsWhenIdle: Bool
    private let inotify: Int32
    private let wake: BerthSystem.Pipe
    private let inbox = Mutex(Inbox())

    private struct Inbox {
        var added: [PreparedLog] = []
        var finishing: [String] = []
        var discovery: LogDiscovery?
        var stopped = false
    }

    /// `endsWhenIdle`: `run()` returns once every container's log has ended; otherwise it
    /// waits for more containers until `stop()`.
    public init(engine: ContainerEngine, endsWhenIdle: Bool = true, sink: @escaping @Sendable ([LogEvent]) -> Void) throws {
        self.engine = engine
        self.sink = sink
        self.endsWhenIdle = endsWhenIdle
        inotify = inotify_init1(Int32(O_CLOEXEC | O_NONBLOCK))
        guard inotify >= 0 else {
            throw LogStreamError(code: .system, message: "cannot follow logs: inotify_init1: \(String(cString: strerror(errno))); raise fs.inotify.max_user_instances if the limit is reached")
        }
        do {
            wake = try BerthSystem.Pipe()
        } catch {
            close(inotify)
            throw LogStreamError(code: .system, message: "cannot follow logs: \(error)")
        }
        _ = berth_fcntl_setfl_nonblock(wake.read)
        _ = berth_fcntl_setfl_nonblock(wake.write)
    }

    deinit {
        close(inotify)
        close(wake.read)
        close(wake.write)
        for prepared in inbox.withLock({ $0.added }) {
            prepared.segments.forEach { close($0.fd) }
            if let current = prepared.current { close(current.fd) }
        }
    }

    /// Adds a container. `name` labels its lines. Throws `.notLogged` for a container with
    /// `logging.driver: none`.
    public func add(_ record: ContainerRecord, name: String, options: LogOptions = LogOptions(), follow: LogFollow) throws(LogStreamError) {
        let prepared = try PreparedLog.prepare(store: engine.store, record: record, name: name, options: options, follow: follow, inotify: inotify)
        inbox.withLock { $0.added.append(prepared) }
        signal()
    }

    /// Also streams the containers created from now on (scaled up, recreated, started by
    /// another command) that `decide` wants: it gets each new container's record and
    /// returns its name and how to follow it, or nil to leave it out. Their logs do not keep
    /// `run()` waiting until they appear.
    public func discoverNewContainers(_ decide: @escaping @Sendable (ContainerRecord) -> (name: String, options: LogOptions, follow: LogFollow)?) throws(LogStreamError) {
        let directory = engine.store.directory
        do {
            try FS.makeDirectories(directory, mode: 0o700)
        } catch {
            throw LogStreamError(code: .system, message: "cannot watch for new containers in \(directory): \(error)")
        }
        let watch = inotify_add_watch(inotify, directory, UInt32(IN_CREATE | IN_MOVED_TO | IN_ONLYDIR))
        guard watch >= 0 else {
            throw LogStreamError(code: .system, message: "cannot watch for new containers in \(directory) (inotify_add_watch: \(String(cString: strerror(errno))))")
        }
        inbox.withLock { $0.discovery = LogDiscovery(watch: watch, decide: decide) }
        signal()
    }

    /// Ends following a container: what it logged up to now is still delivered.
    public func finish(_ containerID: String) {
        inbox.withLock { $0.finishing.append(containerID) }
        signal()
    }

    /// Ends `run()` after delivering what is logged up to now.
    public func stop() {
        inbox.withLock { $0.stopped = true }
        signal()
    }

    private func signal() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
    }

    /// Streams until every log has ended (see `endsWhenIdle`) or `stop()`.
    public func run() throws(LogStreamError) {
        var loop = StreamLoop(engine: engine, inotify: inotify, sink: sink)
        defer { loop.closeAll() }
        while true {
            var drained = [UInt8](repeating: 0, count: 64)
            while read(wake.read, &drained, drained.count) > 0 {}
            let inbox = self.inbox.withLock { inbox -> Inbox in
                let taken = inbox
                inbox.added = []
                inbox.finishing = []
                inbox.discovery = nil
                return taken
            }
            if let discovery = inbox.discovery { loop.discovery = discovery }
            loop.start(inbox.added)
            for id in inbox.finishing { loop.finish(id) }
            if inbox.stopped {
                loop.finishAll()
                loop.flush()
                return
            }
            loop.flush()
            if loop.isIdle && endsWhenIdle { return }
            var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0), pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)]
            let watched = loop.monitors
            fds += watched.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), loop.timeoutMilliseconds())
            if ready < 0 {
                if errno == EINTR { continue }
                throw LogStreamError(code: .system, message: "cannot follow logs: poll: \(String(cString: strerror(errno)))")
            }
            if fds[1].revents != 0 { loop.inotifyEvents() }
            for (index, entry) in fds.enumerated().dropFirst(2) where entry.revents != 0 {
                loop.monitorEnded(watched[index - 2].log)
            }
            loop.untilPassed()
            loop.flush()
        }
    }
}

/// How `discoverNewContainers` was asked to show new containers, and its watch of the
/// containers directory.
struct LogDiscovery: Sendable {
    var watch: Int32
    var decide: @Sendable (ContainerRecord) -> (name: String, options: LogOptions, follow: LogFollow)?
}

/// The streaming thread's state: the logs by container and by inotify watch.
struct StreamLoop {
    let engine: ContainerEngine
    let inotify: Int32
    let sink: @Sendable ([LogEvent]) -> Void
    private var logs: [FollowedLog] = []
    private var events: [LogEvent] = []
    var discovery: LogDiscovery?
    /// Watches of new container directories whose config.json is not written yet.
    private var newDirectories: [Int32: String] = [:]

    init(engine: ContainerEngine, inotify: Int32, sink: @escaping @Sendable ([LogEvent]) -> Void) {
        self.engine = engine
        self.inotify = inotify
        self.sink = sink
    }

    var isIdle: Bool { logs.isEmpty }

    var monitors: [(fd: Int32, log: FollowedLog)] {
        logs.compactMap { log in log.monitorFD.map { ($0, log) } }
    }

    mutating func flush() {
        guard !events.isEmpty else { return }
        sink(events)
        events = []
    }

    private mutating func flushIfLarge() {
        if events.count >= 1024 { flush() }
    }

    /// Delivers what the new logs hold, merged by time, then starts following them.
    mutating func start(_ prepared: [PreparedLog]) {
        var fresh: [PreparedLog] = []
        for log in prepared {
            // A container already streamed (added twice, or added and discovered): once.
            if logs.contains(where: { $0.id == log.id }) || fresh.contains(where: { $0.id == log.id }) {
                FollowedLog(log).closeAll()
            } else {
                fresh.append(log)
            }
        }
        guard !fresh.isEmpty else { return }
        let added = fresh.map(FollowedLog.init)
        var heads = added.map { $0.initial.next() }
        var ended = Set<Int>()
        while true {
            var best: Int?
            for (index, head) in heads.enumerated() {
                guard let head else { continue }
                if let current = best, let other = heads[current], !(head.time < other.time) { continue }
                best = index
            }
            guard let index = best, let entry = heads[index] else { break }
            if added[index].take(entry, into: &events) {
                heads[index] = added[index].initial.next()
            } else {
                heads[index] = nil
                ended.insert(index)
            }
            flushIfLarge()
        }
        for (index, log) in added.enumerated() {
            log.initial.close()
            if ended.contains(index) || log.prepared.follow == .no {
                end(log)
                continue
            }
            logs.append(log)
            let state = engine.store.state(log.id)
            log.lastFinishedAt = state.finishedAt
            if state.status == .running || log.prepared.follow == .whileRunning {
                follow(log, state: (try? engine.observe(log.id)) ?? state)
            }
            if log.phase != .done && !log.readNew(into: &events) { end(log) }
        }
    }

    /// Watches the current run of a container, or ends the log if it is not running (after
    /// an exit, `.untilFinished` waits for the next start).
    private mutating func follow(_ log: FollowedLog, state: ContainerState) {
        if state.status == .running, let pid = state.monitorPid, let start = state.monitorStartTime {
            let identity = ProcessIdentity(pid: pid, startTime: start)
            log.awaitingRestart = false
            if log.isWatching(identity) || log.watch(identity) { return }
            // Its monitor has just ended: the engine records the exit.
            let ended = (try? engine.observe(log.id)) ?? state
            runEnded(log, state: ended)
            return
        }
        if log.prepared.follow == .whileRunning {
            _ = log.readNew(into: &events)
            waitForRestartOrEnd(log, state: state)
        }
    }

    /// A run ended: the rest of its output, then the exit, then (by policy) the end.
    private mutating func runEnded(_ log: FollowedLog, state: ContainerState) {
        log.closeMonitor()
        let complete = log.readNew(into: &events)
        log.emitPartial(into: &events)
        events.append(.exited(containerID: log.id, name: log.name, exitCode: state.exitCode ?? 255))
        log.lastFinishedAt = state.finishedAt
        guard complete else {
            end(log)
            return
        }
        switch log.prepared.follow {
        case .no: end(log)
        case .untilFinished: log.phase = .waitingForStart
        case .whileRunning, .nextRun: waitForRestartOrEnd(log, state: state)
        }
    }

    /// Between runs: waits for the restart the policy has decided or may still decide,
    /// else ends the log.
    private mutating func waitForRestartOrEnd(_ log: FollowedLog, state: ContainerState) {
        if RestartOutlook.of(engine.store, log.id, state: state) == .stopped {
            end(log)
        } else {
            log.phase = .waitingForStart
            log.awaitingRestart = true
        }
    }

    /// The monitor's pidfd became readable.
    mutating func monitorEnded(_ log: FollowedLog) {
        guard log.phase == .following else { return }
        let state = (try? engine.observe(log.id)) ?? engine.store.state(log.id)
        if state.status == .running, let pid = state.monitorPid, let start = state.monitorStartTime,
           !log.isWatching(ProcessIdentity(pid: pid, startTime: start)) {
            // Restarted already (a restart policy): follow the new run.
            follow(log, state: state)
            return
        }
        runEnded(log, state: state)
    }

    /// `state.json` or `restart.json` was replaced: a waiting container may have started,
    /// or failed to, or its restart been decided against or cancelled.
    private mutating func stateChanged(_ log: FollowedLog) {
        guard log.phase == .waitingForStart else { return }
        let state = engine.store.state(log.id)
        switch state.status {
        case .running:
            follow(log, state: state)
        case .exited where state.finishedAt != log.lastFinishedAt:
            runEnded(log, state: state)
        default:
            if log.awaitingRestart { waitForRestartOrEnd(log, state: state) }
        }
    }

    mutating func inotifyEvents() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(inotify, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return }
            var offset = 0
            while offset + 16 <= count {
                let (wd, mask, length) = buffer.withUnsafeBytes { raw in
                    (raw.loadUnaligned(fromByteOffset: offset, as: Int32.self), raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self),
                     Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self)))
                }
                let nameBytes = buffer[(offset + 16)..<min(count, offset + 16 + length)].prefix(while: { $0 != 0 })
                offset += 16 + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    for log in logs { changed(log, name: nil) }
                    continue
                }
                let name = String(decoding: nameBytes, as: UTF8.self)
                if wd == discovery?.watch, !name.isEmpty {
                    newDirectory(name)
                    continue
                }
                if let id = newDirectories[wd], name == "config.json" { discover(id) }
                for log in logs where log.prepared.watch == wd && log.phase != .done {
                    if mask & UInt32(IN_DELETE_SELF | IN_IGNORED) != 0 {
                        _ = log.readNew(into: &events)
                        log.emitPartial(into: &events)
                        end(log)
                    } else {
                        changed(log, name: name)
                    }
                }
                flushIfLarge()
            }
        }
    }

    /// A directory appeared in the store: a container being created. Its record is the
    /// last file written (after its spec).
    private mutating func newDirectory(_ id: String) {
        guard !logs.contains(where: { $0.id == id }) else { return }
        // The mask logs use: inotify has one watch per directory, and a log of this
        // container (added or discovered) shares it.
        let watch = inotify_add_watch(inotify, engine.store.path(id), LogWatch.mask)
        if watch >= 0 { newDirectories[watch] = id }
        discover(id)
    }

    private mutating func discover(_ id: String) {
        guard let discovery, !logs.contains(where: { $0.id == id }), let record = try? engine.store.record(id) else { return }
        let pending = newDirectories.filter { $0.value == id }.map(\.key)
        pending.forEach { newDirectories[$0] = nil }
        if let wanted = discovery.decide(record),
           let prepared = try? PreparedLog.prepare(store: engine.store, record: record, name: wanted.name, options: wanted.options, follow: wanted.follow, inotify: inotify) {
            start([prepared])
        }
        for watch in pending where !logs.contains(where: { $0.prepared.watch == watch }) {
            _ = inotify_rm_watch(inotify, watch)
        }
    }

    /// A file of the container's directory changed (`nil`: unknown which).
    private mutating func changed(_ log: FollowedLog, name: String?) {
        if name == nil || name == "state.json" || name == RestartRecord.fileName { stateChanged(log) }
        if log.phase != .done && name != "state.json" && !log.readNew(into: &events) {
            log.emitPartial(into: &events)
            end(log)
        }
    }

    /// Milliseconds until the earliest `until` of a followed log (-1: none).
    func timeoutMilliseconds() -> Int32 {
        guard let until = logs.compactMap({ $0.options.until }).min() else { return -1 }
        let left = until.secondsSince(LogTime.now())
        return left <= 0 ? 0 : Int32(min(Double(Int32.max), left * 1000 + 1))
    }

    /// Ends the logs whose `until` has passed, after their last entries.
    mutating func untilPassed() {
        let now = LogTime.now()
        for log in logs where log.phase != .done {
            guard let until = log.options.until, until <= now else { continue }
            _ = log.readNew(into: &events)
            log.emitPartial(into: &events)
            end(log)
        }
    }

    mutating func finish(_ id: String) {
        for log in logs where log.id == id && log.phase != .done {
            _ = log.readNew(into: &events)
            log.emitPartial(into: &events)
            end(log)
        }
    }

    mutating func finishAll() {
        for log in logs where log.phase != .done { finish(log.id) }
    }

    private mutating func end(_ log: FollowedLog) {
        log.emitPartial(into: &events)
        if log.prepared.follow != .no { events.append(.ended(containerID: log.id, name: log.name)) }
        log.closeAll()
        logs.removeAll { $0 === log }
        if log.prepared.watch >= 0 && !logs.contains(where: { $0.prepared.watch == log.prepared.watch }) {
            _ = inotify_rm_watch(inotify, log.prepared.watch)
        }
    }

    mutating func closeAll() {
        for log in logs { end(log) }
    }
}
