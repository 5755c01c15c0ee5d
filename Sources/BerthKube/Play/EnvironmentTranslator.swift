import ComposeSpec

/// A container's `envFrom` and `env` → Compose `environment`, with the values of the
/// ConfigMaps and Secrets they name and Kubernetes' `$(VAR)` references expanded.
struct EnvironmentTranslator {
    let container: ManifestMap
    let index: ObjectIndex

    /// The variables in Kubernetes' order: `envFrom` sources first, `env` entries over them.
    func translate() throws(KubeError) -> [(name: String, value: String)] {
        var variables: [(name: String, value: String)] = []
        func set(_ name: String, _ value: String) {
            if let at = variables.firstIndex(where: { $0.name == name }) {
                variables[at].value = value
            } else {
                variables.append((name, value))
            }
        }
        for source in try container.maps("envFrom") {
            let prefix = try source.string("prefix") ?? ""
            for (kind, key) in [("ConfigMap", "configMapRef"), ("Secret", "secretRef")] {
                guard let ref = try source.map(key) else { continue }
                let name = try ref.requiredString("name")
                let optional = try ref.bool("optional") ?? false
                guard let object = kind == "ConfigMap" ? index.configMaps[name] : index.secrets[name] else {
                    if optional { continue }
                    throw missing(kind, name, at: ref)
                }
                for entry in object.entries {
                    guard let text = String(validating: entry.bytes, as: UTF8.self) else {
                        ref.warn("name", "\(kind) \(name) key \(entry.key) is binary: not set as a variable")
                        continue
                    }
                    set(prefix + entry.key, text)
                }
            }
        }
        for entry in try container.maps("env") {
            let name = try entry.requiredString("name")
            if let value = try entry.string("value") {
                set(name, VariableExpansion.expand(value) { variable in variables.first(where: { $0.name == variable })?.value })
            } else if let from = try entry.map("valueFrom") {
                if let value = try valueFrom(from, variable: name) { set(name, value) }
            } else {
                set(name, "")
            }
        }
        return variables
    }

    private func valueFrom(_ from: ManifestMap, variable: String) throws(KubeError) -> String? {
        for (kind, key) in [("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")] {
            guard let ref = try from.map(key) else { continue }
            let name = try ref.requiredString("name")
            let entryKey = try ref.requiredString("key")
            let optional = try ref.bool("optional") ?? false
            guard let object = kind == "ConfigMap" ? index.configMaps[name] : index.secrets[name] else {
                if optional { return nil }
                throw missing(kind, name, at: ref)
            }
            guard let bytes = object.value(entryKey) else {
                if optional { return nil }
                throw ref.error("key", "\(kind) \(name) has no key \(entryKey)")
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw ref.error("key", "\(kind) \(name) key \(entryKey) is binary and cannot be a variable's value")
            }
            return text
        }
        // fieldRef, resourceFieldRef: values that exist only in a cluster.
        for key in ["fieldRef", "resourceFieldRef"] where from.has(key) {
            from.warn(key, "not supported: \(variable) is not set")
            _ = from.value(key)
            return nil
        }
        return nil
    }

    private func missing(_ kind: String, _ name: String, at ref: ManifestMap) -> KubeError {
        ref.error("name", "\(kind) \(name) is not in the manifests: give its file to berth kube play too, or mark the reference optional: true")
    }
}
