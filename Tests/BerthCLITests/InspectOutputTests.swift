import BerthRuntime
import Testing
@testable import BerthCLI
@testable import BerthNetwork
@testable import BerthOrchestrator

/// `berth inspect`'s document for fixed records: Docker's container inspect shape, exactly.
@Suite("inspect output")
struct InspectOutputTests {
    static let id = "0123456789ab" + String(repeating: "cd", count: 26)
    static let directory = "/var/lib/berth/containers/\(id)"

    static var record: ContainerRecord {
        ContainerRecord(
            id: id, name: "demo-web-1", project: "demo", service: "web", number: 1, oneOff: false,
            labels: [["com.docker.compose.project", "demo"], ["com.docker.compose.service", "web"], ["org.example.role", "front"]],
            image: "busybox", imageDigest: "sha256:" + String(repeating: "e", count: 64), configHash: "h", command: ["sh", "-c", "echo <hi> && sleep 9"],
            created: "2024-01-01T00:00:00.5Z", exposedPorts: ["9000/tcp"],
            createConfig: CreateConfig(
                entrypoint: nil, cmd: ["sh", "-c", "echo <hi> && sleep 9"], user: "", workingDir: "/srv", env: ["PATH=/bin", "A=1"], stopSignal: "SIGQUIT",
                stopTimeout: 3, logDriver: "json-file", logOptions: ["max-size": "10m"], volumes: ["/cache"], imageLabels: ["org.example.role": "base", "vendor": "x"]))
    }

    static var spec: ContainerSpec {
        var spec = ContainerSpec(
            name: "demo-web-1", project: "demo", root: .overlay(lower: ["/l/2/diff", "/l/1/diff"], writableDir: directory + "/rw", readOnly: false),
            process: .init(args: ["sh", "-c", "echo <hi> && sleep 9"], env: ["PATH=/bin", "HOSTNAME=web", "A=1"], cwd: "/srv"))
        spec.hostname = "web"
        spec.mounts = [
            .init(kind: .volume(.init(name: "demo_data", directory: "/var/lib/berth/volumes/demo_data")), destination: "/data"),
            .init(kind: .bind(source: "/home/u/conf"), destination: "/conf", readOnly: true),
            .init(kind: .tmpfs(options: "size=1m"), destination: "/run"),
            .init(kind: .bind(source: directory + "/secrets/0"), destination: "/run/secrets/token", readOnly: true),
        ]
        spec.resources.memoryLimit = 64 << 20
        spec.resources.cpus = 0.5
        spec.resources.pidsLimit = 100
        spec.security.capAdd = ["NET_ADMIN"]
        spec.security.maskedPaths = ["/proc/kcore"]
        spec.security.readonlyPaths = ["/proc/sys"]
        spec.stopSignal = 3
        spec.log = .init(path: directory + "/\(id)-json.log", maxSize: 10 << 20)
        return spec
    }

    static var launch: LaunchConfig {
        LaunchConfig(
            service: "web", networkMode: .bridge,
            networks: [.init(network: "demo_default", aliases: ["web"], ipv4Address: nil, macAddress: nil, interface: nil)],
            ports: [.init(hostIP: nil, hostPortLow: 8080, hostPortHigh: nil, containerPort: 80, proto: "tcp")], extraHosts: [], dns: [], dnsSearch: [],
            dnsOptions: [], hostname: "web", domainname: nil,
            healthcheck: HealthConfig(test: ["CMD-SHELL", "true"], interval: 1_000_000_000, retries: 2, shell: ["/bin/sh", "-c"]),
            restart: RestartPolicy(condition: .onFailure, maxAttempts: 3), onUnhealthy: nil)
    }

