/// A loaded, normalized Compose project: what `berth config` prints and everything later
/// stages (planner, supervisor) read.
public struct Project: Codable, Sendable, Equatable {
    public var name: String
    public var services: KeyedMap<Service>
    public var networks: KeyedMap<Network>?
    public var volumes: KeyedMap<Volume>?
    public var secrets: KeyedMap<FileObject>?
    public var configs: KeyedMap<FileObject>?
    public var models: KeyedMap<Model>?
    public var extensions: Extensions?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, services, networks, volumes, secrets, configs, models
        case extensions = "x-*"
    }

    /// Where relative paths were resolved from (not printed).
    public var workingDirectory: String = ""
    /// The Compose files the project was read from, in order (not printed).
    public var configFiles: [String] = []
    /// `--env-file` files used for interpolation, if any (not printed).
    public var environmentFiles: [String] = []
    /// Services switched off by profiles (not printed by `config`, kept for `--profiles`).
    public var disabledServices: KeyedMap<Service> = KeyedMap()

    public init(name: String, services: KeyedMap<Service>) {
        self.name = name
        self.services = services
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name) ?? ""
        services = try container.decodeIfPresent(KeyedMap<Service>.self, forKey: .services) ?? KeyedMap()
        networks = try container.decodeIfPresent(KeyedMap<Network>.self, forKey: .networks)
        volumes = try container.decodeIfPresent(KeyedMap<Volume>.self, forKey: .volumes)
        secrets = try container.decodeIfPresent(KeyedMap<FileObject>.self, forKey: .secrets)
        configs = try container.decodeIfPresent(KeyedMap<FileObject>.self, forKey: .configs)
        models = try container.decodeIfPresent(KeyedMap<Model>.self, forKey: .models)
        extensions = try container.decodeIfPresent(Extensions.self, forKey: .extensions)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(services, forKey: .services)
        try encodeUnlessEmpty(networks, .networks, &container)
        try encodeUnlessEmpty(volumes, .volumes, &container)
        try encodeUnlessEmpty(secrets, .secrets, &container)
        try encodeUnlessEmpty(configs, .configs, &container)
        try encodeUnlessEmpty(models, .models, &container)
        try container.encodeIfPresent(extensions, forKey: .extensions)
    }

    private func encodeUnlessEmpty<V>(
        _ map: KeyedMap<V>?, _ key: CodingKeys, _ container: inout KeyedEncodingContainer<CodingKeys>
    ) throws {
        if let map, !map.isEmpty { try container.encode(map, forKey: key) }
    }

    public static func == (lhs: Project, rhs: Project) -> Bool {
        lhs.name == rhs.name && lhs.services == rhs.services && lhs.networks == rhs.networks && lhs.volumes == rhs.volumes
            && lhs.secrets == rhs.secrets && lhs.configs == rhs.configs && lhs.models == rhs.models
            && lhs.extensions == rhs.extensions
    }
}

public struct Network: Codable, Sendable, Equatable {
    public struct IPAM: Codable, Sendable, Equatable {
        public struct Pool: Codable, Sendable, Equatable {
            public var subnet: String?
            public var ip_range: String?
            public var gateway: String?
            public var aux_addresses: KeyedMap<String>?
            public var extensions: Extensions?
            enum CodingKeys: String, CodingKey, CaseIterable {
                case subnet, ip_range, gateway, aux_addresses
                case extensions = "x-*"
            }
        }
        public var driver: String?
        public var config: [Pool]?
        public var options: KeyedMap<String>?
        public var extensions: Extensions?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case driver, config, options
            case extensions = "x-*"
        }
    }

    public var name: String?
    public var driver: String?
    public var driver_opts: KeyedMap<String>?
    public var ipam: IPAM?
    public var external: Bool?
    public var `internal`: Bool?
    public var attachable: Bool?
    public var labels: KeyedMap<String>?
    public var enable_ipv4: Bool?
    public var enable_ipv6: Bool?
    public var extensions: Extensions?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, driver, driver_opts, ipam, external, `internal`, attachable, labels, enable_ipv4, enable_ipv6
        case extensions = "x-*"
    }
}

public struct Volume: Codable, Sendable, Equatable {
    public var name: String?
    public var driver: String?
    public var driver_opts: KeyedMap<String>?
    public var external: Bool?
    public var labels: KeyedMap<String>?
    public var extensions: Extensions?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, driver, driver_opts, external, labels
        case extensions = "x-*"
    }
}

/// A top-level secret or config: from a file, an environment variable, inline content, or
/// an external object.
public struct FileObject: Codable, Sendable, Equatable {
    public var name: String?
    public var file: String?
    public var environment: String?
    public var content: String?
    public var external: Bool?
    public var labels: KeyedMap<String>?
    public var driver: String?
    public var driver_opts: KeyedMap<String>?
    public var template_driver: String?
    public var extensions: Extensions?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, file, environment, content, external, labels, driver, driver_opts, template_driver
        case extensions = "x-*"
    }
}

public struct Model: Codable, Sendable, Equatable {
    public var name: String?
    public var model: String?
    public var context_size: Int?
    public var runtime_flags: [String]?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, model, context_size, runtime_flags
        case extensions = "x-*"
    }
}

extension Project {
    /// The project with only `names` and what they depend on (as `config SERVICE…` and
    /// `up SERVICE…` select).
    public func limited(to names: [String]) -> Project {
        var keep = Set<String>()
        var queue = names
        while let name = queue.popLast() {
            guard !keep.contains(name), let service = services[name] else { continue }
            keep.insert(name)
            queue.append(contentsOf: service.depends_on?.keys ?? [])
        }
        var copy = self
        copy.services.removeAll(where: { name, _ in !keep.contains(name) })
        return copy
    }
}
