import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end restart policies (root tier): busybox containers that crash, are killed, or
/// turn unhealthy, and what the supervisor, `ps` and `events` make of it. Waiting is on
/// inotify (the container's directory) and pidfds with a deadline; nothing asserts a time.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct RestartStackTests {
    @Test func onFailure3RestartsExactlyThreeTimesWithGrowingGaps() throws {
        let stack = try StackFixture("""
            services:
              crash:
                image: busybox
                command: [sh, -c, "exit 3"]
                restart: on-failure:3

            """)
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        // Once it gives up nothing runs or waits: the supervisor exits.
        stack.waitForSupervisorExit()
        let crash = try stack.container("crash")
        #expect(crash.state.status == .exited && crash.state.exitCode == 3)
        #expect(stack.engine.store.restartRecord(crash.record.id).tracker.count == 3)
        #expect(stack.engine.store.restartRecord(crash.record.id).pending == nil)
        #expect(try stack.run(["ps", "-a", "--format", "{{.State}} {{.ExitCode}}"]).stdout == "exited 3\n")

        let events = try history(stack)
        #expect(events.map(\.action) == ["create", "start", "die", "start", "die", "start", "die", "start", "die"])
        #expect(events.filter { $0.action == "die" }.allSatisfy { $0.attributes["exitCode"] == "3" })
        // The back-off grows with each restart (100, 200, 400 ms): no start comes before its
        // delay has passed since the end before it. (Only lower bounds: how long a start takes
        // on a loaded machine is added to each gap, so comparing the gaps with each other
        // failed in CI when the first start was slow.)
        var gaps: [Int64] = []
        for index in stride(from: 2, to: events.count - 1, by: 2) { gaps.append(events[index + 1].time - events[index].time) }
        #expect(gaps.count == 3)
        #expect(zip(gaps, [100, 200, 400] as [Int64]).allSatisfy { $0 >= $1 * 1_000_000 }, "gaps \(gaps)")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func alwaysComesBackAfterItsSupervisorIsKilledAndAgainDuringABackOff() throws {
        let stack = try StackFixture("""
            services:
              web:
                image: busybox
                command: [sleep, "1000"]
                restart: always
              slow:
                image: busybox
                command: [sleep, "1000"]
                deploy:
                  restart_policy:
                    delay: 3s

            """)
        #expect(try stack.run(["up", "-d"]).code == 0)

        // No supervisor when web ends: its monitor's exit hook starts one, which restarts it.
        let first = try #require(stack.supervisorPid)
        try killAndWait(first)
        let web = try stack.container("web")
        #expect(kill(try #require(web.state.pid), SIGKILL) == 0)
        try stack.waitFor("web", "restarted") { record, state in state.status == .running && state.startedAt != web.state.startedAt }
        let second = try #require(stack.supervisorPid)
        #expect(second != first)
        #expect(stack.engine.store.restartRecord(web.record.id).tracker.count == 1)

        // Killed while slow waits for its restart (3 s): ps shows it, and wakes a supervisor.
        let slow = try stack.container("slow")
        #expect(kill(try #require(slow.state.pid), SIGKILL) == 0)
        try stack.waitFor("slow", "waiting for its restart") { record, state in
            stack.engine.store.pendingRestart(record.id, state: state) != nil
        }
        try killAndWait(second)
        let ps = try stack.run(["ps", "--format", "{{.State}} {{.Status}}", "slow"])
        #expect(ps.stdout.hasPrefix("restarting Restarting (137) ") && ps.stdout.contains(" ago (next in "), "\(ps.stdout)")
        try stack.waitFor("slow", "restarted") { record, state in state.status == .running && state.startedAt != slow.state.startedAt }
        #expect(stack.supervisorPid.map { $0 != second } == true)

        let events = try history(stack).filter { $0.attributes["name"] == "\(stack.project)-web-1" }.map(\.action)
        #expect(events == ["create", "start", "die", "start"])
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func onUnhealthyRestartRestartsAndEventsTellItInOrder() throws {
        let stack = try StackFixture("""
            services:
              web:
                image: busybox
                command: [sh, -c, "touch /tmp/ok; exec sleep 1000"]
                stop_signal: SIGKILL
                healthcheck:
                  test: ["CMD-SHELL", "test -e /tmp/ok"]
                  interval: 200ms
                  timeout: 5s
                  retries: 1
                x-berth:
                  on-unhealthy: restart

            """)
        let up = try stack.run(["up", "--wait"])
        #expect(up.code == 0, "\(up.stderr)")
        let since = LogTime.now().description
        let events = try LiveProcess(
            ["/usr/bin/env", "-C", stack.directory, berthBinary, "events", "--json", "--since", since], environment: stack.environment)
        defer {
            events.kill(SIGKILL)
            _ = events.wait()
        }
        let before = try stack.container("web")
        #expect(try stack.run(["exec", "-T", "web", "rm", "/tmp/ok"]).code == 0)
        // Unhealthy, stopped, started again, healthy again (the command makes /tmp/ok anew).
        try events.waitForStdout(containing: #""action":"health_status: healthy""#)
        let after = try stack.container("web")
        #expect(after.state.startedAt != before.state.startedAt)
        #expect(stack.engine.store.restartRecord(after.record.id).tracker.count == 1)
        let actions = events.stdout.split(separator: "\n").compactMap { line -> String? in
            guard let data = String(line).data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            #expect(object["type"] as? String == "container")
            #expect(object["service"] as? String == "web")
            return object["action"] as? String
        }
        #expect(actions == ["health_status: unhealthy", "kill", "die", "stop", "start", "health_status: healthy"])
        #expect(events.stdout.contains(#""exitCode":"137""#))

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func stopCancelsAPendingRestartAndStartResetsTheCount() throws {
        let stack = try StackFixture("""
            services:
              crash:
                image: busybox
                command: [sh, -c, "exit 1"]
                deploy:
                  restart_policy:
                    condition: on-failure
                    delay: 1m

            """)
        #expect(try stack.run(["up", "-d"]).code == 0)
        try stack.waitFor("crash", "waiting for its restart") { record, state in
            stack.engine.store.pendingRestart(record.id, state: state) != nil
        }
        let ps = try stack.run(["ps", "--format", "{{.Status}}"])
        #expect(ps.stdout.hasPrefix("Restarting (1) ") && ps.stdout.contains(" ago (next in ") && !ps.stdout.contains("(next in 0s)"), "\(ps.stdout)")
        #expect(try stack.run(["ps", "--status", "restarting", "-q"]).stdout.count == 65)

        let stop = try stack.run(["stop"])
        #expect(stop.code == 0, "\(stop.stderr)")
        // Nothing waits any more: the supervisor exits, and ps shows a plain exit.
        stack.waitForSupervisorExit()
        let crash = try stack.container("crash")
        #expect(stack.engine.store.restartRecord(crash.record.id).pending == nil)
        #expect(crash.state.stoppedByUser)
        #expect(try stack.run(["ps", "-a", "--format", "{{.State}}"]).stdout == "exited\n")
        #expect(try stack.run(["ps"]).stdout.split(separator: "\n").count == 1)

        // A start by hand: the count begins anew, and the policy applies again.
        #expect(try stack.run(["start"]).code == 0)
        try stack.waitFor("crash", "waiting for its restart") { record, state in
            state.startedAt != crash.state.startedAt && stack.engine.store.pendingRestart(record.id, state: state) != nil
        }
        #expect(stack.engine.store.restartRecord(crash.record.id).tracker.count == 1)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func dependentsWithRestartTrueFollowTheirDependency() throws {
        let stack = try StackFixture("""
            services:
              db:
                image: busybox
                command: [sleep, "1000"]
                stop_signal: SIGKILL
                restart: always
              app:
                image: busybox
                command: [sleep, "1000"]
                stop_signal: SIGKILL
                depends_on:
                  db: {condition: service_started, restart: true}
              other:
                image: busybox
                command: [sleep, "1000"]
                stop_signal: SIGKILL
                depends_on: [db]

            """)
        #expect(try stack.run(["up", "-d"]).code == 0)
        func started(_ service: String) throws -> String? { try stack.container(service).state.startedAt }

        // The policy restarts db: app, which declares restart: true, is restarted after it.
        let (app0, other0) = (try started("app"), try started("other"))
        #expect(kill(try #require(try stack.container("db").state.pid), SIGKILL) == 0)
        try stack.waitFor("app", "restarted") { _, state in state.status == .running && state.startedAt != app0 }
        #expect(try started("other") == other0)

        // berth restart db: app too (Compose's restart), not with --no-deps.
        let app1 = try started("app")
        let restart = try stack.run(["restart", "db"])
        #expect(restart.code == 0, "\(restart.stderr)")
        #expect(try started("app") != app1)
        #expect(try started("other") == other0)
        let app2 = try started("app")
        #expect(try stack.run(["restart", "--no-deps", "db"]).code == 0)
        #expect(try started("app") == app2)

        let appEvents = try history(stack).filter { $0.service == "app" }.map(\.action)
        #expect(appEvents == ["create", "start", "kill", "die", "stop", "start", "restart", "kill", "die", "stop", "start", "restart"])
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    // MARK: helpers

    /// The project's events so far, from `berth events --json --since 1h --until NOW`.
    func history(_ stack: StackFixture) throws -> [ContainerEvent] {
        // An instant, not a duration: Docker rounds those to whole seconds.
        let out = try stack.run(["events", "--json", "--since", "1h", "--until", LogTime.now().description])
        #expect(out.code == 0, "\(out.stderr)")
        return out.stdout.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let action = object["action"] as? String, let id = object["id"] as? String, let service = object["service"] as? String,
                  let text = object["time"] as? String, let time = LogTime(rfc3339: text) else { return nil }
            return ContainerEvent(
                time: time.seconds * 1_000_000_000 + Int64(time.nanoseconds), action: action, id: id, service: service,
                attributes: object["attributes"] as? [String: String] ?? [:])
        }
    }

    /// SIGKILLs a process of ours (the project's supervisor) and waits until it is gone.
    func killAndWait(_ pid: Int32) throws {
        guard let fd = ProcessIdentity.of(pid)?.openPidfd() else { throw TestSupportError("no process \(pid)") }
        defer { close(fd) }
        #expect(kill(pid, SIGKILL) == 0)
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&entry, 1, 30_000) == 1 else { throw TestSupportError("pid \(pid) did not die within 30 s of SIGKILL") }
    }
}

extension StackFixture {
    /// Blocks until `condition` holds for the container of `service` — checked at each
    /// change in its directory (inotify), for at most 60 s.
    func waitFor(_ service: String, _ what: String, _ condition: (ContainerRecord, ContainerState) throws -> Bool) throws {
        let record = try container(service).record
        let inotify = inotify_init1(Int32(O_CLOEXEC | O_NONBLOCK))
        guard inotify >= 0 else { throw TestSupportError("inotify_init1: errno \(errno)") }
        defer { Glibc.close(inotify) }
        guard inotify_add_watch(inotify, engine.store.path(record.id), UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE)) >= 0 else {
            throw TestSupportError("inotify_add_watch: errno \(errno)")
        }
        let deadline = Clock.monotonicNanoseconds() + 60_000_000_000
        while true {
            let current = try container(service)
            if try condition(current.record, current.state) { return }
            let left = (deadline - Clock.monotonicNanoseconds()) / 1_000_000
            guard left > 0 else { throw TestSupportError("\(service) was not \(what) within 60 s; state \(current.state)") }
            var entry = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, Int32(left))
            var buffer = [UInt8](repeating: 0, count: 4096)
            while read(inotify, &buffer, buffer.count) > 0 {}
        }
    }
}
