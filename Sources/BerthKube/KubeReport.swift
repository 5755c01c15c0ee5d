import ComposeSpec

/// Something of the input that the translation could not carry over exactly: an ignored
/// field, an approximation, a default berth had to choose. The CLI prints one line each on
/// stderr — nothing is dropped silently.
public struct KubeWarning: Sendable, Equatable, CustomStringConvertible {
    /// What it is about: `Deployment/web` for a manifest object, `service "web"` for Compose.
    public var subject: String
    /// The field, as a dotted path inside the subject (`spec.template.spec.containers[0].lifecycle`).
    public var path: String
    public var message: String

    public init(subject: String, path: String, message: String) {
        self.subject = subject
        self.path = path
        self.message = message
    }

    public var description: String {
        path.isEmpty ? "\(subject): \(message)" : "\(subject): \(path): \(message)"
    }
}

/// A translation failure: what, where (file:line:column of the manifest when known) and
/// what to do about it — the loader's error type, so the CLI reports both alike.
typealias KubeError = ComposeError

/// Collects the warnings of one translation, in the order they arise.
final class KubeReport {
    private(set) var warnings: [KubeWarning] = []
    /// Every manifest mapping handed out, so the keys nobody read can be reported at the end.
    private var maps: [ManifestMap] = []

    func warn(_ subject: String, _ path: String, _ message: String) {
        let warning = KubeWarning(subject: subject, path: path, message: message)
        if !warnings.contains(warning) { warnings.append(warning) }
    }

    func register(_ map: ManifestMap) { maps.append(map) }

    /// Reports the keys of every mapping that the translation did not read.
    func reportUnread() {
        for map in maps {
            for key in map.unreadKeys {
                warn(map.subject, map.path.appending(key).description, "not supported, ignored")
            }
        }
        maps.removeAll()
    }
}
