import BerthOrchestrator
import BerthRuntime
import BerthSystem

/// `HostConfig`, `GraphDriver` and `Mounts` of `ContainerInspection`.
extension ContainerInspection {
    /// How Compose hands a mount to the engine, which decides where inspect shows it: simple
    /// binds and named volumes as `Binds` strings, secrets, configs and anonymous volumes
    /// through the Mount API (`HostConfig.Mounts`), `tmpfs:` as `HostConfig.Tmpfs`.
    enum MountForm {
        case bindString(String)
        case mountAPI(TemplateData)
        case tmpfs(options: String)
    }

    func form(of mount: ContainerSpec.Mount) -> MountForm {
        let mode = mount.readOnly ? "ro" : "rw"
        switch mount.kind {
        case .tmpfs(let options):
            return .tmpfs(options: options)
        case .bind(let source):
            let isPrivateFile = ["/secrets/", "/configs/"].contains { source.hasPrefix(directory + $0) }
            if isPrivateFile || mount.recursion != .enabled {
                return .mountAPI(Self.apiMount("bind", source: source, mount, options: nil))
            }
            let options = [mode] + (mount.propagation.map { [$0.rawValue] } ?? [])
            return .bindString("\(source):\(mount.destination):\(options.joined(separator: ","))")
        case .volume(let volume):
            if Self.isAnonymous(volume.name) || volume.subpath != nil {
                let options = TemplateData.object([
                    ("NoCopy", .omitEmpty(.bool(!volume.copyUp))), ("Labels", .omitEmpty(.map(nil))), ("Subpath", .omitEmpty(.string(volume.subpath ?? ""))),
                    ("DriverConfig", .omitNil(nil)),
                ])
                return .mountAPI(Self.apiMount("volume", source: volume.name, mount, options: options))
            }
            return .bindString("\(volume.name):\(mount.destination):\(mode)\(volume.copyUp ? "" : ",nocopy")")
        }
    }

    /// Docker's `mount.Mount` (what the Mount API takes): the type, source and target,
    /// read-only, and a volume's options.
    static func apiMount(_ type: String, source: String, _ mount: ContainerSpec.Mount, options: TemplateData?) -> TemplateData {
        .object([
            ("Type", .omitEmpty(.string(type))), ("Source", .omitEmpty(.string(source))), ("Target", .string(mount.destination)),
            ("ReadOnly", .omitEmpty(.bool(mount.readOnly))), ("Consistency", .omitEmpty(.string(""))), ("BindOptions", .omitNil(nil)),
            ("VolumeOptions", .omitNil(options)), ("TmpfsOptions", .omitNil(nil)),
        ])
    }

