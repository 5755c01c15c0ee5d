/// What the members of a pod must agree on, checked with the place of the offending value:
/// `x-berth.pod`/`init` values, no namespace settings of their own (the pod's infra holds
/// network, IPC and UTS), one replica count, one host name, no port published twice in the
/// pod's one network namespace.
extension Validator {
    func validatePods() throws(ComposeError) {
        for (name, service) in project.services {
            try validateMembership(name, service)
        }
        for pod in project.pods {
            try validatePod(pod)
        }
    }

    private func validateMembership(_ name: String, _ service: Service) throws(ComposeError) {
        guard let pairs = service.berthExtension else { return }
        let path = "services.\(name).x-berth"
        for (key, value) in pairs {
            switch (key, value) {
            case ("pod", .string(let pod)):
                guard Self.isValidContainerName(pod) || (pod.count == 1 && Self.isValidContainerName(pod + pod)) else {
                    throw ComposeError("\(path).pod: invalid pod name \"\(pod)\"; use [a-zA-Z0-9][a-zA-Z0-9_.-]*", at: mark("services", name, "x-berth", "pod"))
                }
                if project.services[Pod.infraService(pod)] != nil {
                    throw ComposeError(
                        "\(path).pod: the infra of pod \"\(pod)\" is named like service \"\(Pod.infraService(pod))\"; rename the pod or that service",
                        at: mark("services", name, "x-berth", "pod"))
                }
            case ("pod", _):
                throw ComposeError("\(path).pod: must be a pod name, such as pod: web", at: mark("services", name, "x-berth", "pod"))
            case ("init", .bool(let isInit)):
                if isInit && service.podName == nil {
                    throw ComposeError("\(path).init: only a pod member can be an init container; add pod: NAME next to it", at: mark("services", name, "x-berth", "init"))
                }
            case ("init", _):
                throw ComposeError("\(path).init: must be true or false", at: mark("services", name, "x-berth", "init"))
            default:
                continue  // the other keys are the orchestrator's (on-unhealthy, ...)
            }
        }
        guard let pod = service.podName else { return }
        for (key, value) in [("network_mode", service.network_mode), ("ipc", service.ipc), ("uts", service.uts)] where value != nil {
            throw ComposeError(
                "services.\(name).\(key): \(name) is a member of pod \"\(pod)\", whose members share the network, IPC and UTS namespaces of the pod; remove \(key)",
                at: mark("services", name, key))
        }
    }

    private func validatePod(_ pod: Pod) throws(ComposeError) {
        if pod.members.isEmpty {
            throw ComposeError(
                "pod \"\(pod.name)\" has only init members (\(pod.initMembers.joined(separator: ", "))); add a member without init: true",
                at: mark("services", pod.initMembers[0], "x-berth", "init"))
        }
        var replicasFrom: (service: String, key: [String])?
        var hostnameFrom: String?
        var published: [String: String] = [:]  // "80/tcp" → service
        for name in pod.allMembers {
            guard let service = project.services[name] else { continue }
            if service.declaresReplicas {
                let key = service.deploy?.replicas != nil ? ["deploy", "replicas"] : ["scale"]
                if let first = replicasFrom, let other = project.services[first.service], other.replicas != service.replicas {
                    throw ComposeError(
                        "services.\(name).\(key.joined(separator: ".")): pod \"\(pod.name)\" runs \(other.replicas) replicas (\(first.service), at \(mark(["services", first.service] + first.key))) but \(name) asks for \(service.replicas); the members of a pod agree on its replica count: set it on one member, or the same on all",
                        at: mark(["services", name] + key))
                }
                replicasFrom = replicasFrom ?? (name, key)
            }
            if service.container_name != nil, pod.replicas > 1 {
                throw ComposeError(
                    "services.\(name).container_name: pod \"\(pod.name)\" runs \(pod.replicas) replicas and container names must be unique; remove container_name",
                    at: mark("services", name, "container_name"))
            }
            if let hostname = service.hostname {
                if let first = hostnameFrom, project.services[first]?.hostname != hostname {
                    throw ComposeError(
                        "services.\(name).hostname: the members of pod \"\(pod.name)\" share one host name, and \(first) sets \"\(project.services[first]?.hostname ?? "")\"; set the same or remove one",
                        at: mark("services", name, "hostname"))
                }
                hostnameFrom = hostnameFrom ?? name
            }
            for port in service.ports ?? [] {
                // Each pod replica publishes the port: a host port per replica.
                if pod.replicas > 1, let published = port.published, !published.isEmpty {
                    let bounds = published.split(separator: "-").compactMap { Int($0) }
                    if let low = bounds.first, let high = bounds.last, high - low + 1 < pod.replicas {
                        throw ComposeError(
                            "services.\(name).ports: pod \"\(pod.name)\" runs \(pod.replicas) replicas, each publishing host port \(published): they will clash; publish a range with a host port per replica (\"\(low)-\(low + pod.replicas - 1):\(port.target)\") or leave the host port out (\"\(port.target)\")",
                            at: mark("services", name, "ports"))
                    }
                }
                let key = "\(port.target)/\(port.protocol ?? "tcp")"
                if let other = published[key] {
                    throw ComposeError(
                        "services.\(name).ports: \(other) publishes \(key) already, and the members of pod \"\(pod.name)\" share one network namespace; publish it once",
                        at: mark("services", name, "ports"))
                }
                published[key] = name
            }
        }
    }
}
