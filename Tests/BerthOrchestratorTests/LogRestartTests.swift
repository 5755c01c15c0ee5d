import Foundation
import Testing
import BerthSystem
@testable import BerthOrchestrator

extension LogFixture {
    /// Gives the container a restart policy (its launch config), as `up` would.
    func restartPolicy(_ record: ContainerRecord, _ policy: RestartPolicy?) throws {
        let launch = LaunchConfig(
            service: record.service, networkMode: .none, networks: [], ports: [], extraHosts: [], dns: [], dnsSearch: [], dnsOptions: [],
            hostname: "h", domainname: nil, healthcheck: nil, restart: policy, onUnhealthy: nil)
        try FS.writeAtomically(engine.store.path(record.id) + "/launch.json", try launch.encoded())
    }

    /// Ends the stand-in monitor of the current run and waits until it is gone; returns
    /// the state with the exit recorded.
    @discardableResult
    func endAndObserve(_ record: ContainerRecord, _ end: () -> Void) throws -> ContainerState {
        let state = engine.store.state(record.id)
        end()
        if let pid = state.monitorPid, let start = state.monitorStartTime, let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() {
            defer { close(fd) }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, 30_000)
        }
        return try engine.observe(record.id)
    }

    /// Writes what a supervisor decides when the current run has ended: restart or not.
    func decide(_ record: ContainerRecord, restart: Bool) throws {
        let state = engine.store.state(record.id)
        var decision = engine.store.restartRecord(record.id)
        decision.handledRun = state.startedAt
        decision.pending = restart ? .init(run: state.startedAt ?? "", exitCode: state.exitCode ?? 0, due: 0) : nil
        try engine.store.saveRestartRecord(decision, for: record.id)
    }
}

/// `logs -f` across the restarts of a restart policy (Compose follows a restarting
/// container until it stays down): the streamer waits between runs on restart.json and
/// state.json, which the test writes as a supervisor would.
@Suite("log streaming across restarts") struct LogRestartTests {
    @Test func followingGoesOnThroughRestartsUntilThePolicyLetsItGo() throws {
        let f = LogFixture()
        let web = try f.create("web")
        try f.restartPolicy(web, RestartPolicy(condition: .onFailure, maxAttempts: 1))
        let endFirst = try f.run(web)
        let events = EventLog()
        let streamer = try LogStreamer(engine: f.engine, sink: events.append)
        try streamer.add(web, name: "web-1", options: LogOptions(tail: 0), follow: .whileRunning)
        let thread = StreamerThread(streamer)
        try f.append(web, [("first run\n", 1)])
        #expect(events.wait { $0 == ["web-1: first run"] })
        endFirst()
        #expect(events.wait { $0 == ["web-1: first run", "web-1 exited 255"] })
        // Undecided, then decided: a restart. The log waits for it.
        try f.decide(web, restart: true)
        let endSecond = try f.run(web)
        try f.append(web, [("second run\n", 2)])
        #expect(events.wait { $0.count == 3 })
        endSecond()
        #expect(events.wait { $0.count == 4 })
        // The policy's retries are spent: it stays down, and the log ends.
        try f.decide(web, restart: false)
        #expect(thread.join(), "run() returned once the container stayed down")
        #expect(events.texts == ["web-1: first run", "web-1 exited 255", "web-1: second run", "web-1 exited 255"])
        #expect(f.openFiles() == [])
    }

    @Test func aStopByHandWhileTheRestartWaitsEndsTheLog() throws {
        let f = LogFixture()
        let web = try f.create("web")
        try f.restartPolicy(web, RestartPolicy(condition: .always))
        try f.endAndObserve(web, try f.run(web))
        try f.decide(web, restart: true)
        #expect(RestartOutlook.of(f.engine.store, web.id, state: f.engine.store.state(web.id)) == .restart)
        // Added while it waits for its restart (ps shows it restarting): followed, not left.
        let events = EventLog()
        let streamer = try LogStreamer(engine: f.engine, sink: events.append)
        try streamer.add(web, name: "web-1", follow: .whileRunning)
        let thread = StreamerThread(streamer)
        // `stop` cancels the restart and marks the run stopped by hand.
        var cancelled = f.engine.store.restartRecord(web.id)
        cancelled.pending = nil
        try f.engine.store.saveRestartRecord(cancelled, for: web.id)
        try f.engine.markStoppedByUser(web.id, run: f.engine.store.state(web.id).startedAt)
        #expect(thread.join(), "run() returned once the restart was cancelled")
        #expect(events.texts == [])
    }

    @Test func outlookOfARunThatEnded() throws {
        let f = LogFixture()
        let web = try f.create("web")
        let store = f.engine.store
        #expect(RestartOutlook.of(store, web.id, state: store.state(web.id)) == .stopped, "never ran")
        let ended = try f.endAndObserve(web, try f.run(web))
        #expect(RestartOutlook.of(store, web.id, state: ended) == .stopped, "no launch config: no policy")
        try f.restartPolicy(web, nil)
        #expect(RestartOutlook.of(store, web.id, state: ended) == .stopped, "restart: no")
        try f.restartPolicy(web, RestartPolicy(condition: .always))
        #expect(RestartOutlook.of(store, web.id, state: ended) == .undecided)
        try f.decide(web, restart: true)
        #expect(RestartOutlook.of(store, web.id, state: ended) == .restart)
        var byHand = ended
        byHand.stoppedByUser = true
        #expect(RestartOutlook.of(store, web.id, state: byHand) == .stopped)
        try f.decide(web, restart: false)
        #expect(RestartOutlook.of(store, web.id, state: ended) == .stopped)
    }
}
