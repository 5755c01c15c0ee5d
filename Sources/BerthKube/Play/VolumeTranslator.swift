import ComposeSpec

/// A pod's `volumes` and its containers' `volumeMounts` → Compose volumes, configs and
/// secrets:
/// - `persistentVolumeClaim` → the named volume of the claim's name;
/// - `emptyDir` → an anonymous volume (a tmpfs with `medium: Memory`); one that several
///   containers of the pod mount → a named volume `<workload>-<volume>`, so they share it;
/// - `hostPath` → a bind mount (`DirectoryOrCreate` creates the directory);
/// - `configMap`, `secret` → one Compose config or secret per key, mounted as a file under
///   the mount path (read-only, with the volume's mode), as Kubernetes lays them out.
struct VolumeTranslator {
    enum Source {
        case claim(name: String, readOnly: Bool)
        case emptyDir(memory: Bool, sizeLimit: Int64?)
        case hostPath(path: String, create: Bool)
        case files(kind: FileKind, object: String, items: [(key: String, path: String, mode: UInt32?)]?, defaultMode: UInt32, optional: Bool)
    }

    enum FileKind: String {
        case configMap = "ConfigMap"
        case secret = "Secret"
    }

    let workload: String
    let index: ObjectIndex
    let draft: ComposeDraft
    private(set) var sources: [String: Source] = [:]
    /// Volumes that more than one container of the pod mounts.
    private var shared: Set<String> = []
    /// Every volume the pod declares, supported or not.
    private var declared: Set<String> = []

    init(pod: ManifestMap, containers: [ManifestMap], workload: String, index: ObjectIndex, draft: ComposeDraft) throws(KubeError) {
        self.workload = workload
        self.index = index
        self.draft = draft
        var users: [String: Int] = [:]
        for container in containers {
            let names = Set((container.node["volumeMounts"]?.items ?? []).compactMap { $0["name"]?.scalarText })
            for name in names { users[name, default: 0] += 1 }
        }
        shared = Set(users.filter { $0.value > 1 }.map(\.key))
        for volume in try pod.maps("volumes") {
            let name = try volume.requiredString("name")
            declared.insert(name)
            if let source = try source(of: volume) { sources[name] = source }
        }
    }

    private func source(of volume: ManifestMap) throws(KubeError) -> Source? {
        if let claim = try volume.map("persistentVolumeClaim") {
            return .claim(name: try claim.requiredString("claimName"), readOnly: try claim.bool("readOnly") ?? false)
        }
        if let empty = try volume.map("emptyDir") {
            let medium = try empty.string("medium") ?? ""
            guard medium.isEmpty || medium == "Memory" else { throw empty.error("medium", "\(medium) is not supported; use Memory or leave it out") }
            var limit: Int64?
            if let text = try empty.intOrString("sizeLimit")?.description {
                limit = try empty.bytes("sizeLimit", text)
                if medium.isEmpty { empty.warn("sizeLimit", "\(text) is not enforced on a disk-backed emptyDir") }
            }
            return .emptyDir(memory: medium == "Memory", sizeLimit: limit)
        }
        if let host = try volume.map("hostPath") {
            let path = try host.requiredString("path")
            guard path.hasPrefix("/") else { throw host.error("path", "\(path) must be an absolute path") }
            let type = try host.string("type") ?? ""
            if type == "FileOrCreate" { host.warn("type", "FileOrCreate is not supported: the file must exist") }
            return .hostPath(path: path, create: type == "DirectoryOrCreate")
        }
        for (key, kind, nameKey) in [("configMap", FileKind.configMap, "name"), ("secret", FileKind.secret, "secretName")] {
            guard let map = try volume.map(key) else { continue }
            var items: [(key: String, path: String, mode: UInt32?)]?
            if map.has("items") {
                items = []
                for item in try map.maps("items") {
                    items?.append((try item.requiredString("key"), try item.requiredString("path"), try mode(item, "mode")))
                }
            }
            return .files(
                kind: kind, object: try map.requiredString(nameKey), items: items, defaultMode: try mode(map, "defaultMode") ?? 0o644,
                optional: try map.bool("optional") ?? false)
        }
        let kinds = volume.unreadKeys
        volume.skip(contentsOf: kinds)
        volume.warn(kinds.first ?? "name", "\(kinds.first ?? "this") volumes are not supported: its mounts are left out")
        return nil
    }

    private func mode(_ map: ManifestMap, _ key: String) throws(KubeError) -> UInt32? {
        guard let value = try map.int(key) else { return nil }
        guard (0...0o777).contains(value) else { throw map.error(key, "\(value) is not a file mode (0 to 0777)") }
        return UInt32(value)
    }

