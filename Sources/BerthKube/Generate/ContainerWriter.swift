import ComposeSpec

/// The pod's volumes, named once each (a volume two mounts share is declared once).
struct PodVolumes {
    private(set) var entries: [(name: String, value: OutputValue)] = []

    /// Declares `value` under a name made of `preferred`, or finds it declared already.
    mutating func add(_ preferred: String, _ value: OutputValue) -> String {
        if let existing = entries.first(where: { $0.value == value }) { return existing.name }
        let base = KubeNames.label(preferred)
        var name = base
        var counter = 2
        while entries.contains(where: { $0.name == name }) {
            name = "\(base.prefix(60))-\(counter)"
            counter += 1
        }
        entries.append((name, value))
        return name
    }

    var list: OutputValue? {
        KubeTree.list(entries.map { KubeTree.tree([("name", .string($0.name))] + (Self.fields($0.value))) })
    }

    private static func fields(_ value: OutputValue) -> [(String, OutputValue?)] {
        guard case .map(let pairs) = value else { return [] }
        return pairs.map { ($0.0, $0.1) }
    }
}

/// One Compose service → one container of a pod template (and the pod volumes it mounts).
/// Every service key it does not translate is reported, so nothing is dropped silently.
struct ContainerWriter {
    let name: String
    let service: Service
    let context: GenerateContext
    let subject: String

    /// Keys of `Service` this writer translates (or reports on its own).
    static let handledKeys: Set<String> = [
        "image", "entrypoint", "command", "environment", "working_dir", "user", "tty", "stdin_open", "ports", "expose",
        "healthcheck", "deploy", "cpus", "mem_limit", "mem_reservation", "privileged", "read_only", "cap_add", "cap_drop",
        "security_opt", "volumes", "tmpfs", "configs", "secrets", "pull_policy", "labels", "annotations", "stop_grace_period",
        "restart", "hostname", "network_mode", "networks", "pid", "ipc", "dns", "dns_search", "dns_opt", "extra_hosts",
        "sysctls", "group_add", "depends_on", "post_start", "pre_stop", "x-berth", "env_file", "scale",
    ]

    /// `probes`: false for an init container (Kubernetes refuses probes there).
    func container(volumes: inout PodVolumes, probes: Bool = true) -> OutputValue {
        var fields: [(String, OutputValue?)] = [("name", .string(name))]
        fields.append(("image", .string(service.image ?? "\(context.project.name)-\(name)")))
        if service.image == nil {
            context.report.warn(subject, "build", "not translated: the image \(context.project.name)-\(name) must be built and pushed for the cluster")
        }
        fields.append(("imagePullPolicy", .string(pullPolicy)))
        fields.append(("command", strings(service.entrypoint)))
        fields.append(("args", strings(service.command)))
        fields.append(("env", environment))
        fields.append(("workingDir", service.working_dir.map { .string($0) }))
        fields.append(("tty", service.tty == true ? .bool(true) : nil))
        fields.append(("stdin", service.stdin_open == true ? .bool(true) : nil))
        fields.append(("ports", ports))
        fields.append(("resources", resources))
        fields.append(("securityContext", securityContext))
        fields.append(("lifecycle", lifecycle))
        if probes {
            fields += ProbeWriter(service: service, subject: subject, report: context.report).probes().map { ($0.0, $0.1) }
        } else if service.healthcheck != nil {
            context.report.warn(subject, "healthcheck", "not translated: an init container has no probes")
        }
        fields.append(("volumeMounts", mounts(&volumes)))
        reportUntranslated()
        return KubeTree.tree(fields)
    }

    private var pullPolicy: String {
        switch service.pull_policy {
        case nil, "missing", "if_not_present": return "IfNotPresent"
        case "always": return "Always"
        case "never": return "Never"
        case let other?:
            context.report.warn(subject, "pull_policy", "\(other) has no Kubernetes equivalent: IfNotPresent is used")
            return "IfNotPresent"
        }
    }

