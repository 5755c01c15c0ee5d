import BerthCLI
@testable import BerthOrchestrator
import BerthRuntime
import Foundation
import Testing

/// `berth volume …` against a private root, in Docker's output shapes.
@Suite("volume commands")
struct VolumeCommandTests {
    final class Root {
        let path = NSTemporaryDirectory() + "berth-volcli-\(UUID().uuidString.prefix(8))"
        func run(_ arguments: [String], stdin: String = "") -> Run { berth(["--root", path, "volume"] + arguments, stdin: stdin) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    @Test func createListAndFilter() throws {
        let r = Root()
        #expect(r.run(["create", "web_data", "--label", "com.docker.compose.project=web"]).stdout == "web_data\n")
        #expect(r.run(["create", "cache"]).stdout == "cache\n")
        let unnamed = r.run(["create"]).stdout
        #expect(unnamed.count == 65 && unnamed.hasSuffix("\n"))
        let name = String(unnamed.dropLast())
        #expect(r.run(["ls"]).stdout == "DRIVER    VOLUME NAME\n" + [name, "cache", "web_data"].sorted().map { "local     \($0)\n" }.joined())
        #expect(r.run(["ls", "-q", "--filter", "label=com.docker.compose.project=web"]).stdout == "web_data\n")
        #expect(r.run(["ls", "-q", "-f", "label=com.docker.compose.project", "-f", "name=data"]).stdout == "web_data\n")
        #expect(r.run(["ls", "-q", "--filter", "name=^ca"]).stdout == "cache\n")
        #expect(r.run(["ls", "-q", "--filter", "dangling=false"]).stdout == "")
        #expect(r.run(["ls", "--format", "json", "--filter", "name=cache"]).stdout
            == "{\"Availability\":\"N/A\",\"Driver\":\"local\",\"Group\":\"N/A\",\"Labels\":\"\",\"Links\":\"N/A\",\"Mountpoint\":\"\(r.path)/volumes/cache/_data\",\"Name\":\"cache\",\"Scope\":\"local\",\"Size\":\"N/A\",\"Status\":\"N/A\"}\n")
        #expect(r.run(["ls", "--format", "{{.Name}}\\t{{ .Labels }}", "-f", "name=web"]).stdout == "web_data\tcom.docker.compose.project=web\n")
        let bad = r.run(["ls", "--filter", "colour=red"])
        #expect(bad.code == 64 && bad.stderr.hasPrefix("Error: invalid filter \"colour=red\": use dangling=, driver=, label=, name=\n"))
        let badName = r.run(["create", "x"])
        #expect(badName.code == 1 && badName.stderr.hasPrefix("Error: create x: \"x\" includes invalid characters for a local volume name"))
        let badOption = r.run(["create", "-o", "size=1G", "big"])
        #expect(badOption.code == 1 && badOption.stderr.hasPrefix("Error: invalid option key: \"size\""))
    }

    @Test func inspectPrintsDockersJSON() throws {
        let r = Root()
        _ = r.run(["create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m", "--label", "a=b", "scratch"])
        let created = try VolumeStore(root: r.path).get("scratch").createdAt
        let out = r.run(["inspect", "scratch", "nope"])
        #expect(out.code == 1)
        #expect(out.stderr == "Error: No such volume: nope\n")
        #expect(out.stdout == """
            [
                {
                    "CreatedAt": "\(created)",
                    "Driver": "local",
                    "Labels": {
                        "a": "b"
                    },
                    "Mountpoint": "\(r.path)/volumes/scratch/_data",
                    "Name": "scratch",
                    "Options": {
                        "device": "tmpfs",
                        "o": "size=1m",
                        "type": "tmpfs"
                    },
                    "Scope": "local"
                }
            ]

            """)
        #expect(r.run(["inspect", "-f", "{{.Mountpoint}} {{json .Labels}} {{.Options}}", "scratch"]).stdout
            == "\(r.path)/volumes/scratch/_data {\"a\":\"b\"} map[device:tmpfs o:size=1m type:tmpfs]\n")
        #expect(r.run(["inspect", "-f", "{{.Nope}}", "scratch"]).code == 64)
    }

    @Test func rmRefusesAVolumeInUseAndPruneTakesAnonymousOnes() throws {
        let r = Root()
        let store = VolumeStore(root: r.path)
        try store.create(name: "used")
        try store.create(name: "named")
        let anonymous = VolumeStore.randomName()
        try store.createAnonymous(name: anonymous)
        try Data(count: 2048).write(to: URL(fileURLWithPath: "\(r.path)/volumes/\(anonymous)/_data/blob"))
        var spec = ContainerSpec(name: "web-1", project: "demo", root: .directory("/", readOnly: false), process: .init(args: ["true"]))
        spec.mounts = [.init(kind: .volume(.init(name: "used", directory: store.path("used"))), destination: "/data")]
        let id = String(repeating: "ab", count: 32)
        try ContainerStore(root: r.path).create(ContainerRecord(
            id: id, name: "web-1", project: "demo", service: "web", number: 1, oneOff: false, labels: [], image: "busybox",
            imageDigest: nil, configHash: "h", command: ["true"], created: "2024-01-01T00:00:00Z"), spec: spec.encoded)

        let refused = r.run(["rm", "used", "missing"])
        #expect(refused.code == 1 && refused.stdout == "")
        #expect(refused.stderr == "Error: remove used: volume is in use - [\(id)]\nError: get missing: no such volume\n")
        #expect(r.run(["rm", "-f", "missing"]).code == 0)
        #expect(r.run(["ls", "-q", "--filter", "dangling=true"]).stdout == [anonymous, "named"].sorted().map { $0 + "\n" }.joined())

        let declined = r.run(["prune"], stdin: "n\n")
        #expect(declined.stdout == "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] ")
        #expect(r.run(["prune", "-f"]).stdout == "Deleted Volumes:\n\(anonymous)\n\nTotal reclaimed space: 2.05kB\n")
        #expect(r.run(["prune", "-f"]).stdout == "Total reclaimed space: 0B\n")
        #expect(r.run(["prune", "-a", "-f", "--filter", "label!=keep"]).stdout == "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n")
        #expect(r.run(["rm", "named"]).stderr == "Error: get named: no such volume\n")
        #expect(r.run(["ls", "-q"]).stdout == "used\n")
    }
}
