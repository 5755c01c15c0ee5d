import BerthNetwork
import BerthOrchestrator
import BerthRuntime
import BerthSystem

/// One container as `docker container inspect` shows it (moby's `container.InspectResponse`:
/// the same fields, in the same order, with the same JSON kinds), worked out from what berth
/// keeps: the record, the state, the runtime spec, the launch config, health.json,
/// restart.json and the network store. Pure: the caller reads the files.
///
/// Where berth has no counterpart the value is Docker's zero (`""`, `0`, `null`); secrets
/// and configs appear only as the read-only bind of their file, never with their content.
struct ContainerInspection {
    var record: ContainerRecord
    /// Brought up to date (`ContainerEngine.observe`).
    var state: ContainerState
    var spec: ContainerSpec?
    var launch: LaunchConfig?
    /// The health of the last run (`ContainerStore.health` with its `startedAt`).
    var health: ContainerHealth?
    var restart: RestartRecord
    /// The stored networks: their endpoints hold the running container's addresses and ports.
    var networks: [NetworkRecord]
    /// `<root>/containers/<id>`.
    var directory: String
    var runRoot: String
    /// `--size`: bytes of the writable layer, and of it plus the image's layers.
    var size: (rw: Int64, rootFs: Int64)?

    static let zeroTime = "0001-01-01T00:00:00Z"

    /// The name the runtime knows the container by (its state directory, namespace pin and
    /// endpoints): the spec's.
    var runName: String { spec?.name ?? record.name }

    var isRunning: Bool { state.status == .running }
    var isRestarting: Bool { state.status == .exited && state.startedAt != nil && restart.pending?.run == state.startedAt }

    var document: TemplateData {
        let fields: [(String, TemplateData)] = [
            ("Id", .string(record.id)),
            ("Created", .string(record.created)),
            ("Path", .string(record.command.first ?? "")),
            ("Args", .strings(Array(record.command.dropFirst()))),
            ("State", stateDocument),
            ("Image", .string(record.imageDigest ?? "")),
            ("ResolvConfPath", .string(runtimeFile("resolv.conf"))),
            ("HostnamePath", .string(runtimeFile("hostname"))),
            ("HostsPath", .string(runtimeFile("hosts"))),
            ("LogPath", .string(spec?.log?.path ?? "")),
            ("Name", .string("/" + record.name)),
            ("RestartCount", .int(Int64(restart.tracker.count))),
            ("Driver", .string("overlay")),
            ("Platform", .string("linux")),
            ("MountLabel", .string("")),
            ("ProcessLabel", .string("")),
            ("AppArmorProfile", .string("")),
            ("ExecIDs", .list(nil)),
            ("HostConfig", hostConfig),
            ("GraphDriver", graphDriver),
            ("SizeRw", .omitNil(size.map { .int($0.rw) })),
            ("SizeRootFs", .omitNil(size.map { .int($0.rootFs) })),
            ("Mounts", .list(mountPoints)),
            ("Config", config),
            ("NetworkSettings", networkSettings),
            ("ImageManifestDescriptor", .omitNil(nil)),
        ]
        return .object(fields)
    }

    /// Files of the container's runtime state directory (present while it runs).
    func runtimeFile(_ name: String) -> String {
        "\(runRoot)/runtime/\(record.project)/\(runName)/\(name)"
    }

    // MARK: State

    var stateDocument: TemplateData {
        let status: String
        switch state.status {
        case .running: status = "running"
        case .created: status = "created"
        case .exited: status = state.startedAt == nil ? "created" : (isRestarting ? "restarting" : "exited")
        }
        // Docker counts a container waiting for its restart as running (moby `SetRestarting`).
        // A run not probed yet is `starting`, as Docker's health monitor begins.
        var health: ContainerHealth?
        if launch?.healthcheck != nil, state.startedAt != nil { health = self.health ?? (isRunning ? ContainerHealth() : nil) }
        return .object([
            ("Status", .string(status)),
            ("Running", .bool(isRunning || isRestarting)),
            ("Paused", .bool(false)),
            ("Restarting", .bool(isRestarting)),
            ("OOMKilled", .bool(state.oomKilled)),
            ("Dead", .bool(false)),
            ("Pid", .int(isRunning ? Int64(state.pid ?? 0) : 0)),
            ("ExitCode", .int(isRunning ? 0 : Int64(state.exitCode ?? 0))),
            ("Error", .string(state.error ?? "")),
            ("StartedAt", .string(state.startedAt ?? Self.zeroTime)),
            ("FinishedAt", .string(isRunning ? Self.zeroTime : state.finishedAt ?? Self.zeroTime)),
            ("Health", .omitNil(health.map(Self.healthDocument))),
        ])
    }

