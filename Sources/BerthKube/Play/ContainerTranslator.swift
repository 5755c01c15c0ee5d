import ComposeSpec

/// A port a container declares.
struct ContainerPort: Equatable {
    var name: String?
    var port: Int64
    var proto: String
    var hostPort: Int64?
    var hostIP: String?
}

/// What a pod gives each of its containers: restart policy, grace period, security defaults,
/// name resolution, labels.
struct PodDefaults {
    var replicas = 1
    var restart = "always"
    var gracePeriod: Int64 = 30
    var runAsUser: Int64?
    var runAsGroup: Int64?
    var runAsNonRoot: Bool?
    var seccomp: String?
    var groups: [String] = []
    var sysctls: [(key: String, value: String)] = []
    var hostNetwork = false
    var hostPID = false
    var hostIPC = false
    var hostname: String?
    var dns: [String] = []
    var dnsSearch: [String] = []
    var dnsOptions: [String] = []
    var extraHosts: [(host: String, addresses: [String])] = []
    var labels: [(key: String, value: String)] = []
    var annotations: [(key: String, value: String)] = []
}

/// One container of a pod → one Compose service.
struct ContainerTranslator {
    let container: ManifestMap
    let defaults: PodDefaults
    let index: ObjectIndex

    func translate(into service: inout Service) throws(KubeError) -> [ContainerPort] {
        service.image = try container.requiredString("image")
        switch try container.string("imagePullPolicy") {
        case nil: break
        case "Always": service.pull_policy = "always"
        case "IfNotPresent": service.pull_policy = "missing"
        case "Never": service.pull_policy = "never"
        case let other?: throw container.error("imagePullPolicy", "\(other) is not Always, IfNotPresent or Never")
        }
        let environment = try EnvironmentTranslator(container: container, index: index).translate()
        let lookup = { (name: String) in environment.last(where: { $0.name == name })?.value }
        if let command = try container.strings("command") {
            service.entrypoint = command.map { VariableExpansion.expand($0, lookup) }
        }
        if let args = try container.strings("args") {
            service.command = args.map { VariableExpansion.expand($0, lookup) }
        }
        if !environment.isEmpty { service.environment = KeyedMap(environment.map { ($0.name, .some($0.value)) }) }
        if let directory = try container.string("workingDir") { service.working_dir = directory }
        if try container.bool("stdin") == true { service.stdin_open = true }
        if try container.bool("tty") == true { service.tty = true }
        if try container.bool("stdinOnce") == true { container.warn("stdinOnce", "not supported: stdin stays open") }
        // What the API server fills in when it is left out: carries nothing to run.
        if let path = try container.string("terminationMessagePath"), path != "/dev/termination-log" {
            container.warn("terminationMessagePath", "not supported, ignored")
        }
        if let policy = try container.string("terminationMessagePolicy"), policy != "File" {
            container.warn("terminationMessagePolicy", "not supported, ignored")
        }
        try resources(into: &service)
        try security(into: &service)
        return try ports()
    }

    private func ports() throws(KubeError) -> [ContainerPort] {
        var out: [ContainerPort] = []
        for port in try container.maps("ports") {
            guard let number = try port.int("containerPort") else { throw port.error("containerPort", "is required") }
            guard (1...65535).contains(number) else { throw port.error("containerPort", "\(number) is not a port number") }
            let proto = (try port.string("protocol") ?? "TCP").uppercased()
            guard proto == "TCP" || proto == "UDP" else {
                port.warn("protocol", "\(proto) is not supported (TCP and UDP are): port \(number) left out")
                continue
            }
            var hostPort = try port.int("hostPort")
            if let published = hostPort {
                guard (1...65535).contains(published) else { throw port.error("hostPort", "\(published) is not a port number") }
                if defaults.replicas > 1 {
                    port.warn("hostPort", "\(published) is not published: one host port reaches one container, and there are \(defaults.replicas) replicas")
                    hostPort = nil
                }
            }
            out.append(ContainerPort(
                name: try port.string("name"), port: number, proto: proto.lowercased(), hostPort: hostPort, hostIP: try port.string("hostIP")))
        }
        return out
    }

    private func resources(into service: inout Service) throws(KubeError) {
        guard let resources = try container.map("resources") else { return }
        var config = DeployConfig.Resources()
        for (key, target) in [("limits", \DeployConfig.Resources.limits), ("requests", \DeployConfig.Resources.reservations)] {
            var resource = DeployConfig.Resource()
            var any = false
            for (name, text) in try resources.stringMap(key) {
                switch name {
                case "cpu":
                    guard let value = Quantity.parse(text), value > 0, value < 1e6 else { throw resources.error(key, "cpu: \(text) is not a CPU quantity such as 500m") }
                    resource.cpus = value
                    any = true
                case "memory":
                    resource.memory = ByteSize(bytes: try resources.bytes(key, text))
                    any = true
                default:
                    resources.warn("\(key).\(name)", "not supported, ignored")
                }
            }
            if any { config[keyPath: target] = resource }
        }
        if config.limits != nil || config.reservations != nil {
            var deploy = service.deploy ?? DeployConfig(replicas: nil)
            deploy.resources = config
            service.deploy = deploy
        }
    }

    private func security(into service: inout Service) throws(KubeError) {
        var user = defaults.runAsUser
        var group = defaults.runAsGroup
        var nonRoot = defaults.runAsNonRoot
        var seccomp = defaults.seccomp
        if let context = try container.map("securityContext") {
            user = try context.int("runAsUser") ?? user
            group = try context.int("runAsGroup") ?? group
            nonRoot = try context.bool("runAsNonRoot") ?? nonRoot
            if try context.bool("privileged") == true { service.privileged = true }
            if try context.bool("readOnlyRootFilesystem") == true { service.read_only = true }
            if try context.bool("allowPrivilegeEscalation") == false { service.security_opt = ["no-new-privileges"] }
            if let capabilities = try context.map("capabilities") {
                if let add = try capabilities.strings("add"), !add.isEmpty { service.cap_add = add }
                if let drop = try capabilities.strings("drop"), !drop.isEmpty { service.cap_drop = drop }
            }
            if let profile = try context.map("seccompProfile") {
                seccomp = try profile.requiredString("type")
                if seccomp == "Localhost" { _ = try profile.string("localhostProfile") }
            }
        }
        if let user {
            service.user = group.map { "\(user):\($0)" } ?? "\(user)"
            if nonRoot == true && user == 0 {
                throw container.error("securityContext", "runAsNonRoot is true but runAsUser is 0: Kubernetes refuses to start such a container")
            }
        } else if let group {
            container.warn("securityContext", "runAsGroup \(group) without runAsUser is not supported: the image's user and group apply")
        } else if nonRoot == true {
            container.warn("securityContext", "runAsNonRoot is not checked: give runAsUser to be sure the container does not run as root")
        }
        switch seccomp {
        case nil, "RuntimeDefault": break
        case "Unconfined": service.security_opt = (service.security_opt ?? []) + ["seccomp=unconfined"]
        case let other?: container.warn("securityContext", "seccompProfile \(other) is not supported: berth's default profile applies")
        }
        if !defaults.groups.isEmpty { service.group_add = defaults.groups }
    }
}
