import ComposeSpec
import Foundation

/// A service's `healthcheck:` → Kubernetes probes. The check is the readiness probe (berth
/// gates DNS on it, as Kubernetes gates a Service's endpoints); with
/// `x-berth: {on-unhealthy: restart|kill}` it is the liveness probe as well; a start period
/// becomes a startup probe that allows `start_period` at `start_interval` (Docker does not
/// count failures then). Docker's defaults are written out (interval 30s, timeout 30s,
/// retries 3), as they differ from Kubernetes'.
struct ProbeWriter {
    let service: Service
    let subject: String
    let report: KubeReport

    func probes() -> [(String, OutputValue)] {
        guard let check = service.healthcheck, !check.isDisabled, let test = check.test, let handler = handler(test) else { return [] }
        let period = seconds(check.interval, "interval", default: 30)
        let timeout = seconds(check.timeout, "timeout", default: 30)
        let retries = Int64(check.retries.map { $0 == 0 ? 3 : $0 } ?? 3)
        var probe = handler
        probe.append(("periodSeconds", .int(period)))
        probe.append(("timeoutSeconds", .int(timeout)))
        probe.append(("failureThreshold", .int(retries)))
        var out: [(String, OutputValue)] = [("readinessProbe", .map(probe))]
        switch onUnhealthy {
        case "restart", "kill": out.append(("livenessProbe", .map(probe)))
        case nil, "none": break
        case let other?: report.warn(subject, "x-berth.on-unhealthy", "\(other) has no Kubernetes equivalent (a liveness probe restarts): not translated")
        }
        if let startPeriod = check.start_period, startPeriod.nanoseconds > 0 {
            let interval = seconds(check.start_interval, "start_interval", default: 5)
            let attempts = max(1, (KubeTree.seconds(startPeriod) + interval - 1) / interval)
            var startup = handler
            startup.append(("periodSeconds", .int(interval)))
            startup.append(("timeoutSeconds", .int(timeout)))
            startup.append(("failureThreshold", .int(attempts)))
            out.append(("startupProbe", .map(startup)))
        }
        return out
    }

    private var onUnhealthy: String? {
        guard let value = service.extensions?.values.last(where: { $0.0 == "x-berth" })?.1, case .map(let pairs) = value else { return nil }
        return pairs.last(where: { $0.0 == "on-unhealthy" })?.1.stringValue
    }

    private func seconds(_ duration: ComposeSpec.Duration?, _ key: String, default fallback: Int64) -> Int64 {
        guard let duration else { return fallback }
        if duration.nanoseconds % 1_000_000_000 != 0 {
            let rounded = KubeTree.seconds(duration)
            report.warn(subject, "healthcheck.\(key)", "\(duration): Kubernetes probes count whole seconds; \(rounded)s is used")
            return rounded
        }
        return max(1, duration.nanoseconds / 1_000_000_000)
    }

    private func handler(_ test: [String]) -> [(String, OutputValue)]? {
        guard let kind = test.first else { return nil }
        switch kind {
        case "CMD": return [("exec", .map([("command", .list(test.dropFirst().map { .string($0) }))]))]
        case "CMD-SHELL": return [("exec", .map([("command", .list(["/bin/sh", "-c", test.dropFirst().joined(separator: " ")].map { .string($0) }))]))]
        case "HTTP-GET", "TCP-SOCKET":
            guard let target = test.dropFirst().first else { return nil }
            let isHTTP = kind == "HTTP-GET"
            let rest = isHTTP ? target.dropFirst("http://".count) : Substring(target)
            let authority = rest.prefix { $0 != "/" }
            let parts = authority.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let host = parts.first ?? ""
            let port = parts.count > 1 ? Int64(parts[1]) ?? 80 : 80
            var fields: [(String, OutputValue)] = [("port", .int(port))]
            // The container's own loopback by default: Kubernetes probes the pod's address.
            if !host.isEmpty && host != "127.0.0.1" && host != "localhost" { fields.append(("host", .string(host))) }
            if isHTTP {
                let path = rest.dropFirst(authority.count)
                fields.append(("path", .string(path.isEmpty ? "/" : String(path))))
                let headers = test.dropFirst(2).map { header -> OutputValue in
                    let pair = header.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    return .map([("name", .string(pair.first ?? "")), ("value", .string(pair.count > 1 ? pair[1] : ""))])
                }
                if !headers.isEmpty { fields.append(("httpHeaders", .list(headers))) }
            }
            return [(isHTTP ? "httpGet" : "tcpSocket", .map(fields))]
        default:
            return nil
        }
    }
}
