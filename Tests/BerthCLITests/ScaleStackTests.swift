import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end replicas (root tier): `berth scale` and `up --scale` on busybox httpd replicas
/// publishing a port range; what exec, logs and ps make of them; the clashes refused before
/// anything starts.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct ScaleStackTests {
    /// A first host port with `count` free ports after it (none of them held now).
    static func freeRange(_ count: UInt16) -> UInt16 {
        while true {
            let low = StackFixture.freePort()
            guard low <= 30000 else { continue }
            if (1..<count).allSatisfy({ isFree(low + $0) }) { return low }
        }
    }

    static func isFree(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    static func web(ports: String, extra: String = "") -> String {
        """
        services:
          web:
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; echo up; httpd -f -p 80 -h /www & wait"]
            ports: [\(ports)]
        \(extra)
        """
    }

    @Test func scaleUpAndDownKeepsTheLowNumbers() throws {
        let low = Self.freeRange(5)
        let stack = try StackFixture(Self.web(ports: "\"\(low)-\(low + 4):80\""))
        let p = stack.project
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        let first = try stack.container("web", 1).record.id

        let five = try stack.run(["scale", "web=5"])
        #expect(five.code == 0, "\(five.stderr)")
        #expect(five.stderr.contains(" Container \(p)-web-1  Running\n"))
        for n in 2...5 { #expect(five.stderr.contains(" Container \(p)-web-\(n)  Started\n"), "\(five.stderr)") }
        // Replica N publishes the N-th port of the range.
        let ps = try stack.run(["ps", "--format", "{{.Name}} {{.State}} {{.Ports}}"])
        #expect(ps.stdout == (1...5).map { "\(p)-web-\($0) running 0.0.0.0:\(low + UInt16($0) - 1)->80/tcp\n" }.joined())
        for n in 0..<5 { #expect(StackFixture.httpGet(port: low + UInt16(n), path: "/index.html") == "hello from berth\n") }
        #expect(try stack.container("web", 1).record.id == first, "replica 1 is the same container")

        // exec and logs per replica.
        let fourth = try stack.container("web", 4).record.id
        let hostname = try stack.run(["exec", "-T", "--index", "4", "web", "hostname"])
        #expect(hostname.code == 0 && hostname.stdout == String(fourth.prefix(12)) + "\n", "\(hostname.stderr)")
        let missing = try stack.run(["exec", "-T", "--index", "6", "web", "true"])
        #expect(missing.code == 1 && missing.stderr == "Error: service \"web\" is not running container #6\n")
        let logs = try stack.run(["logs", "--index", "3", "web"])
        #expect(logs.code == 0 && logs.stdout == "web-3  | up\n", "\(logs.stdout)\(logs.stderr)")
        let psOne = try stack.run(["ps", "--format", "{{.Name}}", "--filter", "status=running"])
        #expect(psOne.stdout.split(separator: "\n").count == 5)

        // Down to 2: the highest numbers go, 1 and 2 stay as they were.
        let second = try stack.container("web", 2).record.id
        let two = try stack.run(["scale", "web=2"])
        #expect(two.code == 0, "\(two.stderr)")
        for n in 3...5 { #expect(two.stderr.contains(" Container \(p)-web-\(n)  Removed\n"), "\(two.stderr)") }
        #expect(!two.stderr.contains("web-1  Stopping") && !two.stderr.contains("web-2  Stopping"))
        #expect(try stack.run(["ps", "--format", "{{.Name}}"]).stdout == "\(p)-web-1\n\(p)-web-2\n")
        #expect(try stack.container("web", 1).record.id == first && stack.container("web", 2).record.id == second)
        #expect(StackFixture.httpGet(port: low + 1, path: "/index.html") == "hello from berth\n")
        #expect(StackFixture.httpGet(port: low + 2, path: "/index.html") == nil)

        // up goes back to the file's one replica.
        let back = try stack.run(["up", "-d"])
        #expect(back.code == 0 && back.stderr.contains(" Container \(p)-web-2  Removed\n"), "\(back.stderr)")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// A fixed host port, a range too small or container_name with several replicas fail
    /// before anything is created, with Compose's words.
    @Test func clashesAreRefusedBeforeAnythingStarts() throws {
        let port = StackFixture.freePort()
        let stack = try StackFixture(Self.web(ports: "\"\(port):80\""))
        let fixed = try stack.run(["up", "-d", "--scale", "web=3"])
        #expect(fixed.code == 1)
        #expect(fixed.stderr == "Error: The \"web\" service specifies a port on the host (\(port):80) and runs 3 containers: the port will clash. Publish a range with a host port per replica (\"\(port)-\(port + 2):80\") or leave the host port out (\"80\")\n")
        #expect(stack.leftovers() == [], "nothing was created")

        try stack.write(Self.web(ports: "\"\(port)-\(port + 1):80\"", extra: "    deploy: {replicas: 3}\n"))
        let small = try stack.run(["up", "-d"])
        #expect(small.code == 1 && small.stderr.hasPrefix("Error: The \"web\" service specifies a port on the host (\(port)-\(port + 1):80) and runs 3 containers"), "\(small.stderr)")

        try stack.write(Self.web(ports: "\"80\"", extra: "    container_name: \(stack.project)-front\n"))
        let named = try stack.run(["scale", "web=2"])
        #expect(named.code == 1)
        #expect(named.stderr == "Error: The \"web\" service is using the custom container name \"\(stack.project)-front\". berth requires each container to have a unique name. Remove the custom name to scale the service\n")
        try stack.write(Self.web(ports: "\"80\"", extra: "    container_name: \(stack.project)-front\n    deploy: {replicas: 2}\n"))
        let loaded = try stack.run(["up", "-d"])
        #expect(loaded.code == 1 && loaded.stderr.hasSuffix("services.deploy.replicas: can't set container_name and web as container name must be unique; remove container_name or set one replica\n"), "\(loaded.stderr)")
        #expect(stack.leftovers() == [])
        let (_, left) = try stack.close()
        #expect(left == [])
    }
}
