import BerthCLI
import BerthNetwork
import Foundation
import Testing

@Suite("berth network")
struct NetworkCommandTests {
    func root() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("berth-netcli-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func emptyStoreAndErrors() throws {
        let dir = try root()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let args = ["--root", dir + "/root", "--run-root", dir + "/run", "network"]
        #expect(berth(args + ["ls"]).stdout == "NETWORK ID   NAME      DRIVER    SCOPE\n")
        #expect(berth(args + ["ls", "-q"]).stdout == "")
        let inspect = berth(args + ["inspect", "nope"])
        #expect(inspect.code == 1 && inspect.stdout == "[]\n" && inspect.stderr == "Error: No such network: nope\n")
        let rm = berth(args + ["rm", "nope"])
        #expect(rm.code == 1 && rm.stderr == "Error: No such network: nope\n")
        let verb = berth(args + ["lss"])
        #expect(verb.code == 64 && verb.stderr == "Error: unknown network subcommand \"lss\"\nDid you mean \"ls\"?\nRun 'berth network --help' for usage.\n")
        #expect(berth(args + ["ls", "--filter", "color=red"]).code == 64)
        #expect(berth(args + ["prune"], stdin: "n\n").stdout == "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] \n")
    }

    @Test(.enabled(if: getuid() == 0 && Firewall().nftPath != nil, "needs root and nft: creates bridges"))
    func listInspectRemovePrune() throws {
        let dir = try root()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let table = "berth_cli\(UInt16.random(in: 0...UInt16.max))"
        let manager = NetworkManager(root: dir + "/root", runRoot: dir + "/run", firewall: Firewall(table: table))
        let prefix = "c\(UInt32.random(in: 0...UInt32.max))"
        let front = try manager.create(name: prefix + "_front", options: NetworkOptions(
            subnet: IPv4Subnet("10.254.40.0/24"), ipRange: IPv4Subnet("10.254.40.128/25"), labels: ["com.docker.compose.project": prefix, "tier": "web"]))
        let back = try manager.create(name: prefix + "_back", options: NetworkOptions(subnet: IPv4Subnet("10.254.41.0/24"), internal: true))
        let namespace = try manager.createNamespace(container: prefix + "-db-1")
        defer {
            try? manager.detach(network: back.name, container: prefix + "-db-1")
            try? manager.removeNamespace(container: prefix + "-db-1")
            _ = try? manager.prune()
            try? manager.firewall.apply(FirewallState(networks: [], ports: []))
        }
        let endpoint = try manager.attach(network: back.name, AttachRequest(container: prefix + "-db-1", namespace: namespace, aliases: ["db"]))
        let args = ["--root", dir + "/root", "--run-root", dir + "/run", "network"]
        let env = ["BERTH_NFT_TABLE": table]
        func run(_ more: [String], stdin: String = "") -> Run { berth(args + more, environment: env, stdin: stdin) }

        let nameWidth = max(10, front.name.count + 3)
        func row(_ a: String, _ b: String, _ c: String, _ d: String) -> String {
            a.padding(toLength: 15, withPad: " ", startingAt: 0) + b.padding(toLength: nameWidth, withPad: " ", startingAt: 0) + c.padding(toLength: 10, withPad: " ", startingAt: 0) + d + "\n"
        }
        #expect(run(["ls"]).stdout == row("NETWORK ID", "NAME", "DRIVER", "SCOPE") + row(String(back.id.prefix(12)), back.name, "bridge", "local") + row(String(front.id.prefix(12)), front.name, "bridge", "local"))
        #expect(run(["ls", "-q", "--no-trunc", "--filter", "label=tier=web"]).stdout == front.id + "\n")
        #expect(run(["ls", "--format", "json", "--filter", "name=_back"]).stdout
            == "{\"CreatedAt\":\"\(back.created)\",\"Driver\":\"bridge\",\"ID\":\"\(back.id.prefix(12))\",\"IPv4\":\"true\",\"IPv6\":\"false\",\"Internal\":\"true\",\"Labels\":\"\",\"Name\":\"\(back.name)\",\"Scope\":\"local\"}\n")