    static var network: NetworkRecord {
        let endpoint = Endpoint(
            container: "demo-web-1", address: IPv4Address(10, 213, 1, 2), mac: MACAddress(bytes: [2, 0x42, 10, 213, 1, 2])!, hostInterface: "veth0",
            interface: "eth0", namespace: "/run/berth/netns/demo-web-1", aliases: ["web"], ports: [PortBinding(hostPort: 8080, containerPort: 80)])
        return NetworkRecord(
            name: "demo_default", id: String(repeating: "9", count: 64), bridge: "br-x", subnet: IPv4Subnet("10.213.1.0/24")!,
            gateway: IPv4Address(10, 213, 1, 1), ipRange: nil, internal: false, mtu: nil, labels: [:], options: [:], created: "",
            configuredSubnet: false, endpoints: ["demo-web-1": endpoint])
    }

    static func inspection(state: ContainerState, restartCount: Int = 2, pending: Bool = false) -> ContainerInspection {
        var restart = RestartRecord()
        restart.tracker.count = restartCount
        if pending, let run = state.startedAt { restart.pending = .init(run: run, exitCode: state.exitCode ?? 0, due: 0) }
        let health = ContainerHealth(status: .healthy, failingStreak: 0, log: [
            HealthLogEntry(start: "2024-01-01T00:00:02Z", end: "2024-01-01T00:00:02.1Z", exitCode: 0, output: "ok\n"),
        ])
        return ContainerInspection(
            record: record, state: state, spec: spec, launch: launch, health: health, restart: restart, networks: [network],
            directory: directory, runRoot: "/run/berth", size: nil)
    }

    static var running: ContainerState {
        var state = ContainerState()
        state.status = .running
        state.pid = 4242
        state.startedAt = "2024-01-01T00:00:01Z"
        return state
    }

    @Test func runningContainerIsDockersJSON() throws {
        let text = Self.inspection(state: Self.running).document.json.render()
        #expect(text == Self.expected, "\(text)")
    }

    @Test func restartingAndExitedStates() throws {
        var exited = Self.running
        exited.status = .exited
        exited.exitCode = 137
        exited.finishedAt = "2024-01-01T00:01:00Z"
        let template = try GoTemplate(parsing: "{{json .State}} {{.RestartCount}} {{.NetworkSettings.Ports}} {{range .NetworkSettings.Networks}}[{{.IPAddress}}]{{end}}")
        let restarting = try template.execute(GoTemplate.Context(data: Self.inspection(state: exited, pending: true).document))
        // Docker counts a container waiting for its restart as running, without a pid.
        #expect(restarting == #"{"Status":"restarting","Running":true,"Paused":false,"Restarting":true,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":137,"Error":"","StartedAt":"2024-01-01T00:00:01Z","FinishedAt":"2024-01-01T00:01:00Z","Health":{"Status":"healthy","FailingStreak":0,"Log":[{"Start":"2024-01-01T00:00:02Z","End":"2024-01-01T00:00:02.1Z","ExitCode":0,"Output":"ok\n"}]}} 2 map[] []"#)
        let stopped = try template.execute(GoTemplate.Context(data: Self.inspection(state: exited).document))
        #expect(stopped.hasPrefix(#"{"Status":"exited","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":137,"#))
        let created = try template.execute(GoTemplate.Context(data: Self.inspection(state: ContainerState(), restartCount: 0).document))
        #expect(created == #"{"Status":"created","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":0,"Error":"","StartedAt":"0001-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"} 0 map[] []"#)
        // A start that failed: still created (it never ran), with the runtime's reason.
        var failed = ContainerState()
        failed.status = .exited
        failed.exitCode = 127
        failed.finishedAt = "2024-01-01T00:00:03Z"
        failed.error = "exec nosuch: no such file or directory"
        let failure = try GoTemplate(parsing: "{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}").execute(GoTemplate.Context(data: Self.inspection(state: failed).document))
        #expect(failure == "created 127 exec nosuch: no such file or directory")
    }