    /// `command`/`args`, written so that Kubernetes' `$(VAR)` expansion leaves them as they are.
    private func strings(_ values: [String]?) -> OutputValue? {
        values.map { .list($0.map { .string(VariableExpansion.escape($0)) }) }
    }

    private var environment: OutputValue? {
        var items: [OutputValue] = []
        for (key, value) in (service.environment ?? KeyedMap()).sortedByKey() {
            guard let value else {
                context.report.warn(subject, "environment.\(key)", "has no value here: not translated")
                continue
            }
            items.append(.map([("name", .string(key)), ("value", .string(VariableExpansion.escape(value)))]))
        }
        return KubeTree.list(items)
    }

    private var ports: OutputValue? {
        var items: [OutputValue] = []
        var seen: [(Int64, String, Int64?)] = []
        func add(_ port: Int64, _ proto: String, hostPort: Int64? = nil, hostIP: String? = nil) {
            guard !seen.contains(where: { $0.0 == port && $0.1 == proto && $0.2 == hostPort }) else { return }
            seen.append((port, proto, hostPort))
            items.append(KubeTree.tree([
                ("containerPort", .int(port)), ("protocol", .string(proto.uppercased())), ("hostPort", KubeTree.int(hostPort)),
                ("hostIP", hostIP.map { .string($0) }),
            ]))
        }
        for (index, port) in (service.ports ?? []).enumerated() {
            let proto = port.protocol ?? "tcp"
            guard proto == "tcp" || proto == "udp" else {
                context.report.warn(subject, "ports[\(index)]", "protocol \(proto) is not translated")
                continue
            }
            let hostIP = port.host_ip.flatMap { $0.isEmpty || $0 == "0.0.0.0" ? nil : $0 }
            if let published = port.published, !published.isEmpty {
                guard let hostPort = Int64(published) else {
                    context.report.warn(subject, "ports[\(index)]", "the host port range \(published) is not translated: use one port")
                    add(Int64(port.target), proto)
                    continue
                }
                add(Int64(port.target), proto, hostPort: hostPort, hostIP: hostIP)
            } else {
                context.report.warn(subject, "ports[\(index)]", "published on a random host port: not translated; the Service \(name) reaches port \(port.target)")
                add(Int64(port.target), proto)
            }
        }
        for entry in service.expose ?? [] {
            let parts = entry.split(separator: "/").map(String.init)
            guard let port = Int64(parts.first ?? "") else {
                context.report.warn(subject, "expose", "\(entry): port ranges are not translated")
                continue
            }
            add(port, parts.count > 1 ? parts[1] : "tcp")
        }
        return KubeTree.list(items)
    }

    /// The container's distinct ports, for its Service.
    var servicePorts: [(port: Int64, proto: String)] {
        var out: [(port: Int64, proto: String)] = []
        for port in service.ports ?? [] where ["tcp", "udp"].contains(port.protocol ?? "tcp") {
            let entry = (Int64(port.target), port.protocol ?? "tcp")
            if !out.contains(where: { $0 == entry }) { out.append(entry) }
        }
        for entry in service.expose ?? [] {
            let parts = entry.split(separator: "/").map(String.init)
            guard let port = Int64(parts.first ?? "") else { continue }
            let item = (port, parts.count > 1 ? parts[1] : "tcp")
            if !out.contains(where: { $0 == item }) { out.append(item) }
        }
        return out.sorted { ($0.port, $0.proto) < ($1.port, $1.proto) }
    }

