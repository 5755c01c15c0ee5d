import Foundation
import Testing
import BerthOrchestrator
@testable import BerthCLI
@testable import BerthNetwork

/// What `ps`, `logs` and `ls` print, from fixed records, states and times.
@Suite("stack output") struct StackOutputTests {
    static let now = LogTime(seconds: 1_704_067_200)  // 2024-01-01T00:00:00Z

    static func ago(_ seconds: Int64) -> String { LogTime(seconds: now.seconds - seconds).description }

    static func record(_ service: String, number: Int = 1, command: [String] = ["sh", "-c", "echo hello; sleep 100"], created: Int64 = 120) -> ContainerRecord {
        ContainerRecord(
            id: String(repeating: "ab", count: 32), name: "demo-\(service)-\(number)", project: "demo", service: service, number: number,
            oneOff: false, labels: [["com.docker.compose.service", service], ["com.docker.compose.project", "demo"]], image: "busybox:1.36",
            imageDigest: nil, configHash: "h", command: command, created: ago(created))
    }

    static func running(since seconds: Int64) -> ContainerState {
        var state = ContainerState()
        state.status = .running
        state.startedAt = ago(seconds)
        return state
    }

    static func exited(_ code: Int32, after seconds: Int64) -> ContainerState {
        var state = ContainerState()
        state.status = .exited
        state.startedAt = ago(seconds + 60)
        state.finishedAt = ago(seconds)
        state.exitCode = code
        return state
    }

    static func summary(_ record: ContainerRecord, _ state: ContainerState, health: ContainerHealth.Status? = nil, networks: [NetworkRecord] = []) -> ContainerSummary {
        ContainerSummary(record: record, state: state, health: health, networks: networks, spec: nil, now: now)
    }

