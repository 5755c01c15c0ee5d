import BerthRuntime
import ComposeSpec

/// A project's top-level volumes once they exist: each key's volume, and what Compose would
/// have warned about on the way.
public struct ProjectVolumes: Sendable, Equatable {
    /// Top-level key → its volume.
    public var records: [String: VolumeRecord]
    /// Compose's warnings (print as `WARN[0000] <message>`).
    public var warnings: [String]

    public init(records: [String: VolumeRecord] = [:], warnings: [String] = []) {
        self.records = records
        self.warnings = warnings
    }
}

/// What became of one volume in `down -v` or a container's removal, as Compose reports it.
public struct VolumeRemoval: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// Compose: `Volume NAME  Removed`.
        case removed
        /// Compose: `Warning: No resource found to remove`.
        case notFound
        /// Compose: `Resource is still in use` (a warning, not an error).
        case inUse
        case failed(String)
    }
    public var name: String
    public var outcome: Outcome
}

extension VolumeStore {
    /// Compose's `ensureVolume` for every top-level volume of the project (Compose creates
    /// them all at `up`, used or not): an external volume must exist; a missing one is
    /// created with the project's labels and its driver_opts; an existing one is used as
    /// it is, with Compose's warning when it was not made for this project.
    public func ensure(project: Project) throws -> ProjectVolumes {
        var result = ProjectVolumes()
        for (key, volume) in project.volumes ?? KeyedMap() {
            let name = volume.name ?? "\(project.name)_\(key)"
            if let driver = volume.driver, !driver.isEmpty, driver != "local" {
                throw VolumeError(.invalid, "volume \"\(key)\": driver \"\(driver)\" is not supported: berth has the local driver only (driver_opts type, o and device mount other file systems)")
            }
            if let existing = try? get(name) {
                result.records[key] = existing
                if volume.external == true { continue }
                if let owner = existing.labels[Label.project] {
                    if owner != project.name {
                        result.warnings.append("volume \"\(name)\" already exists but was created for project \"\(owner)\" (expected \"\(project.name)\"). Use `external: true` to use an existing volume")
                    }
                } else {
                    result.warnings.append("volume \"\(name)\" already exists but was not created by Docker Compose. Use `external: true` to use an existing volume")
                }
                continue
            }
            if volume.external == true {
                throw VolumeError(.notFound, "external volume \"\(name)\" not found")
            }
            var labels: [String: String] = [:]
            for (labelKey, value) in volume.labels ?? KeyedMap() { labels[labelKey] = value }
            for (labelKey, value) in Label.volume(project: project.name, key: key) { labels[labelKey] = value }
            var options: [String: String] = [:]
            for (optionKey, value) in volume.driver_opts ?? KeyedMap() { options[optionKey] = value }
            do {
                result.records[key] = try create(name: name, labels: labels, options: options)
            } catch let error as VolumeError where error.code == .invalid {
                throw VolumeError(.invalid, "volume \"\(key)\": \(error.message)")
            }
        }
        return result
    }

    /// `down -v`: removes the project's volumes, never the external ones. A volume still
    /// used by a container is left, as Compose leaves it (a warning).
    public func removeVolumes(of project: Project) -> [VolumeRemoval] {
        (project.volumes ?? KeyedMap()).filter { $0.value.external != true }.map { key, volume in
            removal(volume.name ?? "\(project.name)_\(key)")
        }
    }

    /// The project's volumes found by label (`com.docker.compose.project`), for `down -v`
    /// when the Compose file is not at hand.
    public func volumes(labelledFor project: String) -> [VolumeRecord] {
        list().filter { $0.labels[Label.project] == project }
    }

    /// A container's anonymous volumes, target → volume name: what its replacement inherits
    /// on a recreate (`StorageInputs.inheritedAnonymous`) unless `-V/--renew-anon-volumes`.
    public func anonymousVolumes(of spec: ContainerSpec) -> [String: String] {
        var out: [String: String] = [:]
        for mount in spec.mounts {
            if case .volume(let volume) = mount.kind, (try? get(volume.name))?.isAnonymous == true {
                out[mount.destination] = volume.name
            }
        }
        return out
    }

    /// Removes a removed container's anonymous volumes (`rm -v`, `down -v`, a recreate once
    /// the new container has taken them over) that no other container uses. Read the spec
    /// before removing the container, call this after.
    public func removeAnonymousVolumes(of spec: ContainerSpec) -> [VolumeRemoval] {
        Set(anonymousVolumes(of: spec).values).sorted().map { removal($0) }
    }

    func removal(_ name: String) -> VolumeRemoval {
        do {
            try remove(name)
            return VolumeRemoval(name: name, outcome: .removed)
        } catch let error as VolumeError {
            switch error.code {
            case .notFound: return VolumeRemoval(name: name, outcome: .notFound)
            case .inUse: return VolumeRemoval(name: name, outcome: .inUse)
            default: return VolumeRemoval(name: name, outcome: .failed(error.message))
            }
        } catch {
            return VolumeRemoval(name: name, outcome: .failed("\(error)"))
        }
    }
}
