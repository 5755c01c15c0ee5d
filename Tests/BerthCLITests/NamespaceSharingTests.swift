import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// Compose's own namespace sharing, end to end (root tier): `network_mode: service:a`,
/// `ipc: service:a` with `ipc: shareable` on a, and recreating a recreates its joiner.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct NamespaceSharingTests {
    static func compose(_ marker: String) -> String {
        """
        services:
          a:
            image: busybox
            command: [httpd, -f, -p, "127.0.0.1:8080", -h, /www]
            ipc: shareable
            environment: {MARKER: "\(marker)"}
          b:
            image: busybox
            command: [sleep, "1000"]
            network_mode: service:a
            ipc: service:a

        """
    }

    /// `/proc/self/ns/<kind>` of the service's container, as the container sees it.
    func namespace(_ stack: StackFixture, _ service: String, _ kind: String) throws -> String {
        let out = try stack.run(["exec", "-T", service, "readlink", "/proc/self/ns/\(kind)"])
        #expect(out.code == 0, "\(out.stderr)")
        return out.stdout
    }

    @Test func networkAndIPCOfAnotherService() throws {
        let stack = try StackFixture(Self.compose("one"))
        let p = stack.project
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")

        // b reaches a's server, which listens on 127.0.0.1 only, over localhost.
        let fetched = try stack.run(["exec", "-T", "b", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc 127.0.0.1 8080"])
        #expect(fetched.code == 0 && fetched.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(fetched.stdout) \(fetched.stderr)")
        #expect(try namespace(stack, "b", "net") == namespace(stack, "a", "net"))
        #expect(try namespace(stack, "b", "uts") != namespace(stack, "a", "uts"))
        // SysV IPC and POSIX shared memory (/dev/shm) are a's.
        #expect(try namespace(stack, "b", "ipc") == namespace(stack, "a", "ipc"))
        #expect(try stack.run(["exec", "-T", "a", "sh", "-c", "echo from a > /dev/shm/note"]).code == 0)
        #expect(try stack.run(["exec", "-T", "b", "cat", "/dev/shm/note"]).stdout == "from a\n")
        // b uses a's /etc/hosts and resolv.conf, as Docker's joiner does.
        #expect(try stack.run(["exec", "-T", "b", "cat", "/etc/hosts"]).stdout == stack.run(["exec", "-T", "a", "cat", "/etc/hosts"]).stdout)

        // a changes: b, which would keep the old container's namespaces, is recreated too.
        let oldB = try stack.container("b").record.id
        try stack.write(Self.compose("two"))
        let again = try stack.run(["up", "-d", "-t", "0"])
        #expect(again.code == 0, "\(again.stderr)")
        #expect(again.stderr.contains(" Container \(p)-a-1  Recreate\n") && again.stderr.contains(" Container \(p)-b-1  Recreate\n"), "\(again.stderr)")
        #expect(try stack.container("b").record.id != oldB)
        #expect(try namespace(stack, "b", "net") == namespace(stack, "a", "net"))
        #expect(try namespace(stack, "b", "ipc") == namespace(stack, "a", "ipc"))
        let refetched = try stack.run(["exec", "-T", "b", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc 127.0.0.1 8080"])
        #expect(refetched.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(refetched.stdout) \(refetched.stderr)")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// Docker joins only a shareable IPC namespace: said before anything is created.
    @Test func nonShareableIPCIsRefused() throws {
        let stack = try StackFixture("""
            services:
              a: {image: busybox, command: [sleep, "1000"]}
              b: {image: busybox, command: [sleep, "1000"], ipc: "service:a"}

            """)
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 1)
        #expect(up.stderr.hasSuffix("Error: service \"b\": ipc: service \"a\" does not share its IPC namespace; set ipc: shareable on it (Docker joins only a shareable IPC namespace)\n"), "\(up.stderr)")
        let (_, left) = try stack.close()
        #expect(left == [])
    }
}
