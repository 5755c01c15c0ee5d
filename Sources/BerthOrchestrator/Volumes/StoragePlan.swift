import BerthRuntime
import BerthSystem
import Foundation

/// Where `volumes_from` takes its mounts from.
public enum VolumesFromSource: Sendable, Equatable {
    /// `service_name` / `service:name`: the service's first container.
    case service(String)
    /// `container:name`.
    case container(String)
}

/// What planning a container's storage needs from outside — given, so that planning
/// itself does no I/O.
public struct StorageInputs: Sendable {
    /// The volume store; only its paths are used here. Without it, services with volumes
    /// are refused.
    public var store: VolumeStore?
    /// The project's volumes, as `VolumeStore.ensure(project:)` returned them.
    public var volumes: ProjectVolumes
    /// Anonymous volumes of the container this one replaces, target → volume name
    /// (`VolumeStore.anonymousVolumes(of:)`): a recreated container keeps their data, as
    /// Compose does unless `-V/--renew-anon-volumes` (then pass none).
    public var inheritedAnonymous: [String: String]
    /// Names new anonymous volumes (64 hex, as Docker).
    public var newVolumeName: @Sendable () -> String
    /// The mounts of the container that `volumes_from` names (read from its spec), or nil
    /// when there is none.
    public var mountsOf: @Sendable (VolumesFromSource) -> [ContainerSpec.Mount]?
    /// Where secrets and configs with `environment:` take their value: the project's
    /// interpolation environment (`LoadResult.interpolationEnvironment`).
    public var environment: [String: String]

    public init(
        store: VolumeStore? = nil, volumes: ProjectVolumes = ProjectVolumes(), inheritedAnonymous: [String: String] = [:],
        newVolumeName: @escaping @Sendable () -> String = VolumeStore.randomName,
        mountsOf: @escaping @Sendable (VolumesFromSource) -> [ContainerSpec.Mount]? = { _ in nil },
        environment: [String: String] = [:]
    ) {
        self.store = store
        self.volumes = volumes
        self.inheritedAnonymous = inheritedAnonymous
        self.newVolumeName = newVolumeName
        self.mountsOf = mountsOf
        self.environment = environment
    }
}

/// A secret or config as a file in the container's private directory, bound read-only at
/// its target: never in the writable layer, in `inspect` output or in a log.
public struct PrivateFile: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// The top-level `file:`, copied when the container is created.
        case file(String)
        /// `environment:` or `content:`.
        case bytes([UInt8])
    }
    public var path: String
    public var content: Content
    public var uid: UInt32
    public var gid: UInt32
    public var mode: UInt32
    /// `secret "db_password"`, for errors.
    public var what: String
}

/// A container's storage: its mounts, and what must exist before it starts.
public struct StoragePlan: Sendable, Equatable {
    public var mounts: [ContainerSpec.Mount] = []
    /// Accepted but not honoured (SELinux labels); print as `WARN[0000] <message>`.
    public var warnings: [String] = []
    /// Anonymous volumes to create when missing.
    public var anonymousVolumes: [String] = []
    /// Bind sources to create as directories when missing (`create_host_path`, implied by
    /// the short syntax).
    public var hostDirectories: [String] = []
    /// Bind sources that must exist (long syntax without `create_host_path`).
    public var requiredSources: [String] = []
    public var files: [PrivateFile] = []

    public init() {}

    /// Makes what the plan needs, once the container's directory exists (after
    /// `ContainerStore.create`): anonymous volumes, host directories, secret and config
    /// files. Docker's errors for what cannot be.
    public func materialise(volumes: VolumeStore) throws {
        for name in anonymousVolumes { try volumes.createAnonymous(name: name) }
        for path in hostDirectories where !FS.exists(path) {
            do {
                try FS.makeDirectories(path)
            } catch {
                throw VolumeError(.system, "create host path \(path) for a bind mount: \(error)")
            }
        }
        for path in requiredSources where !FS.exists(path) {
            throw VolumeError(.notFound, "invalid mount config for type \"bind\": bind source path does not exist: \(path)")
        }
        for file in files { try write(file) }
    }

    private func write(_ file: PrivateFile) throws {
        do {
            let bytes: [UInt8]
            switch file.content {
            case .bytes(let value): bytes = value
            case .file(let source):
                do {
                    bytes = try FS.read(source, limit: 64 << 20)
                } catch {
                    throw VolumeError(.notFound, "\(file.what): cannot read its file: \(error)")
                }
            }
            try FS.makeDirectories((file.path as NSString).deletingLastPathComponent, mode: 0o700)
            try FS.writeAtomically(file.path, bytes, mode: 0o600)
            _ = try Sys.check("chown", path: file.path) { chown(file.path, file.uid, file.gid) }
            _ = try Sys.check("chmod", path: file.path) { chmod(file.path, mode_t(file.mode)) }
        } catch let error as SystemError {
            throw VolumeError(.system, "\(file.what): \(error)")
        }
    }
}