    @Test func sizesFollowGraphDriverOnlyWhenAsked() throws {
        var inspection = Self.inspection(state: Self.running)
        inspection.size = (rw: 12, rootFs: 4108)
        let text = try GoTemplate(parsing: "{{.SizeRw}} {{.SizeRootFs}}").execute(GoTemplate.Context(data: inspection.document))
        #expect(text == "12 4108")
        guard case .object(let fields) = inspection.document.json else { Issue.record("not an object"); return }
        #expect(fields.map(\.0).suffix(6) == ["GraphDriver", "SizeRw", "SizeRootFs", "Mounts", "Config", "NetworkSettings"])
        guard case .object(let unsized) = Self.inspection(state: Self.running).document.json else { Issue.record("not an object"); return }
        #expect(unsized.map(\.0).suffix(4) == ["GraphDriver", "Mounts", "Config", "NetworkSettings"])
    }

    /// Fields Docker's JSON leaves out (`omitempty`) are still there for templates, as on
    /// Go's structs: a missing health or size is `<nil>`, not an error.
    @Test func omittedFieldsAreThereForTemplates() throws {
        var inspection = Self.inspection(state: Self.running)
        inspection.launch?.healthcheck = nil
        inspection.launch?.ports = []
        inspection.record.exposedPorts = nil
        inspection.record.createConfig?.stopSignal = nil
        let source = "{{if .State.Health}}checked{{else}}unchecked{{end}} {{.State.Health}} {{.SizeRw}} {{.HostConfig.Init}} {{.Config.ExposedPorts}} [{{.Config.StopSignal}}] {{.Config.StopTimeout}} {{.HostConfig.Tmpfs}}"
        let text = try GoTemplate(parsing: source).execute(GoTemplate.Context(data: inspection.document))
        #expect(text == "unchecked <nil> <nil> <nil> map[] [] 3 map[/run:size=1m]")
        let json = inspection.document.json.compact()
        for absent in ["\"Health\"", "\"SizeRw\"", "\"Init\"", "\"ExposedPorts\"", "\"StopSignal\"", "\"Healthcheck\"", "\"Shell\"", "\"KernelMemory\""] {
            #expect(!json.contains(absent), "\(absent) is omitted from the JSON")
        }
        #expect(json.contains("\"StopTimeout\":3") && json.contains("\"Tmpfs\":{\"/run\":\"size=1m\"}"))
    }

    @Test func resolverTakesIDNamePrefixThenService() {
        let records = [Self.record, ContainerRecord(
            id: "0123456789ff" + String(repeating: "0", count: 52), name: "other", project: "x", service: "db", number: 1, oneOff: false, labels: [],
            image: "busybox", imageDigest: nil, configHash: "h", command: [], created: "")]
        var asked = 0
        var resolver = ContainerResolver(records: records) {
            asked += 1
            return ["web": [records[0]]]
        }
        func names(_ reference: String) -> [String]? {
            if case .found(let found) = resolver.resolve(reference) { return found.map(\.name) }
            return nil
        }
        #expect(names("demo-web-1") == ["demo-web-1"])
        #expect(names("/other") == ["other"])
        #expect(names(Self.id) == ["demo-web-1"])
        #expect(names("0123456789a") == ["demo-web-1"])
        #expect(asked == 0)
        if case .ambiguous = resolver.resolve("0123") {} else { Issue.record("a shared prefix is ambiguous") }
        #expect(names("web") == ["demo-web-1"])
        if case .missing = resolver.resolve("nosuch") {} else { Issue.record("nosuch was found") }
        #expect(asked == 1)
    }

