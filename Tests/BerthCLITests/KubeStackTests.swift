import BerthKube
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end: `berth kube play` runs Kubernetes manifests on busybox, `kube down` takes them
/// away, and a Compose sample survives the trip through `kube generate` (root tier).
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct KubeStackTests {
    /// A Deployment of two httpd replicas serving a ConfigMap, with a claim, a Secret and
    /// HTTP probes, the Service `frontend` in front of it, and a client Pod whose port 9000
    /// a NodePort Service publishes on the host.
    static func manifests(nodePort: UInt16) -> String {
        """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: site}
        data:
          index.html: "hello from a ConfigMap\\n"
          GREETING: hi
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds}
        stringData: {token: t0ken}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 1
              containers:
              - name: httpd
                image: busybox
                command: [sh, -c, "trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"]
                env: [{name: GREETING, valueFrom: {configMapKeyRef: {name: site, key: GREETING}}}]
                ports: [{name: http, containerPort: 8080}]
                readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 2}
                livenessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 2}
                volumeMounts:
                - {name: www, mountPath: /www}
                - {name: data, mountPath: /data}
                - {name: creds, mountPath: /etc/creds}
              volumes:
              - {name: www, configMap: {name: site, items: [{key: index.html, path: index.html}]}}
              - {name: data, persistentVolumeClaim: {claimName: data}}
              - {name: creds, secret: {secretName: creds}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: frontend}
        spec:
          selector: {app: web}
          ports: [{port: 8080, targetPort: http}]
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: client, labels: {app: client}}
        spec:
          terminationGracePeriodSeconds: 1
          containers:
          - name: client
            image: busybox
            command: [sh, -c, "trap 'exit 0' TERM; httpd -f -p 9000 -h /www & wait"]
            ports: [{containerPort: 9000}]
            readinessProbe: {tcpSocket: {port: 9000}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: client-port}
        spec:
          type: NodePort
          selector: {app: client}
          ports: [{port: 9000, nodePort: \(nodePort)}]

        """
    }

    /// `berth ARGS` where no compose.yaml is (the project comes from -p and the manifests).
    func berthOutside(_ stack: StackFixture, _ args: [String]) throws -> RunOutput {
        try TestProcess.spawn(["/usr/bin/env", "-C", stack.base, berthBinary] + args, environment: stack.environment)
    }

    @Test func playAnswersByNameAndDownLeavesNothing() throws {
        let stack = try StackFixture("services: {}\n")
        let p = stack.project
        let nodePort = StackFixture.freePort()
        try Self.manifests(nodePort: nodePort).write(toFile: stack.base + "/app.yaml", atomically: true, encoding: .utf8)
        defer { _ = try? berthOutside(stack, ["-p", p, "kube", "down", "--force", "-t", "0", "app.yaml"]) }

        let play = try berthOutside(stack, ["-p", p, "kube", "play", "--wait", "--wait-timeout", "120", "app.yaml"])
        #expect(play.code == 0, "\(play.stderr)")
        #expect(play.stderr.split(separator: "\n").filter { $0.hasPrefix("WARN") } == [
            "WARN[0000] PersistentVolumeClaim/data: spec.resources.requests.storage: 1Gi is not enforced: a berth volume is a directory without a size limit"
        ])
        #expect(play.stderr.contains(" Container \(p)-web-2  Healthy\n"), "\(play.stderr)")

        // The Service's name answers from another pod, with both replicas' addresses.
        let fetched = try berthOutside(stack, ["-p", p, "exec", "-T", "client", "wget", "-q", "-O-", "http://frontend:8080/index.html"])
        #expect(fetched.code == 0 && fetched.stdout == "hello from a ConfigMap\n", "\(fetched.stderr)")
        let lookup = try berthOutside(stack, ["-p", p, "exec", "-T", "client", "nslookup", "frontend"])
        let addresses = lookup.stdout.split(separator: "\n").drop { !$0.hasPrefix("Name:") }.filter { $0.hasPrefix("Address") }
        #expect(addresses.count == 2, "\(lookup.stdout)")

        // ConfigMap and Secret values, the claim shared by the replicas, the node port.
        let env = try berthOutside(stack, ["-p", p, "exec", "-T", "web", "sh", "-c", "echo $GREETING; cat /etc/creds/token"])
        #expect(env.stdout == "hi\nt0ken", "\(env.stderr)")
        #expect(try berthOutside(stack, ["-p", p, "exec", "-T", "web", "sh", "-c", "echo shared > /data/file"]).code == 0)
        #expect(try berthOutside(stack, ["-p", p, "exec", "-T", "--index", "2", "web", "cat", "/data/file"]).stdout == "shared\n")
        #expect(StackFixture.httpGet(port: nodePort, path: "/index.html") == "hello from berth\n")
        let ps = try berthOutside(stack, ["-p", p, "ps", "--format", "{{.Name}} {{.Health}} {{.Ports}}"])
        // web's containerPort is exposed (not published): ps shows it as Docker does.
        #expect(ps.stdout == "\(p)-client-1 healthy 0.0.0.0:\(nodePort)->9000/tcp\n\(p)-web-1 healthy 8080/tcp\n\(p)-web-2 healthy 8080/tcp\n")

        // kube down: nothing left but the claim's volume, which --force removes.
        let down = try berthOutside(stack, ["-p", p, "kube", "down", "-t", "0", "app.yaml"])
        #expect(down.code == 0, "\(down.stderr)")
        #expect(stack.leftovers() == [])
        #expect(FS.exists(stack.root + "/volumes/\(p)_data/_data/file"))
        let force = try berthOutside(stack, ["-p", p, "kube", "down", "--force", "-t", "0", "app.yaml"])
        #expect(force.code == 0, "\(force.stderr)")
        #expect(force.stderr == " Volume \"\(p)_data\"  Removed\n")
        #expect(try FS.listDirectory(stack.root + "/volumes").filter { !$0.hasPrefix(".") } == [])
        #expect(stack.leftovers() == [])
    }

    /// A Pod of two containers and an init container is a berth pod: the init container runs
    /// first, the containers share localhost and one address, and kube down removes it all.
    @Test func multiContainerPodIsABerthPod() throws {
        let stack = try StackFixture("services: {}\n")
        let p = stack.project
        try """
            apiVersion: v1
            kind: Pod
            metadata: {name: app}
            spec:
              initContainers:
              - {name: prepare, image: busybox, command: [sh, -c, "echo prepared > /work/state"], volumeMounts: [{name: work, mountPath: /work}]}
              containers:
              - {name: main, image: busybox, command: [httpd, -f, -p, "80", -h, /www]}
              - {name: sidecar, image: busybox, command: [sleep, "1000"], volumeMounts: [{name: work, mountPath: /work}]}
              volumes:
              - {name: work, emptyDir: {}}
            """.write(toFile: stack.base + "/pod.yaml", atomically: true, encoding: .utf8)
        defer { _ = try? berthOutside(stack, ["-p", p, "kube", "down", "-t", "0", "pod.yaml"]) }
        let play = try berthOutside(stack, ["-p", p, "kube", "play", "pod.yaml"])
        #expect(play.code == 0, "\(play.stderr)")
        #expect(!play.stderr.contains("WARN"), "\(play.stderr)")
        #expect(try berthOutside(stack, ["-p", p, "exec", "-T", "app-sidecar", "cat", "/work/state"]).stdout == "prepared\n")
        let fetched = try berthOutside(stack, ["-p", p, "exec", "-T", "app-sidecar", "sh", "-c", "echo 'GET /index.html HTTP/1.0' | nc 127.0.0.1 80"])
        #expect(fetched.stdout.hasSuffix("\r\n\r\nhello from berth\n"), "\(fetched.stdout) \(fetched.stderr)")
        let pods = try berthOutside(stack, ["-p", p, "pod", "ls", "--format", "{{.Name}} {{.Status}} {{.Ready}} {{.Services}}"])
        #expect(pods.stdout == "app-1 Running 2/2 app-prepare (init), app-main, app-sidecar\n", "\(pods.stdout) \(pods.stderr)")

        let down = try berthOutside(stack, ["-p", p, "kube", "down", "-t", "0", "pod.yaml"])
        #expect(down.code == 0, "\(down.stderr)")
        #expect(stack.leftovers() == [])
    }

    /// samples/web-worker → `kube generate` → `kube play`: the same services, reachable the
    /// same way (the page on the published port, web by name from worker), the same volume.
    @Test func webWorkerSampleRoundTrip() throws {
        let port = StackFixture.freePort()
        let text = try String(contentsOfFile: packageRoot + "/samples/web-worker/compose.yaml", encoding: .utf8)
            .replacingOccurrences(of: "name: berth-demo\n", with: "")
            .replacingOccurrences(of: "127.0.0.1:8080:8080", with: "127.0.0.1:\(port):8080")
        let stack = try StackFixture(text)
        let p = stack.project
        let generated = try stack.run(["kube", "generate"])
        #expect(generated.code == 0)
        #expect(generated.stderr == """
            WARN[0000] service "web": healthcheck.start_interval: 200ms: Kubernetes probes count whole seconds; 1s is used
            WARN[0000] volume "site": Compose gives a volume no size: the claim asks for 1Gi
            WARN[0000] service "worker": depends_on: not translated: Kubernetes starts pods in no order; readiness probes gate traffic instead

            """)
        // Played back without -p: the project is named by app.kubernetes.io/part-of, so the
        // Compose file's commands (ps, logs, down) see the same project.
        let play = try stack.run(["kube", "play", "--wait", "--wait-timeout", "120", "-"], stdin: generated.stdout)
        #expect(play.code == 0, "\(play.stderr)")
        #expect(play.stderr.contains(" Container \(p)-web-1  Healthy\n"), "\(play.stderr)")

        let logs = try LiveProcess(
            ["/usr/bin/env", "-C", stack.directory, berthBinary, "logs", "-f", "--no-log-prefix", "worker"], environment: stack.environment)
        try logs.waitForStdout(containing: "web answered\n")
        let page = try #require(StackFixture.httpGet(port: port, path: "/index.html"))
        #expect(page.hasPrefix("<p>written at ") && page.hasSuffix(", served by web</p>\n"), "\(page)")
        let ps = try stack.run(["ps", "--format", "{{.Name}} {{.State}} {{.Health}} {{.Ports}}"])
        #expect(ps.stdout == "\(p)-web-1 running healthy 127.0.0.1:\(port)->8080/tcp\n\(p)-worker-1 running  \n")
        #expect(FS.exists(stack.root + "/volumes/\(p)_site/_data/index.html"))

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
        #expect(logs.wait() == 0, "logs -f ends with the stack")
    }
}