    /// A 64-hex name: an anonymous volume (`VolumeStore.randomName`).
    static func isAnonymous(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Docker's `MountPoint`s, in the spec's order; `tmpfs:` mounts are not mount points.
    var mountPoints: [TemplateData] {
        (spec?.mounts ?? []).compactMap { mount -> TemplateData? in
            let viaBinds: Bool
            switch form(of: mount) {
            case .tmpfs: return nil
            case .bindString: viaBinds = true
            case .mountAPI: viaBinds = false
            }
            let mode: TemplateData = .string(viaBinds ? (mount.readOnly ? "ro" : "rw") : "")
            switch mount.kind {
            case .bind(let source):
                return .object([
                    ("Type", .omitEmpty(.string("bind"))), ("Name", .omitEmpty(.string(""))), ("Source", .string(source)),
                    ("Destination", .string(mount.destination)), ("Driver", .omitEmpty(.string(""))), ("Mode", mode),
                    ("RW", .bool(!mount.readOnly)), ("Propagation", .string(mount.propagation?.rawValue ?? "rprivate")),
                ])
            case .volume(let volume):
                return .object([
                    ("Type", .omitEmpty(.string("volume"))), ("Name", .omitEmpty(.string(volume.name))),
                    ("Source", .string(volume.data + (volume.subpath.map { "/" + $0 } ?? ""))), ("Destination", .string(mount.destination)),
                    ("Driver", .omitEmpty(.string("local"))), ("Mode", mode), ("RW", .bool(!mount.readOnly)), ("Propagation", .string("")),
                ])
            case .tmpfs:
                return nil
            }
        }
    }

    var graphDriver: TemplateData {
        guard case .overlay(let lower, let writable, _)? = spec?.root else {
            return .object([("Data", .map(nil)), ("Name", .string(""))])
        }
        var data: [(String, TemplateData)] = [("LowerDir", .string(lower.joined(separator: ":"))), ("MergedDir", .string(runtimeFile("rootfs")))]
        if let writable {
            data += [("UpperDir", .string(writable + "/upper")), ("WorkDir", .string(writable + "/work"))]
        }
        return .object([("Data", .map(data)), ("Name", .string("overlay"))])
    }

    // MARK: HostConfig

    var hostConfig: TemplateData {
        let forms = (spec?.mounts ?? []).map(form(of:))
        let binds = forms.compactMap { form -> String? in
            if case .bindString(let text) = form { return text }
            return nil
        }
        let apiMounts = forms.compactMap { form -> TemplateData? in
            if case .mountAPI(let mount) = form { return mount }
            return nil
        }
        let tmpfs = zip(spec?.mounts ?? [], forms).compactMap { mount, form -> (String, String)? in
            if case .tmpfs(let options) = form { return (mount.destination, options) }
            return nil
        }
        let create = record.createConfig
        let security = spec?.security
        let resources = spec?.resources
        var securityOptions: [String] = []
        if security?.noNewPrivileges == true { securityOptions.append("no-new-privileges") }
        if security?.seccomp == .unconfined { securityOptions.append("seccomp=unconfined") }
        var logOptions = create?.logOptions ?? [:]
        if create == nil, let log = spec?.log {
            if let size = log.maxSize { logOptions["max-size"] = String(size) }
            if log.maxFiles > 1 { logOptions["max-file"] = String(log.maxFiles) }
        }
        let links = launch?.links.map { links in links.sorted { $0.key < $1.key }.map { "/\($0.value):/\(record.name)/\($0.key)" } }
        let sysctls = (spec?.sysctls ?? []).map { ($0.key, $0.value) }
        let ulimits: [TemplateData]? = (spec?.rlimits).flatMap { limits in
            limits.isEmpty ? nil : limits.map { .object([("Name", .string($0.name)), ("Hard", .int(Int64(clamping: $0.hard))), ("Soft", .int(Int64(clamping: $0.soft)))]) }
        }
        let fields: [(String, TemplateData)] = [
            ("Binds", .strings(binds.isEmpty ? nil : binds)),
            ("ContainerIDFile", .string("")),
            ("LogConfig", .object([
                ("Type", .string(create?.logDriver ?? (spec?.log == nil ? "none" : "json-file"))),
                ("Config", .stringMap(logOptions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })),
            ])),
            ("NetworkMode", .string(networkMode)),
            ("PortBindings", portBindings),
            ("RestartPolicy", .object([
                ("Name", .string(launch?.restart?.condition.rawValue ?? "no")),
                ("MaximumRetryCount", .int(Int64(launch?.restart?.maxAttempts ?? 0))),
            ])),
            ("AutoRemove", .bool(false)),
            ("VolumeDriver", .string("")),
            ("VolumesFrom", .list(nil)),
            ("ConsoleSize", .list([.int(0), .int(0)])),
            ("Annotations", .omitEmpty(.map(nil))),
            ("CapAdd", Self.nonEmpty(security?.capAdd)),
            ("CapDrop", Self.nonEmpty(security?.capDrop)),
            ("CgroupnsMode", .string(spec?.namespaces.cgroup == .host ? "host" : "private")),
            ("Dns", Self.nonEmpty(launch?.dns)),
            ("DnsOptions", Self.nonEmpty(launch?.dnsOptions)),
            ("DnsSearch", Self.nonEmpty(launch?.dnsSearch)),
            ("ExtraHosts", Self.nonEmpty(launch?.extraHosts.map { $0.joined(separator: ":") })),
            ("GroupAdd", Self.nonEmpty(spec?.process.additionalGroups)),
            ("IpcMode", .string(Self.mode(spec?.namespaces.ipc, private: "private"))),
            ("Cgroup", .string("")),
            ("Links", Self.nonEmpty(links)),
            ("OomScoreAdj", .int(0)),
            ("PidMode", .string(Self.mode(spec?.namespaces.pid, private: ""))),
            ("Privileged", .bool(security?.privileged ?? false)),
            ("PublishAllPorts", .bool(false)),
            ("ReadonlyRootfs", .bool(spec?.root.readOnly ?? false)),
            ("SecurityOpt", Self.nonEmpty(securityOptions)),
            ("StorageOpt", .omitEmpty(.map(nil))),
            ("Tmpfs", .omitEmpty(.stringMap(tmpfs))),
            ("UTSMode", .string(Self.mode(spec?.namespaces.uts, private: ""))),
            ("UsernsMode", .string("")),
            ("ShmSize", .int(spec?.shmSize ?? 0)),
            ("Sysctls", .omitEmpty(.stringMap(sysctls))),
            ("Runtime", .omitEmpty(.string("berth-runtime"))),
            ("Isolation", .string("")),
            ("CpuShares", .int(resources?.cpuShares ?? 0)),
            ("Memory", .int(resources?.memoryLimit ?? 0)),
            ("NanoCpus", .int(resources?.cpus.map { Int64(($0 * 1e9).rounded()) } ?? 0)),
            ("CgroupParent", .string("")),
            ("BlkioWeight", .int(resources?.blkioWeight ?? 0)),
            ("BlkioWeightDevice", .list(nil)),
            ("BlkioDeviceReadBps", .list(nil)),
            ("BlkioDeviceWriteBps", .list(nil)),
            ("BlkioDeviceReadIOps", .list(nil)),
            ("BlkioDeviceWriteIOps", .list(nil)),
            ("CpuPeriod", .int(0)),
            ("CpuQuota", .int(0)),
            ("CpuRealtimePeriod", .int(0)),
            ("CpuRealtimeRuntime", .int(0)),
            ("CpusetCpus", .string(resources?.cpusetCpus ?? "")),
            ("CpusetMems", .string(resources?.cpusetMems ?? "")),
            ("Devices", .list(nil)),
            ("DeviceCgroupRules", .list(nil)),
            ("DeviceRequests", .list(nil)),
            ("KernelMemory", .omitEmpty(.int(0))),
            ("KernelMemoryTCP", .omitEmpty(.int(0))),
            ("MemoryReservation", .int(resources?.memoryReservation ?? 0)),
            ("MemorySwap", .int(resources?.memorySwapLimit ?? 0)),
            ("MemorySwappiness", .null),
            ("OomKillDisable", .null),
            ("PidsLimit", resources?.pidsLimit.map(TemplateData.int) ?? .null),
            ("Ulimits", .list(ulimits)),
            ("CpuCount", .int(0)),
            ("CpuPercent", .int(0)),
            ("IOMaximumIOps", .int(0)),
            ("IOMaximumBandwidth", .int(0)),
            ("Mounts", .omitEmpty(.list(apiMounts))),
            ("MaskedPaths", .strings(security.map { $0.privileged ? [] : $0.maskedPaths })),
            ("ReadonlyPaths", .strings(security.map { $0.privileged ? [] : $0.readonlyPaths })),
            ("Init", .omitNil(spec?.useInit == true ? .bool(true) : nil)),
        ]
        return .object(fields)
    }