    static let expected = """
        {
            "Id": "\(id)",
            "Created": "2024-01-01T00:00:00.5Z",
            "Path": "sh",
            "Args": [
                "-c",
                "echo \\u003chi\\u003e \\u0026\\u0026 sleep 9"
            ],
            "State": {
                "Status": "running",
                "Running": true,
                "Paused": false,
                "Restarting": false,
                "OOMKilled": false,
                "Dead": false,
                "Pid": 4242,
                "ExitCode": 0,
                "Error": "",
                "StartedAt": "2024-01-01T00:00:01Z",
                "FinishedAt": "0001-01-01T00:00:00Z",
                "Health": {
                    "Status": "healthy",
                    "FailingStreak": 0,
                    "Log": [
                        {
                            "Start": "2024-01-01T00:00:02Z",
                            "End": "2024-01-01T00:00:02.1Z",
                            "ExitCode": 0,
                            "Output": "ok\\n"
                        }
                    ]
                }
            },
            "Image": "sha256:\(String(repeating: "e", count: 64))",
            "ResolvConfPath": "/run/berth/runtime/demo/demo-web-1/resolv.conf",
            "HostnamePath": "/run/berth/runtime/demo/demo-web-1/hostname",
            "HostsPath": "/run/berth/runtime/demo/demo-web-1/hosts",
            "LogPath": "\(directory)/\(id)-json.log",
            "Name": "/demo-web-1",
            "RestartCount": 2,
            "Driver": "overlay",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": null,
            "HostConfig": {
                "Binds": [
                    "demo_data:/data:rw",
                    "/home/u/conf:/conf:ro"
                ],
                "ContainerIDFile": "",
                "LogConfig": {
                    "Type": "json-file",
                    "Config": {
                        "max-size": "10m"
                    }
                },
                "NetworkMode": "demo_default",
                "PortBindings": {
                    "80/tcp": [
                        {
                            "HostIp": "",
                            "HostPort": "8080"
                        }
                    ]
                },
                "RestartPolicy": {
                    "Name": "on-failure",
                    "MaximumRetryCount": 3
                },
                "AutoRemove": false,
                "VolumeDriver": "",
                "VolumesFrom": null,
                "ConsoleSize": [
                    0,
                    0
                ],
                "CapAdd": [
                    "NET_ADMIN"
                ],
                "CapDrop": null,
                "CgroupnsMode": "private",
                "Dns": null,
                "DnsOptions": null,
                "DnsSearch": null,
                "ExtraHosts": null,
                "GroupAdd": null,
                "IpcMode": "private",
                "Cgroup": "",
                "Links": null,
                "OomScoreAdj": 0,
                "PidMode": "",
                "Privileged": false,
                "PublishAllPorts": false,
                "ReadonlyRootfs": false,
                "SecurityOpt": null,
                "Tmpfs": {
                    "/run": "size=1m"
                },
                "UTSMode": "",
                "UsernsMode": "",
                "ShmSize": 67108864,
                "Runtime": "berth-runtime",
                "Isolation": "",
                "CpuShares": 0,
                "Memory": 67108864,
                "NanoCpus": 500000000,
                "CgroupParent": "",
                "BlkioWeight": 0,
                "BlkioWeightDevice": null,
                "BlkioDeviceReadBps": null,
                "BlkioDeviceWriteBps": null,
                "BlkioDeviceReadIOps": null,
                "BlkioDeviceWriteIOps": null,
                "CpuPeriod": 0,
                "CpuQuota": 0,
                "CpuRealtimePeriod": 0,
                "CpuRealtimeRuntime": 0,
                "CpusetCpus": "",
                "CpusetMems": "",
                "Devices": null,
                "DeviceCgroupRules": null,
                "DeviceRequests": null,
                "MemoryReservation": 0,
                "MemorySwap": 0,
                "MemorySwappiness": null,
                "OomKillDisable": null,
                "PidsLimit": 100,
                "Ulimits": null,
                "CpuCount": 0,
                "CpuPercent": 0,
                "IOMaximumIOps": 0,
                "IOMaximumBandwidth": 0,
                "Mounts": [
                    {
                        "Type": "bind",
                        "Source": "\(directory)/secrets/0",
                        "Target": "/run/secrets/token",
                        "ReadOnly": true
                    }
                ],
                "MaskedPaths": [
                    "/proc/kcore"
                ],
                "ReadonlyPaths": [
                    "/proc/sys"
                ]
            },
            "GraphDriver": {
                "Data": {
                    "LowerDir": "/l/2/diff:/l/1/diff",
                    "MergedDir": "/run/berth/runtime/demo/demo-web-1/rootfs",
                    "UpperDir": "\(directory)/rw/upper",
                    "WorkDir": "\(directory)/rw/work"
                },
                "Name": "overlay"
            },
            "Mounts": [
                {
                    "Type": "volume",
                    "Name": "demo_data",
                    "Source": "/var/lib/berth/volumes/demo_data/_data",
                    "Destination": "/data",
                    "Driver": "local",
                    "Mode": "rw",
                    "RW": true,
                    "Propagation": ""
                },
                {
                    "Type": "bind",
                    "Source": "/home/u/conf",
                    "Destination": "/conf",
                    "Mode": "ro",
                    "RW": false,
                    "Propagation": "rprivate"
                },
                {
                    "Type": "bind",
                    "Source": "\(directory)/secrets/0",
                    "Destination": "/run/secrets/token",
                    "Mode": "",
                    "RW": false,
                    "Propagation": "rprivate"
                }
            ],
            "Config": {
                "Hostname": "web",
                "Domainname": "",
                "User": "",
                "AttachStdin": false,
                "AttachStdout": true,
                "AttachStderr": true,
                "ExposedPorts": {
                    "80/tcp": {},
                    "9000/tcp": {}
                },
                "Tty": false,
                "OpenStdin": false,
                "StdinOnce": false,
                "Env": [
                    "PATH=/bin",
                    "A=1"
                ],
                "Cmd": [
                    "sh",
                    "-c",
                    "echo \\u003chi\\u003e \\u0026\\u0026 sleep 9"
                ],
                "Healthcheck": {
                    "Test": [
                        "CMD-SHELL",
                        "true"
                    ],
                    "Interval": 1000000000,
                    "Retries": 2
                },
                "Image": "busybox",
                "Volumes": {
                    "/cache": {}
                },
                "WorkingDir": "/srv",
                "Entrypoint": null,
                "OnBuild": null,
                "Labels": {
                    "com.docker.compose.project": "demo",
                    "com.docker.compose.service": "web",
                    "org.example.role": "front",
                    "vendor": "x"
                },
                "StopSignal": "SIGQUIT",
                "StopTimeout": 3
            },
            "NetworkSettings": {
                "Bridge": "",
                "SandboxID": "",
                "SandboxKey": "/run/berth/netns/demo-web-1",
                "Ports": {
                    "80/tcp": [
                        {
                            "HostIp": "0.0.0.0",
                            "HostPort": "8080"
                        }
                    ],
                    "9000/tcp": null
                },
                "HairpinMode": false,
                "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0,
                "SecondaryIPAddresses": null,
                "SecondaryIPv6Addresses": null,
                "EndpointID": "",
                "Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "MacAddress": "",
                "Networks": {
                    "demo_default": {
                        "IPAMConfig": null,
                        "Links": null,
                        "Aliases": [
                            "demo-web-1",
                            "web"
                        ],
                        "MacAddress": "02:42:0a:d5:01:02",
                        "DriverOpts": null,
                        "GwPriority": 0,
                        "NetworkID": "\(String(repeating: "9", count: 64))",
                        "EndpointID": "",
                        "Gateway": "10.213.1.1",
                        "IPAddress": "10.213.1.2",
                        "IPPrefixLen": 24,
                        "IPv6Gateway": "",
                        "GlobalIPv6Address": "",
                        "GlobalIPv6PrefixLen": 0,
                        "DNSNames": [
                            "demo-web-1",
                            "web",
                            "0123456789ab"
                        ]
                    }
                }
            }
        }
        """
}
