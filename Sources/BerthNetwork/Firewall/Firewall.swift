#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys
import Foundation

/// Applies the ruleset as one nftables transaction — through libnftables in this process
/// when it can be loaded (no process start; the netlink socket stays open, so the kernel's
/// deferred cleanup of deleted rules never holds us up), else with Debian's `nft -f -` —
/// and turns on IPv4 forwarding when a network needs it. Forwarding is never turned off
/// again: other software on the host may rely on it (Docker leaves it on too).
public struct Firewall: Sendable {
    public var nftPath: String?
    public var procSys: String
    /// berth's tables are `inet <table>` and `ip <table>_nat`.
    public var table: String
    /// false: always run the nft program (tests of that path).
    public var useLibrary = true

    public init(table: String = "berth", procSys: String = "/proc/sys") {
        nftPath = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first { access($0, X_OK) == 0 }
        self.table = table
        self.procSys = procSys
    }

    public func apply(_ state: FirewallState) throws {
        if state.needsForwarding {
            try enableForwarding()
        }
        try run(FirewallRuleset.render(state, table: table))
    }

    /// Runs an nft script as one transaction.
    func run(_ script: String) throws {
        if useLibrary {
            var message: UnsafeMutablePointer<CChar>?
            let result = berth_nft_run(script, &message)
            defer { free(message) }
            switch result {
            case 0:
                return
            case 1:
                let text = message.map { String(cString: $0) } ?? ""
                throw NetworkError(.system, "nftables refused berth's ruleset: \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
            default:
                break  // no libnftables: the program
            }
        }
        guard let nft = nftPath else {
            throw NetworkError(.unsupported, "neither libnftables.so.1 nor nft found (looked in /usr/sbin, /sbin, /usr/bin): install Debian's nftables package")
        }
        let result = try Subprocess.run([nft, "-f", "-"], input: script)
        guard result.status == .exited(0) else {
            throw NetworkError(.system, "nft -f - failed (\(result.status)) applying berth's ruleset: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    func enableForwarding() throws {
        let path = procSys + "/net/ipv4/ip_forward"
        if (try? FS.readString(path)) == "1\n" { return }
        do {
            try FS.writeExisting(path, "1")
        } catch {
            throw NetworkError.system("enable IPv4 forwarding", error)
        }
    }

    /// `net.ipv4.conf.<bridge>.route_localnet=1`: lets DNATed packets from 127.0.0.1 leave
    /// through the bridge (published ports on localhost).
    func allowLocalnetRouting(bridge: String) throws {
        do {
            try FS.writeExisting("\(procSys)/net/ipv4/conf/\(bridge)/route_localnet", "1")
        } catch {
            throw NetworkError.system("set route_localnet on \(bridge)", error)
        }
    }

    /// `nft list tables` (for leak checks and debugging).
    public func listTables() throws -> String {
        guard let nft = nftPath else { return "" }
        return try Subprocess.run([nft, "list", "tables"], input: "").output
    }

    /// `nft list table FAMILY NAME`, or nil when there is no such table.
    public func listTable(_ familyAndName: String) throws -> String? {
        guard let nft = nftPath else { return nil }
        let result = try Subprocess.run([nft, "list", "table"] + familyAndName.split(separator: " ").map(String.init), input: "")
        return result.status == .exited(0) ? result.output : nil
    }
}
