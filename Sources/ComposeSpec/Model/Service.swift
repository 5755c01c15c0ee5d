/// One service of a Compose project, after normalization: every key of the compose-spec,
/// long syntax only, paths absolute. Keys print in this order (alphabetical, as Compose).
public struct Service: Codable, Sendable, Equatable {
    public var annotations: KeyedMap<String>?
    public var attach: Bool?
    public var blkio_config: BlkioConfig?
    public var build: BuildConfig?
    public var cap_add: [String]?
    public var cap_drop: [String]?
    public var cgroup: String?
    public var cgroup_parent: String?
    public var command: [String]?
    public var configs: [FileMount]?
    public var container_name: String?
    public var cpu_count: Int64?
    public var cpu_percent: Double?
    public var cpu_period: Int64?
    public var cpu_quota: Int64?
    public var cpu_rt_period: Duration?
    public var cpu_rt_runtime: Duration?
    public var cpu_shares: Int64?
    public var cpus: Double?
    public var cpuset: String?
    public var credential_spec: CredentialSpec?
    public var depends_on: KeyedMap<DependsOn>?
    public var deploy: DeployConfig?
    public var develop: DevelopConfig?
    public var device_cgroup_rules: [String]?
    public var devices: [DeviceMapping]?
    public var dns: [String]?
    public var dns_opt: [String]?
    public var dns_search: [String]?
    public var domainname: String?
    public var entrypoint: [String]?
    public var env_file: [EnvFileRef]?
    public var environment: KeyedMap<String?>?
    public var expose: [String]?
    public var extends: ExtendsRef?
    public var external_links: [String]?
    public var extra_hosts: KeyedMap<[String]>?
    public var gpus: [DeviceRequest]?
    public var group_add: [String]?
    public var healthcheck: HealthCheck?
    public var hostname: String?
    public var image: String?
    public var `init`: Bool?
    public var ipc: String?
    public var isolation: String?
    public var label_file: [String]?
    public var labels: KeyedMap<String>?
    public var links: [String]?
    public var logging: Logging?
    public var mac_address: String?
    public var mem_limit: ByteSize?
    public var mem_reservation: ByteSize?
    public var mem_swappiness: Int64?
    public var memswap_limit: ByteSize?
    public var models: KeyedMap<ServiceModel?>?
    public var network_mode: String?
    public var networks: KeyedMap<ServiceNetwork?>?
    public var oom_kill_disable: Bool?
    public var oom_score_adj: Int64?
    public var pid: String?
    public var pids_limit: Int64?
    public var platform: String?
    public var ports: [PortConfig]?
    public var post_start: [Hook]?
    public var pre_start: [Hook]?
    public var pre_stop: [Hook]?
    public var privileged: Bool?
    public var profiles: [String]?
    public var provider: Provider?
    public var pull_policy: String?
    public var pull_refresh_after: String?
    public var read_only: Bool?
    public var restart: String?
    public var runtime: String?
    public var scale: Int?
    public var secrets: [FileMount]?
    public var security_opt: [String]?
    public var shm_size: ByteSize?
    public var stdin_open: Bool?
    public var stop_grace_period: Duration?
    public var stop_signal: String?
    public var storage_opt: KeyedMap<String>?
    public var sysctls: KeyedMap<String>?
    public var tmpfs: [String]?
    public var tty: Bool?
    public var ulimits: KeyedMap<Ulimit>?
    public var use_api_socket: Bool?
    public var user: String?
    public var userns_mode: String?
    public var uts: String?
    public var volumes: [ServiceVolume]?
    public var volumes_from: [String]?
    public var working_dir: String?
    public var extensions: Extensions?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case annotations, attach, blkio_config, build, cap_add, cap_drop, cgroup, cgroup_parent, command, configs
        case container_name, cpu_count, cpu_percent, cpu_period, cpu_quota, cpu_rt_period, cpu_rt_runtime, cpu_shares
        case cpus, cpuset, credential_spec, depends_on, deploy, develop, device_cgroup_rules, devices, dns, dns_opt
        case dns_search, domainname, entrypoint, env_file, environment, expose, extends, external_links, extra_hosts
        case gpus, group_add, healthcheck, hostname, image, `init`, ipc, isolation, label_file, labels, links, logging
        case mac_address, mem_limit, mem_reservation, mem_swappiness, memswap_limit, models, network_mode, networks
        case oom_kill_disable, oom_score_adj, pid, pids_limit, platform, ports, post_start, pre_start, pre_stop
        case privileged, profiles, provider, pull_policy, pull_refresh_after, read_only, restart, runtime, scale
        case secrets, security_opt, shm_size, stdin_open, stop_grace_period, stop_signal, storage_opt, sysctls, tmpfs
        case tty, ulimits, use_api_socket, user, userns_mode, uts, volumes, volumes_from, working_dir
        case extensions = "x-*"
    }

    public init() {}

    /// The number of containers `up` starts: `deploy.replicas`, else `scale`, else 1.
    public var replicas: Int { deploy?.replicas ?? scale ?? 1 }
}

