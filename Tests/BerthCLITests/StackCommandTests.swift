import BerthCLI
import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Synchronization
import Testing

/// A console that lets a test wait (event-driven, 30 s failure deadline) for output.
final class WatchedConsole: Console {
    private let buffers = Mutex<(out: String, err: String)>(("", ""))
    private let changed = DispatchSemaphore(value: 0)
    func out(_ text: String) {
        buffers.withLock { $0.out += text }
        changed.signal()
    }
    func err(_ text: String) {
        buffers.withLock { $0.err += text }
        changed.signal()
    }
    var stdoutIsTerminal: Bool { false }
    var stdout: String { buffers.withLock { $0.out } }
    var stderr: String { buffers.withLock { $0.err } }

    func wait(until condition: (String) -> Bool) -> Bool {
        let deadline = DispatchTime.now() + 30
        while !condition(stdout) {
            if changed.wait(timeout: deadline) == .timedOut { return condition(stdout) }
        }
        return true
    }
}

/// `berth` on a background thread; `join` waits (30 s failure deadline) for its exit code.
final class BackgroundBerth: Sendable {
    let console = WatchedConsole()
    private let code = Mutex<Int32?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ arguments: [String]) {
        let thread = Thread { [self] in
            let status = BerthCLI.run(arguments: arguments, environment: [:], workingDirectory: "/", console: console, readStandardInput: { [] })
            code.withLock { $0 = status }
            done.signal()
        }
        thread.start()
    }

    func join() -> Int32? {
        guard done.wait(timeout: .now() + 30) == .success else { return nil }
        return code.withLock { $0 }
    }
}

@Suite("ps, logs and ls on real containers (root)", .enabled(if: EngineFixture.canRun, "needs root and /bin/busybox (Debian busybox-static)"))
struct StackCommandTests {
    func berthOn(_ f: EngineFixture, _ arguments: [String]) -> Run {
        berth(["--root", f.root, "--run-root", f.runRoot, "-p", f.project] + arguments)
    }

    /// web-1 runs, worker-1 exited with 3, db-1 was created and never started.
    func stack(_ f: EngineFixture) throws -> (web: ContainerRecord, worker: ContainerRecord, db: ContainerRecord) {
        let db = try f.create("true", service: "db")
        let worker = try f.create("echo working; exit 3", service: "worker")
        try f.engine.start(worker.id)
        f.waitForExit(worker.id)
        let web = try f.create("echo serving; exec sleep 1000")
        try f.engine.start(web.id)
        return (web, worker, db)
    }