    private var resources: OutputValue? {
        let limits = service.deploy?.resources?.limits
        let reservations = service.deploy?.resources?.reservations
        func pairs(cpus: Double?, memory: ByteSize?) -> OutputValue? {
            let fields: [(String, OutputValue?)] = [
                ("cpu", cpus.map { .string(Quantity.cpuText($0)) }), ("memory", memory.map { .string(Quantity.bytesText($0.bytes)) }),
            ]
            return fields.contains { $0.1 != nil } ? KubeTree.tree(fields) : nil
        }
        for (kind, resource) in [("limits", limits), ("reservations", reservations)] {
            if resource?.pids != nil { context.report.warn(subject, "deploy.resources.\(kind).pids", "not translated") }
            if resource?.devices != nil { context.report.warn(subject, "deploy.resources.\(kind).devices", "not translated") }
            if resource?.generic_resources != nil { context.report.warn(subject, "deploy.resources.\(kind).generic_resources", "not translated") }
        }
        let fields: [(String, OutputValue?)] = [
            ("limits", pairs(cpus: service.cpus ?? limits?.cpus, memory: service.mem_limit ?? limits?.memory)),
            ("requests", pairs(cpus: reservations?.cpus, memory: service.mem_reservation ?? reservations?.memory)),
        ]
        return fields.contains { $0.1 != nil } ? KubeTree.tree(fields) : nil
    }

    private var securityContext: OutputValue? {
        var fields: [(String, OutputValue?)] = []
        if let user = service.user, !user.isEmpty {
            let parts = user.split(separator: ":", maxSplits: 1).map(String.init)
            if let uid = Int64(parts[0]), parts.count == 1 || Int64(parts[1]) != nil {
                fields.append(("runAsUser", .int(uid)))
                if parts.count == 2, let gid = Int64(parts[1]) { fields.append(("runAsGroup", .int(gid))) }
            } else {
                context.report.warn(subject, "user", "\(user): Kubernetes takes numeric ids (runAsUser, runAsGroup): not translated")
            }
        }
        if service.privileged == true { fields.append(("privileged", .bool(true))) }
        if service.read_only == true { fields.append(("readOnlyRootFilesystem", .bool(true))) }
        func capabilities(_ names: [String]?) -> OutputValue? {
            KubeTree.list((names ?? []).map { name in
                let upper = name.uppercased()
                return .string(upper.hasPrefix("CAP_") ? String(upper.dropFirst(4)) : upper)
            })
        }
        let caps = KubeTree.tree([("add", capabilities(service.cap_add)), ("drop", capabilities(service.cap_drop))])
        if caps != .map([]) { fields.append(("capabilities", caps)) }
        for option in service.security_opt ?? [] {
            switch option.replacingOccurrences(of: ":", with: "=") {
            case "no-new-privileges", "no-new-privileges=true": fields.append(("allowPrivilegeEscalation", .bool(false)))
            case "seccomp=unconfined": fields.append(("seccompProfile", .map([("type", .string("Unconfined"))])))
            default: context.report.warn(subject, "security_opt", "\(option) is not translated")
            }
        }
        return fields.isEmpty ? nil : KubeTree.tree(fields)
    }

    private var lifecycle: OutputValue? {
        func hook(_ hooks: [Hook]?, _ key: String) -> OutputValue? {
            guard let hooks, let first = hooks.first else { return nil }
            if hooks.count > 1 { context.report.warn(subject, key, "Kubernetes runs one hook: only the first is translated") }
            if first.user != nil || first.privileged != nil || first.working_dir != nil || first.environment != nil {
                context.report.warn(subject, key, "user, privileged, working_dir and environment of a hook are not translated")
            }
            return .map([("exec", .map([("command", .list(first.command.map { .string($0) }))]))])
        }
        let fields: [(String, OutputValue?)] = [("postStart", hook(service.post_start, "post_start")), ("preStop", hook(service.pre_stop, "pre_stop"))]
        return fields.contains { $0.1 != nil } ? KubeTree.tree(fields) : nil
    }

