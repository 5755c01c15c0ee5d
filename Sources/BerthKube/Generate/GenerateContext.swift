import ComposeSpec
import Foundation

/// One `kube generate`: the project, and the objects its pods refer to, collected by name.
final class GenerateContext {
    let project: Project
    /// The interpolation environment (secrets and configs from `environment:`).
    let environment: [String: String]
    let report: KubeReport
    var configMaps: [String: OutputValue] = [:]
    var secrets: [String: OutputValue] = [:]
    var claims: [String: OutputValue] = [:]
    var services: [String: OutputValue] = [:]
    var deployments: [String: OutputValue] = [:]

    init(project: Project, environment: [String: String], report: KubeReport) {
        self.project = project
        self.environment = environment
        self.report = report
    }

    /// `app.kubernetes.io/part-of`: the project, which `kube play` takes as the project name.
    var projectLabel: String {
        KubeNames.isLabelValue(project.name) ? project.name : KubeNames.label(project.name)
    }

    /// The labels that select a pod group's pods.
    func selector(_ name: String) -> [(String, String)] {
        [("app.kubernetes.io/name", name), (KubePlay.partOfLabel, projectLabel)]
    }

    func metadata(name: String, labels: [(String, String)] = [], annotations: [(String, String)] = []) -> OutputValue {
        KubeTree.tree([("name", .string(name)), ("labels", KubeTree.strings(labels)), ("annotations", KubeTree.strings(annotations))])
    }

    /// The content of a Compose config or secret, or nil (reported) when it has none here.
    func content(of object: FileObject, kind: String, key: String, subject: String) -> [UInt8]? {
        if object.external == true {
            report.warn(subject, "\(kind)s.\(key)", "external \(kind): not translated; create the \(kind == "config" ? "ConfigMap" : "Secret") \(KubeNames.subdomain(object.name ?? key)) in the cluster")
            return nil
        }
        if let content = object.content { return Array(content.utf8) }
        if let variable = object.environment {
            guard let value = environment[variable] else {
                report.warn(subject, "\(kind)s.\(key)", "variable \(variable) is not set: not translated")
                return nil
            }
            return Array(value.utf8)
        }
        if let file = object.file {
            guard let data = FileManager.default.contents(atPath: file) else {
                report.warn(subject, "\(kind)s.\(key)", "cannot read \(file): not translated")
                return nil
            }
            return Array(data)
        }
        report.warn(subject, "\(kind)s.\(key)", "has no content, file or environment: not translated")
        return nil
    }

    /// A ConfigMap (`isSecret` false) or Secret named after the Compose object, holding its
    /// content under one key; returns the object's name and the key.
    func fileObject(_ key: String, isSecret: Bool, subject: String) -> (name: String, key: String)? {
        let declared = isSecret ? project.secrets?[key] : project.configs?[key]
        guard let object = declared, let bytes = content(of: object, kind: isSecret ? "secret" : "config", key: key, subject: subject) else {
            return nil
        }
        let name = KubeNames.subdomain(key)
        let dataKey = KubeNames.dataKey(key)
        let labels = (object.labels ?? KeyedMap()).sortedByKey().filter { KubeNames.isLabelKey($0.key) && KubeNames.isLabelValue($0.value) }
        let metadata = self.metadata(name: name, labels: labels.map { ($0.key, $0.value) })
        if isSecret {
            secrets[name] = KubeTree.tree([
                ("apiVersion", .string("v1")), ("kind", .string("Secret")), ("metadata", metadata), ("type", .string("Opaque")),
                ("data", .map([(dataKey, .string(Data(bytes).base64EncodedString()))])),
            ])
        } else {
            let data: (String, OutputValue) = String(validating: bytes, as: UTF8.self).map { ("data", .map([(dataKey, .string($0))])) }
                ?? ("binaryData", .map([(dataKey, .string(Data(bytes).base64EncodedString()))]))
            configMaps[name] = KubeTree.tree([("apiVersion", .string("v1")), ("kind", .string("ConfigMap")), ("metadata", metadata), data])
        }
        return (name, dataKey)
    }

    /// The claim for named volume `key`; returns the claim's name.
    func claim(_ key: String, subject: String) -> String {
        let volume = project.volumes?[key]
        if volume?.external == true {
            let name = KubeNames.subdomain(volume?.name ?? key)
            report.warn(subject, "volumes.\(key)", "external volume: the PersistentVolumeClaim \(name) must exist in the cluster")
            return name
        }
        let name = KubeNames.subdomain(key)
        guard claims[name] == nil else { return name }
        if let driver = volume?.driver, driver != "local" {
            report.warn("volume \"\(key)\"", "driver", "\(driver) is not translated: the cluster's default storage class applies")
        }
        if volume?.driver_opts != nil {
            report.warn("volume \"\(key)\"", "driver_opts", "not translated: the cluster's default storage class applies")
        }
        report.warn("volume \"\(key)\"", "", "Compose gives a volume no size: the claim asks for 1Gi")
        let labels = (volume?.labels ?? KeyedMap()).sortedByKey().filter { KubeNames.isLabelKey($0.key) && KubeNames.isLabelValue($0.value) }
        claims[name] = KubeTree.tree([
            ("apiVersion", .string("v1")), ("kind", .string("PersistentVolumeClaim")),
            ("metadata", metadata(name: name, labels: labels.map { ($0.key, $0.value) })),
            ("spec", .map([
                ("accessModes", .list([.string("ReadWriteOnce")])),
                ("resources", .map([("requests", .map([("storage", .string("1Gi"))]))])),
            ])),
        ])
        return name
    }
}
