import Foundation
import Synchronization
import Testing
import BerthRuntime
import BerthSystem
@testable import BerthOrchestrator

/// Containers of a store whose logs the test writes itself, with a stand-in monitor (a
/// `cat` waiting on a pipe) whose end the test decides: the streamer's reading, following
/// and ending, without root or real containers.
final class LogFixture: @unchecked Sendable {
    let base = NSTemporaryDirectory() + "berth-logs-\(UUID().uuidString.prefix(8))"
    let engine: ContainerEngine
    private var monitors: [Process] = []
    private var inputs: [Foundation.Pipe] = []

    init() {
        engine = ContainerEngine(root: base + "/root", runRoot: base + "/run", runtimeBinary: "/nonexistent")
    }

    deinit {
        for input in inputs { try? input.fileHandleForWriting.close() }
        for monitor in monitors { monitor.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: base)
    }

    func logPath(_ record: ContainerRecord) -> String { engine.store.path(record.id) + "/\(record.id)-json.log" }

    /// This process's open files under the fixture (a streamer must leave none).
    func openFiles() -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }.filter { $0.hasPrefix(base) }
    }

    func create(_ service: String, number: Int = 1, maxSize: Int64? = nil, maxFiles: Int = 1) throws -> ContainerRecord {
        let id = String(repeating: String(service.count), count: 8) + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let name = "demo-\(service)-\(number)"
        var spec = ContainerSpec(name: name, root: .directory("/", readOnly: true), process: .init(args: ["sh"]))
        spec.log = .init(path: engine.store.path(id) + "/\(id)-json.log", maxSize: maxSize, maxFiles: maxFiles)
        let record = ContainerRecord(
            id: id, name: name, project: "demo", service: service, number: number, oneOff: false, labels: [], image: "busybox",
            imageDigest: nil, configHash: "h", command: ["sh"], created: Clock.rfc3339Nano())
        try engine.store.create(record, spec: spec.encoded)
        return record
    }

    /// Appends entries with chosen times (seconds after 2024-01-01T00:00:00Z).
    func append(_ record: ContainerRecord, _ lines: [(String, Int)], stream: String = "stdout") throws {
        if !FileManager.default.fileExists(atPath: logPath(record)) { _ = FileManager.default.createFile(atPath: logPath(record), contents: nil) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath(record), isDirectory: false))
        defer { try? handle.close() }
        try handle.seekToEnd()
        for (text, second) in lines {
            let time = LogTime(seconds: 1_704_067_200 + Int64(second)).description
            handle.write(Data(JSONLogWriter.entry(Array(text.utf8), stream: stream, time: time).utf8))
        }
    }

    /// Marks the container running under a stand-in monitor; returns what ends it.
    func run(_ record: ContainerRecord) throws -> () -> Void {
        let monitor = Process()
        monitor.executableURL = URL(fileURLWithPath: "/bin/cat")
        let input = Foundation.Pipe()
        monitor.standardInput = input
        monitor.standardOutput = FileHandle.nullDevice
        try monitor.run()
        monitors.append(monitor)
        inputs.append(input)
        var state = ContainerState()
        state.status = .running
        state.monitorPid = monitor.processIdentifier
        state.monitorStartTime = ProcessIdentity.of(monitor.processIdentifier)?.startTime
        state.pid = monitor.processIdentifier
        state.startedAt = Clock.rfc3339Nano()
        try engine.store.save(state, for: record.id)
        return { try? input.fileHandleForWriting.close() }
    }
}

/// Collects a streamer's events; `wait` blocks (up to a 30 s failure deadline) until a
/// condition on them holds.
final class EventLog: Sendable {
    private let events = Mutex<[LogEvent]>([])
    private let changed = DispatchSemaphore(value: 0)

    func append(_ more: [LogEvent]) {
        events.withLock { $0 += more }
        changed.signal()
    }

    var all: [LogEvent] { events.withLock { $0 } }
    /// Lines and exits; the ends of logs are `ends`.
    var texts: [String] { all.compactMap { event in
        switch event {
        case .line(let line): return "\(line.name): \(line.text)"
        case .exited(_, let name, let code): return "\(name) exited \(code)"
        case .ended: return nil
        }
    } }

    /// The containers whose logs ended, in order.
    var ends: [String] { all.compactMap { event in
        if case .ended(_, let name) = event { return name }
        return nil
    } }

    @discardableResult
    func wait(until condition: ([String]) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + 30
        while !condition(texts) {
            if changed.wait(timeout: deadline) == .timedOut { return condition(texts) }
        }
        return true
    }
}

