import BerthRuntime
import BerthSystem
import ComposeSpec

/// A service's storage → the container's mounts (pure: everything outside comes in
/// `StorageInputs`).
///
/// - `volumes:` as the loader gives them (short syntax already in long form, bind sources
///   absolute): `volume` (named, or anonymous without a source), `bind` (with
///   `create_host_path`, `read_only`, `bind.propagation`, `bind.recursive`, SELinux `z`/`Z`
///   accepted with a warning), `tmpfs` (`size`, `mode`);
/// - `tmpfs:` entries (Docker's noexec,nosuid,nodev);
/// - `secrets:` at `/run/secrets/<name>` and `configs:` at `/<name>` (or their `target`),
///   as read-only binds of files in the container's private directory;
/// - `volumes_from:` the other container's binds and volumes, read-only with `:ro`;
/// - the image's `VOLUME`s not covered by any of these, as anonymous volumes.
/// Two mounts at one target are Docker's error "Duplicate mount point"; a mount of the
/// service's own wins over one from `volumes_from` or the image.
extension ServiceContainer {
    public static func storage(
        project: Project, service name: String, service: Service, image: ResolvedImage, directory: String,
        inputs: StorageInputs
    ) throws(ServiceConfigError) -> StoragePlan {
        var planner = StoragePlanner(project: project, name: name, service: service, directory: directory, inputs: inputs)
        try planner.serviceVolumes()
        try planner.tmpfsEntries()
        try planner.files(kind: "secret", mounts: service.secrets ?? [], declared: project.secrets, base: "/run/secrets/")
        try planner.files(kind: "config", mounts: service.configs ?? [], declared: project.configs, base: "/")
        try planner.volumesFrom()
        try planner.imageVolumes(image.volumes)
        return planner.plan
    }
}

struct StoragePlanner {
    let project: Project
    let name: String
    let service: Service
    let directory: String
    let inputs: StorageInputs
    var plan = StoragePlan()
    var targets = Set<String>()

    init(project: Project, name: String, service: Service, directory: String, inputs: StorageInputs) {
        self.project = project
        self.name = name
        self.service = service
        self.directory = directory
        self.inputs = inputs
    }

    func fail(_ key: String, _ message: String) -> ServiceConfigError {
        ServiceConfigError(service: name, key: key, message: message)
    }

    mutating func claim(_ target: String, key: String) throws(ServiceConfigError) {
        if !targets.insert(target).inserted { throw fail(key, "Duplicate mount point: \(target)") }
    }

    func store(_ key: String) throws(ServiceConfigError) -> VolumeStore {
        guard let store = inputs.store else {
            throw fail(key, "volumes need berth's volume store: create the container through `berth up`")
        }
        return store
    }