    static func healthDocument(_ health: ContainerHealth) -> TemplateData {
        .object([
            ("Status", .string(health.status.rawValue)),
            ("FailingStreak", .int(Int64(health.failingStreak))),
            ("Log", .list(health.log.map { entry in
                .object([
                    ("Start", .string(entry.start)), ("End", .string(entry.end)), ("ExitCode", .int(Int64(entry.exitCode))),
                    ("Output", .string(entry.output)),
                ])
            })),
        ])
    }

    // MARK: Config

    var config: TemplateData {
        let create = record.createConfig
        let exposed = exposedPorts
        var labels: [String: String] = create?.imageLabels ?? [:]
        for pair in record.labels where pair.count == 2 { labels[pair[0]] = pair[1] }
        let volumes: TemplateData = (create?.volumes).flatMap { $0.isEmpty ? nil : TemplateData.map($0.map { ($0, .object([])) }) } ?? .map(nil)
        let stopTimeout: TemplateData? = create?.stopTimeout.map { .int(Int64($0)) }
        let fields: [(String, TemplateData)] = [
            ("Hostname", .string(launch?.hostname ?? spec?.hostname ?? String(record.id.prefix(12)))),
            ("Domainname", .string(spec?.domainname ?? "")),
            ("User", .string(create?.user ?? spec?.process.user ?? "")),
            ("AttachStdin", .bool(false)),
            ("AttachStdout", .bool(true)),
            ("AttachStderr", .bool(true)),
            ("ExposedPorts", .omitEmpty(.map(exposed.map { ($0, .object([])) }))),
            ("Tty", .bool(spec?.process.terminal ?? false)),
            ("OpenStdin", .bool(spec?.process.openStdin ?? false)),
            ("StdinOnce", .bool(false)),
            ("Env", .strings(create?.env ?? spec?.process.env)),
            ("Cmd", .strings(create.map { $0.cmd } ?? record.command)),
            ("Healthcheck", .omitNil(launch?.healthcheck.map(Self.healthcheckDocument))),
            ("ArgsEscaped", .omitEmpty(.bool(false))),
            ("Image", .string(record.image)),
            ("Volumes", volumes),
            ("WorkingDir", .string(create?.workingDir ?? spec?.process.cwd ?? "")),
            ("Entrypoint", .strings(create?.entrypoint)),
            ("NetworkDisabled", .omitEmpty(.bool(false))),
            ("OnBuild", .list(nil)),
            ("Labels", .stringMap(labels.map { ($0.key, $0.value) })),
            ("StopSignal", .omitEmpty(.string(create?.stopSignal ?? ""))),
            ("StopTimeout", .omitNil(stopTimeout)),
            ("Shell", .omitEmpty(.list(nil))),
        ]
        return .object(fields)
    }

    /// Docker's `HealthConfig`: unset durations and retries are left out of its JSON.
    static func healthcheckDocument(_ check: HealthConfig) -> TemplateData {
        .object([
            ("Test", .omitEmpty(.strings(check.test))), ("Interval", .omitEmpty(.int(check.interval))), ("Timeout", .omitEmpty(.int(check.timeout))),
            ("StartPeriod", .omitEmpty(.int(check.startPeriod))), ("StartInterval", .omitEmpty(.int(check.startInterval))),
            ("Retries", .omitEmpty(.int(Int64(check.retries)))),
        ])
    }

    /// `80/tcp` for each exposed or published port, sorted by number.
    var exposedPorts: [String] {
        var ports = record.exposedPorts ?? []
        for port in launch?.ports ?? [] where !ports.contains("\(port.containerPort)/\(port.proto)") {
            ports.append("\(port.containerPort)/\(port.proto)")
        }
        return ports.sorted { Self.portOrder($0) < Self.portOrder($1) }
    }

    static func portOrder(_ key: String) -> (Int, String) {
        let parts = key.split(separator: "/", maxSplits: 1)
        return (Int(parts.first ?? "") ?? 0, parts.count > 1 ? String(parts[1]) : "")
    }
}
