import ComposeSpec
import Testing
@testable import BerthOrchestrator

private let ms: Int64 = 1_000_000
private let s: Int64 = 1_000_000_000

/// Restart decisions and back-off on a fake clock: moby's `restartmanager` numbers, and
/// berth's `delay`/`window`/`max_attempts`.
@Suite("restart policy") struct RestartPolicyTests {
    /// The delays of `runs` ends in a row, each after running `ranFor`, one second apart.
    func delays(_ policy: RestartPolicy, runs: Int, ranFor: Int64 = 0, exitCode: Int32 = 1) -> [Int64?] {
        var tracker = RestartTracker()
        return (0..<runs).map { index in
            tracker.decide(policy, exitCode: exitCode, stoppedByHand: false, ranFor: ranFor, now: Int64(index) * s)
        }
    }

    @Test func dockersBackOffDoublesFrom100msToAMinute() {
        let expected: [Int64] = [100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000].map { $0 * ms }
        #expect(delays(RestartPolicy(condition: .always), runs: 12) == expected)
    }

    @Test func aRunOfTenSecondsResetsTheBackOff() {
        var tracker = RestartTracker()
        let policy = RestartPolicy(condition: .always)
        let sequence: [(ranFor: Int64, delay: Int64)] = [
            (0, 100 * ms), (0, 200 * ms), (9 * s, 400 * ms), (10 * s, 100 * ms), (0, 200 * ms), (3600 * s, 100 * ms),
        ]
        for (index, step) in sequence.enumerated() {
            #expect(tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: step.ranFor, now: Int64(index) * s) == step.delay, "step \(index)")
        }
        #expect(tracker.count == 6)
    }

