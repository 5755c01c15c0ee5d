import ComposeSpec

/// One object of a manifest (`Deployment web`), with its metadata read.
final class ManifestObject {
    let kind: String
    let apiVersion: String
    let name: String
    let labels: [(key: String, value: String)]
    let annotations: [(key: String, value: String)]
    /// The whole object; `metadata` and the type fields are already read.
    let root: ManifestMap
    let mark: Mark

    var subject: String { "\(kind)/\(name)" }

    init(root: ManifestMap, kind: String, apiVersion: String) throws(KubeError) {
        self.root = root
        self.kind = kind
        self.apiVersion = apiVersion
        mark = root.mark
        guard let metadata = try root.map("metadata") else {
            throw KubeError("\(kind) object without metadata: give it metadata.name", at: root.mark)
        }
        guard let name = try metadata.string("name"), !name.isEmpty else {
            throw KubeError("\(kind) object without metadata.name: every object needs a name", at: metadata.mark)
        }
        self.name = name
        labels = try metadata.stringMap("labels")
        annotations = try metadata.stringMap("annotations")
        if let namespace = try metadata.string("namespace"), namespace != "default" {
            metadata.warn("namespace", "berth runs the manifests as one project: namespace \(namespace) is ignored")
        }
        // Filled in by the API server (objects exported with `kubectl get -o yaml`): nothing to run.
        metadata.skip("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink", "generateName")
        root.skip("status")
    }
}

/// Reads multi-document manifest files into objects, flattening `kind: List`.
enum ManifestReader {
    static func objects(file: String, bytes: [UInt8], report: KubeReport) throws(KubeError) -> [ManifestObject] {
        let documents: [Node]
        do {
            documents = try YAMLReader().parse(bytes, file: file)
        } catch {
            throw KubeError(error.message, at: error.mark)
        }
        var out: [ManifestObject] = []
        for document in documents where !document.isNull {
            try collect(document, into: &out, report: report)
        }
        return out
    }

    private static func collect(_ node: Node, into out: inout [ManifestObject], report: KubeReport) throws(KubeError) {
        guard node.isMapping else {
            throw KubeError("a manifest document must be a mapping with apiVersion and kind, not \(node.kindName)", at: node.mark)
        }
        guard let kind = node["kind"]?.scalarText, !kind.isEmpty else {
            throw KubeError("manifest object without kind: every object needs apiVersion and kind", at: node.mark)
        }
        guard let apiVersion = node["apiVersion"]?.scalarText, !apiVersion.isEmpty else {
            throw KubeError("\(kind) object without apiVersion", at: node.mark)
        }
        if kind == "List" || kind.hasSuffix("List") && node["items"] != nil {
            for item in node["items"]?.items ?? [] { try collect(item, into: &out, report: report) }
            return
        }
        let subject = node["metadata"]?["name"]?.scalarText.map { "\(kind)/\($0)" } ?? kind
        let root = ManifestMap(node: node, subject: subject, path: KeyPath(), report: report)
        root.skip("kind", "apiVersion")
        out.append(try ManifestObject(root: root, kind: kind, apiVersion: apiVersion))
    }
}
