import ComposeSpec

/// The Compose project under construction, in the order objects were read.
final class ComposeDraft {
    private(set) var services: [(name: String, service: Service)] = []
    var volumes = KeyedMap<Volume>()
    var configs = KeyedMap<FileObject>()
    var secrets = KeyedMap<FileObject>()
    /// Variables that secrets read their content from (Compose `secrets: {x: {environment: VAR}}`).
    var secretEnvironment: [String: String] = [:]
    /// Which object made each service: for the error on a name used twice.
    private var origins: [String: String] = [:]

    func addService(_ name: String, _ service: Service, from subject: String, at mark: Mark) throws(KubeError) {
        if let other = origins[name] {
            throw KubeError(
                "\(subject): its container becomes service \"\(name)\", which \(other) already uses; rename one of them", at: mark)
        }
        origins[name] = subject
        services.append((name, service))
    }

    func service(_ name: String) -> Service? { services.first(where: { $0.name == name })?.service }

    func updateService(_ name: String, _ change: (inout Service) -> Void) {
        guard let index = services.firstIndex(where: { $0.name == name }) else { return }
        change(&services[index].service)
    }

    /// A Compose secret holding `bytes`, named `key` (reused when the same content is asked
    /// for again): its content travels in a variable of the load environment.
    func secret(_ key: String, text: String) -> String {
        if secrets[key] != nil { return key }
        var variable = "BERTH_KUBE_SECRET_" + key.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        while secretEnvironment[variable] != nil { variable += "_" }
        secretEnvironment[variable] = text
        var object = FileObject()
        object.environment = variable
        secrets[key] = object
        return key
    }

    func config(_ key: String, text: String) -> String {
        if configs[key] != nil { return key }
        var object = FileObject()
        object.content = text
        configs[key] = object
        return key
    }

    func project(name: String) -> Project {
        var project = Project(name: name, services: KeyedMap(services.map { ($0.name, $0.service) }))
        project.volumes = volumes.isEmpty ? nil : volumes
        project.configs = configs.isEmpty ? nil : configs
        project.secrets = secrets.isEmpty ? nil : secrets
        return project
    }
}
