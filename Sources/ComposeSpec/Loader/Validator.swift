/// Checks a normalized project for what the schema alone can't see: references between
/// services, networks, volumes, secrets and configs; dependency cycles; values with a fixed
/// vocabulary; `container_name` with several replicas.
struct Validator {
    let project: Project
    /// The merged tree the project was decoded from, to point errors at their place.
    var tree: Node = .null()

    /// The mark of the deepest node found along `path` (a key's own mark for the last step).
    func mark(_ path: String...) -> Mark { mark(path) }

    func mark(_ path: [String]) -> Mark {
        var node = tree
        var found = tree.mark
        for component in path {
            if let pairs = node.pairs, let pair = pairs.first(where: { $0.key.scalarText == component }) {
                found = pair.key.mark
                node = pair.value
            } else if let items = node.items, let item = items.first(where: { $0.scalarText == component || $0["source"]?.scalarText == component }) {
                found = item.mark
                node = item
            } else {
                break
            }
        }
        return found
    }

    func validate() throws(ComposeError) {
        for (name, service) in project.services {
            try validateService(name, service)
        }
        try checkDependencyCycles()
        try validatePods()
    }

    private func validateService(_ name: String, _ service: Service) throws(ComposeError) {
        let path = "services.\(name)"
        if service.image == nil && service.build == nil && service.provider == nil {
            throw ComposeError("service \"\(name)\" has neither an image nor a build context specified; add 'image:' or 'build:'", at: mark("services", name))
        }
        if let containerName = service.container_name {
            guard Self.isValidContainerName(containerName) else {
                throw ComposeError("\(path).container_name: invalid container name \"\(containerName)\"; use [a-zA-Z0-9][a-zA-Z0-9_.-]+", at: mark("services", name, "container_name"))
            }
            if service.replicas > 1 {
                // compose-go's wording (`validate.go`), with what to do.
                let key = service.deploy?.replicas != nil ? "deploy.replicas" : "scale"
                throw ComposeError(
                    "services.\(key): can't set container_name and \(name) as container name must be unique; remove container_name or set one replica", at: mark("services", name, "container_name"))
            }
        }
        if service.network_mode != nil, let networks = service.networks, !networks.isEmpty, !(networks.count == 1 && networks.keys == ["default"] && networks["default"] == .some(nil)) {
            throw ComposeError("\(path): 'network_mode' and 'networks' can't be used together; keep one of them", at: mark("services", name, "network_mode"))
        }
        if let restart = service.restart {
            let valid = ["no", "always", "unless-stopped", "on-failure"].contains(restart)
                || (restart.hasPrefix("on-failure:") && Int(restart.dropFirst("on-failure:".count)).map { $0 >= 0 } == true)
            guard valid else {
                throw ComposeError("\(path).restart: invalid restart policy \"\(restart)\"; use \"no\", always, on-failure[:max-retries] or unless-stopped", at: mark("services", name, "restart"))
            }
        }
        if let policy = service.pull_policy {
            let valid = ["always", "never", "missing", "build", "daily", "weekly", "refresh"].contains(policy)
                || (policy.hasPrefix("every_") && Duration.parse(String(policy.dropFirst(6))) != nil)
            guard valid else {
                throw ComposeError("\(path).pull_policy: invalid pull policy \"\(policy)\"; use always, never, missing, build, daily, weekly or every_<duration>", at: mark("services", name, "pull_policy"))
            }
        }
        for (dependency, condition) in service.depends_on ?? KeyedMap() {
            guard [DependsOn.started, DependsOn.healthy, DependsOn.completedSuccessfully].contains(condition.condition) else {
                throw ComposeError(
                    "\(path).depends_on.\(dependency).condition: invalid condition \"\(condition.condition)\"; use service_started, service_healthy or service_completed_successfully", at: mark("services", name, "depends_on", dependency, "condition"))
            }
            if dependency == name {
                throw ComposeError("\(path).depends_on: service \"\(name)\" depends on itself", at: mark("services", name, "depends_on", dependency))
            }
            guard project.services[dependency] != nil else {
                if project.disabledServices[dependency] != nil {
                    if !condition.required { continue }
                    let profiles = project.disabledServices[dependency]?.profiles?.joined(separator: ", ") ?? ""
                    throw ComposeError(
                        "service \"\(name)\" depends on service \"\(dependency)\", which is disabled by its profiles (\(profiles)); enable one with --profile", at: mark("services", name, "depends_on", dependency))
                }
                throw ComposeError(
                    "service \"\(name)\" depends on undefined service \"\(dependency)\"\(suggestion(dependency, project.services.keys))",
                    at: mark("services", name, "depends_on", dependency))
            }
        }
        for network in service.networks?.keys ?? [] where project.networks?[network] == nil {
            throw ComposeError(
                "service \"\(name)\" refers to undefined network \"\(network)\"\(suggestion(network, project.networks?.keys ?? [])); declare it under the top-level 'networks:'",
                at: mark("services", name, "networks", network))
        }
        if let mode = service.network_mode, mode.hasPrefix("service:") {
            try requireService(String(mode.dropFirst(8)), from: name, key: "network_mode")
        }
        for key in [("ipc", service.ipc), ("pid", service.pid), ("uts", service.uts), ("cgroup", service.cgroup)] {
            if let value = key.1, value.hasPrefix("service:") {
                try requireService(String(value.dropFirst(8)), from: name, key: key.0)
            }
        }
        for volume in service.volumes ?? [] {
            if volume.type == "volume", let source = volume.source, !source.isEmpty, project.volumes?[source] == nil {
                throw ComposeError("service \"\(name)\" refers to undefined volume \"\(source)\"\(suggestion(source, project.volumes?.keys ?? [])); declare it under the top-level 'volumes:'", at: mark("services", name, "volumes", source))
            }
            if volume.target == nil || volume.target?.isEmpty == true {
                throw ComposeError("\(path).volumes: a \(volume.type) mount needs a target path", at: mark("services", name, "volumes"))
            }
        }
        for (kind, mounts, declared) in [("secret", service.secrets, project.secrets), ("config", service.configs, project.configs)] {
            for mount in mounts ?? [] where declared?[mount.source] == nil {
                throw ComposeError(
                    "service \"\(name)\" refers to undefined \(kind) \"\(mount.source)\"\(suggestion(mount.source, declared?.keys ?? [])); declare it under the top-level '\(kind)s:'",
                    at: mark("services", name, kind + "s", mount.source))
            }
        }
        for source in service.volumes_from ?? [] {
            let target = source.split(separator: ":").first.map(String.init) ?? source
            if target == "container" { continue }
            let serviceName = source.hasPrefix("service:") ? String(source.dropFirst(8).split(separator: ":").first ?? "") : target
            try requireService(serviceName, from: name, key: "volumes_from")
        }
        for link in service.links ?? [] {
            let target = link.split(separator: ":").first.map(String.init) ?? link
            try requireService(target, from: name, key: "links")
        }
    }

