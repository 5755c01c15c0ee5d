import BerthSystem

/// The networking engine's error: a stable code for callers, and a message that says what
/// failed, on which object, and what to do about it.
public struct NetworkError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        case invalidArgument, notFound, exists, exhausted, portInUse, inUse, system, unsupported
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// Wraps a lower-level error (a `SystemError`, a `NetlinkError`, …) with what we were doing.
    static func system(_ what: String, _ error: any Error) -> NetworkError {
        if let error = error as? NetworkError { return error }
        return NetworkError(.system, "\(what): \(error)")
    }
}

/// A kernel refusal of a netlink request: the operation, errno, and the kernel's extended-ack
/// text when it sent one ("Attribute failed policy validation", …).
public struct NetlinkError: Error, CustomStringConvertible, Sendable, Equatable {
    public var operation: String
    public var errno: Int32
    public var kernelMessage: String?

    public init(operation: String, errno: Int32, kernelMessage: String? = nil) {
        self.operation = operation
        self.errno = errno
        self.kernelMessage = kernelMessage
    }

    public var description: String {
        var text = "\(operation): \(SystemError.errnoName(errno)) (\(SystemError.strerror(errno)))"
        if let kernelMessage, !kernelMessage.isEmpty { text += ": \(kernelMessage)" }
        return text
    }
}