    @Test func goUnitsHumanDurationWording() {
        let cases: [(Int64, String)] = [
            (0, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"), (119, "About a minute"),
            (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"), (5399, "About an hour"), (5400, "2 hours"),
            (47 * 3600, "47 hours"), (48 * 3600, "2 days"), (13 * 86400, "13 days"), (14 * 86400, "2 weeks"), (59 * 86400, "8 weeks"),
            (60 * 86400, "2 months"), (729 * 86400, "24 months"), (730 * 86400, "2 years"),
        ]
        for (seconds, words) in cases { #expect(Human.duration(seconds: seconds) == words, "\(seconds) s") }
    }

    @Test func statusWordingFollowsDocker() {
        let web = Self.record("web")
        #expect(Self.summary(web, Self.running(since: 180)).status == "Up 3 minutes")
        #expect(Self.summary(web, Self.running(since: 180), health: .healthy).status == "Up 3 minutes (healthy)")
        #expect(Self.summary(web, Self.running(since: 0), health: .starting).status == "Up Less than a second (health: starting)")
        #expect(Self.summary(web, Self.running(since: 7200), health: .unhealthy).status == "Up 2 hours (unhealthy)")
        let exited = Self.summary(web, Self.exited(137, after: 5))
        #expect((exited.status, exited.state, exited.exitCode) == ("Exited (137) 5 seconds ago", "exited", 137))
        #expect((Self.summary(web, ContainerState()).status, Self.summary(web, ContainerState()).state) == ("Created", "created"))
        // A start that failed never ran: Docker shows it as created, exit code 0 in ps.
        var failed = ContainerState()
        failed.status = .exited
        failed.exitCode = 127
        failed.finishedAt = Self.ago(1)
        let never = Self.summary(web, failed)
        #expect((never.status, never.state, never.exitCode) == ("Created", "created", 0))
    }

    @Test func commandIsDockersPathAndArgsQuotedAndCut() {
        #expect(ContainerSummary.command(["sh", "-c", "echo hello; sleep 100"]) == "sh -c 'echo hello; sleep 100'")
        #expect(ContainerSummary.command([]) == "")
        #expect(GoFormat.ellipsis("sh -c 'echo hello; sleep 100'", width: 20) == "sh -c 'echo hello; …")
        #expect(GoFormat.ellipsis("/docker-entrypoint.sh", width: 20) == "/docker-entrypoint.…")
        #expect(GoFormat.ellipsis("short", width: 20) == "short")
        #expect(GoFormat.ellipsis("日本語のコマンドです", width: 8) == "日本語…")
        #expect(GoFormat.quote("a \"b\"\t\\ é\u{1}…") == #""a \"b\"\t\\ é\x01…""#)
    }

    @Test func portsDisplayAsDockerPsShowsThem() {
        let published = PortPublisher(url: "0.0.0.0", targetPort: 80, publishedPort: 8080, proto: "tcp")
        let exposed = [8000, 8001, 8002, 9000].compactMap { PortPublisher(exposed: "\($0)/tcp") }
        #expect(PortPublisher.display([published]) == "0.0.0.0:8080->80/tcp")
        #expect(PortPublisher.display(exposed + [published]) == "8000-8002/tcp, 9000/tcp, 0.0.0.0:8080->80/tcp")
        #expect(PortPublisher.display([PortPublisher(url: "127.0.0.1", targetPort: 53, publishedPort: 53, proto: "udp")]) == "127.0.0.1:53->53/udp")
        #expect(PortPublisher.display([]) == "")
    }

    @Test func psTableLikeCompose() throws {
        let rows = [
            Self.summary(Self.record("web"), Self.running(since: 180)),
            Self.summary(Self.record("worker", command: ["/bin/worker"], created: 7200), Self.exited(0, after: 5)),
        ]
        let text = try ContainerFormat(truncate: true, now: Self.now).render(rows, format: "table")
        #expect(text == """
            NAME            IMAGE          COMMAND                  SERVICE   CREATED         STATUS                     PORTS
            demo-web-1      busybox:1.36   "sh -c 'echo hello; …"   web       2 minutes ago   Up 3 minutes               
            demo-worker-1   busybox:1.36   "/bin/worker"            worker    2 hours ago     Exited (0) 5 seconds ago   

            """)
        #expect(try ContainerFormat(truncate: true, now: Self.now).render([], format: "table")
            == "NAME      IMAGE     COMMAND   SERVICE   CREATED   STATUS    PORTS\n")
        let untruncated = try ContainerFormat(truncate: false, now: Self.now).render(Array(rows.prefix(1)), format: "{{.Command}} {{.ID}}")
        #expect(untruncated == "\"sh -c 'echo hello; sleep 100'\" \(String(repeating: "ab", count: 32))\n")
    }

    @Test func psJSONHasComposesFieldsOnOneLine() throws {
        let endpoint = Endpoint(
            container: "demo-web-1", address: IPv4Address(172, 30, 0, 2), mac: MACAddress(bytes: [2, 0, 0, 0, 0, 1])!, hostInterface: "veth0",
            interface: "eth0", namespace: "/run/netns/x", ports: [PortBinding(hostPort: 8080, containerPort: 80)])
        let network = NetworkRecord(
            name: "demo_default", id: "n", bridge: "br-x", subnet: IPv4Subnet("172.30.0.0/24")!, gateway: IPv4Address(172, 30, 0, 1),
            ipRange: nil, internal: false, mtu: nil, labels: [:], options: [:], created: "", configuredSubnet: false, endpoints: ["demo-web-1": endpoint])
        var record = Self.record("web", command: ["httpd", "-f", "<&>"])
        record.exposedPorts = ["80/tcp", "443/tcp"]
        let web = Self.summary(record, Self.running(since: 180), health: .healthy, networks: [network])
        let json = try ContainerFormat(truncate: true, now: Self.now).render([web], format: "json")
        #expect(json == #"""
            {"Command":"\"httpd -f \u003c\u0026\u003e\"","CreatedAt":"\#(GoFormat.timeString(seconds: Self.now.seconds - 120))","ExitCode":0,"Health":"healthy","ID":"abababababab","Image":"busybox:1.36","Labels":"com.docker.compose.project=demo,com.docker.compose.service=web","LocalVolumes":"0","Mounts":"","Name":"demo-web-1","Names":"demo-web-1","Networks":"demo_default","Ports":"443/tcp, 0.0.0.0:8080-\u003e80/tcp","Project":"demo","Publishers":[{"URL":"0.0.0.0","TargetPort":80,"PublishedPort":8080,"Protocol":"tcp"},{"URL":"","TargetPort":443,"PublishedPort":0,"Protocol":"tcp"}],"RunningFor":"2 minutes ago","Service":"web","Size":"0B","State":"running","Status":"Up 3 minutes (healthy)"}

            """#)
        // Stopped: no ports, as Docker.
        #expect(Self.summary(record, Self.exited(1, after: 3), networks: [network]).publishers == [])
    }

    @Test func psTemplates() throws {
        let rows = [Self.summary(Self.record("web"), Self.running(since: 180)), Self.summary(Self.record("worker"), Self.exited(2, after: 60))]
        let format = ContainerFormat(truncate: true, now: Self.now)
        #expect(try format.render(rows, format: "{{.Name}}: {{.State}} {{.ExitCode}}") == "demo-web-1: running 0\ndemo-worker-1: exited 2\n")
        #expect(try format.render(rows, format: #"table {{.Service}}\t{{.ExitCode}}\t{{.Label "com.docker.compose.project"}}"#) == """
            SERVICE   <no value>   project
            web       0            demo
            worker    2            demo

            """)
        #expect(try format.render(Array(rows.prefix(1)), format: "{{json .Name}} {{upper .Service}} {{json .Publishers}} {{- \"x\" -}} !")
            == "\"demo-web-1\" WEB []x!\n")
        #expect(throws: GoTemplate.TemplateError.self) { try format.render(rows, format: "{{.Nmae}}") }
        #expect(throws: GoTemplate.TemplateError.self) { try format.render(rows, format: "{{.Name") }
        #expect(throws: GoTemplate.TemplateError.self) { try format.render(rows, format: "{{nosuch .Name}}") }
    }

    @Test func logPrefixesPadToTheWidestNameInComposesColours() {
        let time = LogTime(seconds: 1_704_164_645, nanoseconds: 5)
        let line = { (name: String, text: String) in LogLine(containerID: "x", name: name, stream: .stdout, time: time, text: text) }
        var plain = LogPrinter(colors: false, prefixes: true, timestamps: false)
        #expect(plain.line(line("web-1", "hi")) == "web-1  | hi\n")
        plain.register("worker-1")
        #expect(plain.line(line("web-1", "hi")) == "web-1     | hi\n")
        #expect(plain.line(line("worker-1", "")) == "worker-1  | \n")
        var colored = LogPrinter(colors: true, prefixes: true, timestamps: true)
        let names = (1...11).map { "s\($0)" }
        names.forEach { colored.register($0) }
        #expect(colored.line(line("s1", "a")) == "\u{1B}[36ms1   | \u{1B}[0m2024-01-02T03:04:05.000000005Z a\n")
        #expect(colored.line(line("s6", "b")) == "\u{1B}[36;1ms6   | \u{1B}[0m2024-01-02T03:04:05.000000005Z b\n")
        #expect(colored.line(line("s11", "c")).hasPrefix("\u{1B}[36ms11  | "), "the rotation starts again after 10")
        #expect(colored.status("s2", "exited with code 0") == "\u{1B}[33ms2 exited with code 0\u{1B}[0m\n")
        var bare = LogPrinter(colors: true, prefixes: false, timestamps: false)
        #expect(bare.line(line("web-1", "hi")) == "hi\n")
    }

    @Test func colourIsForTerminalsUnlessTurnedOff() {
        final class Terminal: Console {
            func out(_ text: String) {}
            func err(_ text: String) {}
            var stdoutIsTerminal: Bool { true }
        }
        #expect(ANSIMode.colors(noColor: false, environment: [:], console: Terminal()))
        #expect(!ANSIMode.colors(noColor: true, environment: [:], console: Terminal()))
        #expect(!ANSIMode.colors(noColor: false, environment: ["NO_COLOR": "1"], console: Terminal()))
        #expect(!ANSIMode.colors(noColor: false, environment: ["COMPOSE_ANSI": "never"], console: Terminal()))
        #expect(!ANSIMode.colors(noColor: false, environment: [:], console: BufferConsole()))
        #expect(ANSIMode.colors(noColor: false, environment: ["COMPOSE_ANSI": "always"], console: BufferConsole()))
    }

    @Test func lsStatusCountsEachState() {
        #expect(LsCommand.combinedStatus(["running", "exited", "running"]) == "exited(1), running(2)")
        #expect(LsCommand.combinedStatus(["running"]) == "running(1)")
    }

    @Test func tabWriterColumnsAreBlocksOfLines() {
        // Lines with fewer cells end a column's block; the last cell is never padded.
        #expect(TabWriter.render(text: "a\tbb\tc\nlonger cell\td\n\nx\ty\n") == "a             bb        c\nlonger cell   d\n\nx         y\n")
    }
}
