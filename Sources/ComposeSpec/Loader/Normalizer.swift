import Foundation

/// Applies the defaults and derived values Compose v2 adds after loading: the project name,
/// profiles, the implicit `default` network, resource names, the container environment
/// (env_file + environment + variables taken from the shell), and a few spellings.
struct Normalizer {
    var context: LoadContext
    let projectDirectory: String
    let topLevelName: Node?

    init(context: LoadContext, projectDirectory: String, topLevelName: Node?) {
        self.context = context
        self.projectDirectory = projectDirectory
        self.topLevelName = topLevelName
    }

    mutating func normalize(_ project: inout Project) throws(ComposeError) {
        project.name = try projectName()
        try applyProfiles(&project)
        addDefaultNetwork(&project)
        nameResources(&project)
        for (name, service) in project.services {
            var service = service
            try normalizeService(&service, name: name)
            project.services[name] = service
        }
    }

    // MARK: Name

    /// `-p`, then `COMPOSE_PROJECT_NAME`, then `name:`, then the project directory's name.
    /// Explicit names must already be valid; the directory name is normalized.
    func projectName() throws(ComposeError) -> String {
        if let flag = context.options.projectName, !flag.isEmpty {
            return try Self.validated(flag, source: "-p", mark: .none)
        }
        if let env = context.environment["COMPOSE_PROJECT_NAME"], !env.isEmpty {
            return try Self.validated(env, source: "COMPOSE_PROJECT_NAME", mark: .none)
        }
        if let node = topLevelName, let name = node.scalarText, !name.isEmpty {
            return try Self.validated(name, source: "name", mark: node.mark)
        }
        let normalized = Self.normalizedName(Paths.basename(projectDirectory))
        guard !normalized.isEmpty else {
            throw ComposeError(
                "project name can't be empty: the directory name \"\(Paths.basename(projectDirectory))\" has no usable characters; set one with -p or 'name:'")
        }
        return normalized
    }

    /// Lowercase, keep `[a-z0-9_-]`, trim leading `_` and `-`.
    static func normalizedName(_ raw: String) -> String {
        let kept = raw.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        return String(String.UnicodeScalarView(kept)).drop(while: { $0 == "_" || $0 == "-" }).description
    }

    static func validated(_ name: String, source: String, mark: Mark) throws(ComposeError) -> String {
        guard normalizedName(name) == name else {
            throw ComposeError(
                "invalid project name \"\(name)\" (from \(source)): must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number",
                at: mark)
        }
        return name
    }

    // MARK: Profiles

    mutating func applyProfiles(_ project: inout Project) throws(ComposeError) {
        var active = Set(context.options.profiles.flatMap { $0.split(separator: ",").map(String.init) })
        if context.options.profiles.isEmpty, let env = context.environment["COMPOSE_PROFILES"] {
            active.formUnion(env.split(separator: ",").map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty })
        }
        // A service named on the command line is enabled whatever its profiles (Compose v2's
        // WithServicesEnabled); other services of its profiles stay off.
        let named = Set(context.options.selectedServices)
        let all = active.contains("*")
        var enabled = KeyedMap<Service>()
        var disabled = KeyedMap<Service>()
        for (name, service) in project.services {
            let profiles = service.profiles ?? []
            if profiles.isEmpty || all || profiles.contains(where: active.contains) || named.contains(name) {
                enabled[name] = service
            } else {
                disabled[name] = service
            }
        }
        project.services = enabled
        project.disabledServices = disabled
    }

    // MARK: Networks and names

    func addDefaultNetwork(_ project: inout Project) {
        var needsDefault = false
        for (name, service) in project.services where service.network_mode == nil && service.networks == nil {
            var copy = service
            copy.networks = KeyedMap([("default", nil)])
            project.services[name] = copy
            needsDefault = true
        }
        if project.services.contains(where: { $0.value.networks?.keys.contains("default") == true }) {
            needsDefault = true
        }
        var networks = project.networks ?? KeyedMap()
        if needsDefault && networks["default"] == nil {
            networks["default"] = Network()
        }
        project.networks = networks.isEmpty ? nil : networks
    }

    /// `<project>_<key>` unless `name:` is set (an empty name counts as unset) or the
    /// resource is external (then the key itself).
    func nameResources(_ project: inout Project) {
        let prefix = project.name
        func named<R>(_ map: KeyedMap<R>?, _ name: WritableKeyPath<R, String?>, _ external: Swift.KeyPath<R, Bool?>) -> KeyedMap<R>? {
            guard var map else { return nil }
            for (key, resource) in map where resource[keyPath: name]?.isEmpty != false {
                var copy = resource
                copy[keyPath: name] = resource[keyPath: external] == true ? key : "\(prefix)_\(key)"
                map[key] = copy
            }
            return map
        }
        project.networks = named(project.networks, \.name, \.external)
        project.volumes = named(project.volumes, \.name, \.external)
        project.secrets = named(project.secrets, \.name, \.external)
        project.configs = named(project.configs, \.name, \.external)
    }

    // MARK: Services

    mutating func normalizeService(_ service: inout Service, name: String) throws(ComposeError) {
        // An empty value (typically an unset variable) means "not set" for these keys.
        if service.container_name?.isEmpty == true { service.container_name = nil }
        if service.hostname?.isEmpty == true { service.hostname = nil }
        try resolveEnvironment(&service, name: name)
        if service.pull_policy == "if_not_present" { service.pull_policy = "missing" }
        if let scale = service.scale, let replicas = service.deploy?.replicas, scale != replicas {
            throw ComposeError("services.\(name): can't set distinct values on 'scale' (\(scale)) and 'deploy.replicas' (\(replicas))")
        }
        if var build = service.build, build.dockerfile == nil, build.dockerfile_inline == nil {
            build.dockerfile = "Dockerfile"
            service.build = build
        }
    }

    /// The container environment: env_file entries in order, then `environment`; a
    /// variable listed without a value takes the shell's (or `.env`'s) value if there is one.
    mutating func resolveEnvironment(_ service: inout Service, name: String) throws(ComposeError) {
        var merged = KeyedMap<String?>()
        let env = context.environment
        for file in service.env_file ?? [] {
            guard let data = FileManager.default.contents(atPath: file.path) else {
                if file.required {
                    throw ComposeError("services.\(name).env_file: env file \(file.path) not found; create it or mark it 'required: false'")
                }
                continue
            }
            let text = String(decoding: data, as: UTF8.self)
            let raw = file.format == "raw"
            if let format = file.format, format != "raw" {
                throw ComposeError("services.\(name).env_file: unsupported format '\(format)' for \(file.path); use 'raw' or leave it out")
            }
            for entry in try DotEnv.parse(text, file: file.path, raw: raw, lookup: { env[$0] }) {
                merged[entry.key] = .some(entry.value)
            }
        }
        for (key, value) in service.environment ?? KeyedMap() {
            if let value {
                merged[key] = .some(value)
            } else if let fromShell = env[key] {
                merged[key] = .some(fromShell)
            } else if merged[key] == nil {
                merged[key] = .some(nil)
            }
        }
        service.environment = merged.isEmpty ? nil : merged
    }
}
