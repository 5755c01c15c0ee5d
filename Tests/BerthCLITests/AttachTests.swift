import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end: `berth attach` to a running service container (root tier).
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct AttachTests {
    /// attach shows what the container writes from then on (not before), stdout and stderr
    /// apart, passes Ctrl-C on, and exits with the container's exit code.
    @Test func outputSignalsAndExitCode() throws {
        let stack = try StackFixture("""
            services:
              talker:
                image: busybox
                command: [sh, -c, "trap 'echo interrupted; exit 8' INT; echo before attach; while :; do if [ -f /tmp/msg ]; then echo out $$(cat /tmp/msg); echo err $$(cat /tmp/msg) >&2; rm /tmp/msg; fi; usleep 20000; done"]

            """)
        #expect(try stack.run(["up", "-d"]).code == 0)
        let record = try stack.container("talker").record
        let log = stack.engine.store.path(record.id) + "/\(record.id)-json.log"
        let attach = try LiveProcess(["/usr/bin/env", "-C", stack.directory, berthBinary, "attach", "talker"], environment: stack.environment)
        try attach.waitUntilHolding(log) { $0 == log }  // what is logged from then on reaches it
        #expect(try stack.run(["exec", "-T", "talker", "sh", "-c", "echo one > /tmp/m && mv /tmp/m /tmp/msg"]).code == 0)
        try attach.waitForStdout(containing: "out one\n")
        try attach.waitForStderr(containing: "err one\n")
        attach.kill(SIGINT)
        #expect(attach.wait() == 8)
        #expect(attach.stdout == "out one\ninterrupted\n")
        #expect(attach.stderr == "err one\n")

        let none = try stack.run(["attach", "talker"])
        #expect(none.code == 1 && none.stderr == "Error: service \"talker\" is not running\n")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }
}
