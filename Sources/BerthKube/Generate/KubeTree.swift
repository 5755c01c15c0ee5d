import ComposeSpec

/// Building Kubernetes objects as output trees: `tree` leaves out unset fields, `sortedKeys`
/// orders every mapping by key, as `kubectl get -o yaml` prints objects.
enum KubeTree {
    static func tree(_ pairs: [(String, OutputValue?)]) -> OutputValue {
        .map(pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    /// A string map (`labels`, `data`), nil when empty.
    static func strings(_ pairs: [(String, String)]) -> OutputValue? {
        pairs.isEmpty ? nil : .map(pairs.map { ($0.0, .string($0.1)) })
    }

    static func list(_ items: [OutputValue]) -> OutputValue? {
        items.isEmpty ? nil : .list(items)
    }

    static func int<T: BinaryInteger>(_ value: T?) -> OutputValue? { value.map { .int(Int64($0)) } }

    static func sortedKeys(_ value: OutputValue) -> OutputValue {
        switch value {
        case .map(let pairs): return .map(pairs.map { ($0.0, sortedKeys($0.1)) }.sorted { $0.0 < $1.0 })
        case .list(let items): return .list(items.map(sortedKeys))
        default: return value
        }
    }

    /// Seconds for a Kubernetes field: whole, rounded up, at least `minimum`.
    static func seconds(_ duration: ComposeSpec.Duration, minimum: Int64 = 1) -> Int64 {
        let whole = duration.nanoseconds / 1_000_000_000
        return max(minimum, duration.nanoseconds % 1_000_000_000 > 0 ? whole + 1 : whole)
    }
}
