/// An error in a Compose project: what is wrong, where (file:line:column when the value came
/// from a file), and, when we can tell, what to do about it.
public struct ComposeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var mark: Mark

    public init(_ message: String, at mark: Mark = .none) {
        self.message = message
        self.mark = mark
    }

    public var description: String {
        let place = mark.description
        return place.isEmpty ? message : "\(place): \(message)"
    }
}

/// A warning the loader wants the user to see (unset variables, ignored keys), printed by the
/// CLI on stderr the way Compose prints them.
public struct ComposeWarning: Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var mark: Mark

    public init(_ message: String, at mark: Mark = .none) {
        self.message = message
        self.mark = mark
    }

    public var description: String { message }
}

/// Dotted path of a value in the Compose document, as errors print it (`services.web.ports[0]`).
public struct KeyPath: Sendable, Equatable, CustomStringConvertible {
    public var components: [String]

    public init(_ components: [String] = []) { self.components = components }

    public func appending(_ key: String) -> KeyPath { KeyPath(components + [key]) }
    public func appending(index: Int) -> KeyPath {
        var copy = components
        if let last = copy.popLast() {
            copy.append("\(last)[\(index)]")
        } else {
            copy.append("[\(index)]")
        }
        return KeyPath(copy)
    }

    public var description: String { components.joined(separator: ".") }
}
