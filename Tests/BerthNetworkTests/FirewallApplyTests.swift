import Foundation
import Testing
@testable import BerthNetwork

/// The ruleset applied for real, through libnftables in this process and through the nft
/// program: the same tables either way, nft's errors passed on, and the library's netlink
/// socket kept out of the programs berth starts.
@Suite("nftables apply (root)", .serialized, .enabled(if: isRoot && Firewall().nftPath != nil, "needs root and nft (Debian nftables)"))
struct FirewallApplyTests {
    static let state = FirewallState(
        networks: [.init(bridge: "br-apply", subnet: IPv4Subnet("10.213.9.0/24")!, internal: false)],
        ports: [.init(binding: PortBinding(hostIP: IPv4Address("127.0.0.1"), hostPort: 18999, containerPort: 80, proto: .tcp),
                      containerAddress: IPv4Address("10.213.9.2")!)])

    @Test func libraryAndProgramMakeTheSameTables() throws {
        let table = "berth_" + randomPrefix()
        var library = Firewall(table: table)
        var program = Firewall(table: table)
        program.useLibrary = false
        library.procSys = NSTemporaryDirectory()  // no forwarding switch from a test
        program.procSys = NSTemporaryDirectory()
        let empty = FirewallState(networks: [], ports: [])
        defer { try? program.apply(empty) }

        try library.run(FirewallRuleset.render(Self.state, table: table))
        let byLibrary = try [library.listTable("inet \(table)"), library.listTable("ip \(table)_nat")]
        try program.run(FirewallRuleset.render(Self.state, table: table))
        let byProgram = try [program.listTable("inet \(table)"), program.listTable("ip \(table)_nat")]
        #expect(byLibrary == byProgram)
        #expect(byLibrary[1]?.contains("ip daddr 127.0.0.1 tcp dport 18999 dnat to 10.213.9.2:80") == true, "\(byLibrary)")

        // An empty state removes the tables.
        try library.run(FirewallRuleset.render(empty, table: table))
        #expect(try library.listTable("inet \(table)") == nil)
        #expect(try library.listTable("ip \(table)_nat") == nil)
    }

    @Test func refusedScriptsReportNftsError() {
        let table = "berth_" + randomPrefix()
        for useLibrary in [true, false] {
            var firewall = Firewall(table: table)
            firewall.useLibrary = useLibrary
            do {
                try firewall.run("add rule ip \(table)_nosuch nosuch accept\n")
                Issue.record("a rule in a missing table was accepted")
            } catch {
                let text = "\(error)"
                #expect(text.contains("No such file or directory"), "\(text)")
                #expect(text.contains("add rule ip \(table)_nosuch nosuch accept"), "\(text)")
            }
        }
    }

    /// Every nf_tables netlink socket of this process (the library's) is close-on-exec.
    @Test func theLibrarySocketIsCloseOnExec() throws {
        let table = "berth_" + randomPrefix()
        var firewall = Firewall(table: table)
        firewall.procSys = NSTemporaryDirectory()
        try firewall.run(FirewallRuleset.render(FirewallState(networks: [], ports: []), table: table))
        // /proc/net/netlink: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode; Eth 12 = NETLINK_NETFILTER.
        var netfilterInodes = Set<String>()
        for line in try String(contentsOfFile: "/proc/net/netlink", encoding: .utf8).split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            if fields.count >= 10 && fields[1] == "12" { netfilterInodes.insert(fields[9]) }
        }
        var found = 0
        for fd in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)"),
                  target.hasPrefix("socket:["), netfilterInodes.contains(String(target.dropFirst(8).dropLast())) else { continue }
            found += 1
            let info = try String(contentsOfFile: "/proc/self/fdinfo/\(fd)", encoding: .utf8)
            let flagsLine = info.split(separator: "\n").first { $0.hasPrefix("flags:") } ?? ""
            let flags = Int(flagsLine.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) ?? 0
            #expect(flags & Int(O_CLOEXEC) != 0, "fd \(fd) (\(target)) is inherited by programs berth starts")
        }
        #expect(found >= 1, "the library's socket was not found")
    }
}
