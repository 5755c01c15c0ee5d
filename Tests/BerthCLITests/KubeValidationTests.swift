import BerthKube
import BerthTestSupport
import Foundation
import Testing

/// The package's root directory (samples/, .build/).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// `kubernetes-validate` (PyPI): $KUBERNETES_VALIDATE, else the one `make test` installs into
/// .build/kube-venv, else one on PATH.
let kubernetesValidate: String? = {
    var candidates = [ProcessInfo.processInfo.environment["KUBERNETES_VALIDATE"] ?? "", packageRoot + "/.build/kube-venv/bin/kubernetes-validate"]
    candidates += (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/kubernetes-validate" }
    return candidates.first { !$0.isEmpty && FileManager.default.isExecutableFile(atPath: $0) }
}()

/// `berth kube generate` writes YAML that Kubernetes' own schemas accept, strictly (no
/// unknown field anywhere), for every sample and for projects that use most of what it
/// translates.
@Suite(.enabled(if: kubernetesValidate != nil, "kubernetes-validate is not installed (make test installs it from PyPI into .build/kube-venv)"))
struct KubeValidationTests {
    static let samples: [String] = {
        let directory = packageRoot + "/samples"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.sorted().filter { FileManager.default.fileExists(atPath: "\(directory)/\($0)/compose.yaml") }
    }()

    /// Validates `yaml`; the validator's complaints, or "" when it accepts every object.
    func validate(_ yaml: String) throws -> String {
        let file = NSTemporaryDirectory() + "berth-kube-\(UInt32.random(in: 0...UInt32.max)).yaml"
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let run = try TestProcess.spawn([kubernetesValidate ?? "kubernetes-validate", "--strict", "--quiet", file])
        return run.code == 0 ? run.stdout + run.stderr : "exit \(run.code): \(run.stdout)\(run.stderr)"
    }

    @Test func everySampleValidates() throws {
        #expect(!Self.samples.isEmpty)
        for sample in Self.samples {
            let generated = berth(["-f", "\(packageRoot)/samples/\(sample)/compose.yaml", "kube", "generate"])
            #expect(generated.code == 0, "\(sample): \(generated.stderr)")
            #expect(generated.stdout.contains("kind: Deployment"))
            #expect(try validate(generated.stdout) == "", "samples/\(sample)")
        }
    }

    static let projects: [String: String] = [
        "shop": """
            services:
              web:
                image: nginx:1.25
                entrypoint: [/docker-entrypoint.sh]
                command: [nginx, -g, "daemon off;"]
                environment: {MODE: production, GREETING: "hello $$(whoami)"}
                ports: ["127.0.0.1:8080:80", "443:443", "53:53/udp"]
                expose: ["9000"]
                healthcheck: {test: [HTTP-GET, "http://127.0.0.1:80/healthz", "X-Probe: 1"], interval: 5s, timeout: 2s, retries: 5, start_period: 20s}
                deploy:
                  replicas: 3
                  resources: {limits: {cpus: "0.5", memory: 256M}, reservations: {cpus: "0.25", memory: 64M}}
                user: "101:101"
                cap_drop: [ALL]
                cap_add: [CAP_NET_BIND_SERVICE]
                read_only: true
                security_opt: [no-new-privileges, "seccomp:unconfined"]
                volumes:
                  - static:/usr/share/nginx/html:ro
                  - {type: tmpfs, target: /var/cache/nginx, tmpfs: {size: 64m}}
                  - /var/log
                tmpfs: ["/run:size=16m"]
                configs: [{source: nginx_conf, target: /etc/nginx/conf.d/default.conf, mode: 0440}]
                secrets: [api_key]
                labels: {tier: frontend, com.example.description: "Shop front"}
                annotations: {note: "free text"}
                networks: {default: {aliases: [shop-front]}}
                depends_on: [api]
                post_start: [{command: [touch, /tmp/started]}]
                pre_stop: [{command: [nginx, -s, quit]}]
                x-berth: {on-unhealthy: restart}
              api:
                image: busybox
                command: sh -c 'exec httpd -f -p 8000'
                expose: ["8000"]
                restart: on-failure
                stop_grace_period: 3s
                healthcheck: {test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8000/ || exit 1"], start_period: 10s, start_interval: 2s}
                volumes: [data:/data, ./local:/local]
                extra_hosts: ["db.local=10.0.0.5", "cache.local=10.0.0.5"]
                sysctls: {net.core.somaxconn: "1024"}
                dns: [10.0.0.2]
                dns_search: [shop.local]
                dns_opt: [ndots:2, rotate]
                hostname: api-host
                group_add: ["2000"]
                tty: true
                stdin_open: true
                working_dir: /srv
              host:
                image: busybox
                network_mode: host
                privileged: true
                pid: host
                ipc: host
                scale: 2
            volumes:
              static: {}
              data: {labels: {backup: daily}}
            configs:
              nginx_conf: {content: "server { listen 80; }\\n"}
            secrets:
              api_key: {environment: API_KEY}
            """,
        "minimal": "services:\n  one:\n    image: busybox\n",
        "pod": """
            services:
              web: {image: busybox, command: [httpd, -f, -p, "80"], ports: ["8080:80"], x-berth: {pod: front}}
              cache: {image: busybox, expose: ["6379"], healthcheck: {test: [CMD, "true"]}, x-berth: {pod: front}}
              migrate: {image: busybox, command: ["true"], x-berth: {pod: front, init: true}}
            """,
    ]

    @Test func richerProjectsValidate() throws {
        for (name, compose) in Self.projects.sorted(by: { $0.key < $1.key }) {
            let directory = try scratch(["compose.yaml": "name: \(name)\n" + compose])
            defer { removeScratch(directory) }
            let generated = berth(["kube", "generate"], in: directory, environment: ["API_KEY": "abc123"])
            #expect(generated.code == 0, "\(name): \(generated.stderr)")
            #expect(try validate(generated.stdout) == "", "\(name)")
        }
    }

    /// What kube play makes of a manifest set, written back by kube generate, validates too.
    @Test func playedManifestsGenerateValidYAML() throws {
        let directory = try scratch([:])
        defer { removeScratch(directory) }
        let played = try KubePlay.translate(
            [KubePlay.File(name: "app.yaml", bytes: Array(KubeStackTests.manifests(nodePort: 30080).utf8))], projectName: "played", workingDirectory: directory)
        try played.compose.write(toFile: directory + "/compose.yaml", atomically: true, encoding: .utf8)
        let generated = berth(["kube", "generate"], in: directory, environment: played.environment)
        #expect(generated.code == 0, "\(generated.stderr)")
        #expect(try validate(generated.stdout) == "")
    }
}
