import ComposeSpec

/// `berth kube play`: Kubernetes manifests → a Compose project that berth runs as any other.
///
/// The translation builds a Compose document and loads it with the same loader as a
/// compose.yaml (normalization, validation), so what runs is exactly what `berth config`
/// would show for that document.
public enum KubePlay {
    public struct Result: Sendable {
        public var project: Project
        /// The Compose document the project was loaded from.
        public var compose: String
        /// Variables the project's secrets read their content from: pass them to `up`.
        public var environment: [String: String]
        public var warnings: [KubeWarning]
    }

    /// A manifest file: its name (for messages) and content.
    public struct File: Sendable {
        public var name: String
        public var bytes: [UInt8]
        public init(name: String, bytes: [UInt8]) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// The kinds berth runs; everything else is reported and skipped.
    static let workloadKinds: Set<String> = ["Pod", "Deployment", "ReplicaSet"]
    static let dataKinds: Set<String> = ["ConfigMap", "Secret", "PersistentVolumeClaim"]

    /// - Parameters:
    ///   - projectName: `-p`; else the first workload's `app.kubernetes.io/part-of` label
    ///     (what `kube generate` writes), else its name, else the first object's.
    public static func translate(_ files: [File], projectName: String?, workingDirectory: String) throws -> Result {
        let report = KubeReport()
        var objects: [ManifestObject] = []
        for file in files { objects += try ManifestReader.objects(file: file.name, bytes: file.bytes, report: report) }
        guard !objects.isEmpty else { throw KubeError("no Kubernetes objects in \(files.map(\.name).joined(separator: ", "))") }

        let index = ObjectIndex()
        for object in objects {
            switch object.kind {
            case "ConfigMap": try index.addConfigMap(object)
            case "Secret": try index.addSecret(object)
            case "PersistentVolumeClaim": try index.addClaim(object)
            default: break
            }
        }
        let draft = ComposeDraft()
        var pods: [PodServices] = []
        for object in objects where workloadKinds.contains(object.kind) {
            pods.append(try PodTranslator(workload: try workload(object), index: index, draft: draft).translate())
        }
        for object in objects where object.kind == "Service" {
            try ServiceTranslator(object: object, pods: pods, draft: draft).translate()
        }
        for object in objects where !workloadKinds.contains(object.kind) && !dataKinds.contains(object.kind) && object.kind != "Service" {
            object.root.skip(contentsOf: object.root.keys)
            report.warn(object.subject, "", "kind \(object.kind) (\(object.apiVersion)) is not supported: skipped")
        }
        report.reportUnread()

        let name = try self.name(projectName, objects: objects, pods: pods)
        let compose = CanonicalOutput.yaml(draft.project(name: name), escapeDollars: false)
        var options = LoadOptions()
        options.files = ["-"]
        options.projectName = name
        options.workingDirectory = workingDirectory
        options.interpolate = false
        options.readsDotEnv = false
        let bytes = Array(compose.utf8)
        options.readStandardInput = { bytes }
        let loaded = try ProjectLoader().load(options)
        var project = loaded.project
        project.configFiles = files.map(\.name)
        return Result(project: project, compose: compose, environment: draft.secretEnvironment, warnings: report.warnings)
    }

    /// A Pod, or a Deployment's or ReplicaSet's pod template.
    static func workload(_ object: ManifestObject) throws(KubeError) -> Workload {
        let root = object.root
        if object.kind == "Pod" {
            guard let spec = try root.map("spec") else { throw KubeError("\(object.subject): spec is required", at: object.mark) }
            return Workload(object: object, replicas: 1, labels: object.labels, annotations: object.annotations, spec: spec)
        }
        guard let spec = try root.map("spec") else { throw KubeError("\(object.subject): spec is required", at: object.mark) }
        let replicas = try spec.int("replicas") ?? 1
        guard (0...Int64(Int32.max)).contains(replicas) else { throw spec.error("replicas", "must be from 0 to \(Int32.max)") }
        guard let template = try spec.map("template") else { throw spec.error("template", "is required") }
        let metadata = try template.map("metadata")
        let labels = try metadata?.stringMap("labels") ?? []
        let annotations = try metadata?.stringMap("annotations") ?? []
        metadata?.skip("name", "creationTimestamp")
        if let selector = try spec.map("selector") {
            for (key, value) in try selector.stringMap("matchLabels") where !labels.contains(where: { $0.key == key && $0.value == value }) {
                throw selector.error("matchLabels", "\(key)=\(value) does not match the pod template's labels; Kubernetes refuses such a \(object.kind)")
            }
            if !(try selector.maps("matchExpressions")).isEmpty {
                selector.warn("matchExpressions", "not checked against the pod template")
            }
        } else {
            throw spec.error("selector", "is required (apps/v1)")
        }
        if let strategy = try spec.map("strategy") {
            strategy.skip(contentsOf: strategy.keys)
            spec.warn("strategy", "not supported: berth replaces changed containers as berth up does")
        }
        guard let podSpec = try template.map("spec") else { throw template.error("spec", "is required") }
        return Workload(object: object, replicas: Int(replicas), labels: labels, annotations: annotations, spec: podSpec)
    }

    static let partOfLabel = "app.kubernetes.io/part-of"

    static func name(_ given: String?, objects: [ManifestObject], pods: [PodServices]) throws(KubeError) -> String {
        if let given, !given.isEmpty { return given }
        let first = pods.first?.workload
        let raw = first?.labels.first(where: { $0.key == partOfLabel })?.value
            ?? first?.object.labels.first(where: { $0.key == partOfLabel })?.value
            ?? first?.object.name ?? objects.first?.name ?? ""
        let name = Project.normalizedName(raw)
        guard !name.isEmpty else { throw KubeError("cannot make a project name of \"\(raw)\": give one with -p NAME") }
        return name
    }
}
