import Testing
import BerthTestSupport
import BerthRuntime
import ComposeSpec
@testable import BerthOrchestrator

@Suite("service → container spec") struct ServiceContainerTests {
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    let image = ResolvedImage(
        reference: "busybox", digest: "sha256:ab", layers: ["/img/l2", "/img/l1"],
        config: ImageConfig(entrypoint: ["/entry"], cmd: ["serve"], env: ["PATH=/img/bin", "MODE=image"], workingDir: "/srv", user: "nobody", stopSignal: "SIGQUIT"))

    func spec(_ yaml: String, service: String = "web") throws -> ContainerSpec {
        let p = try loadProject(yaml)
        return try ServiceContainer.spec(
            project: p, service: service, service: p.services[service]!, containerName: "demo-web-1", id: id,
            image: image, directory: "/var/lib/berth/containers/\(id)")
    }

    @Test func imageDefaultsApplyUnlessTheServiceOverrides() throws {
        let s = try spec("services:\n  web:\n    image: busybox\n    environment: {MODE: service, EXTRA: x}\n")
        #expect(s.process.args == ["/entry", "serve"])
        #expect(s.process.env == ["PATH=/img/bin", "HOSTNAME=0123456789ab", "MODE=service", "EXTRA=x"])
        #expect(s.process.cwd == "/srv" && s.process.user == "nobody")
        #expect(s.hostname == "0123456789ab")
        #expect(s.stopSignal == 3 && s.stopTimeoutMilliseconds == 10_000)
        #expect(s.root == .overlay(lower: ["/img/l2", "/img/l1"], writableDir: "/var/lib/berth/containers/\(id)/rw", readOnly: false))
        #expect(s.log == ContainerSpec.LogConfig(path: "/var/lib/berth/containers/\(id)/\(id)-json.log"))
        #expect(s.name == "demo-web-1" && s.project == "demo")

        let o = try spec("""
            services:
              web:
                image: busybox
                entrypoint: [sh, -c]
                command: [echo hi]
                working_dir: /tmp
                user: "1000:1000"
                hostname: front
                tty: true
                stop_signal: SIGINT
                stop_grace_period: 3s
                read_only: true
                init: true
            """)
        #expect(o.process.args == ["sh", "-c", "echo hi"])
        #expect(o.process.env == ["PATH=/img/bin", "HOSTNAME=front", "TERM=xterm", "MODE=image"])
        #expect(o.process.cwd == "/tmp" && o.process.user == "1000:1000" && o.process.terminal)
        #expect(o.stopSignal == 2 && o.stopTimeoutMilliseconds == 3000 && o.useInit && o.root.readOnly)
    }

    /// Docker drops the image's CMD when the entrypoint is overridden.
    @Test func anEntrypointOverrideDropsTheImageCommand() throws {
        #expect(try spec("services:\n  web:\n    image: busybox\n    entrypoint: /bin/true\n").process.args == ["/bin/true"])
    }

    @Test func limitsSecurityAndMounts() throws {
        let s = try spec("""
            services:
              web:
                image: busybox
                mem_limit: 64m
                pids_limit: 50
                cpus: 0.5
                cap_add: [NET_ADMIN]
                cap_drop: [ALL]
                security_opt: ["no-new-privileges:true", "seccomp:unconfined"]
                sysctls: {net.core.somaxconn: "1024"}
                ulimits: {nofile: {soft: 100, hard: 200}}
                volumes: ["/srv/data:/data:ro", {type: tmpfs, target: /cache, tmpfs: {size: 1m}}]
                tmpfs: ["/run:size=64k"]
                pid: host
                network_mode: none
            """)
        #expect(s.resources.memoryLimit == 64 << 20 && s.resources.pidsLimit == 50 && s.resources.cpus == 0.5)
        #expect(s.security.capAdd == ["NET_ADMIN"] && s.security.capDrop == ["ALL"])
        #expect(s.security.noNewPrivileges && s.security.seccomp == .unconfined)
        #expect(s.sysctls.map { "\($0.key)=\($0.value)" } == ["net.core.somaxconn=1024"])
        #expect(s.rlimits == [ContainerSpec.Rlimit(resource: 7, name: "nofile", soft: 100, hard: 200)])
        #expect(s.mounts.map(\.destination) == ["/data", "/cache", "/run"])
        #expect(s.mounts[0].kind == .bind(source: "/srv/data") && s.mounts[0].readOnly)
        #expect(s.mounts[1].kind == .tmpfs(options: "size=1048576"))
        #expect(s.mounts[2].kind == .tmpfs(options: "size=64k"))
        #expect(s.namespaces.pid == .host && s.namespaces.network == .private)
    }

    @Test func whatBerthCannotHonourIsRefusedWithTheKey() throws {
        #expect(throws: ServiceConfigError(service: "web", key: "volumes[0]", message: "volumes need berth's volume store: create the container through `berth up`")) {
            try spec("services:\n  web:\n    image: busybox\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "logging.driver", message: "\"syslog\" is not supported; berth writes json-file logs (or none)")) {
            try spec("services:\n  web:\n    image: busybox\n    logging: {driver: syslog}\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "stop_signal", message: "unknown signal \"SIGNOPE\"; use a name such as SIGTERM or SIGQUIT, or a number")) {
            try spec("services:\n  web:\n    image: busybox\n    stop_signal: SIGNOPE\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "security_opt", message: "\"apparmor=myprofile\" is not supported; use no-new-privileges, seccomp=unconfined, label=disable or apparmor=unconfined")) {
            try spec("services:\n  web:\n    image: busybox\n    security_opt: [apparmor=myprofile]\n")
        }
        #expect(ServiceConfigError(service: "web", key: "k", message: "m").description == "service \"web\": k: m")
    }
}
