import ComposeSpec

/// `berth kube generate`: the Compose project as Kubernetes objects — a Deployment per
/// service (a pod group, once berth has pods), a Service for the ports it publishes or
/// exposes (and one per network alias), a PersistentVolumeClaim per named volume, a
/// ConfigMap or Secret per config or secret. Keys are sorted as `kubectl` prints them and
/// objects come in a fixed order (ConfigMaps, Secrets, claims, Services, Deployments, each
/// by name), so the same project always gives the same text.
public enum KubeGenerate {
    public struct Result: Sendable {
        /// Multi-document YAML.
        public var yaml: String
        public var warnings: [KubeWarning]
    }

    /// - Parameters:
    ///   - services: the services to write, with what they depend on (empty: all).
    ///   - environment: the interpolation environment, for secrets and configs taken from variables.
    public static func generate(_ project: Project, services: [String], environment: [String: String]) -> Result {
        let selected = services.isEmpty ? project.services.keys : Array(project.limited(to: services).services.keys)
        let report = KubeReport()
        let context = GenerateContext(project: project, environment: environment, report: report)
        var seen: [String: String] = [:]
        for group in PodGroup.groups(project, services: selected) {
            let writer = PodTemplateWriter(group: group, context: context)
            if let other = seen[writer.name] {
                report.warn("service \"\(group.name)\"", "", "its Kubernetes name \(writer.name) is service \"\(other)\"'s too: not written; rename one of them")
                continue
            }
            seen[writer.name] = group.name
            if writer.name != group.name {
                report.warn("service \"\(group.name)\"", "", "named \(writer.name) in Kubernetes (names there are lowercase DNS labels)")
            }
            writer.write()
        }
        if let extensions = project.extensions, !extensions.isEmpty {
            for (key, _) in extensions.values { report.warn("project", key, "not translated") }
        }
        var documents: [OutputValue] = []
        for objects in [context.configMaps, context.secrets, context.claims, context.services, context.deployments] {
            documents += objects.sorted { $0.key < $1.key }.map { KubeTree.sortedKeys($0.value) }
        }
        let yaml = documents.map { OutputWriter.yaml($0, blockScalars: true) }.joined(separator: "---\n")
        return Result(yaml: yaml, warnings: report.warnings)
    }
}
