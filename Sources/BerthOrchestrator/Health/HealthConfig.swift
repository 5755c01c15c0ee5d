import BerthRuntime
import ComposeSpec

/// A container's health check as Docker's `container.HealthConfig` holds it: the test, and
/// durations in nanoseconds where 0 means "the default" (Retries ≤ 0 likewise). Built from
/// the service's `healthcheck:` merged over the image's `HEALTHCHECK`, stored in the
/// container's launch config, and run by the supervisor.
public struct HealthConfig: Codable, Sendable, Equatable {
    /// `["CMD", args…]`, `["CMD-SHELL", command]` or `["NONE"]`; empty: not set.
    public var test: [String] = []
    public var interval: Int64 = 0
    public var timeout: Int64 = 0
    public var startPeriod: Int64 = 0
    public var startInterval: Int64 = 0
    public var retries: Int = 0
    /// What `CMD-SHELL` runs through: the image's `SHELL`, else `/bin/sh -c` (Docker's
    /// `getShell`). Set when the config is resolved for a container.
    public var shell: [String]?

    public init(
        test: [String] = [], interval: Int64 = 0, timeout: Int64 = 0, startPeriod: Int64 = 0, startInterval: Int64 = 0,
        retries: Int = 0, shell: [String]? = nil
    ) {
        self.test = test
        self.interval = interval
        self.timeout = timeout
        self.startPeriod = startPeriod
        self.startInterval = startInterval
        self.retries = retries
        self.shell = shell
    }

    // Docker's defaults (moby daemon/health.go).
    public static let defaultInterval: Int64 = 30_000_000_000
    public static let defaultTimeout: Int64 = 30_000_000_000
    public static let defaultStartPeriod: Int64 = 0
    public static let defaultStartInterval: Int64 = 5_000_000_000
    public static let defaultRetries = 3
    /// moby's `container.MinimumDuration`: a set duration below it is refused.
    public static let minimumDuration: Int64 = 1_000_000

    public var effectiveInterval: Int64 { interval > 0 ? interval : Self.defaultInterval }
    public var effectiveTimeout: Int64 { timeout > 0 ? timeout : Self.defaultTimeout }
    public var effectiveStartPeriod: Int64 { startPeriod > 0 ? startPeriod : Self.defaultStartPeriod }
    public var effectiveStartInterval: Int64 { startInterval > 0 ? startInterval : Self.defaultStartInterval }
    /// Retries ≤ 0 means 3.
    public var effectiveRetries: Int { retries > 0 ? retries : Self.defaultRetries }

    /// The probe's command line inside the container: `CMD`'s arguments, or `CMD-SHELL`'s
    /// through the shell. nil when nothing runs (`NONE`, unset).
    public var probeCommand: [String]? {
        guard let kind = test.first else { return nil }
        switch kind {
        case "CMD": return Array(test.dropFirst())
        case "CMD-SHELL": return (shell ?? ["/bin/sh", "-c"]) + test.dropFirst()
        default: return nil
        }
    }
}

extension HealthConfig {
    /// Compose's `healthcheck:` as Compose hands it to the engine (`ToMobyHealthCheck`):
    /// unset keys stay 0, `disable: true` becomes the test `NONE`. (A string `test` is
    /// already `["CMD-SHELL", …]` after loading.)
    public init(compose check: HealthCheck) {
        self.init(
            test: check.isDisabled ? ["NONE"] : (check.test ?? []), interval: check.interval?.nanoseconds ?? 0,
            timeout: check.timeout?.nanoseconds ?? 0, startPeriod: check.start_period?.nanoseconds ?? 0,
            startInterval: check.start_interval?.nanoseconds ?? 0, retries: check.retries.map { Int(clamping: $0) } ?? 0)
    }

    /// The engine's merge of a container's check over its image's (moby `daemon/commit.go`
    /// `merge`): no check of its own takes the image's whole; otherwise each unset field
    /// (empty test, zero duration, zero retries) comes from the image.
    public func merged(over image: HealthConfig?) -> HealthConfig {
        guard let image else { return self }
        var out = self
        if out.test.isEmpty { out.test = image.test }
        if out.interval == 0 { out.interval = image.interval }
        if out.timeout == 0 { out.timeout = image.timeout }
        if out.startPeriod == 0 { out.startPeriod = image.startPeriod }
        if out.startInterval == 0 { out.startInterval = image.startInterval }
        if out.retries == 0 { out.retries = image.retries }
        return out
    }

    /// The check a container of `service` runs, or nil when it has none (no test anywhere,
    /// `NONE`, `disable: true`). `image` is the image's `HEALTHCHECK`, `imageShell` its
    /// `SHELL`. Refuses what Docker refuses (durations under 1ms) and, unlike Docker, which
    /// silently runs no check then, a test that starts with neither CMD, CMD-SHELL nor NONE.
    public static func resolve(
        service name: String, _ check: HealthCheck?, image: HealthConfig?, imageShell: [String]?
    ) throws(ServiceConfigError) -> HealthConfig? {
        var config = (check.map(HealthConfig.init(compose:)) ?? image) ?? HealthConfig()
        if check != nil { config = config.merged(over: image) }
        try config.validate(service: name)
        guard config.test.first != "NONE", config.probeCommand != nil || config.isNative else { return nil }
        config.shell = imageShell.flatMap { $0.isEmpty ? nil : $0 } ?? ["/bin/sh", "-c"]
        return config
    }

    func validate(service name: String) throws(ServiceConfigError) {
        func fail(_ key: String, _ message: String) -> ServiceConfigError {
            ServiceConfigError(service: name, key: "healthcheck.\(key)", message: message)
        }
        for (key, value) in [("interval", interval), ("timeout", timeout), ("start_period", startPeriod), ("start_interval", startInterval)]
        where value != 0 && value < Self.minimumDuration {
            throw fail(key, "\(ComposeSpec.Duration(nanoseconds: value)) is less than the minimum of 1ms; give 1ms or more, or leave it out for the default")
        }
        if retries < 0 { throw fail("retries", "cannot be negative") }
        guard let kind = test.first else { return }
        switch kind {
        case "NONE": return
        case "CMD", "CMD-SHELL":
            if test.count < 2 || test.dropFirst().allSatisfy(\.isEmpty) {
                throw fail("test", "\(kind) needs a command, as in [\"\(kind)\", \(kind == "CMD" ? "\"pg_isready\"" : "\"curl -f http://localhost\"")]")
            }
        case NativeProbe.httpKind, NativeProbe.tcpKind:
            do {
                _ = try NativeProbe.parse(test)
            } catch {
                throw fail("test", "\(error)")
            }
        default:
            throw fail("test", "must start with CMD, CMD-SHELL, HTTP-GET, TCP-SOCKET or NONE (as in [\"CMD\", \"\(kind)\", ...]), or be a string run by the shell")
        }
    }
}
