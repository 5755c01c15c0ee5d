import BerthRuntime
import BerthTestSupport
import Foundation
import Testing

/// `berth exec`: the command runs from the berth process itself (no `berth-runtime` in
/// between), and with the project named by `-p` or COMPOSE_PROJECT_NAME the container comes
/// from the labels alone, without reading the Compose file — as Compose's exec does.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct ExecTests {
    static let compose = """
        services:
          app:
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; sleep 100000 & wait"]
          other:
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; sleep 100000 & wait"]

        """

    /// `berth ARGS` from the fixture's base directory, where there is no Compose file.
    func outside(_ stack: StackFixture, _ args: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> RunOutput {
        try TestProcess.spawn(
            ["/usr/bin/env", "-C", stack.base, berthBinary] + args, stdin: stdin,
            environment: stack.environment.merging(environment) { $1 })
    }

    @Test func byProjectNameWithoutComposeFile() throws {
        let stack = try StackFixture(Self.compose)
        let p = stack.project
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")

        // Exit codes as Docker's: the command's own, 126 not executable, 127 not found.
        let seven = try outside(stack, ["-p", p, "exec", "-T", "app", "sh", "-c", "echo out; echo err >&2; exit 7"])
        #expect(seven.code == 7 && seven.stdout == "out\n" && seven.stderr == "err\n", "\(seven)")
        let notExecutable = try outside(stack, ["-p", p, "exec", "-T", "app", "/etc/passwd"])
        #expect(notExecutable.code == 126)
        #expect(notExecutable.stderr == "Error: exec in container \(p)-app-1: exec /etc/passwd: permission denied\n")
        let notFound = try outside(stack, ["-p", p, "exec", "-T", "app", "nosuchcommand"])
        #expect(notFound.code == 127)
        #expect(notFound.stderr.hasPrefix("Error: exec in container \(p)-app-1: exec nosuchcommand: executable file not found in $PATH"), "\(notFound.stderr)")

        // -e (with a value, and from berth's environment), -w, -u; stdin is attached.
        let options = try outside(
            stack, ["-p", p, "exec", "-T", "-e", "A=1", "-e", "FROM_CALLER", "-w", "/tmp", "-u", "1000:50", "app", "sh", "-c", "read line; echo $A $FROM_CALLER $PWD $line; id -u; id -g"],
            environment: ["FROM_CALLER": "passed"], stdin: "typed\n")
        #expect(options.code == 0 && options.stdout == "1 passed /tmp typed\n1000\n50\n", "\(options)")

        // COMPOSE_PROJECT_NAME names the project as -p does.
        let byEnvironment = try outside(stack, ["exec", "-T", "other", "sh", "-c", "exit 3"], environment: ["COMPOSE_PROJECT_NAME": p])
        #expect(byEnvironment.code == 3, "\(byEnvironment.stderr)")

        // Nothing to run in: the usual errors.
        let noService = try outside(stack, ["-p", p, "exec", "-T", "nosuch", "true"])
        #expect(noService.code == 1 && noService.stderr == "Error: service \"nosuch\" is not running\n")
        let noReplica = try outside(stack, ["-p", p, "exec", "-T", "--index", "2", "app", "true"])
        #expect(noReplica.code == 1 && noReplica.stderr == "Error: service \"app\" is not running container #2\n")
        let badIndex = try outside(stack, ["-p", p, "exec", "-T", "--index", "0", "app", "true"])
        #expect(badIndex.code == 64 && badIndex.stderr.hasPrefix("Error: invalid --index \"0\": give 1 or more\n"), "\(badIndex.stderr)")

        // A running service no longer in the file: Compose's exec (by -p) reads no file and
        // runs in it; without -p the project comes from the file, which knows no such service.
        try stack.write("services:\n  app:\n    image: busybox\n    command: [sleep, \"100000\"]\n")
        let removedByName = try stack.run(["-p", p, "exec", "-T", "other", "true"])
        #expect(removedByName.code == 0, "\(removedByName.stderr)")
        let removedByFile = try stack.run(["exec", "-T", "other", "true"])
        #expect(removedByFile.code == 1 && removedByFile.stderr == "Error: no such service: other\n", "\(removedByFile.stderr)")
        try stack.write(Self.compose)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func aProcessWithThreadsIsNotSingleThreaded() {
        // The test runner has threads: an exec from it must go through berth-runtime.
        #expect(!ContainerExec.callerIsSingleThreaded)
    }
}