    /// The container's `volumeMounts` into the service's volumes, configs and secrets.
    func mount(_ container: ManifestMap, into service: inout Service) throws(KubeError) {
        for mount in try container.maps("volumeMounts") {
            let name = try mount.requiredString("name")
            let target = try mount.requiredString("mountPath")
            guard target.hasPrefix("/") else { throw mount.error("mountPath", "\(target) must be an absolute path") }
            let readOnly = try mount.bool("readOnly") ?? false
            let subPath = try mount.string("subPath").flatMap { $0.isEmpty ? nil : $0 }
            if let expression = try mount.string("subPathExpr") {
                mount.warn("subPathExpr", "\(expression) is not supported: the whole volume is mounted")
            }
            let propagation = try mount.string("mountPropagation")
            _ = try mount.string("recursiveReadOnly").map { mount.warn("recursiveReadOnly", "\($0) is not supported") }
            guard declared.contains(name) else {
                throw mount.error("name", "the pod declares no volume \(name); add it under the pod's volumes")
            }
            // A volume of a type berth does not support was reported with the pod's volumes.
            guard let source = sources[name] else { continue }
            switch source {
            case .claim(let claim, let claimReadOnly):
                ensureClaimVolume(claim, mount: mount)
                var volume = ServiceVolume(type: "volume", source: claim, target: target)
                volume.read_only = readOnly || claimReadOnly ? true : nil
                if let subPath { volume.volume = ServiceVolume.VolumeOptions(subpath: subPath) }
                service.volumes = (service.volumes ?? []) + [volume]
                try rejectPropagation(propagation, mount)
            case .emptyDir(let memory, let limit):
                if subPath != nil { mount.warn("subPath", "not supported on an emptyDir: the whole volume is mounted") }
                try rejectPropagation(propagation, mount)
                service.volumes = (service.volumes ?? []) + [emptyDir(name, memory: memory, limit: limit, target: target, readOnly: readOnly)]
            case .hostPath(let path, let create):
                var volume = ServiceVolume(type: "bind", source: subPath.map { path + "/" + $0 } ?? path, target: target)
                volume.read_only = readOnly ? true : nil
                let bindPropagation: String?
                switch propagation ?? "None" {
                case "None": bindPropagation = nil
                case "HostToContainer": bindPropagation = "rslave"
                case "Bidirectional": bindPropagation = "rshared"
                case let other: throw mount.error("mountPropagation", "\(other) is not None, HostToContainer or Bidirectional")
                }
                volume.bind = ServiceVolume.Bind(createHostPath: create, propagation: bindPropagation)
                service.volumes = (service.volumes ?? []) + [volume]
            case .files(let kind, let object, let items, let defaultMode, let optional):
                // Read-only either way: ConfigMap and Secret volumes are read-only on a cluster too.
                try rejectPropagation(propagation, mount)
                try mountFiles(kind, object, items: items, defaultMode: defaultMode, optional: optional, target: target, subPath: subPath, mount: mount, into: &service)
            }
        }
    }

    private func rejectPropagation(_ propagation: String?, _ mount: ManifestMap) throws(KubeError) {
        guard let propagation, propagation != "None" else { return }
        mount.warn("mountPropagation", "\(propagation) is supported on hostPath volumes only: ignored")
    }

    private func ensureClaimVolume(_ claim: String, mount: ManifestMap) {
        guard draft.volumes[claim] == nil else { return }
        var volume = Volume()
        if let known = index.claims[claim] {
            if !known.labels.isEmpty { volume.labels = KeyedMap(known.labels.map { ($0.key, $0.value) }) }
        } else {
            mount.warn("name", "PersistentVolumeClaim \(claim) is not in the manifests: the volume \(claim) is used (created if missing)")
        }
        draft.volumes[claim] = volume
    }

    private func emptyDir(_ name: String, memory: Bool, limit: Int64?, target: String, readOnly: Bool) -> ServiceVolume {
        if shared.contains(name) {
            let key = "\(workload)-\(name)"
            if draft.volumes[key] == nil {
                var volume = Volume()
                if memory {
                    volume.driver_opts = KeyedMap([("type", "tmpfs"), ("device", "tmpfs")] + (limit.map { [("o", "size=\($0)")] } ?? []))
                }
                draft.volumes[key] = volume
            }
            var volume = ServiceVolume(type: "volume", source: key, target: target)
            volume.read_only = readOnly ? true : nil
            return volume
        }
        var volume = ServiceVolume(type: memory ? "tmpfs" : "volume", target: target)
        volume.read_only = readOnly ? true : nil
        if memory, let limit {
            var tmpfs = ServiceVolume.Tmpfs()
            tmpfs.size = ByteSize(bytes: limit)
            volume.tmpfs = tmpfs
        }
        return volume
    }

    private func mountFiles(
        _ kind: FileKind, _ name: String, items: [(key: String, path: String, mode: UInt32?)]?, defaultMode: UInt32, optional: Bool,
        target: String, subPath: String?, mount: ManifestMap, into service: inout Service
    ) throws(KubeError) {
        guard let object = kind == .configMap ? index.configMaps[name] : index.secrets[name] else {
            if optional { return }
            throw mount.error("name", "\(kind.rawValue) \(name) is not in the manifests: give its file to berth kube play too, or mark the volume optional: true")
        }
        let selected = items ?? object.entries.map { ($0.key, $0.key, nil) }
        for item in selected {
            guard let bytes = object.value(item.key) else {
                if optional { continue }
                throw mount.error("name", "\(kind.rawValue) \(name) has no key \(item.key)")
            }
            let path: String
            if let subPath {
                guard item.path == subPath else { continue }
                path = target
            } else {
                path = target.hasSuffix("/") ? target + item.path : target + "/" + item.path
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                mount.warn("name", "\(kind.rawValue) \(name) key \(item.key) is binary: berth mounts text only, left out")
                continue
            }
            var file = FileMount(source: "", target: path)
            file.mode = item.mode ?? defaultMode
            switch kind {
            case .configMap:
                file.source = draft.config("\(name)-\(item.key)", text: text)
                service.configs = (service.configs ?? []) + [file]
            case .secret:
                file.source = draft.secret("\(name)-\(item.key)", text: text)
                service.secrets = (service.secrets ?? []) + [file]
            }
        }
    }
}

extension ManifestMap {
    func skip(contentsOf keys: [String]) {
        for key in keys { skip(key) }
    }
}
