/// What went wrong with an image, where, and what to do about it. One enum for the module so
/// that callers (the CLI) print `Error: <description>` and tests match exact text.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidReference(String, String)
    case invalidDigest(String, String)

    /// The explanation without the offending text (for errors that wrap this one).
    public var reason: String {
        switch self {
        case .invalidReference(_, let why), .invalidDigest(_, let why): return why
        }
    }

    public var description: String {
        switch self {
        case .invalidReference(let text, let why): return "invalid reference format \"\(text)\": \(why)"
        case .invalidDigest(let text, let why): return "invalid digest \"\(text)\": \(why)"
        }
    }
}
