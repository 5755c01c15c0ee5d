import BerthNetwork
import Foundation

/// `berth dns-server`: runs the embedded DNS server standalone with fixed records (plumbing,
/// for benchmarks and manual checks; the supervisor hosts it for real projects). Serves until
/// its standard input closes.
enum DNSPlumbing {
    static let spec = CommandSpec(
        name: "dns-server", arguments: "",
        abstract: "Run the embedded DNS server with fixed records until stdin closes (plumbing, for benchmarks).",
        discussion: "Answers NAME with every ADDRESS given for it (shuffled per query), and forwards other names to --upstream servers (default: /etc/resolv.conf). Prints \"ready PORT\" once it listens.",
        options: [
            OptionSpec("listen", value: "ADDRESS:PORT", help: "Where to listen, UDP and TCP; port 0 picks one.", default: "127.0.0.1:0"),
            OptionSpec("record", value: "NAME=ADDRESS", help: "A name and one of its addresses.", repeatable: true),
            OptionSpec("upstream", value: "ADDRESS:PORT", help: "A server for names not in the records.", repeatable: true),
        ],
        hidden: true
    ) { invocation in
        let records = DNSRecords()
        for (index, item) in invocation.options.all("record").enumerated() {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let address = IPv4Address(parts[1]) else {
                throw UsageError(message: "invalid --record \"\(item)\": use NAME=ADDRESS", command: "dns-server")
            }
            records.set(network: "default", container: "r\(index)", address: address, names: [parts[0]], ready: true)
        }
        let upstreams = try invocation.options.all("upstream").map { text -> DNSUpstream in
            guard let (address, port) = hostPort(text) else { throw UsageError(message: "invalid --upstream \"\(text)\"", command: "dns-server") }
            return DNSUpstream(address: address, port: port)
        }
        let listen = invocation.options.value("listen") ?? "127.0.0.1:0"
        guard let (address, port) = hostPort(listen) else { throw UsageError(message: "invalid --listen \"\(listen)\"", command: "dns-server") }
        let server = try DNSServer(records: records, upstreams: upstreams.isEmpty ? DNSServer.hostUpstreams() : upstreams)
        let actual: UInt16
        do {
            actual = try server.listen(network: "default", address: address, port: port)
        } catch let error as NetworkError {
            throw CLIError(error.message)
        }
        server.start()
        invocation.console.out("ready \(actual)\n")
        _ = invocation.readStandardInput()
        server.stop()
        return 0
    }

    static func hostPort(_ text: String) -> (IPv4Address, UInt16)? {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 2, let address = IPv4Address(parts[0]), let port = UInt16(parts[1]) else { return nil }
        return (address, port)
    }
}
