import ComposeSpec
import Foundation

/// The ConfigMaps, Secrets and PersistentVolumeClaims of the manifests, by name: what pods
/// refer to from `env`, `envFrom` and `volumes`.
final class ObjectIndex {
    /// A ConfigMap's or Secret's entries, keys sorted (Kubernetes mounts and lists them so).
    struct DataObject {
        var name: String
        var entries: [(key: String, bytes: [UInt8])]

        func value(_ key: String) -> [UInt8]? { entries.first(where: { $0.key == key })?.bytes }
    }

    struct Claim {
        var name: String
        var labels: [(key: String, value: String)]
    }

    var configMaps: [String: DataObject] = [:]
    var secrets: [String: DataObject] = [:]
    var claims: [String: Claim] = [:]

    func addConfigMap(_ object: ManifestObject) throws(KubeError) {
        var entries: [String: [UInt8]] = [:]
        for (key, text) in try object.root.stringMap("data") { entries[key] = Array(text.utf8) }
        for (key, text) in try object.root.stringMap("binaryData") {
            guard let bytes = Data(base64Encoded: text) else {
                throw object.root.error("binaryData", "\(key) is not base64")
            }
            entries[key] = Array(bytes)
        }
        if try object.root.bool("immutable") == true {
            object.root.warn("immutable", "berth never changes a running container's files: nothing to do")
        }
        configMaps[object.name] = DataObject(name: object.name, entries: entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    func addSecret(_ object: ManifestObject) throws(KubeError) {
        var entries: [String: [UInt8]] = [:]
        for (key, text) in try object.root.stringMap("data") {
            guard let bytes = Data(base64Encoded: text) else { throw object.root.error("data", "\(key) is not base64") }
            entries[key] = Array(bytes)
        }
        // stringData wins over data, as the API server merges them.
        for (key, text) in try object.root.stringMap("stringData") { entries[key] = Array(text.utf8) }
        // The type only tells tools how to read the keys; the files and variables are the same.
        _ = try object.root.string("type")
        if try object.root.bool("immutable") == true {
            object.root.warn("immutable", "berth never changes a running container's files: nothing to do")
        }
        secrets[object.name] = DataObject(name: object.name, entries: entries.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// A claim is a named volume: what a cluster's storage classes decide has no meaning on one
    /// machine, and is reported.
    func addClaim(_ object: ManifestObject) throws(KubeError) {
        if let spec = try object.root.map("spec") {
            _ = try spec.strings("accessModes")  // one machine: every mode holds
            if let resources = try spec.map("resources") {
                for (key, value) in try resources.stringMap("requests") {
                    resources.warn("requests.\(key)", "\(value) is not enforced: a berth volume is a directory without a size limit")
                }
                for (key, value) in try resources.stringMap("limits") {
                    resources.warn("limits.\(key)", "\(value) is not enforced: a berth volume is a directory without a size limit")
                }
            }
            if let storageClass = try spec.string("storageClassName") {
                spec.warn("storageClassName", "\(storageClass) is ignored: berth volumes are local directories")
            }
            if let mode = try spec.string("volumeMode"), mode != "Filesystem" {
                throw spec.error("volumeMode", "\(mode) volumes are not supported: berth volumes are directories (Filesystem)")
            }
        }
        claims[object.name] = Claim(name: object.name, labels: object.labels)
    }
}
