import ComposeSpec
import Foundation
import Testing
import BerthOrchestrator
@testable import BerthCLI

/// Foreground `up`'s decisions, without containers: flags, what is attached and watched,
/// Compose's exit codes, and stderr lines on stderr.
@Suite("up attach") struct UpAttachTests {
    static let project: Project = {
        let dir = NSTemporaryDirectory() + "berth-attach-\(UUID().uuidString)/demo"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        try? """
            services:
              db: {image: busybox}
              api: {image: busybox, depends_on: [db]}
              web: {image: busybox, depends_on: [api]}
              tool: {image: busybox, attach: false}
            """.write(toFile: dir + "/compose.yaml", atomically: true, encoding: .utf8)
        var options = LoadOptions()
        options.workingDirectory = dir
        return (try? ProjectLoader().load(options).project) ?? Project(name: "broken", services: KeyedMap())
    }()

    func options(_ args: [String], detach: Bool = false, wait: Bool = false) throws -> AttachOptions {
        try AttachOptions.parse(
            OptionParser.parse(args, options: AttachOptions.options, command: "up"), detach: detach, wait: wait, command: "up")
    }

    func plan(_ args: [String], named: [String] = []) throws -> AttachPlan {
        let included = named.isEmpty ? Self.project.services.keys.sorted() : DependencyGraph(project: Self.project).withDependencies(named)
        return try AttachPlan.make(project: Self.project, named: named, included: included, options: options(args))
    }

    @Test func flagCombinationsAsCompose() throws {
        #expect(try options([]).onExit == .ignore)
        #expect(try options(["--abort-on-container-exit"]).onExit == .stop)
        #expect(try options(["--abort-on-container-failure"]).onExit == .fail)
        // --exit-code-from implies --abort-on-container-exit, unless -failure is given.
        let from = try options(["--exit-code-from", "db"])
        #expect(from.onExit == .stop && from.exitCodeFrom == "db")
        #expect(try options(["--exit-code-from", "db", "--abort-on-container-failure"]).onExit == .fail)
        func message(_ args: [String], detach: Bool = false, wait: Bool = false) -> String? {
            do {
                _ = try options(args, detach: detach, wait: wait)
                return nil
            } catch let error as UsageError {
                return error.message
            } catch {
                return "\(error)"
            }
        }
        #expect(message(["--abort-on-container-exit", "--abort-on-container-failure"]) == "--abort-on-container-failure cannot be combined with --abort-on-container-exit")
        #expect(message(["--attach", "db"], detach: true) == "--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach or --attach-dependencies")
        #expect(message(["--exit-code-from", "db"], detach: true) == "--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach or --attach-dependencies")
        #expect(message(["--attach-dependencies"], wait: true) == "--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies")
        #expect(message(["--abort-on-container-failure"], wait: true) == "--wait cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach or --attach-dependencies")
        // Display flags go with -d without complaint (they have nothing to do there).
        #expect(message(["--no-attach", "db", "--no-log-prefix", "--no-color", "--timestamps"], detach: true) == nil)
        let display = try options(["--no-log-prefix", "--no-color", "--timestamps"])
        #expect(!display.prefixes && display.noColor && display.timestamps)
    }

    @Test func attachedAndWatchedServices() throws {
        // Everything brought up, but not a service with attach: false.
        #expect(try plan([]) == AttachPlan(attached: ["db", "api", "web"], watched: ["db", "api", "web"]))
        // Named services: those alone; their dependencies with --attach-dependencies.
        #expect(try plan([], named: ["web"]) == AttachPlan(attached: ["web"], watched: ["web"]))
        #expect(try plan(["--attach-dependencies"], named: ["web"]) == AttachPlan(attached: ["db", "api", "web"], watched: ["web"]))
        // --attach takes what it names (attach: false included); --no-attach removes.
        #expect(try plan(["--attach", "tool", "--attach", "db"]) == AttachPlan(attached: ["tool", "db"], watched: ["tool", "db"]))
        #expect(try plan(["--no-attach", "db"]) == AttachPlan(attached: ["api", "web"], watched: ["api", "web"]))
        #expect(try plan(["--no-attach", "web"], named: ["web"]) == AttachPlan(attached: [], watched: ["web"]))
        #expect(throws: (any Error).self) { try plan(["--attach", "nosuch", "--attach", "db"], named: ["api"]) }
        do {
            _ = try plan(["--attach", "nosuch", "--attach", "web"], named: ["api"])
        } catch {
            #expect("\(error)" == "cannot attach to services not included in up: nosuch, web")
        }
    }

    /// Feeds exits (service, code) in order: which of them stopped the stack, and up's code.
    func replay(_ onExit: ExitCascade.OnExit, from: String? = nil, _ exits: [(String, Int32)]) -> (aborts: [Bool], code: Int32) {
        var cascade = ExitCascade(onExit: onExit, exitCodeFrom: from)
        let aborts = exits.map { cascade.exited(service: $0.0, code: $0.1) }
        return (aborts, cascade.exitCode)
    }

    @Test func exitCodesAsCompose() {
        // No abort flag: up exits 0 whatever the containers' codes.
        #expect(replay(.ignore, [("db", 3), ("api", 1)]) == ([false, false], 0))
        // --abort-on-container-exit: the first exit stops the stack and gives the code.
        #expect(replay(.stop, [("db", 0), ("api", 143)]) == ([true, false], 0))
        #expect(replay(.stop, [("db", 5), ("api", 143)]) == ([true, false], 5))
        // --abort-on-container-failure: exits 0 do not count; the first failure does.
        #expect(replay(.fail, [("db", 0), ("api", 2), ("web", 137)]) == ([false, true, false], 2))
        #expect(replay(.fail, [("db", 0), ("api", 0)]) == ([false, false], 0))
        // --exit-code-from sleep (Compose's e2e cascade test): should_fail exits 1 and stops
        // the stack, sleep is killed: 137.
        #expect(replay(.stop, from: "sleep", [("should_fail", 1), ("sleep", 137)]) == ([true, false], 137))
        // Its first exit counts, not a later one.
        #expect(replay(.stop, from: "web", [("web", 4), ("web", 9)]) == ([true, false], 4))
    }

    @Test func upPrintsContainerStderrOnStderr() {
        let console = BufferConsole()
        let output = LogOutput(LogPrinter(colors: false, prefixes: true, timestamps: false), console: console, exitStatus: true, splitStreams: true)
        let time = LogTime.now()
        func line(_ text: String, _ stream: LogEntry.Stream) -> LogEvent {
            .line(LogLine(containerID: "a", name: "web-1", stream: stream, time: time, text: text))
        }
        output.write([line("out", .stdout), line("err", .stderr), line("out again", .stdout), .exited(containerID: "a", name: "web-1", exitCode: 3)])
        #expect(console.stdout == "web-1  | out\nweb-1  | out again\nweb-1 exited with code 3\n")
        #expect(console.stderr == "web-1  | err\n")
        // logs: both streams on stdout, no exit lines.
        let logsConsole = BufferConsole()
        LogOutput(LogPrinter(colors: false, prefixes: true, timestamps: false), console: logsConsole, exitStatus: false)
            .write([line("out", .stdout), line("err", .stderr), .exited(containerID: "a", name: "web-1", exitCode: 3)])
        #expect(logsConsole.stdout == "web-1  | out\nweb-1  | err\n")
        #expect(logsConsole.stderr == "")
    }
}
