@testable import BerthCLI
import BerthOrchestrator
@testable import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation
import Testing

/// The pure parts of run, top, stats, cp and rm (no root needed).
@Suite struct RunningStackUnitTests {
    @Test func psColumnsFromProc() throws {
        let stat = "4242 (sleep) S 4200 4242 4242 34816 4242 4194560 100 0 0 0 350 25 0 0 20 0 1 0 123456 1000 100 18446744073709551615"
        let snapshot = try #require(ProcessSnapshot.parse(stat: stat, status: "Name:\tsleep\nUid:\t0\t1000\t1000\t1000\n"))
        #expect(snapshot.pid == 4242 && snapshot.ppid == 4200 && snapshot.effectiveUID == 1000 && snapshot.cpuTicks == 375 && snapshot.startTicks == 123456)
        var process = snapshot
        process.arguments = ["sleep", "1000"]
        // Booted at 1_000_000 s, started 1234 s later (14:07 on Jan 12, 1970), 3.75 s of CPU in 766 s of life.
        let table = ProcessTable(
            passwd: "root:x:0:0::/root:/bin/sh\nverylongname:x:1000:1000::/:/bin/sh\n", uptime: 2000.4, bootTime: 1_000_000,
            ticksPerSecond: 100, now: 1_002_000, timeZone: TimeZone(identifier: "UTC") ?? .current)
        #expect(table.row(process) == ["1000", "4242", "4200", "0", "14:07", "pts/0", "00:00:03", "sleep 1000"])
        process.cpuTicks = 100 * 700
        process.effectiveUID = 0
        process.terminal = 0
        process.arguments = []
        #expect(table.row(process) == ["root", "4242", "4200", "91", "14:07", "?", "00:11:40", "[sleep]"])
        process.cpuTicks = 100 * (2 * 86400 + 3661)
        #expect(table.cpuTime(process) == "2-01:01:01")
        let earlier = ProcessTable(passwd: "", uptime: 200_000, bootTime: 1_000_000, ticksPerSecond: 100, now: 1_200_000, timeZone: TimeZone(identifier: "UTC") ?? .current)
        process.startTicks = 0
        #expect(earlier.startTime(process) == "Jan12")
        #expect(table.render(container: "p-web-1", processes: [snapshot]).split(separator: "\n").first == "p-web-1")
    }

    @Test func statsFormatting() throws {
        #expect(Human.binarySize(160 * 1024) == "160KiB")
        #expect(Human.binarySize(50_616_320) == "48.27MiB")
        #expect(Human.binarySize(0) == "0B")
        let counters = NetworkCounters.parse("""
            Inter-|   Receive                                                |  Transmit
             face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
                lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
              eth0:    3580      40    0    0    0     0          0         0      866      10    0    0    0     0       0          0
              eth1:      20       1    0    0    0     0          0         0       14       1    0    0    0     0       0          0
            """)
        #expect(counters.received == 3600 && counters.sent == 880)
        #expect(Cgroup.keyed("cache 10\ntotal_inactive_file 4096\n") == ["cache": 10, "total_inactive_file": 4096])
        var usage = ResourceUsage()
        usage.memoryBytes = 1 << 20
        usage.memoryLimit = 4 << 20
        usage.pids = 3
        usage.networkReceived = 1500
        let row = StatsRow(id: String(repeating: "ab", count: 32), name: "p-web-1", cpuPercent: 99.5, usage: usage)
        let format = StatsFormat(source: "json", truncate: true)
        #expect(try format.render([row]) == #"{"BlockIO":"0B / 0B","CPUPerc":"99.50%","Container":"\#(row.id)","ID":"abababababab","MemPerc":"25.00%","MemUsage":"1MiB / 4MiB","Name":"p-web-1","NetIO":"1.5kB / 0B","PIDs":"3"}"# + "\n")
        #expect(try StatsFormat(source: "table", truncate: true).render([row]).hasPrefix("CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O      BLOCK I/O   PIDS\n"))
    }

    @Test func copyArgumentsAndPaths() {
        #expect(CpCommand.split("web:/etc/x") == ("web", "/etc/x"))
        #expect(CpCommand.split("/abs/a:b") == (nil, "/abs/a:b"))
        #expect(CpCommand.split("./file:name") == (nil, "./file:name"))
        #expect(CpCommand.split("plain") == (nil, "plain"))
        #expect(ContainerCopy.split("/a/b/") == ("/a", "b") && ContainerCopy.split("x") == (".", "x") && ContainerCopy.split("/") == ("/", "/"))
        #expect(ContainerCopy.split("/top") == ("/", "top"))
        #expect(RmCommand.answersYes("y") && RmCommand.answersYes(" TRUE ") && RmCommand.answersYes("1"))
        #expect(!RmCommand.answersYes("yes") && !RmCommand.answersYes("") && !RmCommand.answersYes("n"))
    }

    /// Compose's applyRunOptions: the overrides, no ports unless asked, no restart.
    @Test func oneOffService() {
        var base = Service()
        base.command = ["serve"]
        base.entrypoint = ["/entry"]
        base.ports = [PortConfig(target: 80, published: "8080")]
        base.restart = "always"
        base.environment = KeyedMap([("A", "1"), ("B", "2")])
        var options = OneOffOptions()
        options.command = ["migrate"]
        options.environment = [("B", "3"), ("C", "4")]
        options.labels = [("purpose", "job")]
        options.tty = true
        var service = Stack.oneOffService(base, options: options)
        #expect(service.command == ["migrate"] && service.entrypoint == ["/entry"] && service.ports == nil && service.restart == nil)
        #expect(service.environment?.map { "\($0.key)=\($0.value ?? "")" } == ["A=1", "B=3", "C=4"])
        #expect(service.labels?["purpose"] == "job" && service.tty == true && service.stdin_open == false)
        options.entrypoint = ["sh", "-c"]
        options.command = nil
        options.servicePorts = true
        service = Stack.oneOffService(base, options: options)
        #expect(service.entrypoint == ["sh", "-c"] && service.command == [] && service.ports == base.ports)
    }

    @Test func runShortSyntax() throws {
        let (volumes, ports) = try ShortSyntax.parse(volumes: ["./data:/data:ro", "cache:/cache"], ports: ["127.0.0.1:8080:80/udp"], projectDirectory: "/srv/app")
        #expect(volumes.map(\.type) == ["bind", "volume"])
        #expect(volumes.first?.source == "/srv/app/data" && volumes.first?.read_only == true && volumes.last?.source == "cache")
        #expect(ports == [PortConfig(target: 80, published: "8080", hostIP: "127.0.0.1", protocol: "udp")])
        #expect(throws: UsageError.self) { try ShortSyntax.parse(volumes: ["a:b:c:d"], ports: [], projectDirectory: "/") }
    }
}