public struct BuildConfig: Codable, Sendable, Equatable {
    public var context: String?
    public var dockerfile: String?
    public var dockerfile_inline: String?
    public var entitlements: [String]?
    public var args: KeyedMap<String?>?
    public var ssh: [String]?
    public var labels: KeyedMap<String>?
    public var cache_from: [String]?
    public var cache_to: [String]?
    public var no_cache: Bool?
    public var additional_contexts: KeyedMap<String>?
    public var network: String?
    public var provenance: ComposeValue?
    public var sbom: ComposeValue?
    public var pull: Bool?
    public var target: String?
    public var shm_size: ByteSize?
    public var extra_hosts: KeyedMap<[String]>?
    public var isolation: String?
    public var privileged: Bool?
    public var secrets: [FileMount]?
    public var tags: [String]?
    public var ulimits: KeyedMap<Ulimit>?
    public var platforms: [String]?
    public var extensions: Extensions?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case context, dockerfile, dockerfile_inline, entitlements, args, ssh, labels, cache_from, cache_to, no_cache
        case additional_contexts, network, provenance, sbom, pull, target, shm_size, extra_hosts, isolation, privileged
        case secrets, tags, ulimits, platforms
        case extensions = "x-*"
    }
}

public struct BlkioConfig: Codable, Sendable, Equatable {
    public struct WeightDevice: Codable, Sendable, Equatable {
        public var path: String
        public var weight: UInt16
        enum CodingKeys: String, CodingKey, CaseIterable { case path, weight }
    }
    public struct ThrottleDevice: Codable, Sendable, Equatable {
        public var path: String
        public var rate: ByteSize
        enum CodingKeys: String, CodingKey, CaseIterable { case path, rate }
    }
    public var weight: UInt16?
    public var weight_device: [WeightDevice]?
    public var device_read_bps: [ThrottleDevice]?
    public var device_read_iops: [ThrottleDevice]?
    public var device_write_bps: [ThrottleDevice]?
    public var device_write_iops: [ThrottleDevice]?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case weight, weight_device, device_read_bps, device_read_iops, device_write_bps, device_write_iops
    }
}

public struct CredentialSpec: Codable, Sendable, Equatable {
    public var config: String?
    public var file: String?
    public var registry: String?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case config, file, registry
        case extensions = "x-*"
    }
}

public struct DependsOn: Codable, Sendable, Equatable {
    public var condition: String
    public var restart: Bool?
    public var required: Bool
    public var extensions: Extensions?

    public init(condition: String = DependsOn.started, restart: Bool? = nil, required: Bool = true) {
        self.condition = condition
        self.restart = restart
        self.required = required
    }

    public static let started = "service_started"
    public static let healthy = "service_healthy"
    public static let completedSuccessfully = "service_completed_successfully"

    enum CodingKeys: String, CodingKey, CaseIterable {
        case condition, restart, required
        case extensions = "x-*"
    }
}

public struct DeployConfig: Codable, Sendable, Equatable {
    public struct UpdateConfig: Codable, Sendable, Equatable {
        public var parallelism: Int?
        public var delay: Duration?
        public var failure_action: String?
        public var monitor: Duration?
        public var max_failure_ratio: Double?
        public var order: String?
        public var extensions: Extensions?
        public init() {}
        enum CodingKeys: String, CodingKey, CaseIterable {
            case parallelism, delay, failure_action, monitor, max_failure_ratio, order
            case extensions = "x-*"
        }
    }
    public struct Resource: Codable, Sendable, Equatable {
        public var cpus: Double?
        public var memory: ByteSize?
        public var pids: Int64?
        public var devices: [DeviceRequest]?
        public var generic_resources: [ComposeValue]?
        public var extensions: Extensions?
        public init() {}
        enum CodingKeys: String, CodingKey, CaseIterable {
            case cpus, memory, pids, devices, generic_resources
            case extensions = "x-*"
        }
    }
    public struct Resources: Codable, Sendable, Equatable {
        public var limits: Resource?
        public var reservations: Resource?
        public var extensions: Extensions?
        public init() {}
        enum CodingKeys: String, CodingKey, CaseIterable {
            case limits, reservations
            case extensions = "x-*"
        }
    }
    public struct RestartPolicy: Codable, Sendable, Equatable {
        public var condition: String?
        public var delay: Duration?
        public var max_attempts: UInt64?
        public var window: Duration?
        public var extensions: Extensions?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case condition, delay, max_attempts, window
            case extensions = "x-*"
        }
    }
    public struct Placement: Codable, Sendable, Equatable {
        public struct Preference: Codable, Sendable, Equatable {
            public var spread: String?
            public var extensions: Extensions?
            enum CodingKeys: String, CodingKey, CaseIterable {
                case spread
                case extensions = "x-*"
            }
        }
        public var constraints: [String]?
        public var preferences: [Preference]?
        public var max_replicas_per_node: UInt64?
        public var extensions: Extensions?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case constraints, preferences, max_replicas_per_node
            case extensions = "x-*"
        }
    }

    public var mode: String?
    public var replicas: Int?
    public var labels: KeyedMap<String>?
    public var update_config: UpdateConfig?
    public var rollback_config: UpdateConfig?
    public var resources: Resources?
    public var restart_policy: RestartPolicy?
    public var placement: Placement?
    public var endpoint_mode: String?
    public var extensions: Extensions?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case mode, replicas, labels, update_config, rollback_config, resources, restart_policy, placement, endpoint_mode
        case extensions = "x-*"
    }
}

