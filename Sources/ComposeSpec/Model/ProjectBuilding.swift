/// Public initializers for building a project in code (`kube play` translates Kubernetes
/// manifests into one) rather than loading it from a file.
extension FileMount {
    public init(source: String, target: String? = nil) {
        self.source = source
        self.target = target
    }
}

extension ServiceVolume {
    public init(type: String, source: String? = nil, target: String) {
        self.type = type
        self.source = source
        self.target = target
    }
}

extension ServiceVolume.Bind {
    public init(createHostPath: Bool?, propagation: String?) {
        self.create_host_path = createHostPath
        self.propagation = propagation
    }
}

extension ServiceVolume.VolumeOptions {
    public init(subpath: String?) {
        self.subpath = subpath
    }
}

extension DeployConfig {
    public init(replicas: Int?) {
        self.replicas = replicas
    }
}

extension Project {
    /// A name made a valid project name the way Compose makes one of a directory's name:
    /// lowercase, only `[a-z0-9_-]`, no leading `_` or `-` (may be empty).
    public static func normalizedName(_ raw: String) -> String {
        Normalizer.normalizedName(raw)
    }
}
