import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end rolling updates (root tier): two busybox httpd replicas behind a published port
/// range, with a healthcheck; a start-first update serves every request sent during it, a
/// new version that turns unhealthy is rolled back, and the same file changes nothing.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct RollingUpdateStackTests {
    /// Version 3 writes no page, so its healthcheck fails.
    /// `draining`: the server lets the requests it has finish when it is stopped — httpd as
    /// PID 1 ignores SIGTERM, so its workers finish what they have during the 1 s grace
    /// period before the SIGKILL. Otherwise the shell ends at SIGTERM and takes a request in
    /// flight along (the application's shutdown, not berth's routing).
    static func web(
        low: UInt16, version: Int, order: String = "start-first", failureAction: String = "rollback", monitor: String = "300ms",
        draining: Bool = false
    ) -> String {
        let serve = draining ? "exec httpd -f -p 80 -h /tmp/w" : "httpd -f -p 80 -h /tmp/w & wait"
        let grace = draining ? "\n    stop_grace_period: 1s" : ""
        return """
        services:
          web:
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; mkdir -p /tmp/w; [ \\"$$VERSION\\" = 3 ] || echo v$$VERSION > /tmp/w/index.html; \(serve)"]\(grace)
            environment: {VERSION: "\(version)"}
            ports: ["\(low)-\(low + 1):80"]
            healthcheck:
              test: ["CMD-SHELL", "test -e /tmp/w/index.html && nc -w 1 127.0.0.1 80 </dev/null"]
              interval: 200ms
              retries: 1
            deploy:
              replicas: 2
              update_config: {order: \(order), monitor: \(monitor), failure_action: \(failureAction)}

        """
    }

    /// Requests to both published ports, one after the other, while `command` runs; the
    /// answers by body ("v1\n"…, "" for none).
    static func requests(during command: () throws -> RunOutput, low: UInt16) throws -> (run: RunOutput, answers: [String: Int]) {
        let done = LockedFlag()
        let answers = LockedCounts()
        let thread = Thread {
            var count = 0
            while !done.value && count < 50_000 {
                answers.add(StackFixture.httpGet(port: low + UInt16(count % 2), path: "/index.html") ?? "")
                count += 1
            }
            done.finish()
        }
        thread.start()
        let run = try command()
        done.set()
        done.waitFinished()
        return (run, answers.value)
    }

    @Test func startFirstUpdateAnswersThroughoutAndAFailingVersionRollsBack() throws {
        let low = ScaleStackTests.freeRange(2)
        let stack = try StackFixture(Self.web(low: low, version: 1, draining: true))
        let p = stack.project
        let up = try stack.run(["up", "--wait"])
        #expect(up.code == 0, "\(up.stderr)")
        let firstIDs = try [stack.container("web", 1).record.id, stack.container("web", 2).record.id]

        // Same file: nothing touched.
        let same = try stack.run(["up", "-d"])
        #expect(same.code == 0 && same.stderr.split(separator: "\n").sorted() == [" Container \(p)-web-1  Running", " Container \(p)-web-2  Running"], "\(same.stderr)")

        // Version 2, start-first: every request answered, first by v1, then by v2.
        try stack.write(Self.web(low: low, version: 2, draining: true))
        let (update, answers) = try Self.requests(during: { try stack.run(["up", "-d"]) }, low: low)
        #expect(update.code == 0, "\(update.stderr)")
        #expect(answers[""] == nil, "failed requests: \(answers)")
        #expect(Set(answers.keys) == ["v1\n", "v2\n"], "\(answers)")
        let lines = update.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.first == "Container \(p)-web-1  Updating", "\(update.stderr)")
        #expect(lines.filter { $0.hasSuffix("  Updated") } == ["Container \(p)-web-1  Updated", "Container \(p)-web-2  Updated"])
        // Replica 1 completes (its old container stopped) before replica 2 starts.
        let stopped1 = try #require(lines.firstIndex(of: "Container \(p)-web-1  Stopped"))
        let updating2 = try #require(lines.firstIndex(of: "Container \(p)-web-2  Updating"))
        #expect(stopped1 < updating2)
        #expect(lines.filter { $0.hasSuffix("  Removed") }.count == 2)
        let ps = try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}} {{.Health}} {{.Ports}}"])
        #expect(ps.stdout == "\(p)-web-1 running healthy 0.0.0.0:\(low)->80/tcp\n\(p)-web-2 running healthy 0.0.0.0:\(low + 1)->80/tcp\n")
        let updatedIDs = try [stack.container("web", 1).record.id, stack.container("web", 2).record.id]
        #expect(Set(updatedIDs).isDisjoint(with: firstIDs))
        for port in [low, low + 1] { #expect(StackFixture.httpGet(port: port, path: "/index.html") == "v2\n") }
        // The renamed containers: exec by number, DNS by their final name.
        #expect(try stack.run(["exec", "-T", "--index", "2", "web", "cat", "/tmp/w/index.html"]).stdout == "v2\n")
        let lookup = try stack.run(["exec", "-T", "web", "nslookup", "\(p)-web-2"])
        #expect(lookup.code == 0, "\(lookup.stdout)\(lookup.stderr)")

        // Version 3 never turns healthy: rolled back; v2 answers throughout and after.
        try stack.write(Self.web(low: low, version: 3, draining: true))
        let (failing, during) = try Self.requests(during: { try stack.run(["up", "-d"]) }, low: low)
        #expect(failing.code == 1)
        #expect(failing.stderr.range(
            of: #"Error: service "web": update rolled back due to failure of \#(p)-web-1: container [0-9a-f]{12}_\#(p)-web-1 is unhealthy; every replica is back on its previous container\n$"#,
            options: .regularExpression) != nil, "\(failing.stderr)")
        #expect(failing.stderr.contains(" Container \(p)-web-1  Reverted\n"))
        #expect(!failing.stderr.contains("web-2  Updating"), "the update stops at the first failure")
        #expect(Set(during.keys) == ["v2\n"], "\(during)")
        #expect(try [stack.container("web", 1).record.id, stack.container("web", 2).record.id] == updatedIDs)
        #expect(try stack.run(["ps", "-a", "--format", "{{.Name}} {{.Health}}"]).stdout == "\(p)-web-1 healthy\n\(p)-web-2 healthy\n")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// The CLI is killed while replica 1's new container is monitored: the next up keeps
    /// that container and gives it the replica's name, removes the old one, and updates replica 2
    /// (how the update rolls is not the container's configuration: a shorter monitor changes
    /// nothing else).
    @Test func anUpdateCutShortByAKilledCLIIsConverged() throws {
        let low = ScaleStackTests.freeRange(2)
        let stack = try StackFixture(Self.web(low: low, version: 1, monitor: "10m"))
        let p = stack.project
        #expect(try stack.run(["up", "--wait"]).code == 0)
        try stack.write(Self.web(low: low, version: 2, monitor: "10m"))
        let cut = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up", "-d"], environment: stack.environment)
        try cut.waitForStderr(containing: "_\(p)-web-1  Healthy\n")
        cut.kill(SIGKILL)
        #expect(cut.wait() == 128 + SIGKILL)
        let names = try stack.run(["ps", "-a", "--format", "{{.Name}}"]).stdout.split(separator: "\n")
        #expect(names.count == 3 && names.filter { $0.hasSuffix("_\(p)-web-1") }.count == 1, "\(names)")

        try stack.write(Self.web(low: low, version: 2, monitor: "100ms"))
        let again = try stack.run(["up", "-d"])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(again.stderr.contains(" Container \(p)-web-1  Removed\n") && again.stderr.contains(" Container \(p)-web-1  Renamed\n"), "\(again.stderr)")
        #expect(again.stderr.contains(" Container \(p)-web-2  Updated\n"), "\(again.stderr)")
        #expect(try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}}"]).stdout == "\(p)-web-1 running\n\(p)-web-2 running\n")
        for port in [low, low + 1] { #expect(StackFixture.httpGet(port: port, path: "/index.html") == "v2\n") }
        #expect(try stack.run(["exec", "-T", "--index", "1", "web", "cat", "/tmp/w/index.html"]).stdout == "v2\n")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// Three replicas; the version-2 containers take tickets (mkdir in a shared directory) as
    /// they start, and the third one (replica 3's, updated last) writes no page: unhealthy.
    /// With `failingRollback`, the first version-1 container started again once replica 3's
    /// ticket is taken (the first one rolled back) writes no page either (a container started
    /// again keeps its files: the page of its first run goes first).
    static func ticketed(version: Int, failingRollback: Bool = false) -> String {
        let again = failingRollback ? " if [ $$VERSION = 1 ] && [ -d /state/t3 ] && mkdir /state/r1 2>/dev/null; then n=3; fi;" : ""
        return """
        services:
          web:
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; mkdir -p /tmp/w; rm -f /tmp/w/index.html; n=0; if [ $$VERSION = 2 ]; then for i in 1 2 3; do if mkdir /state/t$$i 2>/dev/null; then n=$$i; break; fi; done; fi;\(again) [ $$n = 3 ] || echo v$$VERSION > /tmp/w/index.html; httpd -f -p 80 -h /tmp/w & wait"]
            environment: {VERSION: "\(version)"}
            volumes: ["./state:/state"]
            healthcheck:
              test: ["CMD-SHELL", "test -e /tmp/w/index.html && nc -w 1 127.0.0.1 80 </dev/null"]
              interval: 200ms
              retries: 1
            deploy:
              replicas: 3
              update_config: {order: start-first, monitor: 200ms, failure_action: rollback}
              rollback_config: {parallelism: 1, order: stop-first, monitor: 200ms}

        """
    }

    /// deploy.rollback_config: replicas 1 and 2 are updated, replica 3's new container turns
    /// unhealthy and goes at once, then 2 and 1 roll back one at a time (parallelism 1), each
    /// updated container stopped before the previous one starts again (stop-first) under its
    /// temporary name, and that one takes the replica's name back; the updated ones go.
    @Test func aFailedUpdateRollsBackPerRollbackConfig() throws {
        let stack = try StackFixture(Self.ticketed(version: 1))
        let p = stack.project
        try FS.makeDirectories(stack.directory + "/state")
        #expect(try stack.run(["up", "--wait"]).code == 0)
        let ids = try (1...3).map { try stack.container("web", $0).record.id }
        try stack.write(Self.ticketed(version: 2))
        let failing = try stack.run(["up", "-d"])
        #expect(failing.code == 1)
        #expect(failing.stderr.range(
            of: #"Error: service "web": update rolled back due to failure of \#(p)-web-3: container [0-9a-f]{12}_\#(p)-web-3 is unhealthy; every replica is back on its previous container\n$"#,
            options: .regularExpression) != nil, "\(failing.stderr)")
        let lines = failing.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.filter { $0.hasSuffix("  Updated") } == ["Container \(p)-web-1  Updated", "Container \(p)-web-2  Updated"])
        #expect(lines.contains("Container \(p)-web-3  Reverted"))
        // The rollback, replica by replica, as the lines about each replica's name show it.
        let previous2 = "\(ids[1].prefix(12))_\(p)-web-2", previous1 = "\(ids[0].prefix(12))_\(p)-web-1"
        let names = ["\(p)-web-1", "\(p)-web-2", previous1, previous2]
        let rollback = lines.drop { !$0.hasSuffix("  Rolling back") }.filter { line in
            names.contains { line.hasPrefix("Container \($0)  ") }
                && ["Rolling back", "Rolled back", "Stopped", "Started", "Healthy"].contains { line.hasSuffix("  \($0)") }
        }
        let stoppedUpdates = lines.filter { $0 == "Container \(p)-web-1  Stopped" || $0 == "Container \(p)-web-2  Stopped" }
        #expect(rollback == [
            "Container \(p)-web-2  Rolling back", "Container \(p)-web-2  Stopped", "Container \(previous2)  Started", "Container \(previous2)  Healthy",
            "Container \(p)-web-2  Rolled back",
            "Container \(p)-web-1  Rolling back", "Container \(p)-web-1  Stopped", "Container \(previous1)  Started", "Container \(previous1)  Healthy",
            "Container \(p)-web-1  Rolled back",
        ], "\(failing.stderr)")
        // Stopped: the two previous containers when updated (start-first), then the two updated ones.
        #expect(stoppedUpdates.count == 4, "\(failing.stderr)")
        #expect(lines.filter { $0.hasSuffix("  Removed") }.count == 2, "the updated containers of replicas 1 and 2: \(failing.stderr)")
        #expect(try (1...3).map { try stack.container("web", $0).record.id } == ids)
        #expect(try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}} {{.Health}}"]).stdout
            == "\(p)-web-1 running healthy\n\(p)-web-2 running healthy\n\(p)-web-3 running healthy\n")
        for n in 1...3 { #expect(try stack.run(["exec", "-T", "--index", "\(n)", "web", "cat", "/tmp/w/index.html"]).stdout == "v1\n") }
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// A rollback whose first previous container (replica 2's) fails again: that replica goes
    /// back to its updated container, the rollback pauses (rollback_config's failure_action)
    /// before replica 1, and up says which replicas keep the new version; nothing is left over.
    @Test func aFailingRollbackPausesAndLeavesReplicasUpdated() throws {
        let stack = try StackFixture(Self.ticketed(version: 1, failingRollback: true))
        let p = stack.project
        try FS.makeDirectories(stack.directory + "/state")
        #expect(try stack.run(["up", "--wait"]).code == 0)
        let ids = try (1...3).map { try stack.container("web", $0).record.id }
        try stack.write(Self.ticketed(version: 2, failingRollback: true))
        let failing = try stack.run(["up", "-d"])
        #expect(failing.code == 1)
        #expect(failing.stderr.range(
            of: #"Error: service "web": update failed due to failure of \#(p)-web-3: container [0-9a-f]{12}_\#(p)-web-3 is unhealthy and was rolled back only in part \(the rollback failed for \#(p)-web-2: container \#(ids[1].prefix(12))_\#(p)-web-2 is unhealthy\): \#(p)-web-1, \#(p)-web-2 keep their updated container: fix the service and run up again\n$"#,
            options: .regularExpression) != nil, "\(failing.stderr)")
        #expect(!failing.stderr.contains("web-1  Rolling back"), "paused before replica 1: \(failing.stderr)")
        #expect(try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}} {{.Health}}"]).stdout
            == "\(p)-web-1 running healthy\n\(p)-web-2 running healthy\n\(p)-web-3 running healthy\n")
        let after = try (1...3).map { try stack.container("web", $0).record.id }
        #expect(after[2] == ids[2] && Set(after.prefix(2)).isDisjoint(with: ids))
        #expect(stack.engine.store.records().filter { $0.project == p }.count == 3, "the previous containers of 1 and 2 are gone")
        let pages = try (1...3).map { try stack.run(["exec", "-T", "--index", "\($0)", "web", "cat", "/tmp/w/index.html"]).stdout }
        #expect(pages == ["v2\n", "v2\n", "v1\n"])
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// The supervisor is SIGKILLed in the middle of an update — at `point`, a line of the
    /// update's progress — alone (the `up` under way reconnects to a new one and ends as it
    /// may) or with the `up` itself; the next `up` converges: every replica on the new
    /// version under its name, numbered 1 and 2, nothing else left.
    @Test(arguments: [
        ("start-first", "_{p}-web-1  Healthy\n", false), ("start-first", " Container {p}-web-1  Stopped\n", false),
        ("stop-first", " Container {p}-web-1  Stopped\n", false), ("stop-first", "_{p}-web-1  Healthy\n", false),
        ("start-first", "_{p}-web-1  Healthy\n", true), ("start-first", " Container {p}-web-1  Stopped\n", true),
        ("stop-first", " Container {p}-web-1  Stopped\n", true), ("stop-first", "_{p}-web-1  Healthy\n", true),
    ])
    func anUpdateWhoseSupervisorIsKilledIsConverged(order: String, point: String, withTheCLI: Bool) throws {
        let low = ScaleStackTests.freeRange(2)
        let stack = try StackFixture(Self.web(low: low, version: 1, order: order, failureAction: "pause", monitor: "1s"))
        let p = stack.project
        #expect(try stack.run(["up", "--wait"]).code == 0)
        let supervisor = try #require(stack.supervisorPid)
        try stack.write(Self.web(low: low, version: 2, order: order, failureAction: "pause", monitor: "1s"))
        let cut = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "up", "-d"], environment: stack.environment)
        try cut.waitForStderr(containing: point.replacingOccurrences(of: "{p}", with: p))
        if withTheCLI { cut.kill(SIGKILL) }
        kill(supervisor, SIGKILL)
        let code = cut.wait()
        if withTheCLI {
            #expect(code == 128 + SIGKILL)
        } else {
            // The update went on with a supervisor the `up` started again.
            #expect(code == 0 && cut.stderr.contains(" Container \(p)-web-2  Updated\n"), "\(cut.stderr)")
            #expect(stack.supervisorPid.map { $0 != supervisor } == true)
        }

        try stack.write(Self.web(low: low, version: 2, order: order, failureAction: "pause", monitor: "100ms"))
        let again = try stack.run(["up", "-d"])
        #expect(again.code == 0, "\(again.stderr)")
        if !withTheCLI {
            #expect(again.stderr.split(separator: "\n").sorted() == [" Container \(p)-web-1  Running", " Container \(p)-web-2  Running"], "\(again.stderr)")
        }
        #expect(try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}} {{.Health}}"]).stdout == "\(p)-web-1 running healthy\n\(p)-web-2 running healthy\n")
        #expect(stack.engine.store.records().filter { $0.project == p }.map(\.number).sorted() == [1, 2])
        for port in [low, low + 1] { #expect(StackFixture.httpGet(port: port, path: "/index.html") == "v2\n") }
        for n in 1...2 { #expect(try stack.run(["exec", "-T", "--index", "\(n)", "web", "cat", "/tmp/w/index.html"]).stdout == "v2\n") }
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// stop-first, failure_action pause: replica 1 is updated... to a version that fails, so it
    /// goes back; the update pauses with replica 2 untouched, and says how to resume.
    @Test func stopFirstPause() throws {
        let low = ScaleStackTests.freeRange(2)
        let stack = try StackFixture(Self.web(low: low, version: 1, order: "stop-first", failureAction: "pause"))
        let p = stack.project
        #expect(try stack.run(["up", "--wait"]).code == 0)
        let ids = try [stack.container("web", 1).record.id, stack.container("web", 2).record.id]
        try stack.write(Self.web(low: low, version: 3, order: "stop-first", failureAction: "pause"))
        let paused = try stack.run(["up", "-d"])
        #expect(paused.code == 1)
        #expect(paused.stderr.hasSuffix("is unhealthy; 0 of 2 replicas updated, the others keep their previous container: fix the service and run up again to resume\n"), "\(paused.stderr)")
        #expect(paused.stderr.contains(" Container \(p)-web-1  Stopping\n") && paused.stderr.contains(" Container \(p)-web-1  Reverted\n"))
        #expect(try [stack.container("web", 1).record.id, stack.container("web", 2).record.id] == ids)
        for port in [low, low + 1] { #expect(StackFixture.httpGet(port: port, path: "/index.html") == "v1\n") }
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }
}

final class LockedFlag: @unchecked Sendable {
    private let condition = NSCondition()
    private var flag = false
    private var finished = false
    var value: Bool { condition.withLock { flag } }
    func set() { condition.withLock { flag = true } }
    func finish() {
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }
    func waitFinished() {
        condition.withLock { while !finished { condition.wait() } }
    }
}

final class LockedCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    var value: [String: Int] { lock.withLock { counts } }
    func add(_ key: String) { lock.withLock { counts[key, default: 0] += 1 } }
}