public struct DeviceRequest: Codable, Sendable, Equatable {
    public var capabilities: [String]?
    public var driver: String?
    public var count: Int64?
    public var device_ids: [String]?
    public var options: KeyedMap<String>?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case capabilities, driver, count, device_ids, options
        case extensions = "x-*"
    }
}

public struct DevelopConfig: Codable, Sendable, Equatable {
    public struct WatchRule: Codable, Sendable, Equatable {
        public var path: String
        public var action: String
        public var target: String?
        public var ignore: [String]?
        public var include: [String]?
        public var initial_sync: Bool?
        public var exec: Hook?
        public var extensions: Extensions?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case path, action, target, ignore, include, initial_sync, exec
            case extensions = "x-*"
        }
    }
    public var watch: [WatchRule]?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case watch
        case extensions = "x-*"
    }
}

public struct DeviceMapping: Codable, Sendable, Equatable {
    public var source: String
    public var target: String?
    public var permissions: String?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case source, target, permissions
        case extensions = "x-*"
    }
}

public struct EnvFileRef: Codable, Sendable, Equatable {
    public var path: String
    public var required: Bool
    public var format: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case path, required, format }
}

public struct ExtendsRef: Codable, Sendable, Equatable {
    public var service: String
    public var file: String?
    enum CodingKeys: String, CodingKey, CaseIterable { case service, file }
}

public struct HealthCheck: Codable, Sendable, Equatable {
    public var test: [String]?
    public var interval: Duration?
    public var timeout: Duration?
    public var start_period: Duration?
    public var start_interval: Duration?
    public var retries: UInt64?
    public var disable: Bool?
    public var extensions: Extensions?
    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case test, timeout, interval, retries, start_period, start_interval, disable
        case extensions = "x-*"
    }

    /// True when the check is switched off (`disable: true` or test `NONE`).
    public var isDisabled: Bool { disable == true || test?.first == "NONE" }
}

public struct Hook: Codable, Sendable, Equatable {
    public var command: [String]
    /// A `pre_start` hook may run in its own container from this image.
    public var image: String?
    public var user: String?
    public var privileged: Bool?
    public var working_dir: String?
    public var environment: KeyedMap<String?>?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case command, image, user, privileged, working_dir, environment
        case extensions = "x-*"
    }
}

public struct Logging: Codable, Sendable, Equatable {
    public var driver: String?
    public var options: KeyedMap<String?>?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case driver, options
        case extensions = "x-*"
    }
}

public struct ServiceModel: Codable, Sendable, Equatable {
    public var endpoint_var: String?
    public var model_var: String?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case endpoint_var, model_var
        case extensions = "x-*"
    }
}

public struct ServiceNetwork: Codable, Sendable, Equatable {
    public var aliases: [String]?
    public var interface_name: String?
    public var ipv4_address: String?
    public var ipv6_address: String?
    public var link_local_ips: [String]?
    public var mac_address: String?
    public var driver_opts: KeyedMap<String>?
    public var priority: Int?
    public var gw_priority: Int?
    public var extensions: Extensions?
    public init() {}
    enum CodingKeys: String, CodingKey, CaseIterable {
        case aliases, interface_name, ipv4_address, ipv6_address, link_local_ips, mac_address, driver_opts, priority
        case gw_priority
        case extensions = "x-*"
    }
}

