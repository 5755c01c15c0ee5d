/// A runtime failure with a message that says what failed, where, and what to do.
public struct RuntimeError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: Sendable, Equatable {
        /// Our own failure: exit 125.
        case runtime
        /// The command exists but cannot be invoked: exit 126.
        case cannotInvoke
        /// The command was not found: exit 127.
        case commandNotFound
        /// A usage error in the command line: exit 64.
        case usage
    }

    public var kind: Kind
    public var message: String

    public init(_ message: String, kind: Kind = .runtime) {
        self.message = message
        self.kind = kind
    }

    public var description: String { message }

    /// Decodes what a container child wrote on its error pipe before dying: a first line
    /// naming the kind (`not-found`, `cannot-invoke`, or anything else for our own failure),
    /// then the message. `context` says which container or exec it was.
    init(childReport text: String, context: String) {
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let kind: Kind
        switch parts.first ?? "" {
        case "not-found": kind = .commandNotFound
        case "cannot-invoke": kind = .cannotInvoke
        default: kind = .runtime
        }
        self.init("\(context): \(parts.count > 1 ? String(parts[1]) : text)", kind: kind)
    }

    public var exitCode: Int32 {
        switch kind {
        case .runtime: return 125
        case .cannotInvoke: return 126
        case .commandNotFound: return 127
        case .usage: return 64
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// `BERTH_TRACE=1`: phase timestamps (monotonic µs) on stderr, for start-path profiling.
enum Trace {
    static func mark(_ label: StaticString) {
        guard getenv("BERTH_TRACE") != nil else { return }
        let text = "berth-trace \(getpid()) \(Clock.monotonicNanoseconds() / 1000) \(label)\n"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}
