import Foundation
import Testing
import BerthOrchestrator
@testable import BerthCLI

/// What `events` prints (Compose's two shapes) and how `ps` shows a container waiting for
/// its restart policy.
@Suite("event and restart output") struct EventOutputTests {
    static let event = ContainerEvent(
        time: 1_795_000_000_123_456_789, action: "die", id: String(repeating: "ab", count: 32), service: "web",
        attributes: ["name": "demo-web-1", "image": "busybox", "exitCode": "137", "execDuration": "4"])

    @Test func plainLinesAreComposesWithSortedAttributesAndItsEmptyLine() {
        // 1795000000 is 2026-11-18T11:06:40Z.
        #expect(EventFormat.plain(Self.event, utcOffset: 0) == """
            2026-11-18 11:06:40.123456 container die \(String(repeating: "ab", count: 32)) (execDuration=4, exitCode=137, image=busybox, name=demo-web-1)


            """)
        #expect(EventFormat.plain(Self.event, utcOffset: 3600).hasPrefix("2026-11-18 12:06:40.123456 container die "))
    }

    @Test func jsonLinesHaveComposesFieldsInGoMapOrder() {
        #expect(EventFormat.json(Self.event, utcOffset: 0) == """
            {"action":"die","attributes":{"execDuration":"4","exitCode":"137","image":"busybox","name":"demo-web-1"},"id":"\(String(repeating: "ab", count: 32))","service":"web","time":"2026-11-18T11:06:40.123456789Z","type":"container"}

            """)
        var health = Self.event
        health.action = ContainerEvent.healthAction(.unhealthy)
        health.time = 1_795_000_000_500_000_000
        health.attributes = ["name": "demo-web-1", "image": "busybox"]
        #expect(EventFormat.json(health, utcOffset: -5 * 3600).contains(#""action":"health_status: unhealthy""#))
        #expect(EventFormat.json(health, utcOffset: -5 * 3600).contains(#""time":"2026-11-18T06:06:40.5-05:00""#))
    }

    @Test func psShowsDockersRestartingStatusAndWhenTheNextStartIsDue() {
        let now = LogTime(seconds: 1_795_000_010, nanoseconds: 200_000_000)
        let finished = LogTime(seconds: 1_795_000_008)
        let due = Int64(1_795_000_013) * 1_000_000_000 + 900_000_000
        #expect(ContainerSummary.restartingStatus(exitCode: 137, finished: finished, due: due, now: now) == "Restarting (137) 2 seconds ago (next in 4s)")
        // Overdue (no supervisor to do it yet).
        #expect(ContainerSummary.restartingStatus(exitCode: 1, finished: finished, due: due - 9_000_000_000, now: now)
            == "Restarting (1) 2 seconds ago (next in 0s)")
        #expect(ContainerSummary.restartingStatus(exitCode: 1, finished: LogTime(seconds: 1_795_000_010), due: due + 56_000_000_000, now: now)
            == "Restarting (1) Less than a second ago (next in 1m0s)")

        var state = ContainerState()
        state.status = .exited
        state.startedAt = "2026-11-18T11:06:00Z"
        state.finishedAt = "2026-11-18T11:06:48Z"
        state.exitCode = 3
        let record = StackOutputTests.record("web")
        let summary = ContainerSummary(
            record: record, state: state, restart: .init(run: "2026-11-18T11:06:00Z", exitCode: 3, due: due), networks: [], spec: nil, now: now)
        #expect(summary.state == "restarting")
        #expect(summary.exitCode == 3)
        #expect(summary.status == "Restarting (3) 2 seconds ago (next in 4s)")
    }
}
