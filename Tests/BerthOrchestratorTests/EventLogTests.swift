import BerthSystem
import Foundation
import Testing
@testable import BerthOrchestrator

/// The project event log: whole lines from concurrent writers, rotation, and a follower
/// that reads history and what comes after, across a rotation and a removed directory.
@Suite("event log", .serialized) struct EventLogTests {
    let runRoot: String
    /// (`EventLog` alone is LogStreamerTests' helper.)
    let log: BerthOrchestrator.EventLog

    init() throws {
        runRoot = NSTemporaryDirectory() + "berth-events-\(UInt32.random(in: 0...UInt32.max))"
        log = BerthOrchestrator.EventLog(runRoot: runRoot, project: "demo")
    }

    static func container(_ number: Int, labels: [[String]] = []) -> ContainerRecord {
        ContainerRecord(
            id: String(repeating: "\(number % 10)", count: 64), name: "demo-web-\(number)", project: "demo", service: "web", number: number,
            oneOff: false, labels: labels + [["com.docker.compose.project", "demo"]], image: "busybox", imageDigest: nil, configHash: "h",
            command: ["sh"], created: "2026-11-21T10:00:00Z")
    }

    /// Every event of the log, rotated file first.
    func readAll() throws -> [ContainerEvent] {
        let follower = try EventFollower(runRoot: runRoot, project: "demo")
        var out: [ContainerEvent] = []
        try follower.run(since: LogTime(seconds: 0), until: LogTime.now()) { event in
            out.append(event)
            return true
        }
        return out
    }

    @Test func anEventCarriesDockersAttributesWithoutComposeLabels() throws {
        defer { try? FS.removeTree(runRoot) }
        log.record("die", Self.container(1, labels: [["tier", "front"]]), extra: ["exitCode": "3", "execDuration": "0"], time: 1_795_000_000_123_456_789)
        let events = try readAll()
        #expect(events == [ContainerEvent(
            time: 1_795_000_000_123_456_789, action: "die", id: String(repeating: "1", count: 64), service: "web",
            attributes: ["exitCode": "3", "execDuration": "0", "image": "busybox", "name": "demo-web-1", "tier": "front"])])
        let attributes = try FileManager.default.attributesOfItem(atPath: log.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test func concurrentWritersNeverInterleaveLines() throws {
        defer { try? FS.removeTree(runRoot) }
        let writers = 8, each = 200
        let group = DispatchGroup()
        for writer in 0..<writers {
            group.enter()
            Thread {
                for index in 0..<each {
                    log.record("start", Self.container(writer), extra: ["n": "\(index)"], time: Int64(index))
                }
                group.leave()
            }.start()
        }
        group.wait()
        let events = try readAll()
        #expect(events.count == writers * each)
        for writer in 0..<writers {
            let mine = events.filter { $0.attributes["name"] == "demo-web-\(writer)" }.map { $0.attributes["n"] ?? "" }
            #expect(mine == (0..<each).map(String.init))
        }
    }

    @Test func aFullLogIsRotatedAndTheHistoryReadsAcrossIt() throws {
        defer { try? FS.removeTree(runRoot) }
        let big = String(repeating: "x", count: 1000)
        var written = 0
        while !FS.exists(log.previousPath) {
            log.record("start", Self.container(1, labels: [["pad", big]]), extra: ["n": "\(written)"], time: Int64(written))
            written += 1
        }
        log.record("stop", Self.container(1), time: Int64(written))
        let events = try readAll()
        #expect(events.count == written + 1)
        #expect(events.map { $0.time } == (0...written).map(Int64.init))
        let size = try FileManager.default.attributesOfItem(atPath: log.previousPath)[.size] as? Int
        #expect((size ?? 0) > Int(BerthOrchestrator.EventLog.maxBytes))
    }

    @Test func aLineTooLongForOneAtomicWriteLosesItsLabels() throws {
        defer { try? FS.removeTree(runRoot) }
        log.record("kill", Self.container(2, labels: [["huge", String(repeating: "y", count: 5000)]]), extra: ["signal": "15"], time: 5)
        let events = try readAll()
        #expect(events.map(\.attributes) == [["image": "busybox", "name": "demo-web-2", "signal": "15"]])
        #expect(try FS.readString(log.path).utf8.count < BerthOrchestrator.EventLog.maxLine)
    }

    @Test func theFollowerSeesNewEventsOnlyAndFollowsARotationAndANewDirectory() throws {
        defer { try? FS.removeTree(runRoot) }
        log.record("create", Self.container(1), time: 1)
        let seen = LockedBox<[String]>([])
        let ready = DispatchSemaphore(value: 0)
        let delivered = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        Thread { [runRoot] in
            let follower = try? EventFollower(runRoot: runRoot, project: "demo")
            try? follower?.run(since: nil, until: nil, ready: { ready.signal() }) { event in
                seen.update { $0.append(event.action) }
                delivered.signal()
                return event.action != "destroy"
            }
            finished.signal()
        }.start()
        #expect(ready.wait(timeout: .now() + 30) == .success)
        log.record("start", Self.container(1), time: 2)
        #expect(delivered.wait(timeout: .now() + 30) == .success)
        // Rotated by hand, as a writer does (rename, then a new file).
        try FileManager.default.moveItem(atPath: log.path, toPath: log.previousPath)
        log.record("die", Self.container(1), time: 3)
        #expect(delivered.wait(timeout: .now() + 30) == .success)
        // `down` removes the directory; the next `up` makes it again.
        try FS.removeTree(log.directory)
        log.record("destroy", Self.container(1), time: 4)
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(seen.value == ["start", "die", "destroy"])
    }
}
