import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// `links: [db:database]` on a user-defined network, as Docker: the alias resolves, for the
/// linking container, to the linked service's addresses — also after the supervisor that
/// answers DNS was SIGKILLed and a new one took over, and after the linked container was
/// restarted (its new veth must not change the bridge's MAC under app's ARP cache: that
/// made app lose its gateway, DNS included, in about half the runs). (That other containers
/// do not see the alias is a unit test: such a query would be forwarded to the host's resolvers.)
@Suite("links (root)", .serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (Debian busybox-static)"))
struct LinkTests {
    @Test func aLinkAliasResolvesToTheLinkedService() throws {
        let stack = try StackFixture("""
            services:
              db:
                image: busybox
                command: [sleep, "1000"]
              app:
                image: busybox
                command: [sleep, "1000"]
                links: ["db:database"]

            """)
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        let address = try stack.run(["exec", "-T", "db", "hostname", "-i"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(address.hasPrefix("10."), "\(address)")
        func resolve(_ name: String) throws -> String {
            let result = try stack.run(["exec", "-T", "app", "nslookup", "-type=a", name])
            return result.code == 0 ? result.stdout.components(separatedBy: "Name:\t\(name)\n").last ?? "" : "exit \(result.code): \(result.stdout)"
        }
        #expect(try resolve("database") == "Address: \(address)\n\n")
        #expect(try resolve("db") == "Address: \(address)\n\n")
        let supervisor = try #require(stack.supervisorPid)
        #expect(kill(supervisor, SIGKILL) == 0)
        stack.waitForSupervisorExit()
        // The next command starts a new supervisor, which answers DNS with the links again.
        #expect(try stack.run(["restart", "-t", "0", "db"]).code == 0)
        let moved = try stack.run(["exec", "-T", "db", "hostname", "-i"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let after = try resolve("database")
        #expect(after == "Address: \(moved)\n\n")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }
}
