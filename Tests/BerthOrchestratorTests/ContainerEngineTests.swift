import Foundation
import Testing
import BerthRuntime
import BerthSystem
import ComposeSpec
import BerthTestSupport
@testable import BerthOrchestrator

let canRunContainers = EngineFixture.canRun
let runtimeBinary = EngineFixture.runtimeBinary

@Suite("container engine (root)", .enabled(if: canRunContainers, "needs root and /bin/busybox (Debian busybox-static)"))
struct ContainerEngineTests {
    @Test func startRecordsTheRunningContainerAndTheMonitorRecordsItsExit() throws {
        let f = try EngineFixture()
        let record = try f.create("echo hello from web; exit 3")
        let started = try f.engine.start(record.id)
        #expect(started.status == .running && (started.pid ?? 0) > 0 && started.monitorPid != nil)
        let ended = f.waitForExit(record.id)
        #expect(ended.status == .exited && ended.exitCode == 3)
        #expect(f.engine.observed(project: f.project).map(\.container) == [
            ObservedContainer(name: "\(f.project)-web-1", service: "web", number: 1, configHash: record.configHash, state: .exited(3)),
        ])
        #expect(f.engine.observed(project: "other").isEmpty)
        let log = try String(contentsOfFile: f.engine.store.path(record.id) + "/\(record.id)-json.log", encoding: .utf8)
        #expect(log.hasPrefix("{\"log\":\"hello from web\\n\",\"stream\":\"stdout\",\"time\":\""), "\(log)")
        #expect(f.leftovers() == [])
    }

    /// Nothing of a running container depends on the process that started it: the exit of a
    /// container that ends while no supervisor watches is read back from its monitor's report.
    @Test func anExitWhileNobodyWatchesIsRecovered() throws {
        let f = try EngineFixture()
        let record = try f.create("exec sleep 1000")
        let started = try f.engine.start(record.id)
        // A new engine instance, as a restarted supervisor would make.
        let later = ContainerEngine(root: f.base + "/root", runRoot: f.base + "/run", runtimeBinary: runtimeBinary)
        #expect(try later.observe(record.id).status == .running)
        kill(started.pid ?? 0, SIGKILL)
        let ended = f.waitForExit(record.id)
        #expect(ended.status == .exited && ended.exitCode == 137 && !ended.stoppedByUser)
        #expect(f.leftovers() == [])
    }

    @Test func stopSignalsThenKillsAfterTheTimeout() throws {
        let f = try EngineFixture()
        let record = try f.create("trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 1; done")
        try f.engine.start(record.id)
        #expect(f.waitForLog(record.id, containing: "ready"), "the trap is set before SIGTERM comes")
        let stopped = try f.engine.stop(record.id, signal: SIGTERM, timeoutSeconds: 10)
        #expect(stopped.status == .exited && stopped.exitCode == 0 && stopped.stoppedByUser, "the trap ran: \(stopped)")
        // PID 1 with no handler ignores SIGTERM: SIGKILL after the (zero) timeout.
        let stubborn = try f.create("exec sleep 1000")
        try f.engine.start(stubborn.id)
        let killed = try f.engine.stop(stubborn.id, signal: SIGTERM, timeoutSeconds: 0)
        #expect(killed.status == .exited && killed.exitCode == 137)
        try f.engine.remove(stubborn.id)
        #expect(!FileManager.default.fileExists(atPath: f.engine.store.path(stubborn.id)))
        #expect(f.leftovers() == [])
    }

    @Test func aCommandThatCannotStartIsAClearError() throws {
        let f = try EngineFixture()
        let record = try f.create("true", extra: "    entrypoint: [\"/no/such/binary\"]\n")
        #expect {
            try f.engine.start(record.id)
        } throws: { error in
            "\(error)".hasPrefix("container \(f.project)-web-1: ") && "\(error)".contains("/no/such/binary")
        }
        let state = f.engine.store.state(record.id)
        #expect(state.status == .exited && state.exitCode == 127)
        #expect(f.leftovers() == [])
    }
}
