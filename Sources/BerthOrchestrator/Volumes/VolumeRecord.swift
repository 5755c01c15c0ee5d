import BerthRuntime
import Foundation

/// One volume's metadata, `<root>/volumes/<name>/volume.json`, in the shape of Docker's
/// `docker volume inspect` (which is also what berth prints).
public struct VolumeRecord: Codable, Sendable, Equatable {
    public var name: String
    public var driver: String
    public var labels: [String: String]
    /// `driver_opts` / `-o`: `type`, `o`, `device`.
    public var options: [String: String]
    /// RFC 3339, seconds, UTC (Docker prints the volume directory's time this way).
    public var createdAt: String
    /// `<root>/volumes/<name>/_data`: what containers see.
    public var mountpoint: String
    public var scope: String

    enum CodingKeys: String, CodingKey {
        case name = "Name", driver = "Driver", labels = "Labels", options = "Options"
        case createdAt = "CreatedAt", mountpoint = "Mountpoint", scope = "Scope"
    }

    public init(name: String, labels: [String: String], options: [String: String], createdAt: String, mountpoint: String) {
        self.name = name
        driver = "local"
        self.labels = labels
        self.options = options
        self.createdAt = createdAt
        self.mountpoint = mountpoint
        scope = "local"
    }

    /// Docker (≥ 23) marks the volumes it creates for a container's anonymous mounts with
    /// this label; `volume prune` removes only those unless `--all`.
    public static let anonymousLabel = "com.docker.volume.anonymous"

    public var isAnonymous: Bool { labels[Self.anonymousLabel] != nil }

    /// `<root>/volumes/<name>`.
    public var directory: String { (mountpoint as NSString).deletingLastPathComponent }

    /// The runtime's view: where the data is, and the file system to mount for it.
    public func runtimeVolume(copyUp: Bool = true, subpath: String? = nil) -> ContainerSpec.Volume {
        var filesystem: ContainerSpec.Filesystem?
        if let type = options["type"] {
            filesystem = ContainerSpec.Filesystem(type: type, device: options["device"] ?? "", options: options["o"] ?? "")
        }
        return ContainerSpec.Volume(name: name, directory: directory, filesystem: filesystem, copyUp: copyUp, subpath: subpath)
    }
}

/// A volume operation that failed, in Docker's words (`remove NAME: volume is in use -
/// [ID]`, `get NAME: no such volume`), with a code callers can branch on.
public struct VolumeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case notFound, inUse, invalid, exists, system
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