        let inspect = run(["inspect", back.name])
        #expect(inspect.code == 0)
        #expect(inspect.stdout.hasPrefix("[\n    {\n        \"Name\": \"\(back.name)\",\n        \"Id\": \"\(back.id)\",\n"))
        let config = ["            \"Config\": [", "                {", "                    \"Subnet\": \"10.254.41.0/24\",",
                      "                    \"Gateway\": \"10.254.41.1\"", "                }", "            ]"].joined(separator: "\n")
        #expect(inspect.stdout.contains(config))
        #expect(inspect.stdout.contains("\"IPv4Address\": \"\(endpoint.address)/24\""))
        #expect(inspect.stdout.contains("\"Internal\": true"))
        #expect(run(["inspect", front.name]).stdout.contains("\"IPRange\": \"10.254.40.128/25\""))

        let busy = run(["rm", back.name])
        #expect(busy.code == 1 && busy.stderr == "Error: network \(back.name) has active endpoints (\(prefix)-db-1): stop or disconnect those containers first\n")
        let pruned = run(["prune"], stdin: "y\n")
        #expect(pruned.stdout.hasSuffix("[y/N] Deleted Networks:\n\(front.name)\n"))
        try manager.detach(network: back.name, container: prefix + "-db-1")
        #expect(run(["rm", back.name]).stdout == back.name + "\n")
        #expect(run(["ls", "-q"]).stdout == "")
        #expect(try manager.firewall.listTable("inet \(table)") == nil)
    }

    @Test(.enabled(if: getuid() == 0 && Firewall().nftPath != nil, "needs root and nft: creates bridges"))
    func createConnectDisconnect() throws {
        let dir = try root()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let table = "berth_cli\(UInt16.random(in: 0...UInt16.max))"
        let args = ["--root", dir + "/root", "--run-root", dir + "/run", "network"]
        let env = ["BERTH_NFT_TABLE": table]
        func run(_ more: [String]) -> Run { berth(args + more, environment: env) }
        let manager = NetworkManager(root: dir + "/root", runRoot: dir + "/run", firewall: Firewall(table: table))
        let name = "c\(UInt32.random(in: 0...UInt32.max))_net"
        defer {
            _ = run(["disconnect", name, "c1"])
            _ = run(["rm", name])
            try? manager.firewall.apply(FirewallState(networks: [], ports: []))
        }
        let created = run(["create", "--subnet", "10.254.42.0/24", "--ip-range", "10.254.42.64/26", "-o", "com.docker.network.driver.mtu=1450", "--label", "a=b", name])
        #expect(created.code == 0, "\(created.stderr)")
        let record = try manager.inspect(name: name)
        #expect(created.stdout == record.id + "\n")
        #expect(record.mtu == 1450 && record.labels == ["a": "b"] && record.ipRange?.description == "10.254.42.64/26")
        #expect(run(["create", name]).stderr == "Error: network \(name) already exists\n")
        #expect(run(["create", "--subnet", "10.254.42.0", "x"]).code == 64)

        let connected = run(["connect", "--ip", "10.254.42.9", "--alias", "api", "-p", "127.0.0.1::80", name, "c1"])
        #expect(connected.code == 0, "\(connected.stderr)")
        #expect(connected.stdout == dir + "/run/netns/c1\n")
        let endpoint = try #require(try manager.inspect(name: name).endpoints["c1"])
        #expect(endpoint.address.description == "10.254.42.9" && endpoint.aliases == ["api"] && endpoint.ports.count == 1)
        #expect(try manager.firewall.listTable("ip \(table)_nat")?.contains("dnat to 10.254.42.9:80") == true)
        #expect(run(["disconnect", name, "c1"]).code == 0)
        #expect(!FileManager.default.fileExists(atPath: dir + "/run/netns/c1"))
        #expect(try manager.firewall.listTable("ip \(table)_nat")?.contains("dnat to") == false)
        #expect(run(["disconnect", name, "c1"]).stderr == "Error: container c1 is not attached to network \(name)\n")
    }
}