    private func requireService(_ target: String, from name: String, key: String) throws(ComposeError) {
        guard project.services[target] != nil || project.disabledServices[target] != nil else {
            throw ComposeError(
                "services.\(name).\(key): service \"\(target)\" is not defined\(suggestion(target, project.services.keys))", at: mark("services", name, key))
        }
    }

    private func suggestion(_ word: String, _ candidates: [String]) -> String {
        Spelling.closest(to: word, in: candidates).map { " — did you mean \"\($0)\"?" } ?? ""
    }

    /// `a -> b -> a` cycles in depends_on.
    private func checkDependencyCycles() throws(ComposeError) {
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        func visit(_ name: String, _ stack: [String]) throws(ComposeError) {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let start = stack.firstIndex(of: name) ?? 0
                throw ComposeError(
                    "dependency cycle detected: \((stack[start...] + [name]).joined(separator: " -> "))", at: mark("services", name, "depends_on"))
            }
            state[name] = 1
            for dependency in project.services[name]?.depends_on?.keys ?? [] where project.services[dependency] != nil {
                try visit(dependency, stack + [name])
            }
            state[name] = 2
        }
        for name in project.services.keys.sorted() {
            try visit(name, [])
        }
    }

    static func isValidContainerName(_ name: String) -> Bool {
        guard name.count >= 2, let first = name.unicodeScalars.first else { return false }
        func alnum(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) }
        return alnum(first) && name.unicodeScalars.dropFirst().allSatisfy { alnum($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }
}