/// Runs `streamer.run()` on a thread; `join` waits (failure deadline 30 s) for it to return.
final class StreamerThread: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let failure = Mutex<String?>(nil)

    init(_ streamer: LogStreamer) {
        let thread = Thread { [self] in
            do { try streamer.run() } catch { failure.withLock { $0 = "\(error)" } }
            done.signal()
        }
        thread.start()
    }

    func join() -> Bool { done.wait(timeout: .now() + 30) == .success }
    var error: String? { failure.withLock { $0 } }
}

@Suite("log streaming") struct LogStreamerTests {
    @Test func logsOfSeveralContainersMergeInTimeOrderWithTailSinceAndUntil() throws {
        let f = LogFixture()
        let web = try f.create("web")
        let worker = try f.create("worker")
        try f.append(web, [("w1\n", 1), ("w2\n", 3), ("w3\n", 5)])
        try f.append(worker, [("k1\n", 2), ("k2\n", 4)], stream: "stderr")
        func read(_ options: LogOptions) throws -> [String] {
            let events = EventLog()
            let streamer = try LogStreamer(engine: f.engine, sink: events.append)
            try streamer.add(web, name: "web-1", options: options, follow: .no)
            try streamer.add(worker, name: "worker-1", options: options, follow: .no)
            try streamer.run()
            return events.texts
        }
        #expect(try read(LogOptions()) == ["web-1: w1", "worker-1: k1", "web-1: w2", "worker-1: k2", "web-1: w3"])
        #expect(try read(LogOptions(tail: 1)) == ["worker-1: k2", "web-1: w3"])
        #expect(try read(LogOptions(tail: 0)) == [])
        let at = { (second: Int64) in LogTime(seconds: 1_704_067_200 + second) }
        #expect(try read(LogOptions(since: at(2), until: at(4))) == ["worker-1: k1", "web-1: w2", "worker-1: k2"])
        // Tail counts lines before since filters them (as Docker does).
        #expect(try read(LogOptions(tail: 2, since: at(4))) == ["worker-1: k2", "web-1: w3"])
    }

    @Test func tailReadsBackIntoRotatedFilesAndJoinsPiecesOfALongLine() throws {
        let f = LogFixture()
        let web = try f.create("web", maxSize: 200, maxFiles: 3)
        let writer = try JSONLogWriter(config: .init(path: f.logPath(web), maxSize: 200, maxFiles: 3))
        for n in 1...12 { try writer.append(ArraySlice("line \(n)\n".utf8), stream: "stdout") }
        // The writer kept 3 files of about two entries each: lines 7 to 12.
        #expect(FileManager.default.fileExists(atPath: f.logPath(web) + ".2"))
        func read(_ tail: Int?) throws -> [String] {
            let events = EventLog()
            let streamer = try LogStreamer(engine: f.engine, sink: events.append)
            try streamer.add(web, name: "web-1", options: LogOptions(tail: tail), follow: .no)
            try streamer.run()
            return events.texts
        }
        #expect(try read(nil) == (7...12).map { "web-1: line \($0)" })
        #expect(try read(5) == (8...12).map { "web-1: line \($0)" })
        #expect(try read(2) == ["web-1: line 11", "web-1: line 12"])

        let long = try f.create("long")
        try f.append(long, [("first ", 1), ("half\n", 1), ("no newline at the end", 2)])
        let events = EventLog()
        let streamer = try LogStreamer(engine: f.engine, sink: events.append)
        try streamer.add(long, name: "long-1", follow: .no)
        try streamer.run()
        #expect(events.texts == ["long-1: first half", "long-1: no newline at the end"])
    }

    @Test func followingDeliversNewLinesThroughRotationAndEndsWhenTheMonitorEnds() throws {
        let f = LogFixture()
        let web = try f.create("web", maxSize: 300, maxFiles: 5)
        let end = try f.run(web)
        try f.append(web, [("before\n", 1)])
        let events = EventLog()
        do {
            let streamer = try LogStreamer(engine: f.engine, sink: events.append)
            try streamer.add(web, name: "web-1", options: LogOptions(tail: 1), follow: .whileRunning)
            let thread = StreamerThread(streamer)
            #expect(events.wait { $0 == ["web-1: before"] })
            let writer = try JSONLogWriter(config: .init(path: f.logPath(web), maxSize: 300, maxFiles: 5))
            for n in 1...10 { try writer.append(ArraySlice("new \(n)\n".utf8), stream: "stdout") }
            #expect(events.wait { $0.count == 11 })
            #expect(events.texts == ["web-1: before"] + (1...10).map { "web-1: new \($0)" })
            #expect(FileManager.default.fileExists(atPath: f.logPath(web) + ".3"), "the lines were written across rotations")
            end()
            #expect(thread.join(), "run() returned after the monitor ended")
            #expect(thread.error == nil)
        }
        #expect(events.texts.last == "web-1 exited 255", "no exit report: the engine records 255")
        #expect(f.engine.store.state(web.id).status == .exited)
        #expect(f.openFiles() == [], "the streamer closed every log file")
    }

