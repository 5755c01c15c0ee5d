import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end `inspect` and `logs -f` on busybox containers (root tier): what Docker's
/// inspect shows of a healthy container that its restart policy brought back, secrets
/// that never show, and logs that follow a container through its restarts until `down`.
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct InspectStackTests {
    @Test func inspectShowsHealthRestartsAndMountsButNeverASecret() throws {
        let token = "t0ken-\(UInt64.random(in: 1...UInt64.max))"
        let key = "k3y-\(UInt64.random(in: 1...UInt64.max))"
        let stack = try StackFixture("""
            services:
              web:
                image: busybox
                command: [sh, -c, "if [ -e /crashed ]; then echo second run; exec sleep 1000; fi; touch /crashed; echo first run; exit 3"]
                restart: on-failure:2
                environment: {GREETING: hello}
                healthcheck:
                  test: ["CMD-SHELL", "cat /run/secrets/token /etc/key > /dev/null && echo probe ok"]
                  interval: 100ms
                secrets: [token, {source: key, target: /etc/key, mode: 0400}]
            secrets:
              token: {environment: WEB_TOKEN}
              key: {file: ./key.txt}

            """)
        let p = stack.project
        try "WEB_TOKEN=\(token)\n".write(toFile: stack.directory + "/.env", atomically: true, encoding: .utf8)
        try key.write(toFile: stack.directory + "/key.txt", atomically: true, encoding: .utf8)
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        // Restarted once by its policy, then healthy with a full log of 5 results.
        try stack.waitFor("web", "healthy after one restart") { record, state in
            let health = stack.engine.store.health(record.id, startedAt: state.startedAt)
            return state.status == .running && health?.status == .healthy && health?.log.count == 5
        }
        let (record, state) = try stack.container("web")

        let inspect = try stack.run(["inspect", "web"])
        #expect(inspect.code == 0, "\(inspect.stderr)")
        let documents = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])
        #expect(documents.count == 1)
        let web = try #require(documents.first)
        #expect(web["Id"] as? String == record.id)
        #expect(web["Name"] as? String == "/\(p)-web-1")
        #expect(web["RestartCount"] as? Int == 1)
        #expect(web["Path"] as? String == "sh")
        let stateDocument = try #require(web["State"] as? [String: Any])
        #expect(stateDocument["Status"] as? String == "running")
        #expect(stateDocument["Running"] as? Bool == true)
        #expect(stateDocument["Pid"] as? Int == Int(state.pid ?? -1))
        #expect(stateDocument["StartedAt"] as? String == state.startedAt)
        let health = try #require(stateDocument["Health"] as? [String: Any])
        #expect(health["Status"] as? String == "healthy")
        #expect(health["FailingStreak"] as? Int == 0)
        let log = try #require(health["Log"] as? [[String: Any]])
        #expect(log.count == 5)
        #expect(log.allSatisfy { $0["ExitCode"] as? Int == 0 && $0["Output"] as? String == "probe ok\n" })
        let hostConfig = try #require(web["HostConfig"] as? [String: Any])
        let policy = try #require(hostConfig["RestartPolicy"] as? [String: Any])
        #expect(policy["Name"] as? String == "on-failure" && policy["MaximumRetryCount"] as? Int == 2)
        #expect(hostConfig["NetworkMode"] as? String == "\(p)_default")
        let config = try #require(web["Config"] as? [String: Any])
        #expect(config["Env"] as? [String] == ["GREETING=hello"])
        #expect(config["Image"] as? String == "busybox")
        let mounts = try #require(web["Mounts"] as? [[String: Any]])
        #expect(mounts.map { $0["Destination"] as? String } == ["/run/secrets/token", "/etc/key"])
        #expect(mounts.allSatisfy { $0["RW"] as? Bool == false && $0["Type"] as? String == "bind" })
        let networks = try #require((web["NetworkSettings"] as? [String: Any])?["Networks"] as? [String: [String: Any]])
        let address = try #require(networks["\(p)_default"]?["IPAddress"] as? String)
        #expect(address.hasPrefix("10."))

        // Templates, several names, an ID prefix, and a name that is no container.
        let template = try stack.run(["inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.Health.Status}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "\(p)-web-1", String(record.id.prefix(12))])
        #expect(template.stdout == "running 1 healthy \(address)\nrunning 1 healthy \(address)\n", "\(template.stderr)")
        let missing = try stack.run(["inspect", "-f", "{{.Name}}", "nosuch", "web"])
        #expect(missing.code == 1)
        #expect(missing.stdout == "/\(p)-web-1\n")
        #expect(missing.stderr == "Error: No such object: nosuch\n")
        #expect(try stack.run(["inspect", "--type", "container", "nosuch"]).stderr == "Error: No such container: nosuch\n")
        // By name from anywhere: no Compose file needed.
        let outside = try TestProcess.spawn(["/usr/bin/env", "-C", "/", berthBinary, "inspect", "--format", "json", "\(p)-web-1"], environment: stack.environment)
        #expect(outside.code == 0 && outside.stdout.hasPrefix("[{\"Id\":\"\(record.id)\""), "\(outside.stderr)")

        // The secrets' values are in the container (mode 0400 for the key), never in what berth shows.
        #expect(try stack.run(["exec", "-T", "web", "sh", "-c", "cat /run/secrets/token; stat -c %a /etc/key"]).stdout == "\(token)400\n")
        let everything = [
            inspect, template, missing, outside, try stack.run(["inspect", "-s", "--format", "json", "web"]),
            try stack.run(["inspect", "-f", "{{json .}}", "web"]), try stack.run(["logs", "web"]), try stack.run(["ps", "-a", "--format", "json"]),
        ]
        for output in everything {
            #expect(!output.stdout.contains(token) && !output.stderr.contains(token))
            #expect(!output.stdout.contains(key) && !output.stderr.contains(key))
        }
        #expect(everything[4].stdout.contains("\"SizeRw\":"))

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    @Test func logsFollowARestartingContainerThroughItsRunsUntilDown() throws {
        let stack = try StackFixture("""
            services:
              crash:
                image: busybox
                command: [sh, -c, "echo run start; rm -f /tmp/f; mkfifo /tmp/f; read line < /tmp/f; echo run end; exit 1"]
                restart: always

            """)
        #expect(try stack.run(["up", "-d"]).code == 0)
        let logs = try LiveProcess(
            ["/usr/bin/env", "-C", stack.directory, berthBinary, "logs", "-f", "--no-log-prefix"], environment: stack.environment)
        try logs.waitForStdout(containing: "run start\n")
        // The first run ends; its policy starts it again after the back-off; logs goes on.
        #expect(try stack.run(["exec", "-T", "crash", "sh", "-c", "echo go > /tmp/f"]).code == 0)
        try logs.waitForStdout(containing: "run end\nrun start\n")
        #expect(try stack.run(["inspect", "-f", "{{.RestartCount}}", "crash"]).stdout == "1\n")

        // down stops it for good: logs -f ends by itself.
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        let ended = logs.wait(deadlineSeconds: 60)
        #expect(ended == 0, "logs -f ends once down has stopped the container")
        #expect(logs.stdout == "run start\nrun end\nrun start\n")
        #expect(left == [])
    }
}

extension LiveProcess {
    /// The exit code, or nil (after a SIGKILL) if it has not ended within `deadlineSeconds`.
    func wait(deadlineSeconds: Int32) -> Int32? {
        if let fd = ProcessIdentity.of(process.processIdentifier)?.openPidfd() {
            defer { Glibc.close(fd) }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, deadlineSeconds * 1000) != 1 {
                kill(SIGKILL)
                _ = wait()
                return nil
            }
        }
        return wait()
    }
}
