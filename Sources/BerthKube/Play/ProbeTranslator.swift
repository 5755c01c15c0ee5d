import ComposeSpec

/// A container's probes → its Compose `healthcheck:`.
///
/// berth runs one health check per container, with Docker's state machine: `healthy` is what
/// readiness means (the embedded DNS answers with a container only once it is healthy), and
/// `x-berth: {on-unhealthy: restart}` turns it into a liveness check as well. So the check is
/// the readiness probe, else the liveness probe, else the startup probe; a liveness probe
/// that is the same check (or the only one) adds the restart; a startup probe gives the start
/// period (its failures do not count, as Docker's `start_period`).
///
/// Handlers: `exec` → `CMD`; `httpGet` → `["HTTP-GET", "http://HOST:PORT/PATH", "Header: value"…]`
/// and `tcpSocket` → `["TCP-SOCKET", "HOST:PORT"]`, which berth's prober runs itself inside the
/// container's network namespace (HOST defaults to 127.0.0.1 there, where Kubernetes uses
/// the pod's address: a server listening on all addresses answers both).
struct ProbeTranslator {
    /// The probe as berth runs it.
    struct Probe: Equatable {
        var test: [String]
        var period: Int64 = 10
        var timeout: Int64 = 1
        var failureThreshold: Int64 = 3
        var initialDelay: Int64 = 0
    }

    struct Result {
        var healthcheck: HealthCheck?
        /// Restart the container when the check fails (Kubernetes liveness).
        var restartOnUnhealthy = false
    }

    let container: ManifestMap
    /// The container's named ports, for `port: http`.
    let namedPorts: [String: Int64]

    func translate() throws(KubeError) -> Result {
        let liveness = try probe("livenessProbe")
        let readiness = try probe("readinessProbe")
        let startup = try probe("startupProbe")
        guard let main = readiness ?? liveness ?? startup else { return Result() }
        var result = Result()
        if let liveness {
            if liveness == main {
                result.restartOnUnhealthy = true
                if readiness == nil {
                    container.warn("livenessProbe", "berth's health check also keeps the container out of DNS until it passes, as a readiness probe would")
                }
            } else if liveness.test == main.test {
                result.restartOnUnhealthy = true
                container.warn("livenessProbe", "runs with the readinessProbe's timing (berth has one health check per container)")
            } else {
                container.warn("livenessProbe", "differs from the readinessProbe and is not run: berth has one health check per container (the readiness probe)")
            }
        }
        var check = HealthCheck()
        check.test = main.test
        check.interval = .seconds(main.period)
        check.timeout = .seconds(main.timeout)
        check.retries = UInt64(max(1, main.failureThreshold))
        if let startup, startup != main {
            if startup.test != main.test {
                container.warn("startupProbe", "its check is not run: berth uses its timing only, as the start period of the container's health check")
            }
            check.start_period = .seconds(min(startup.initialDelay + startup.failureThreshold * startup.period, ManifestMap.maximumSeconds))
            check.start_interval = .seconds(startup.period)
        } else {
            // Probe every second until the first success (or one period past the initial
            // delay), so a ready container is found about as soon as a kubelet would.
            check.start_period = .seconds(main.initialDelay + main.period)
            check.start_interval = .seconds(1)
        }
        result.healthcheck = check
        return result
    }

    private func probe(_ key: String) throws(KubeError) -> Probe? {
        guard let map = try container.map(key) else { return nil }
        var probe = Probe(test: try handler(map))
        probe.period = try map.seconds("periodSeconds", minimum: 1) ?? 10
        probe.timeout = try map.seconds("timeoutSeconds", minimum: 1) ?? 1
        probe.failureThreshold = try map.int("failureThreshold") ?? 3
        guard (1...1_000_000).contains(probe.failureThreshold) else { throw map.error("failureThreshold", "must be from 1 to 1000000") }
        probe.initialDelay = try map.seconds("initialDelaySeconds") ?? 0
        if let success = try map.int("successThreshold"), success > 1 {
            map.warn("successThreshold", "\(success) is not supported: one success makes the container healthy")
        }
        if let grace = try map.int("terminationGracePeriodSeconds") {
            map.warn("terminationGracePeriodSeconds", "\(grace) is not supported: the container's stop grace period applies")
        }
        return probe
    }

    private func handler(_ map: ManifestMap) throws(KubeError) -> [String] {
        var found: [[String]] = []
        if let exec = try map.map("exec") {
            guard let command = try exec.strings("command"), !command.isEmpty else { throw exec.error("command", "is required") }
            found.append(["CMD"] + command)
        }
        if let http = try map.map("httpGet") {
            let port = try resolvePort(http)
            let host = try probeHost(http)
            var path = try http.string("path") ?? "/"
            if !path.hasPrefix("/") { path = "/" + path }
            var headers: [String] = []
            for header in try http.maps("httpHeaders") {
                headers.append("\(try header.requiredString("name")): \(try header.string("value") ?? "")")
            }
            if let scheme = try http.string("scheme"), scheme.uppercased() != "HTTP" {
                guard scheme.uppercased() == "HTTPS" else { throw http.error("scheme", "\(scheme) is not HTTP or HTTPS") }
                http.warn("scheme", "berth's prober does not speak TLS: an HTTPS probe checks that the port accepts connections")
                found.append(["TCP-SOCKET", "\(host):\(port)"])
            } else {
                found.append(["HTTP-GET", "http://\(host):\(port)\(path)"] + headers)
            }
        }
        if let tcp = try map.map("tcpSocket") {
            found.append(["TCP-SOCKET", "\(try probeHost(tcp)):\(try resolvePort(tcp))"])
        }
        if let grpc = try map.map("grpc") {
            guard let port = try grpc.int("port") else { throw grpc.error("port", "is required") }
            _ = try grpc.string("service")
            map.warn("grpc", "berth's prober does not speak gRPC: the probe checks that port \(port) accepts connections")
            found.append(["TCP-SOCKET", "127.0.0.1:\(port)"])
        }
        guard found.count == 1, let test = found.first else {
            throw KubeError(
                "\(map.subject): \(map.path): a probe needs exactly one of exec, httpGet, tcpSocket or grpc", at: map.mark)
        }
        return test
    }

    /// The probe's `host`: an IPv4 address reached from inside the container (default 127.0.0.1).
    private func probeHost(_ map: ManifestMap) throws(KubeError) -> String {
        guard let host = try map.string("host"), !host.isEmpty else { return "127.0.0.1" }
        if host == "localhost" { return "127.0.0.1" }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else {
            throw map.error("host", "\(host) is not an IPv4 address: berth's prober connects to addresses, not names")
        }
        return host
    }

    private func resolvePort(_ map: ManifestMap) throws(KubeError) -> Int64 {
        guard let port = try map.intOrString("port") else { throw map.error("port", "is required") }
        switch port {
        case .int(let number):
            guard (1...65535).contains(number) else { throw map.error("port", "\(number) is not a port number") }
            return number
        case .string(let name):
            guard let number = namedPorts[name] else {
                throw map.error("port", "the container has no port named \(name); name it under ports or give the number")
            }
            return number
        }
    }
}
