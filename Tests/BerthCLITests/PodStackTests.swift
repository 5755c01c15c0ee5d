import BerthNetwork
import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// berth's pods end to end (root tier): `x-berth: {pod: NAME}` members share localhost and
/// one address per pod replica, scale as whole pod replicas, restart alone, and init members
/// run first.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct PodStackTests {
    static let pod = Self.pod(ports: "")

    /// `ports`: the web member's `ports:` entry, if any.
    static func pod(ports: String) -> String {
        """
        services:
          web:
            image: busybox
            command: [httpd, -f, -p, "80", -h, /www]
            init: true
            x-berth: {pod: app}\(ports.isEmpty ? "" : "\n    ports: [\"\(ports)\"]")
          sidecar:
            image: busybox
            command: [sh, -c, "mkfifo /tmp/f; read line < /tmp/f; exit 3"]
            init: true
            restart: on-failure
            x-berth: {pod: app}
          client:
            image: busybox
            command: [sleep, "1000"]

        """
    }

    /// `readlink /proc/self/ns/<kind>` in replica `index` of `service`.
    func namespace(_ stack: StackFixture, _ service: String, _ kind: String, index: Int = 1) throws -> String {
        let out = try stack.run(["exec", "-T", "--index", "\(index)", service, "readlink", "/proc/self/ns/\(kind)"])
        #expect(out.code == 0, "\(out.stderr)")
        return out.stdout
    }

    /// The addresses `name` resolves to from the client container (or `from`), sorted.
    func resolve(_ stack: StackFixture, _ name: String, from: String = "client") throws -> [String] {
        let out = try stack.run(["exec", "-T", from, "nslookup", name])
        guard let answer = out.stdout.range(of: "Name:") else { return [] }
        return out.stdout[answer.lowerBound...].split(separator: "\n").filter { $0.hasPrefix("Address") }
            .compactMap { $0.split(separator: " ").last.map(String.init) }.sorted()
    }

    /// The pod replica's address: its infra container's endpoint on the default network.
    func podAddress(_ stack: StackFixture, replica: Int = 1) throws -> String {
        let name = "\(stack.project)-app-infra-\(replica)"
        let networks = try NetworkStore(root: stack.root).all()
        let addresses = networks.compactMap { network in network.endpoints[name].map { "\($0.address)" } }
        guard let address = addresses.first else { throw TestSupportError("no endpoint of \(name)") }
        return address
    }

    @Test func membersShareLocalhostAndOneAddress() throws {
        let port = StackFixture.freePort()
        let stack = try StackFixture(Self.pod(ports: "127.0.0.1:\(port):80"))
        let p = stack.project
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        // The infra first, then the members that join it.
        let lines = up.stderr.split(separator: "\n").map(String.init)
        let infraStarted = try #require(lines.firstIndex(of: " Container \(p)-app-infra-1  Started"), "\(up.stderr)")
        for member in ["web", "sidecar"] {
            #expect(lines.firstIndex(of: " Container \(p)-\(member)-1  Creating").map { $0 > infraStarted } == true, "\(up.stderr)")
        }

        // The sidecar reaches web's server over localhost: one network namespace, and IPC
        // and UTS too (the pod's host name), but each its own pid namespace.
        let fetched = try stack.run(["exec", "-T", "sidecar", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc 127.0.0.1 80"])
        #expect(fetched.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(fetched.stdout) \(fetched.stderr)")
        for kind in ["net", "ipc", "uts"] {
            #expect(try namespace(stack, "web", kind) == namespace(stack, "sidecar", kind), "\(kind)")
        }
        #expect(try namespace(stack, "web", "pid") != namespace(stack, "sidecar", "pid"))
        #expect(try stack.run(["exec", "-T", "sidecar", "hostname"]).stdout == "app\n")

        // One address for the pod, which both members' names resolve to.
        let address = try podAddress(stack)
        #expect(try resolve(stack, "web") == [address])
        #expect(try resolve(stack, "sidecar") == [address])
        // And the members' container names, as Docker answers to a container's name.
        #expect(try resolve(stack, "\(p)-web-1") == [address])
        #expect(try resolve(stack, "\(p)-sidecar-1") == [address])
        #expect(try resolve(stack, "\(p)-app-infra-1") == [address])
        let served = try stack.run(["exec", "-T", "client", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc \(address) 80"])
        #expect(served.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(served.stdout) \(served.stderr)")
        // A member's published port lands on the pod.
        #expect(StackFixture.httpGet(port: port, path: "/index.html") == "hello from berth\n")

        // ps groups the pod's containers (its infra first) and names their pod replica;
        // pod ls and pod inspect show the pod.
        let ps = try stack.run(["ps", "--format", "{{.Name}} {{.Service}} {{.Pod}} {{.Ports}}"])
        #expect(ps.stdout == """
            \(p)-app-infra-1 app-infra app-1 127.0.0.1:\(port)->80/tcp
            \(p)-sidecar-1 sidecar app-1 \n\(p)-web-1 web app-1 \n\(p)-client-1 client  \n
            """, "\(ps.stdout)")
        #expect(try stack.run(["ps"]).stdout.contains(" SERVICE     POD       CREATED "))
        #expect(try stack.run(["ps", "--services"]).stdout == "sidecar\nweb\nclient\n")
        let logs = try stack.run(["logs"])
        #expect(logs.code == 0 && logs.stderr == "", "the infra has no log: \(logs.stderr)")
        #expect(try stack.run(["top"]).stdout.contains("   pause   \n"))
        let pods = try stack.run(["pod", "ls"])
        #expect(pods.stdout == """
            NAME      STATUS    READY     ADDRESS\(String(repeating: " ", count: max(3, address.count - 4)))PORTS\(String(repeating: " ", count: "127.0.0.1:\(port)->80/tcp".count - 2))MEMBERS
            app-1     Running   2/2       \(address)   127.0.0.1:\(port)->80/tcp   sidecar, web

            """, "\(pods.stdout)")
        let inspected = try stack.run(["pod", "inspect", "-f", "{{.Name}} {{.State.Status}} {{.State.Ready}} {{.Infra.Name}} {{.Hostname}} {{range $n, $e := .Networks}}{{$n}}={{$e.IPAddress}} {{$e.Aliases}}{{end}} {{range .Members}}{{.Service}}:{{.Status}} {{end}}", "app"])
        #expect(inspected.stdout == "app-1 Running true \(p)-app-infra-1 app \(p)_default=\(address) [web sidecar] sidecar:running web:running \n", "\(inspected.stdout) \(inspected.stderr)")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// A pod replica is ready when all its members are: a member with a failing health check
    /// keeps the pod's names out of DNS until it turns healthy.
    @Test func aPodIsReadyWhenAllItsMembersAre() throws {
        let stack = try StackFixture(Self.pod.replacingOccurrences(
            of: "    init: true\n    x-berth: {pod: app}", with: "    init: true\n    healthcheck: {test: [CMD, test, -f, /tmp/ready], interval: 100ms}\n    x-berth: {pod: app}"))
        #expect(try stack.run(["up", "-d"]).code == 0)
        #expect(try stack.run(["pod", "ls", "--format", "{{.Status}} {{.Ready}}"]).stdout == "Running 1/2\n")
        #expect(try resolve(stack, "web") == [])
        #expect(try resolve(stack, "sidecar") == [])

        #expect(try stack.run(["exec", "-T", "web", "touch", "/tmp/ready"]).code == 0)
        try stack.waitFor("web", "healthy") { record, state in
            stack.engine.store.health(record.id, startedAt: state.startedAt)?.status == .healthy
        }
        #expect(try stack.run(["pod", "ls", "--format", "{{.Status}} {{.Ready}}"]).stdout == "Running 2/2\n")
        let address = try podAddress(stack)
        #expect(try resolve(stack, "web") == [address])
        #expect(try resolve(stack, "sidecar") == [address])

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// Replicas are per pod: scaling a member scales the pod — replica i holds member i of
    /// every service in its own namespaces, at its own address.
    @Test func scalingAPodAddsWholeReplicas() throws {
        let stack = try StackFixture(Self.pod)
        let p = stack.project
        #expect(try stack.run(["up", "-d"]).code == 0)
        let scaled = try stack.run(["scale", "web=3"])
        #expect(scaled.code == 0, "\(scaled.stderr)")
        let running = try stack.run(["ps", "--format", "{{.Name}}"])
        #expect(running.stdout == (["app-infra-1", "sidecar-1", "web-1", "app-infra-2", "sidecar-2", "web-2", "app-infra-3", "sidecar-3", "web-3", "client-1"]
            .map { "\(p)-\($0)\n" }.joined()), "\(running.stdout)")

        let addresses = try (1...3).map { try podAddress(stack, replica: $0) }
        #expect(Set(addresses).count == 3)
        #expect(try stack.run(["pod", "ls", "-q"]).stdout == "app-1\napp-2\napp-3\n")
        #expect(try stack.run(["pod", "ls", "--format", "{{.Name}} {{.Ready}} {{.Addresses}} {{.Members}}"]).stdout == (1...3).map { n in
            "app-\(n) 2/2 [\(addresses[n - 1])] [\(p)-sidecar-\(n) \(p)-web-\(n)]\n"
        }.joined())
        #expect(try resolve(stack, "web") == addresses.sorted())
        #expect(try resolve(stack, "sidecar") == addresses.sorted())
        for n in 1...3 { #expect(try resolve(stack, "\(p)-web-\(n)") == [addresses[n - 1]], "web-\(n)") }
        var networks: [String] = []
        for index in 1...3 {
            let net = try namespace(stack, "web", "net", index: index)
            #expect(try namespace(stack, "sidecar", "net", index: index) == net, "replica \(index)")
            networks.append(net)
        }
        #expect(Set(networks).count == 3)

        // Down to 2: the third pod replica goes as a whole.
        let down = try stack.run(["up", "-d", "-t", "0", "--scale", "sidecar=2"])
        #expect(down.code == 0, "\(down.stderr)")
        #expect(try stack.run(["ps", "-a", "--format", "{{.Name}}"]).stdout == (["app-infra-1", "sidecar-1", "web-1", "app-infra-2", "sidecar-2", "web-2", "client-1"]
            .map { "\(p)-\($0)\n" }.joined()))
        #expect(try resolve(stack, "web") == Array(addresses.prefix(2)).sorted())
        #expect(try resolve(stack, "\(p)-web-3") == [])

        let mismatch = try stack.run(["up", "-d", "--scale", "web=2", "--scale", "sidecar=3"])
        #expect(mismatch.code == 1)
        #expect(mismatch.stderr == "Error: pod \"app\": --scale web=2 and sidecar=3 disagree; the members of a pod scale together: give one count\n", "\(mismatch.stderr)")

        let (closed, left) = try stack.close()
        #expect(closed.code == 0, "\(closed.stderr)")
        #expect(left == [])
    }

    /// A member that crashes is restarted by its policy alone: the other member and the
    /// infra keep running, and the pod keeps its address.
    @Test func aCrashedMemberRestartsAloneAndTheAddressStays() throws {
        let stack = try StackFixture(Self.pod)
        #expect(try stack.run(["up", "-d"]).code == 0)
        let address = try podAddress(stack)
        let web = try stack.container("web").state
        let infra = try stack.container("app-infra").state
        let before = try stack.container("sidecar").state

        #expect(try stack.run(["exec", "-T", "sidecar", "sh", "-c", "echo crash > /tmp/f"]).code == 0)
        try stack.waitFor("sidecar", "restarted") { _, state in state.status == .running && state.startedAt != before.startedAt }

        #expect(try stack.container("web").state.pid == web.pid)
        #expect(try stack.container("web").state.startedAt == web.startedAt)
        #expect(try stack.container("app-infra").state.pid == infra.pid)
        #expect(try podAddress(stack) == address)
        #expect(try namespace(stack, "sidecar", "net") == namespace(stack, "web", "net"))
        let fetched = try stack.run(["exec", "-T", "sidecar", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc 127.0.0.1 80"])
        #expect(fetched.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(fetched.stdout) \(fetched.stderr)")
        #expect(try resolve(stack, "sidecar") == [address])

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// The infra dies (SIGKILL): the supervisor starts it again and restarts the members
    /// into its new namespaces, and the pod works again.
    @Test func aDeadInfraIsReplacedWithItsMembers() throws {
        let stack = try StackFixture(Self.pod)
        #expect(try stack.run(["up", "-d"]).code == 0)
        let infra = try stack.container("app-infra").state
        let web = try stack.container("web").state
        #expect(Glibc.kill(try #require(infra.pid), SIGKILL) == 0)
        try stack.waitFor("web", "restarted") { _, state in state.status == .running && state.startedAt != web.startedAt }
        try stack.waitFor("app-infra", "running") { _, state in state.status == .running }
        #expect(try stack.container("app-infra").state.startedAt != infra.startedAt)
        #expect(try namespace(stack, "web", "net") == namespace(stack, "sidecar", "net"))
        let infraPid = try #require(stack.container("app-infra").state.pid)
        #expect(try namespace(stack, "web", "net") == FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(infraPid)/ns/net") + "\n")
        let fetched = try stack.run(["exec", "-T", "sidecar", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc 127.0.0.1 80"])
        #expect(fetched.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(fetched.stdout) \(fetched.stderr)")
        let served = try stack.run(["exec", "-T", "client", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc \(try podAddress(stack)) 80"])
        #expect(served.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(served.stdout) \(served.stderr)")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// With `deploy.update_config` on a member, a change to one member replaces whole pod
    /// replicas: a new infra with every member, started next to the old replica
    /// (start-first), which goes once the new one is ready.
    @Test func aRollingUpdateReplacesWholePodReplicas() throws {
        func compose(_ version: String) -> String {
            """
            services:
              web:
                image: busybox
                command: [httpd, -f, -p, "80", -h, /www]
                init: true
                environment: {VERSION: "\(version)"}
                deploy:
                  replicas: 2
                  update_config: {order: start-first, monitor: 0s}
                x-berth: {pod: app}
              sidecar:
                image: busybox
                command: [sleep, "1000"]
                init: true
                x-berth: {pod: app}

            """
        }
        let stack = try StackFixture(compose("1"))
        let p = stack.project
        #expect(try stack.run(["up", "-d"]).code == 0)
        let before = Set(stack.engine.store.records().filter { $0.project == p }.map(\.id))
        #expect(before.count == 6)

        try stack.write(compose("2"))
        let update = try stack.run(["up", "-d", "-t", "0"])
        #expect(update.code == 0, "\(update.stderr)")
        for name in ["app-infra", "web", "sidecar"] {
            for n in 1...2 { #expect(update.stderr.contains(" Container \(p)-\(name)-\(n)  Updated\n"), "\(name)-\(n): \(update.stderr)") }
        }
        let after = stack.engine.store.records().filter { $0.project == p }
        #expect(after.count == 6)
        #expect(before.isDisjoint(with: after.map(\.id)), "every container of both pod replicas is new")
        #expect(after.map(\.name).sorted() == ["app-infra-1", "app-infra-2", "sidecar-1", "sidecar-2", "web-1", "web-2"].map { "\(p)-\($0)" })
        for n in 1...2 {
            #expect(try stack.run(["exec", "-T", "--index", "\(n)", "web", "sh", "-c", "echo $VERSION"]).stdout == "2\n")
            #expect(try namespace(stack, "web", "net", index: n) == namespace(stack, "sidecar", "net", index: n))
        }
        #expect(try stack.run(["pod", "ls", "--format", "{{.Name}} {{.Status}} {{.Ready}}"]).stdout == "app-1 Running 2/2\napp-2 Running 2/2\n")
        // The members' names moved to the new pod replicas' addresses with them.
        let addresses = try resolve(stack, "web", from: "sidecar")
        let byName = try (1...2).map { try resolve(stack, "\(p)-web-\($0)", from: "sidecar") }
        #expect(addresses.count == 2 && byName.allSatisfy { $0.count == 1 } && byName.flatMap { $0 }.sorted() == addresses, "\(byName) \(addresses)")
        #expect(try resolve(stack, "\(p)-sidecar-2", from: "sidecar") == byName[1])

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// `berth run` of a member (podman's `run --pod`): the one-off joins replica 1 of the pod
    /// — localhost with the members, the pod's host name — starting the pod first as up
    /// would; with --no-deps the pod must run; it publishes no ports of its own.
    @Test func aMembersOneOffJoinsItsPod() throws {
        let stack = try StackFixture(Self.pod)
        let p = stack.project
        let script = "hostname; echo 'GET /index.html HTTP/1.0' | nc 127.0.0.1 80 | tail -n 1; readlink /proc/self/ns/net"
        let first = try stack.run(["run", "--rm", "-T", "sidecar", "sh", "-c", script])
        #expect(first.code == 0, "\(first.stderr)")
        for name in ["app-infra-1", "web-1", "sidecar-1"] {
            #expect(first.stderr.contains(" Container \(p)-\(name)  Started\n"), "\(first.stderr)")
        }
        #expect(try stack.run(["ps", "--format", "{{.Name}}"]).stdout == "\(p)-app-infra-1\n\(p)-sidecar-1\n\(p)-web-1\n")
        #expect(first.stdout == "app\nhello from berth\n" + (try namespace(stack, "web", "net")), "\(first.stdout)")

        // Two pod replicas: the one-off is in the first one's namespaces; the pod runs, so
        // --no-deps is fine.
        #expect(try stack.run(["scale", "web=2"]).code == 0)
        let second = try stack.run(["run", "--rm", "-T", "--no-deps", "web", "readlink", "/proc/self/ns/net"])
        #expect(second.code == 0 && second.stderr == "", "\(second.stderr)")
        #expect(second.stdout == (try namespace(stack, "web", "net", index: 1)))
        #expect(second.stdout != (try namespace(stack, "web", "net", index: 2)))

        let published = try stack.run(["run", "--rm", "-T", "-p", "8080:80", "web", "true"])
        #expect(published.code == 1 && published.stderr == """
            Error: service "web" is a member of pod "app": its one-off shares the pod's network and cannot publish ports (-p, --service-ports); the pod publishes its members' ports

            """, "\(published.stderr)")

        #expect(try stack.run(["down", "-t", "0"]).code == 0)
        let stopped = try stack.run(["run", "--rm", "-T", "--no-deps", "web", "true"])
        #expect(stopped.code == 1 && stopped.stderr == """
            Error: service "web" is a member of pod "app", whose replica 1 is not running: its one-off joins it; start the pod with berth up web, or drop --no-deps

            """, "\(stopped.stderr)")
        #expect(stack.engine.store.records().filter { $0.project == p } == [])

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// Init members run to completion, one after the other, before the other members start;
    /// once done they stay done while their pod replica stays.
    @Test func initMembersRunFirstInOrder() throws {
        let stack = try StackFixture("""
            services:
              web:
                image: busybox
                command: [sh, -c, "echo web >> /shared/order; exec sleep 1000"]
                volumes: [shared:/shared]
                x-berth: {pod: app}
              migrate:
                image: busybox
                command: [sh, -c, "echo migrate >> /shared/order"]
                volumes: [shared:/shared]
                x-berth: {pod: app, init: true}
              seed:
                image: busybox
                command: [sh, -c, "echo seed >> /shared/order"]
                volumes: [shared:/shared]
                x-berth: {pod: app, init: true}
            volumes:
              shared: {}

            """)
        let p = stack.project
        // Naming one member (even with --no-deps) brings its pod: infra, init members, members.
        let up = try stack.run(["up", "-d", "--no-deps", "web"])
        #expect(up.code == 0, "\(up.stderr)")
        let lines = up.stderr.split(separator: "\n").map(String.init)
        func at(_ line: String) throws -> Int { try #require(lines.firstIndex(of: " Container \(p)-\(line)"), "\(line) in \(up.stderr)") }
        #expect(try at("migrate-1  Exited") < at("seed-1  Creating"))
        #expect(try at("seed-1  Exited") < at("web-1  Creating"))
        #expect(try stack.run(["exec", "-T", "web", "cat", "/shared/order"]).stdout == "migrate\nseed\nweb\n")
        #expect(try stack.container("migrate").state.exitCode == 0)

        let again = try stack.run(["up", "-d"])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(again.stderr.contains(" Container \(p)-migrate-1  Exited\n") && !again.stderr.contains("Starting"), "\(again.stderr)")
        #expect(try stack.run(["exec", "-T", "web", "cat", "/shared/order"]).stdout == "migrate\nseed\nweb\n")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }
}
