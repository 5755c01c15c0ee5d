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

    public var exitCode: Int32 {
        switch kind {
        case .runtime: return 125
        case .cannotInvoke: return 126
        case .commandNotFound: return 127
        case .usage: return 64
        }
    }
}
