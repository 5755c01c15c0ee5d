import BerthDigest

/// The canonical form of a project, as `berth config` prints it, and the per-service config
/// hash that decides whether a container is out of date.
public enum CanonicalOutput {
    /// The project as an output tree. With `escapeDollars`, every `$` in a string is written
    /// as `$$`, so feeding the output back reads the same values (Compose v2 does this).
    public static func tree(_ project: Project, escapeDollars: Bool = true) -> OutputValue {
        // Encoding our own model cannot fail: every type encodes plain values.
        let value = (try? OutputEncoder().encode(project)) ?? .null
        return escapeDollars ? escape(value) : value
    }

    public static func yaml(_ project: Project, escapeDollars: Bool = true) -> String {
        OutputWriter.yaml(tree(project, escapeDollars: escapeDollars))
    }

    public static func json(_ project: Project, escapeDollars: Bool = true) -> String {
        OutputWriter.json(tree(project, escapeDollars: escapeDollars))
    }

    static func escape(_ value: OutputValue) -> OutputValue {
        switch value {
        case .string(let s) where s.contains("$"): return .string(s.replacingDollars())
        case .list(let items): return .list(items.map(escape))
        case .map(let pairs): return .map(pairs.map { ($0.0, escape($0.1)) })
        default: return value
        }
    }

    /// SHA-256 of the service's canonical JSON, leaving out what does not change the
    /// container itself (as Compose's `ServiceHash`): build, pull_policy, scale,
    /// deploy.replicas, depends_on and profiles — and, as berth rolls updates with them,
    /// deploy.update_config and deploy.rollback_config (a deploy left empty counts as none).
    /// Stable across runs and key orders.
    public static func configHash(_ service: Service) -> String {
        var copy = service
        copy.build = nil
        copy.pull_policy = nil
        copy.scale = nil
        copy.deploy?.replicas = nil
        copy.deploy?.update_config = nil
        copy.deploy?.rollback_config = nil
        if let deploy = copy.deploy, deploy.mode == nil, deploy.labels == nil, deploy.resources == nil, deploy.restart_policy == nil,
           deploy.placement == nil, deploy.endpoint_mode == nil, deploy.extensions == nil {
            copy.deploy = nil
        }
        copy.depends_on = nil
        copy.profiles = nil
        let value = (try? OutputEncoder().encode(copy)) ?? .null
        return SHA256.hex(OutputWriter.json(value, indent: 0))
    }
}

extension String {
    fileprivate func replacingDollars() -> String {
        var out = ""
        out.reserveCapacity(count + 4)
        for c in self {
            if c == "$" { out += "$$" } else { out.append(c) }
        }
        return out
    }
}
