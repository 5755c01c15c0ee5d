import ComposeSpec

/// Compose v2's names and labels (SEMANTICS.md §2e): containers `<project>-<service>-<n>`
/// unless `container_name` is set, networks and volumes `<project>_<key>`, and the
/// `com.docker.compose.*` labels that reconciling finds resources by.
public enum Naming {
    /// The separator of container names (`project-service-1`).
    public static let separator = "-"

    public static func containerName(project: String, service: String, number: Int, serviceConfig: Service? = nil) -> String {
        if let fixed = serviceConfig?.container_name { return fixed }
        // A pod's infra (`<pod>-infra`) gets `<project>-<pod>-infra-<n>` this way too.
        return [project, service, String(number)].joined(separator: separator)
    }

    /// The name of a one-off container (`berth run`): `<project>-<service>-run-<12 hex>`.
    public static func oneOffName(project: String, service: String, suffix: String) -> String {
        [project, service, "run", suffix].joined(separator: separator)
    }
}

/// Label keys, as Docker Compose v2 stamps them.
public enum Label {
    public static let project = "com.docker.compose.project"
    public static let service = "com.docker.compose.service"
    public static let version = "com.docker.compose.version"
    public static let workingDir = "com.docker.compose.project.working_dir"
    public static let configFiles = "com.docker.compose.project.config_files"
    public static let environmentFile = "com.docker.compose.project.environment_file"
    public static let oneOff = "com.docker.compose.oneoff"
    public static let configHash = "com.docker.compose.config-hash"
    public static let containerNumber = "com.docker.compose.container-number"
    public static let dependsOn = "com.docker.compose.depends_on"
    public static let image = "com.docker.compose.image"
    public static let replace = "com.docker.compose.replace"
    /// A one-off container's random id (`berth run`), whose first 12 digits name it.
    public static let slug = "com.docker.compose.slug"
    public static let network = "com.docker.compose.network"
    public static let volume = "com.docker.compose.volume"
    /// berth's pods: the pod a container belongs to (its infra and its members).
    public static let pod = "io.berth.pod"
    /// `True` on a pod's infra container.
    public static let podInfra = "io.berth.pod.infra"
    /// `True` on a pod's init members.
    public static let podInit = "io.berth.pod.init"
    /// The id of the infra container of a pod replica, on it and on its members (what a
    /// member joins; two replicas of one number exist during a rolling update).
    public static let podSandbox = "io.berth.pod.sandbox"

    /// The Compose version berth reports in `com.docker.compose.version` (the Compose v2
    /// release whose behaviour it follows).
    public static let composeVersion = "2.39.1"

    /// The labels of a service container: the service's own `labels`, then Compose's.
    public static func container(
        project: Project, service name: String, service: Service, number: Int, configHash: String,
        imageDigest: String?, oneOff: Bool = false, replaces: String? = nil
    ) -> [(String, String)] {
        var labels: [(String, String)] = (service.labels ?? KeyedMap()).sortedByKey().map { ($0.key, $0.value) }
        labels.append((Label.configHash, configHash))
        labels.append((Label.containerNumber, String(number)))
        labels.append((Label.dependsOn, dependsOnLabel(service)))
        if let imageDigest { labels.append((Label.image, imageDigest)) }
        labels.append((Label.oneOff, oneOff ? "True" : "False"))
        labels.append((Label.project, project.name))
        labels.append((Label.configFiles, project.configFiles.joined(separator: ",")))
        if !project.environmentFiles.isEmpty {
            labels.append((Label.environmentFile, project.environmentFiles.joined(separator: ",")))
        }
        labels.append((Label.workingDir, project.workingDirectory))
        if let replaces { labels.append((Label.replace, replaces)) }
        labels.append((Label.service, name))
        labels.append((Label.version, composeVersion))
        return labels
    }

    /// `dep:condition:restart,…` in the order of the file (Compose's `create.go`).
    static func dependsOnLabel(_ service: Service) -> String {
        (service.depends_on ?? KeyedMap()).map { "\($0.key):\($0.value.condition):\($0.value.restart ?? false)" }
            .joined(separator: ",")
    }

    public static func network(project: String, key: String) -> [(String, String)] {
        [(Label.network, key), (Label.project, project), (Label.version, composeVersion)]
    }

    public static func volume(project: String, key: String) -> [(String, String)] {
        [(Label.project, project), (Label.version, composeVersion), (Label.volume, key)]
    }
}

extension Label {
    /// The services a container restarts with: its `depends_on` entries with
    /// `restart: true`, read from its `com.docker.compose.depends_on` label
    /// (`dep:condition:restart,…`), so that it works without the Compose file.
    public static func restartsWith(_ record: ContainerRecord) -> [String] {
        (record.label(dependsOn) ?? "").split(separator: ",").compactMap { entry in
            let parts = entry.split(separator: ":")
            return parts.count == 3 && parts[2] == "true" ? String(parts[0]) : nil
        }
    }

    /// `services` and, transitively, the services whose containers restart with them
    /// (Compose's `restart` with `IncludeDependents` over `restart: true` edges).
    public static func withRestartDependents(_ services: [String], among records: [ContainerRecord]) -> [String] {
        var selected = services
        var added = true
        while added {
            added = false
            for record in records where !record.oneOff && !selected.contains(record.service) {
                if restartsWith(record).contains(where: selected.contains) {
                    selected.append(record.service)
                    added = true
                }
            }
        }
        return selected
    }
}