    static func clean(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") where part != "." && !part.isEmpty {
            if part == ".." { if !parts.isEmpty { parts.removeLast() } } else { parts.append(part) }
        }
        return "/" + parts.joined(separator: "/")
    }

    // MARK: volumes:

    mutating func serviceVolumes() throws(ServiceConfigError) {
        for (index, volume) in (service.volumes ?? []).enumerated() {
            let key = "volumes[\(index)]"
            guard let written = volume.target, written.hasPrefix("/") else {
                throw fail(key, "the target must be an absolute path in the container")
            }
            let target = Self.clean(written)
            try claim(target, key: key)
            let readOnly = volume.read_only ?? false
            switch volume.type {
            case "bind":
                plan.mounts.append(try bind(volume, target: target, readOnly: readOnly, key: key))
            case "volume":
                let nocopy = volume.volume?.nocopy ?? false
                let subpath = volume.volume?.subpath.flatMap { $0.isEmpty ? nil : $0 }
                let runtimeVolume: ContainerSpec.Volume
                if let source = volume.source, !source.isEmpty {
                    _ = try store(key)
                    guard let record = inputs.volumes.records[source] else {
                        throw fail(key, "volume \"\(source)\" does not exist yet: the project's volumes are created first (VolumeStore.ensure)")
                    }
                    if let subpath, subpath.hasPrefix("/") || subpath.split(separator: "/").contains("..") {
                        throw fail(key, "volume.subpath \"\(subpath)\" must be a relative path inside the volume")
                    }
                    runtimeVolume = record.runtimeVolume(copyUp: !nocopy, subpath: subpath)
                } else {
                    if subpath != nil { throw fail(key, "volume.subpath needs a named volume (a source)") }
                    runtimeVolume = try anonymous(target: target, copyUp: !nocopy, key: key)
                }
                plan.mounts.append(.init(kind: .volume(runtimeVolume), destination: target, readOnly: readOnly))
            case "tmpfs":
                var options: [String] = []
                if let size = volume.tmpfs?.size { options.append("size=\(size.bytes)") }
                if let mode = volume.tmpfs?.mode { options.append("mode=" + String(mode, radix: 8)) }
                plan.mounts.append(.init(kind: .tmpfs(options: options.joined(separator: ",")), destination: target,
                                         readOnly: readOnly, flags: MountFlags.noSuid | MountFlags.noDev))
            default:
                throw fail(key, "\(volume.type) mounts (\(volume.source ?? target)) are not supported by berth; use volume, bind or tmpfs")
            }
        }
    }

    mutating func bind(_ volume: ServiceVolume, target: String, readOnly: Bool, key: String) throws(ServiceConfigError) -> ContainerSpec.Mount {
        guard let source = volume.source, source.hasPrefix("/") else { throw fail(key, "a bind mount needs an absolute source path") }
        if volume.bind?.create_host_path == true {
            plan.hostDirectories.append(source)
        } else {
            plan.requiredSources.append(source)
        }
        if let label = volume.bind?.selinux, !label.isEmpty {
            guard label == "z" || label == "Z" else { throw fail(key + ".bind.selinux", "\"\(label)\" is not z or Z") }
            plan.warnings.append("service \"\(name)\": \(key): SELinux relabeling (:\(label)) of \(source) is ignored: berth does not manage SELinux labels")
        }
        var propagation: ContainerSpec.Mount.Propagation?
        if let text = volume.bind?.propagation, !text.isEmpty {
            guard let value = ContainerSpec.Mount.Propagation(rawValue: text) else {
                throw fail(key + ".bind.propagation", "\"\(text)\" is not one of \(ContainerSpec.Mount.Propagation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            propagation = value
        }
        var recursion = ContainerSpec.Mount.Recursion.enabled
        if let text = volume.bind?.recursive, !text.isEmpty {
            guard let value = ContainerSpec.Mount.Recursion(rawValue: text) else {
                throw fail(key + ".bind.recursive", "\"\(text)\" is not one of \(ContainerSpec.Mount.Recursion.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            recursion = value
        }
        return .init(kind: .bind(source: source), destination: target, readOnly: readOnly, propagation: propagation, recursion: recursion)
    }

    mutating func anonymous(target: String, copyUp: Bool, key: String) throws(ServiceConfigError) -> ContainerSpec.Volume {
        let store = try store(key)
        let volumeName = inputs.inheritedAnonymous[target] ?? inputs.newVolumeName()
        plan.anonymousVolumes.append(volumeName)
        return ContainerSpec.Volume(name: volumeName, directory: store.path(volumeName), copyUp: copyUp)
    }

    // MARK: tmpfs:, image VOLUMEs

    mutating func tmpfsEntries() throws(ServiceConfigError) {
        for entry in service.tmpfs ?? [] {
            let parts = entry.split(separator: ":", maxSplits: 1).map(String.init)
            guard let target = parts.first, target.hasPrefix("/") else {
                throw fail("tmpfs", "\"\(entry)\": use /path[:options]")
            }
            try claim(Self.clean(target), key: "tmpfs")
            // Docker's default tmpfs flags: noexec, nosuid, nodev.
            plan.mounts.append(.init(kind: .tmpfs(options: parts.count > 1 ? parts[1] : ""), destination: Self.clean(target),
                                     flags: MountFlags.noExec | MountFlags.noSuid | MountFlags.noDev))
        }
    }

    mutating func imageVolumes(_ volumes: [String]) throws(ServiceConfigError) {
        for written in volumes.sorted() {
            let target = Self.clean(written)
            guard !targets.contains(target) else { continue }
            targets.insert(target)
            let volume = try anonymous(target: target, copyUp: true, key: "image VOLUME \(written)")
            plan.mounts.append(.init(kind: .volume(volume), destination: target))
        }
    }

    // MARK: volumes_from:

    mutating func volumesFrom() throws(ServiceConfigError) {
        for entry in service.volumes_from ?? [] {
            var parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            var mode: String?
            if let last = parts.last, parts.count > 1, last == "ro" || last == "rw" {
                mode = last
                parts.removeLast()
            }
            let source: VolumesFromSource
            switch parts.first {
            case "container" where parts.count == 2: source = .container(parts[1])
            case "service" where parts.count == 2: source = .service(parts[1])
            case let only? where parts.count == 1 && !only.isEmpty: source = .service(only)
            default: throw fail("volumes_from", "\"\(entry)\": use SERVICE, service:SERVICE or container:NAME, with :ro or :rw")
            }
            guard let mounts = inputs.mountsOf(source) else {
                let what: String
                switch source {
                case .service(let other): what = "service \"\(other)\" has no container"
                case .container(let other): what = "no container \"\(other)\""
                }
                throw fail("volumes_from", "\"\(entry)\": \(what) to take volumes from; create it first")
            }
            for mount in mounts where !targets.contains(mount.destination) {
                switch mount.kind {
                case .bind, .volume:
                    var copy = mount
                    if let mode { copy.readOnly = mode == "ro" }
                    targets.insert(mount.destination)
                    plan.mounts.append(copy)
                case .tmpfs:
                    continue  // Docker shares mount points, not tmpfs
                }
            }
        }
    }

    // MARK: secrets:, configs:

    mutating func files(kind: String, mounts: [FileMount], declared: KeyedMap<FileObject>?, base: String) throws(ServiceConfigError) {
        for (index, mount) in mounts.enumerated() {
            let key = "\(kind)s[\(index)]"
            guard let object = declared?[mount.source] else {
                throw fail(key, "undefined \(kind) \"\(mount.source)\"; declare it under the top-level '\(kind)s:'")
            }
            let what = "\(kind) \"\(mount.source)\""
            if object.external == true {
                throw fail(key, "unsupported external \(kind) \(object.name ?? mount.source): berth has no swarm to hold it; use file, environment\(kind == "config" ? " or content" : "")")
            }
            let content: PrivateFile.Content
            if let file = object.file {
                content = .file(file)
            } else if let variable = object.environment {
                guard let value = inputs.environment[variable] else {
                    throw fail(key, "environment variable \"\(variable)\" required by \(what) is not set")
                }
                content = .bytes(Array(value.utf8))
            } else if let text = object.content, kind == "config" {
                content = .bytes(Array(text.utf8))
            } else {
                throw fail(key, "\(what) has no source: set file or environment\(kind == "config" ? " or content" : "") at the top level")
            }
            var target = mount.target.flatMap { $0.isEmpty ? nil : $0 } ?? mount.source
            if !target.hasPrefix("/") { target = base + target }
            target = Self.clean(target)
            try claim(target, key: key)
            func id(_ text: String?, _ field: String) throws(ServiceConfigError) -> UInt32 {
                guard let text, !text.isEmpty else { return 0 }
                guard let value = UInt32(text) else { throw fail("\(key).\(field)", "\"\(text)\" must be a numeric id") }
                return value
            }
            let path = "\(directory)/\(kind)s/\(index)"
            plan.files.append(PrivateFile(
                path: path, content: content, uid: try id(mount.uid, "uid"), gid: try id(mount.gid, "gid"),
                mode: mount.mode ?? 0o444, what: what))
            plan.mounts.append(.init(kind: .bind(source: path), destination: target, readOnly: true))
        }
    }
}