    /// A list shown as `null` when empty (what Compose leaves unset).
    static func nonEmpty(_ values: [String]?) -> TemplateData {
        .strings((values?.isEmpty ?? true) ? nil : values)
    }

    /// `host`, `container:NAME`, or `private` (Docker's word for the default, or "").
    static func mode(_ namespace: ContainerSpec.NamespaceMode?, private: String) -> String {
        switch namespace {
        case .host?: return "host"
        case .container(let name)?: return "container:\(name)"
        case .path(let path)?: return "ns:\(path)"
        case .private?, nil: return `private`
        }
    }

    /// Compose's: the first network's name in bridge mode, else `none`, `host` or
    /// `container:NAME`.
    var networkMode: String {
        switch launch?.networkMode {
        case .bridge?: return launch?.networks.first?.network ?? "bridge"
        case .none?: return "none"
        case .host?: return "host"
        case .shared?:
            if case .container(let name)? = spec?.namespaces.network { return "container:\(name)" }
            return "default"
        case nil: return "default"
        }
    }

    /// What the service asked to publish: `80/tcp` → `[{HostIp, HostPort}]` (an empty host
    /// port: any free one).
    var portBindings: TemplateData {
        var bindings: [(String, [TemplateData])] = []
        for port in launch?.ports ?? [] {
            let key = "\(port.containerPort)/\(port.proto)"
            let binding = TemplateData.object([("HostIp", .string(port.hostIP ?? "")), ("HostPort", .string(port.published ?? ""))])
            if let index = bindings.firstIndex(where: { $0.0 == key }) {
                bindings[index].1.append(binding)
            } else {
                bindings.append((key, [binding]))
            }
        }
        return .map(bindings.map { ($0.0, .list($0.1)) })
    }
}
