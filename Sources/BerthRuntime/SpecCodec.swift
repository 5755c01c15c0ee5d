/// A `ContainerSpec` as plain text, for handing a spec to a re-executed `berth runtime run
/// --spec FILE` (the way a multi-threaded supervisor starts a container) without Foundation
/// or a JSON parser on the start path.
///
/// One `key value` per line; lists repeat their key; fields within a value are separated by
/// tabs; `\`, newline and tab in values are escaped as `\\`, `\n`, `\t`. The first line is
/// `berth-spec 1`. Unknown keys are an error, so that a newer writer is never half-read.
extension ContainerSpec {
    public static let codecVersion = "berth-spec 1"

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.append(c)
            }
        }
        return out
    }

    static func unescape(_ value: Substring) -> String {
        var out = ""
        var escaped = false
        for c in value {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func encode(_ mode: NamespaceMode) -> String {
        switch mode {
        case .private: return "private"
        case .host: return "host"
        case .path(let path): return "path:" + path
        case .container(let name): return "container:" + name
        }
    }

    static func decodeNamespace(_ text: String) throws -> NamespaceMode {
        if text == "private" { return .private }
        if text == "host" { return .host }
        if text.hasPrefix("path:") { return .path(String(text.dropFirst(5))) }
        if text.hasPrefix("container:") { return .container(String(text.dropFirst(10))) }
        throw RuntimeError("spec: bad namespace mode \"\(text)\"")
    }

    static func line(_ key: String, _ fields: [String]) -> String {
        key + " " + fields.map(ContainerSpec.escape).joined(separator: "\t")
    }

    /// The spec as text (see the type's documentation).
    public var encoded: String {
        var lines = [ContainerSpec.codecVersion]
        func add(_ key: String, _ fields: String...) {
            lines.append(key + " " + fields.map(ContainerSpec.escape).joined(separator: "\t"))
        }
        add("name", name)
        add("project", project)
        switch root {
        case .directory(let path, let ro):
            add("root-directory", path, ro ? "ro" : "rw")
        case .overlay(let lower, let writable, let ro):
            add("root-overlay", writable ?? "", ro ? "ro" : "rw")
            for layer in lower { add("lower", layer) }
        }
        for arg in process.args { add("arg", arg) }
        for entry in process.env { add("env", entry) }
        add("cwd", process.cwd)
        add("user", process.user)
        for group in process.additionalGroups { add("group-add", group) }
        if process.terminal { add("terminal", "1") }
        if process.openStdin { add("stdin", "1") }
        if let hostname { add("hostname", hostname) }
        if let domainname { add("domainname", domainname) }
        for mount in mounts {
            // kind, source, destination, ro|rw, flags, propagation, recursion[, volume fields]
            let common = [mount.destination, mount.readOnly ? "ro" : "rw", String(mount.flags), mount.propagation?.rawValue ?? "", mount.recursion.rawValue]
            switch mount.kind {
            case .bind(let source): lines.append(ContainerSpec.line("mount", ["bind", source] + common))
            case .tmpfs(let options): lines.append(ContainerSpec.line("mount", ["tmpfs", options] + common))
            case .volume(let volume):
                let fs = volume.filesystem
                lines.append(ContainerSpec.line("mount", ["volume", volume.name] + common + [
                    volume.directory, volume.copyUp ? "1" : "0", volume.subpath ?? "", fs?.type ?? "", fs?.device ?? "", fs?.options ?? "",
                ]))
            }
        }
        add("ns-pid", ContainerSpec.encode(namespaces.pid))
        add("ns-network", ContainerSpec.encode(namespaces.network))
        add("ns-ipc", ContainerSpec.encode(namespaces.ipc))
        add("ns-uts", ContainerSpec.encode(namespaces.uts))
        add("ns-cgroup", ContainerSpec.encode(namespaces.cgroup))
        let r = resources
        if let v = r.memoryLimit { add("memory", String(v)) }
        if let v = r.memorySwapLimit { add("memory-swap", String(v)) }
        if let v = r.memoryReservation { add("memory-reservation", String(v)) }
        if let v = r.cpus { add("cpus", String(v)) }
        if let v = r.cpuShares { add("cpu-shares", String(v)) }
        if let v = r.cpusetCpus { add("cpuset-cpus", v) }
        if let v = r.cpusetMems { add("cpuset-mems", v) }
        if let v = r.pidsLimit { add("pids-limit", String(v)) }
        if let v = r.blkioWeight { add("blkio-weight", String(v)) }
        for cap in security.capAdd { add("cap-add", cap) }
        for cap in security.capDrop { add("cap-drop", cap) }
        if security.privileged { add("privileged", "1") }
        if security.noNewPrivileges { add("no-new-privileges", "1") }
        if security.seccomp == .unconfined { add("seccomp", "unconfined") }
        if security.maskedPaths != Security.defaultMaskedPaths {
            add("masked-paths", "set")
            for path in security.maskedPaths { add("masked", path) }
        }
        if security.readonlyPaths != Security.defaultReadonlyPaths {
            add("readonly-paths", "set")
            for path in security.readonlyPaths { add("readonly", path) }
        }
        for sysctl in sysctls { add("sysctl", sysctl.key, sysctl.value) }
        for limit in rlimits { add("rlimit", limit.name, String(limit.resource), String(limit.soft), String(limit.hard)) }
        add("stop-signal", String(stopSignal))
        add("stop-timeout-ms", String(stopTimeoutMilliseconds))
        if let log { add("log", log.path, log.maxSize.map(String.init) ?? "", String(log.maxFiles)) }
        if useInit { add("init", "1") }
        if let etcHosts { add("etc-hosts", etcHosts) }
        if let resolvConf { add("resolv-conf", resolvConf) }
        add("shm-size", String(shmSize))
        if infra { add("infra", "1") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses `encoded` text back into a spec.
    /// The `name` line of an encoded spec, without decoding the rest.
    public static func name(inEncoded text: String) -> String? {
        for line in text.split(separator: "\n").dropFirst() where line.hasPrefix("name ") {
            return unescape(line.dropFirst(5))
        }
        return nil
    }

    public init(decoding text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first.map(String.init) == ContainerSpec.codecVersion else {
            throw RuntimeError("spec: the first line must be \"\(ContainerSpec.codecVersion)\"")
        }
        lines.removeFirst()
        self.init(name: "", root: .directory("/", readOnly: false), process: Process(args: [], env: []))
        var lower: [String] = []
        var overlay: (writable: String?, ro: Bool)?
        for (number, line) in lines.enumerated() {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0])
            let fields = parts.count > 1 ? parts[1].split(separator: "\t", omittingEmptySubsequences: false).map(ContainerSpec.unescape) : [""]
            func field(_ i: Int) throws -> String {
                guard i < fields.count else { throw RuntimeError("spec line \(number + 2): \(key) needs \(i + 1) fields") }
                return fields[i]
            }
            func int(_ i: Int) throws -> Int64 {
                guard let v = Int64(try field(i)) else { throw RuntimeError("spec line \(number + 2): \(key): not an integer") }
                return v
            }
            let value = fields[0]
            switch key {
            case "name": name = value
            case "project": project = value
            case "root-directory": root = .directory(value, readOnly: try field(1) == "ro")
            case "root-overlay": overlay = (value.isEmpty ? nil : value, try field(1) == "ro")
            case "lower": lower.append(value)
            case "arg": process.args.append(value)
            case "env": process.env.append(value)
            case "cwd": process.cwd = value
            case "user": process.user = value
            case "group-add": process.additionalGroups.append(value)
            case "terminal": process.terminal = value == "1"
            case "stdin": process.openStdin = value == "1"
            case "hostname": hostname = value
            case "domainname": domainname = value
            case "mount":
                mounts.append(try ContainerSpec.decodeMount(fields, line: number + 2))
            case "ns-pid": namespaces.pid = try ContainerSpec.decodeNamespace(value)
            case "ns-network": namespaces.network = try ContainerSpec.decodeNamespace(value)
            case "ns-ipc": namespaces.ipc = try ContainerSpec.decodeNamespace(value)
            case "ns-uts": namespaces.uts = try ContainerSpec.decodeNamespace(value)
            case "ns-cgroup": namespaces.cgroup = try ContainerSpec.decodeNamespace(value)
            case "memory": resources.memoryLimit = try int(0)
            case "memory-swap": resources.memorySwapLimit = try int(0)
            case "memory-reservation": resources.memoryReservation = try int(0)
            case "cpus": resources.cpus = Double(value)
            case "cpu-shares": resources.cpuShares = try int(0)
            case "cpuset-cpus": resources.cpusetCpus = value
            case "cpuset-mems": resources.cpusetMems = value
            case "pids-limit": resources.pidsLimit = try int(0)
            case "blkio-weight": resources.blkioWeight = try int(0)
            case "cap-add": security.capAdd.append(value)
            case "cap-drop": security.capDrop.append(value)
            case "privileged": security.privileged = value == "1"
            case "no-new-privileges": security.noNewPrivileges = value == "1"
            case "seccomp": security.seccomp = value == "unconfined" ? .unconfined : .default
            case "masked-paths": security.maskedPaths = []
            case "masked": security.maskedPaths.append(value)
            case "readonly-paths": security.readonlyPaths = []
            case "readonly": security.readonlyPaths.append(value)
            case "sysctl": sysctls.append((value, try field(1)))
            case "rlimit":
                guard let soft = UInt64(try field(2)), let hard = UInt64(try field(3)) else {
                    throw RuntimeError("spec line \(number + 2): rlimit \(value): bad limits")
                }
                rlimits.append(Rlimit(resource: Int32(try int(1)), name: value, soft: soft, hard: hard))
            case "stop-signal": stopSignal = Int32(try int(0))
            case "stop-timeout-ms": stopTimeoutMilliseconds = Int(try int(0))
            case "log":
                let maxSize = try field(1)
                log = LogConfig(path: value, maxSize: maxSize.isEmpty ? nil : Int64(maxSize), maxFiles: Int(try int(2)))
            case "init": useInit = value == "1"
            case "etc-hosts": etcHosts = value
            case "resolv-conf": resolvConf = value
            case "shm-size": shmSize = try int(0)
            case "infra": infra = value == "1"
            default:
                throw RuntimeError("spec line \(number + 2): unknown key \"\(key)\" (written by a newer berth?)")
            }
        }
        if let overlay {
            root = .overlay(lower: lower, writableDir: overlay.writable, readOnly: overlay.ro)
        }
        if name.isEmpty { throw RuntimeError("spec: no name") }
    }
}

extension ContainerSpec {
    /// One `mount` line's fields (see `encoded`); the propagation and recursion fields are
    /// optional so that specs written before them still read.
    static func decodeMount(_ fields: [String], line: Int) throws -> Mount {
        func field(_ i: Int) throws -> String {
            guard i < fields.count else { throw RuntimeError("spec line \(line): mount needs \(i + 1) fields") }
            return fields[i]
        }
        let kindName = try field(0)
        let readOnly = try field(3) == "ro"
        guard let flags = UInt(try field(4)) else { throw RuntimeError("spec line \(line): mount flags \(fields[4]) are not a number") }
        var propagation: Mount.Propagation?
        var recursion = Mount.Recursion.enabled
        if fields.count > 6 {
            if !fields[5].isEmpty {
                guard let value = Mount.Propagation(rawValue: fields[5]) else { throw RuntimeError("spec line \(line): unknown propagation \(fields[5])") }
                propagation = value
            }
            guard let value = Mount.Recursion(rawValue: fields[6]) else { throw RuntimeError("spec line \(line): unknown bind recursion \(fields[6])") }
            recursion = value
        }
        let kind: Mount.Kind
        switch kindName {
        case "bind": kind = .bind(source: try field(1))
        case "tmpfs": kind = .tmpfs(options: try field(1))
        case "volume":
            let type = try field(10)
            kind = .volume(Volume(
                name: try field(1), directory: try field(7),
                filesystem: type.isEmpty ? nil : Filesystem(type: type, device: try field(11), options: try field(12)),
                copyUp: try field(8) == "1", subpath: try field(9).isEmpty ? nil : fields[9]))
        default: throw RuntimeError("spec line \(line): unknown mount kind \(kindName)")
        }
        return Mount(kind: kind, destination: try field(2), readOnly: readOnly, flags: flags, propagation: propagation, recursion: recursion)
    }
}