    @Test func aContainerThatIsNotRunningIsShownAndLeftWhenFollowing() throws {
        let f = LogFixture()
        let web = try f.create("web")
        try f.append(web, [("old\n", 1)])
        let events = EventLog()
        let streamer = try LogStreamer(engine: f.engine, sink: events.append)
        try streamer.add(web, name: "web-1", follow: .whileRunning)
        try streamer.run()
        #expect(events.texts == ["web-1: old"])
    }

    /// `up`'s use: added before it starts, from now on, its whole next run.
    @Test func nextRunWaitsForTheStartThenEndsWithTheRun() throws {
        let f = LogFixture()
        let web = try f.create("web")
        try f.append(web, [("an earlier run\n", 1)])
        let events = EventLog()
        let streamer = try LogStreamer(engine: f.engine, sink: events.append)
        try streamer.add(web, name: "web-1", options: LogOptions(tail: 0), follow: .nextRun)
        let thread = StreamerThread(streamer)
        let end = try f.run(web)
        try f.append(web, [("started\n", 2)])
        #expect(events.wait { $0 == ["web-1: started"] })
        end()
        #expect(thread.join())
        #expect(events.texts == ["web-1: started", "web-1 exited 255"])
        // The end of the log comes last, once: the container stopped for good.
        #expect(events.all.last == .ended(containerID: web.id, name: "web-1"))
        #expect(events.ends == ["web-1"])
    }

    @Test func containersCreatedWhileFollowingAreDiscovered() throws {
        let f = LogFixture()
        let web = try f.create("web")
        let endWeb = try f.run(web)
        let events = EventLog()
        let streamer = try LogStreamer(engine: f.engine, sink: events.append)
        try streamer.discoverNewContainers { record in record.service == "worker" ? ("worker-1", LogOptions(), .nextRun) : nil }
        try streamer.add(web, name: "web-1", options: LogOptions(tail: 0), follow: .whileRunning)
        let thread = StreamerThread(streamer)
        try f.append(web, [("w\n", 1)])
        #expect(events.wait { $0 == ["web-1: w"] })
        _ = try f.create("other")
        let worker = try f.create("worker")
        // Added as well as discovered (up may do both): streamed once.
        try streamer.add(worker, name: "worker-1", follow: .nextRun)
        try f.append(worker, [("first\n", 2)])
        let endWorker = try f.run(worker)
        try f.append(worker, [("second\n", 3)])
        #expect(events.wait { $0 == ["web-1: w", "worker-1: first", "worker-1: second"] })
        endWeb()
        #expect(events.wait { $0.count == 4 })
        endWorker()
        #expect(thread.join(), "run() returned when both had stopped")
        #expect(events.texts == ["web-1: w", "worker-1: first", "worker-1: second", "web-1 exited 255", "worker-1 exited 255"])
    }

    @Test func addWhileRunningFinishAndStop() throws {
        let f = LogFixture()
        let web = try f.create("web")
        let worker = try f.create("worker")
        _ = try f.run(web)
        let endWorker = try f.run(worker)
        let events = EventLog()
        let streamer = try LogStreamer(engine: f.engine, sink: events.append)
        try streamer.add(web, name: "web-1", options: LogOptions(tail: 0), follow: .untilFinished)
        let thread = StreamerThread(streamer)
        try f.append(web, [("a\n", 1)])
        #expect(events.wait { $0 == ["web-1: a"] })
        try streamer.add(worker, name: "worker-1", options: LogOptions(tail: 0), follow: .untilFinished)
        try f.append(worker, [("b\n", 2)])
        #expect(events.wait { $0 == ["web-1: a", "worker-1: b"] })
        // web still runs: only finish ends its log; worker's ends and would wait for a restart.
        streamer.finish(web.id)
        endWorker()
        #expect(events.wait { $0.last == "worker-1 exited 255" })
        #expect(!events.ends.contains("worker-1"), "worker's log waits for a restart")
        streamer.finish(worker.id)
        #expect(thread.join(), "run() returned once both were finished")
        #expect(events.texts == ["web-1: a", "worker-1: b", "worker-1 exited 255"])
        #expect(events.ends.sorted() == ["web-1", "worker-1"])

        // stop() ends a streamer that waits for more containers.
        let idle = try LogStreamer(engine: f.engine, endsWhenIdle: false, sink: events.append)
        let waiting = StreamerThread(idle)
        idle.stop()
        #expect(waiting.join())
    }
}