    @Test func psListsRunningContainersOrAllOfThem() throws {
        let f = try EngineFixture()
        let (web, worker, _) = try stack(f)
        let p = f.project
        let table = berthOn(f, ["ps"])
        #expect(table.code == 0 && table.stderr == "")
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        // CREATED and STATUS grow with time: their width is not checked.
        let header = "NAME".padding(toLength: "\(p)-web-1".count + 3, withPad: " ", startingAt: 0) + "IMAGE     COMMAND                  SERVICE   CREATED"
        #expect(lines.first?.hasPrefix(header) == true, "\(table.stdout)")
        #expect(lines.last?.hasPrefix("\(p)-web-1   busybox   \"sh -c 'echo serving…\"   web       ") == true, "\(table.stdout)")
        #expect(lines.last?.contains(" ago   Up ") == true, "\(table.stdout)")

        let all = berthOn(f, ["ps", "-a", "--format", "{{.Name}} {{.Service}} {{.State}} {{.ExitCode}} {{.Command}} {{.Ports}}|"])
        #expect(all.stdout == """
            \(p)-db-1 db created 0 "sh -c true" |
            \(p)-web-1 web running 0 "sh -c 'echo serving…" |
            \(p)-worker-1 worker exited 3 "sh -c 'echo working…" |

            """)
        #expect(berthOn(f, ["ps", "-a", "--format", "{{.Status}}"]).stdout.hasPrefix("Created\nUp "))
        #expect(berthOn(f, ["ps", "-a", "--format", "{{.Status}}"]).stdout.contains("\nExited (3) "))
        #expect(berthOn(f, ["ps", "-q"]).stdout == web.id + "\n")
        #expect(berthOn(f, ["ps", "-a", "--services"]).stdout == "db\nweb\nworker\n")
        #expect(berthOn(f, ["ps", "--services"]).stdout == "web\n")
        #expect(berthOn(f, ["ps", "--status", "exited", "-q"]).stdout == worker.id + "\n")
        #expect(berthOn(f, ["ps", "--filter", "status=created", "--format", "{{.Name}}"]).stdout == "\(p)-db-1\n")
        #expect(berthOn(f, ["ps", "-a", "--format", "{{.Name}}", "worker"]).stdout == "\(p)-worker-1\n")
        #expect(berthOn(f, ["ps", "--filter", "state=x"]).stderr == "Error: unknown filter state\n")

        // One JSON object per line with Compose's fields.
        let json = berthOn(f, ["ps", "-a", "--format", "json"])
        let objects = try json.stdout.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:] }
        #expect(objects.map { $0["Name"] as? String } == ["\(p)-db-1", "\(p)-web-1", "\(p)-worker-1"])
        #expect(objects.map { $0["State"] as? String } == ["created", "running", "exited"])
        #expect(objects.map { $0["ExitCode"] as? Int } == [0, 0, 3])
        #expect(objects[1]["ID"] as? String == String(web.id.prefix(12)))
        #expect(objects[1]["Project"] as? String == p)
        #expect(Set(objects[1].keys) == [
            "Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Name", "Names", "Networks", "Ports",
            "Project", "Publishers", "RunningFor", "Service", "Size", "State", "Status",
        ])

        // With the Compose file: its services are checked, and --orphans=false leaves others out.
        try "name: \(p)\nservices:\n  web:\n    image: busybox\n  worker:\n    image: busybox\n".write(toFile: f.composeFile, atomically: true, encoding: .utf8)
        let withFile = ["--root", f.root, "--run-root", f.runRoot, "-f", f.composeFile, "ps"]
        #expect(berth(withFile + ["-a", "--services"]).stdout == "db\nweb\nworker\n")
        #expect(berth(withFile + ["-a", "--services", "--orphans=false"]).stdout == "web\nworker\n")
        let unknown = berth(withFile + ["wbe"])
        #expect(unknown.code == 1 && unknown.stderr == "Error: no such service: wbe — did you mean \"web\"?\n")
        try f.engine.stop(web.id, signal: SIGKILL, timeoutSeconds: 0)
        #expect(f.leftovers() == [])
    }

    @Test func logsShowsTailAndMergesContainersInTimeOrder() throws {
        let f = try EngineFixture()
        let counter = try f.create("seq 1 500")
        try f.engine.start(counter.id)
        f.waitForExit(counter.id)
        let worker = try f.create("echo from worker; echo oops >&2", service: "worker")
        try f.engine.start(worker.id)
        f.waitForExit(worker.id)

        let tail = berthOn(f, ["logs", "--tail", "2", "web"])
        #expect(tail.code == 0 && tail.stdout == "web-1  | 499\nweb-1  | 500\n" && tail.stderr == "")
        let both = berthOn(f, ["logs", "-n", "1"])
        #expect(both.stdout == "web-1     | 500\nworker-1  | oops\n" || both.stdout == "web-1     | 500\nworker-1  | from worker\n")
        let worker2 = berthOn(f, ["logs", "--no-log-prefix", "worker"])
        #expect(Set(worker2.stdout.split(separator: "\n")) == ["from worker", "oops"])
        let all = berthOn(f, ["logs"])
        #expect(all.stdout.split(separator: "\n").count == 502)
        #expect(all.stdout.hasPrefix("web-1     | 1\nweb-1     | 2\n"))
        let stamped = berthOn(f, ["logs", "-t", "--tail", "1", "web"])
        #expect(stamped.stdout.range(of: #"^web-1  \| \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z 500\n$"#, options: .regularExpression) != nil, "\(stamped.stdout)")
        #expect(berthOn(f, ["logs", "--since", "-1h"]).stdout == "", "nothing was logged in the future")
        #expect(berthOn(f, ["logs", "--until", "1000000000", "web"]).stdout == "", "nothing was logged before 2001")
        let bad = berthOn(f, ["logs", "--since", "yesterday"])
        #expect(bad.code == 1 && bad.stderr == "Error: invalid value for \"since\": failed to parse value as time or duration: \"yesterday\"\n")
        let index = berthOn(f, ["logs", "--index", "2", "web"])
        #expect(index.code == 1 && index.stderr == "Error: service \"web\" is not running container #2\n")
        #expect(berthOn(f, ["logs", "--index", "1"]).code == 64)
        #expect(f.leftovers() == [])
    }

    @Test func logsFollowEndsWhenTheContainerStops() throws {
        let f = try EngineFixture()
        let web = try f.create("trap 'echo bye; exit 3' TERM; echo ready; while true; do sleep 1; done")
        try f.engine.start(web.id)
        let follow = BackgroundBerth(["--root", f.root, "--run-root", f.runRoot, "-p", f.project, "logs", "-f", "--no-color"])
        #expect(follow.console.wait { $0 == "web-1  | ready\n" }, "\(follow.console.stdout)")
        let stopped = try f.engine.stop(web.id, signal: SIGTERM, timeoutSeconds: 10)
        #expect(stopped.exitCode == 3)
        #expect(follow.join() == 0, "logs -f returned once the container had stopped")
        #expect(follow.console.stdout == "web-1  | ready\nweb-1  | bye\n")
        #expect(f.leftovers() == [])
    }

    @Test func logsOfAContainerWithoutALogWarn() throws {
        let f = try EngineFixture()
        let quiet = try f.create("echo lost", extra: "    logging:\n      driver: none\n")
        try f.engine.start(quiet.id)
        f.waitForExit(quiet.id)
        let run = berthOn(f, ["logs"])
        #expect(run.code == 0 && run.stdout == "")
        #expect(run.stderr == "WARN[0000] Can't retrieve logs for \"\(f.project)-web-1\": configured logging driver does not support reading\n")
    }

    @Test func lsListsProjectsFromTheirContainers() throws {
        let f = try EngineFixture()
        let web = try stack(f).web
        let p = f.project
        let args = ["--root", f.root, "--run-root", f.runRoot, "ls"]
        let table = berth(args)
        #expect(table.code == 0)
        #expect(table.stdout == """
            NAME                STATUS              CONFIG FILES
            \(p.padding(toLength: max(20, p.count + 3), withPad: " ", startingAt: 0))running(1)          \(f.composeFile)

            """)
        #expect(berth(args + ["-a", "--format", "json"]).stdout
            == "[{\"Name\":\"\(p)\",\"Status\":\"created(1), exited(1), running(1)\",\"ConfigFiles\":\"\(f.composeFile)\"}]\n")
        #expect(berth(args + ["-q"]).stdout == "\(p)\n")
        #expect(berth(args + ["--filter", "name=^\(p)$", "--format", "json"]).stdout.contains("\"Name\":\"\(p)\""))
        #expect(berth(args + ["--filter", "name=nomatch", "--format", "json"]).stdout == "[]\n")
        #expect(berth(args + ["--filter", "label=x"]).stderr == "Error: invalid filter 'label'\n")
        #expect(berth(args + ["--filter", "name"]).stderr == "Error: invalid argument \"name\" for \"--filter\" flag: bad format of filter (expected name=value)\n")
        try f.engine.stop(web.id, signal: SIGKILL, timeoutSeconds: 0)
        #expect(berth(args).stdout == "NAME                STATUS              CONFIG FILES\n", "no project runs any more")
        #expect(f.leftovers() == [])
    }
}