public struct PortConfig: Codable, Sendable, Equatable {
    public var name: String?
    public var mode: String?
    public var host_ip: String?
    public var target: UInt16
    public var published: String?
    public var `protocol`: String?
    public var app_protocol: String?
    public var extensions: Extensions?

    public init(target: UInt16, published: String? = nil, hostIP: String? = nil, protocol proto: String = "tcp") {
        self.mode = "ingress"
        self.target = target
        self.published = published
        self.host_ip = hostIP
        self.protocol = proto
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, mode, host_ip, target, published, `protocol`, app_protocol
        case extensions = "x-*"
    }
}

public struct Provider: Codable, Sendable, Equatable {
    public var type: String
    public var options: KeyedMap<ComposeValue>?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, options
        case extensions = "x-*"
    }
}

/// A secret or config given to a service (`secrets:`/`configs:` entries).
public struct FileMount: Codable, Sendable, Equatable {
    public var source: String
    public var target: String?
    public var uid: String?
    public var gid: String?
    public var mode: UInt32?
    public var extensions: Extensions?
    enum CodingKeys: String, CodingKey, CaseIterable {
        case source, target, uid, gid, mode
        case extensions = "x-*"
    }
}

public struct Ulimit: Codable, Sendable, Equatable, NodeDecodable {
    public var soft: Int64
    public var hard: Int64

    public init(soft: Int64, hard: Int64) {
        self.soft = soft
        self.hard = hard
    }

    public init(node: Node, path: KeyPath) throws(ComposeError) {
        if node.isMapping {
            for key in node.keys where key != "soft" && key != "hard" {
                let hint = Spelling.closest(to: key, in: ["soft", "hard"]).map { " — did you mean '\($0)'?" } ?? ""
                throw ComposeError("\(path): unknown key '\(key)'\(hint)", at: node.pairs?.first(where: { $0.key.scalarText == key })?.key.mark ?? node.mark)
            }
            guard let softNode = node["soft"], let hardNode = node["hard"] else {
                throw ComposeError("\(path): a ulimit needs both 'soft' and 'hard' (or a single number)", at: node.mark)
            }
            soft = try Scalars.int(softNode, path.appending("soft"))
            hard = try Scalars.int(hardNode, path.appending("hard"))
            if soft > hard && hard >= 0 {
                throw ComposeError("\(path): soft limit \(soft) is greater than hard limit \(hard)", at: node.mark)
            }
        } else {
            let value = try Scalars.int(node, path)
            soft = value
            hard = value
        }
    }

    public init(from decoder: any Decoder) throws { try self.init(nodeDecoder: decoder, name: "Ulimit") }

    /// A single number when soft and hard agree, as written in the short form.
    public func encode(to encoder: any Encoder) throws {
        if soft == hard {
            var container = encoder.singleValueContainer()
            try container.encode(soft)
        } else {
            var container = encoder.container(keyedBy: PathKey.self)
            try container.encode(soft, forKey: PathKey(stringValue: "soft"))
            try container.encode(hard, forKey: PathKey(stringValue: "hard"))
        }
    }
}

public struct ServiceVolume: Codable, Sendable, Equatable {
    public struct Bind: Codable, Sendable, Equatable {
        public var propagation: String?
        public var create_host_path: Bool?
        public var recursive: String?
        public var selinux: String?
        public var extensions: Extensions?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case propagation, create_host_path, recursive, selinux
            case extensions = "x-*"
        }
    }
    public struct VolumeOptions: Codable, Sendable, Equatable {
        public var labels: KeyedMap<String>?
        public var nocopy: Bool?
        public var subpath: String?
        public var extensions: Extensions?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case labels, nocopy, subpath
            case extensions = "x-*"
        }
    }
    public struct Tmpfs: Codable, Sendable, Equatable {
        public var size: ByteSize?
        public var mode: UInt32?
        public var extensions: Extensions?
        public init() {}
        enum CodingKeys: String, CodingKey, CaseIterable {
            case size, mode
            case extensions = "x-*"
        }
    }
    public struct ImageOptions: Codable, Sendable, Equatable {
        public var subpath: String?
        public var extensions: Extensions?
        enum CodingKeys: String, CodingKey, CaseIterable {
            case subpath
            case extensions = "x-*"
        }
    }

    public var type: String
    public var source: String?
    public var target: String?
    public var read_only: Bool?
    public var consistency: String?
    public var bind: Bind?
    public var volume: VolumeOptions?
    public var tmpfs: Tmpfs?
    public var image: ImageOptions?
    public var extensions: Extensions?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, source, target, read_only, consistency, bind, volume, tmpfs, image
        case extensions = "x-*"
    }
}
