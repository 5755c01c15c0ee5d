import ComposeSpec

/// A service's `x-berth:` mapping: what berth does beyond Compose. Every key is documented
/// in berth-compose(5); an unknown key is an error (a misspelt key silently ignored would
/// be worse).
public struct BerthExtension: Codable, Sendable, Equatable {
    /// What the supervisor does when the service's health check turns a container unhealthy
    /// (`on-unhealthy`; Docker does nothing, Kubernetes' liveness probe restarts).
    public enum UnhealthyAction: String, Codable, Sendable, CaseIterable {
        /// Nothing (Docker's behaviour, the default).
        case none
        /// Stop it as `berth stop` would (stop signal, grace period) and start it again,
        /// counted as a restart, with the back-off — whatever the restart policy.
        case restart
        /// Stop it as `berth stop` would; it stays stopped, as if stopped by hand.
        case stop
        /// SIGKILL; then the restart policy decides, as for any exit (code 137).
        case kill
    }

    public var onUnhealthy: UnhealthyAction = .none

    public init(onUnhealthy: UnhealthyAction = .none) {
        self.onUnhealthy = onUnhealthy
    }

    public static let key = "x-berth"

    /// `onUnhealthy` for the launch config: nil when it is `none`.
    var action: UnhealthyAction? { onUnhealthy == .none ? nil : onUnhealthy }

    /// The service's `x-berth`, or the defaults when it has none.
    public static func of(service name: String, _ service: Service) throws(ServiceConfigError) -> BerthExtension {
        var out = BerthExtension()
        guard let value = service.extensions?.values.last(where: { $0.0 == key })?.1 else { return out }
        if value == .null { return out }
        guard case .map(let pairs) = value else {
            throw ServiceConfigError(service: name, key: key, message: "must be a mapping, such as {on-unhealthy: restart}")
        }
        for (field, value) in pairs {
            switch field {
            case "on-unhealthy":
                let choices = UnhealthyAction.allCases.map(\.rawValue).joined(separator: ", ")
                guard let text = value.stringValue, let action = UnhealthyAction(rawValue: text) else {
                    throw ServiceConfigError(service: name, key: "\(key).on-unhealthy", message: "\(Self.describe(value)) is not an action; use \(choices)")
                }
                out.onUnhealthy = action
            case "pod", "init":
                continue  // pods: checked by the loader (Pod, PodExpansion)
            default:
                throw ServiceConfigError(service: name, key: "\(key).\(field)", message: "unknown key; x-berth knows on-unhealthy, pod and init (see berth-compose(5))")
            }
        }
        return out
    }

    static func describe(_ value: ComposeValue) -> String {
        value.stringValue.map { "\"\($0)\"" } ?? "this value"
    }
}