    @Test func deployDelayStartsTheBackOffAndRaisesTheCap() {
        #expect(delays(RestartPolicy(condition: .always, delay: 500 * ms), runs: 4) == [500 * ms, 1 * s, 2 * s, 4 * s])
        // 0: at once the first time, then from 100 ms, so that a crash loop still slows down.
        #expect(delays(RestartPolicy(condition: .always, delay: 0), runs: 4) == [0, 100 * ms, 200 * ms, 400 * ms])
        // A delay over a minute is the cap itself.
        #expect(delays(RestartPolicy(condition: .always, delay: 90 * s), runs: 3) == [90 * s, 90 * s, 90 * s])
        // A long run goes back to the given delay, not to 100 ms.
        var tracker = RestartTracker()
        let policy = RestartPolicy(condition: .always, delay: 300 * ms)
        _ = tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: 0, now: 0)
        _ = tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: 0, now: s)
        #expect(tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: 20 * s, now: 30 * s) == 300 * ms)
    }

    @Test func decisionsByConditionExitCodeAndStopByHand() {
        struct Case {
            var condition: RestartPolicy.Condition
            var exitCode: Int32
            var stoppedByHand: Bool
            var restarts: Bool
        }
        let cases: [Case] = [
            Case(condition: .no, exitCode: 1, stoppedByHand: false, restarts: false),
            Case(condition: .no, exitCode: 0, stoppedByHand: false, restarts: false),
            Case(condition: .always, exitCode: 0, stoppedByHand: false, restarts: true),
            Case(condition: .always, exitCode: 137, stoppedByHand: false, restarts: true),
            Case(condition: .always, exitCode: 137, stoppedByHand: true, restarts: false),
            Case(condition: .unlessStopped, exitCode: 0, stoppedByHand: false, restarts: true),
            Case(condition: .unlessStopped, exitCode: 2, stoppedByHand: true, restarts: false),
            Case(condition: .onFailure, exitCode: 0, stoppedByHand: false, restarts: false),
            Case(condition: .onFailure, exitCode: 1, stoppedByHand: false, restarts: true),
            Case(condition: .onFailure, exitCode: -1, stoppedByHand: false, restarts: true),
            Case(condition: .onFailure, exitCode: 143, stoppedByHand: true, restarts: false),
        ]
        for c in cases {
            var tracker = RestartTracker()
            let delay = tracker.decide(RestartPolicy(condition: c.condition), exitCode: c.exitCode, stoppedByHand: c.stoppedByHand, ranFor: 0, now: 0)
            #expect((delay != nil) == c.restarts, "\(c.condition) exit \(c.exitCode) stopped by hand \(c.stoppedByHand)")
            #expect(tracker.count == (c.restarts ? 1 : 0))
        }
    }

    @Test func onFailureWithAMaximumRestartsExactlyThatManyTimes() {
        let results = delays(RestartPolicy(condition: .onFailure, maxAttempts: 3), runs: 6)
        #expect(results == [100 * ms, 200 * ms, 400 * ms, nil, nil, nil])
        // A success in between does not restart, and does not count.
        var tracker = RestartTracker()
        let policy = RestartPolicy(condition: .onFailure, maxAttempts: 2)
        #expect(tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: 0, now: 0) != nil)
        #expect(tracker.decide(policy, exitCode: 0, stoppedByHand: false, ranFor: 0, now: s) == nil)
        #expect(tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: 0, now: 2 * s) != nil)
        #expect(tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: 0, now: 3 * s) == nil)
        #expect(tracker.count == 2)
        // The back-off grew all along, as moby's does even when it says no.
        #expect(tracker.delay == 800 * ms)
    }

    @Test func windowCountsOnlyRecentRestartsTowardTheMaximum() {
        var tracker = RestartTracker()
        let policy = RestartPolicy(condition: .onFailure, maxAttempts: 2, window: 10 * s)
        let decisions = [0, 1, 2, 10, 11, 11].map { second in
            tracker.decide(policy, exitCode: 1, stoppedByHand: false, ranFor: 0, now: Int64(second) * s) != nil
        }
        // t=0 and t=1 fill the window; t=2 is refused; at t=10 the restart of t=0 has left
        // it; at t=11 so has t=1's; then t=10 and t=11 fill it again.
        #expect(decisions == [true, true, false, true, true, false])
        #expect(tracker.count == 4)
    }

    @Test func maxAttemptsLimitsEveryConditionOfDeploy() {
        #expect(delays(RestartPolicy(condition: .always, maxAttempts: 2), runs: 3, exitCode: 0).map { $0 != nil } == [true, true, false])
    }

    // MARK: from the Compose file

    func policy(_ service: String) throws -> RestartPolicy? {
        let project = try loadProject("services:\n  web:\n    image: busybox\n" + service)
        let web = try #require(project.services["web"])
        return try RestartPolicy.of(service: "web", web)
    }

    @Test func composeRestartAndDeployRestartPolicyMapToPolicies() throws {
        #expect(try policy("") == nil)
        #expect(try policy("    restart: \"no\"\n") == nil)
        #expect(try policy("    restart: always\n") == RestartPolicy(condition: .always))
        #expect(try policy("    restart: unless-stopped\n") == RestartPolicy(condition: .unlessStopped))
        #expect(try policy("    restart: on-failure\n") == RestartPolicy(condition: .onFailure))
        #expect(try policy("    restart: on-failure:3\n") == RestartPolicy(condition: .onFailure, maxAttempts: 3))
        // deploy.restart_policy wins over restart, its condition defaulting to any.
        #expect(try policy("    restart: always\n    deploy:\n      restart_policy:\n        condition: none\n") == nil)
        #expect(try policy("    deploy:\n      restart_policy:\n        max_attempts: 4\n") == RestartPolicy(condition: .always, maxAttempts: 4))
        #expect(try policy("""
                restart: \"no\"
                deploy:
                  restart_policy:
                    condition: on-failure
                    delay: 2s
                    max_attempts: 5
                    window: 1m

            """) == RestartPolicy(condition: .onFailure, maxAttempts: 5, delay: 2 * s, window: 60 * s))
        #expect(try policy("    deploy:\n      restart_policy:\n        condition: any\n        window: 0s\n") == RestartPolicy(condition: .always))
    }

    @Test func aBadConditionNamesTheServiceAndKey() throws {
        #expect(throws: ServiceConfigError(
            service: "web", key: "deploy.restart_policy.condition", message: "\"sometimes\" is not a restart condition; use none, on-failure or any")
        ) {
            try policy("    deploy:\n      restart_policy:\n        condition: sometimes\n")
        }
    }

    // MARK: x-berth

    func berthExtension(_ text: String) throws -> BerthExtension {
        let project = try loadProject("services:\n  web:\n    image: busybox\n" + text)
        return try BerthExtension.of(service: "web", try #require(project.services["web"]))
    }

    @Test func xBerthOnUnhealthyTakesItsFourActions() throws {
        #expect(try berthExtension("").onUnhealthy == .none)
        for action in ["none", "restart", "stop", "kill"] {
            #expect(try berthExtension("    x-berth:\n      on-unhealthy: \(action)\n").onUnhealthy.rawValue == action)
        }
        #expect(throws: ServiceConfigError(service: "web", key: "x-berth.on-unhealthy", message: "\"reboot\" is not an action; use none, restart, stop, kill")) {
            try berthExtension("    x-berth:\n      on-unhealthy: reboot\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "x-berth.on-unhealty", message: "unknown key; x-berth knows on-unhealthy, pod and init (see berth-compose(5))")) {
            try berthExtension("    x-berth:\n      on-unhealty: restart\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "x-berth", message: "must be a mapping, such as {on-unhealthy: restart}")) {
            try berthExtension("    x-berth: restart\n")
        }
    }
}