    private func mounts(_ volumes: inout PodVolumes) -> OutputValue? {
        var items: [OutputValue] = []
        func mount(_ volume: String, _ target: String, readOnly: Bool, subPath: String? = nil) {
            items.append(KubeTree.tree([
                ("name", .string(volume)), ("mountPath", .string(target)), ("readOnly", readOnly ? .bool(true) : nil),
                ("subPath", subPath.map { .string($0) }),
            ]))
        }
        for (index, volume) in (service.volumes ?? []).enumerated() {
            guard let target = volume.target else { continue }
            let readOnly = volume.read_only == true
            switch volume.type {
            case "volume":
                if let source = volume.source, !source.isEmpty {
                    let claim = context.claim(source, subject: subject)
                    let name = volumes.add(claim, .map([("persistentVolumeClaim", .map([("claimName", .string(claim))]))]))
                    mount(name, target, readOnly: readOnly, subPath: volume.volume?.subpath)
                } else {
                    mount(volumes.add(target, .map([("emptyDir", .map([]))])), target, readOnly: readOnly)
                }
                if volume.volume?.nocopy == true {
                    context.report.warn(subject, "volumes[\(index)].volume.nocopy", "not translated: a claim starts empty on a cluster")
                }
            case "bind":
                guard let source = volume.source else { continue }
                context.report.warn(subject, "volumes[\(index)]", "bind mount of \(source): a hostPath volume, which reads the node's \(source)")
                let type: OutputValue? = volume.bind?.create_host_path == true ? .string("DirectoryOrCreate") : nil
                let name = volumes.add(target, .map([("hostPath", KubeTree.tree([("path", .string(source)), ("type", type)]))]))
                mount(name, target, readOnly: readOnly)
            case "tmpfs":
                let size = volume.tmpfs?.size.map { OutputValue.string(Quantity.bytesText($0.bytes)) }
                let name = volumes.add(target, .map([("emptyDir", KubeTree.tree([("medium", .string("Memory")), ("sizeLimit", size)]))]))
                mount(name, target, readOnly: readOnly)
            default:
                context.report.warn(subject, "volumes[\(index)]", "\(volume.type) mounts are not translated")
            }
        }
        for entry in service.tmpfs ?? [] {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            let size = parts.count > 1 ? parts[1].split(separator: ",").first { $0.hasPrefix("size=") }.flatMap { ByteSize.parse(String($0.dropFirst(5))) } : nil
            let name = volumes.add(parts[0], .map([("emptyDir", KubeTree.tree([("medium", .string("Memory")), ("sizeLimit", size.map { .string(Quantity.bytesText($0)) })]))]))
            mount(name, parts[0], readOnly: false)
        }
        for (isSecret, files) in [(false, service.configs ?? []), (true, service.secrets ?? [])] {
            for file in files {
                guard let object = context.fileObject(file.source, isSecret: isSecret, subject: subject) else { continue }
                var target = file.target.flatMap { $0.isEmpty ? nil : $0 } ?? file.source
                if !target.hasPrefix("/") { target = (isSecret ? "/run/secrets/" : "/") + target }
                let source: OutputValue = isSecret
                    ? .map([("secret", KubeTree.tree([("secretName", .string(object.name)), ("defaultMode", KubeTree.int(file.mode))]))])
                    : .map([("configMap", KubeTree.tree([("name", .string(object.name)), ("defaultMode", KubeTree.int(file.mode))]))])
                let name = volumes.add((isSecret ? "secret-" : "config-") + object.name, source)
                mount(name, target, readOnly: true, subPath: object.key)
                if file.uid != nil || file.gid != nil {
                    context.report.warn(subject, "\(isSecret ? "secrets" : "configs").\(file.source)", "uid and gid are not translated")
                }
            }
        }
        if service.volumes_from != nil { context.report.warn(subject, "volumes_from", "not translated: mount the volumes by name") }
        return KubeTree.list(items)
    }

    /// Reports the keys of the service that nothing translates.
    private func reportUntranslated() {
        guard case .map(let pairs)? = try? OutputEncoder().encode(service) else { return }
        for (key, _) in pairs where !Self.handledKeys.contains(key) {
            context.report.warn(subject, key, "not translated")
        }
    }
}
