/// What went wrong with an image, where, and what to do about it. One enum for the module so
/// that callers (the CLI) print `Error: <description>` and tests match exact text.
public enum ImageError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidReference(String, String)
    case invalidDigest(String, String)
    /// A manifest, index or config that is not what it claims (source, why).
    case invalidManifest(String, String)
    case unsupported(String)
    case invalidPlatform(String)
    /// A layer that could not be read or applied: (layer, why).
    case layer(String, String)
    /// One entry of a layer refused for safety or because it can't be applied.
    case layerRejected(layer: String, entry: String, why: String)
    case invalidPullPolicy(String)
    /// A `--change` instruction berth can't apply: (instruction, why).
    case invalidChange(String, String)
    /// A connection that failed or broke (worth retrying): the text says where and why.
    case network(String)
    /// TLS set-up or certificate verification failed (not retried).
    case tls(String)
    /// The registry answered with an error (not worth retrying as is).
    case registry(String)
    /// `No such image: X`.
    case notFound(String)
    /// An operation that conflicts with the store's state (the text says what to do).
    case conflict(String)
    /// The store itself failed (a system call, a damaged file): what, where.
    case store(String)
    /// Content that does not match its digest: (what, expected, actual).
    case digestMismatch(String, Digest, Digest)
    case sizeMismatch(String, expected: Int64, actual: Int64)
    /// No manifest in the index for this machine: (reference, wanted platform, available).
    case noMatchingPlatform(String, String, [String])

    /// The explanation without the offending text (for errors that wrap this one).
    public var reason: String {
        switch self {
        case .invalidReference(_, let why), .invalidDigest(_, let why), .invalidManifest(_, let why): return why
        default: return description
        }
    }

    public var description: String {
        switch self {
        case .invalidReference(let text, let why): return "invalid reference format \"\(text)\": \(why)"
        case .invalidDigest(let text, let why): return "invalid digest \"\(text)\": \(why)"
        case .invalidManifest(let source, let why): return "invalid manifest \(source): \(why)"
        case .unsupported(let what): return what
        case .layer(let layer, let why): return "layer \(layer): \(why)"
        case .layerRejected(let layer, let entry, let why): return "layer \(layer): entry \"\(entry)\" refused: \(why)"
        case .network(let text), .registry(let text), .tls(let text): return text
        case .invalidChange(let instruction, let why): return "invalid change \"\(instruction)\": \(why)"
        case .invalidPullPolicy(let text):
            return "invalid pull policy \"\(text)\": use always, missing, never, build, daily, weekly or every_<duration> (for example every_12h)"
        case .notFound(let what): return "No such image: \(what)"
        case .conflict(let text): return text
        case .store(let text): return "image store: \(text)"
        case .digestMismatch(let what, let expected, let actual):
            return "\(what): digest mismatch: expected \(expected), got \(actual); the content was altered in the registry or on the way, nothing was stored"
        case .sizeMismatch(let what, let expected, let actual):
            return "\(what): size mismatch: expected \(expected) bytes, got \(actual); the content was altered in the registry or on the way, nothing was stored"
        case .invalidPlatform(let text): return "invalid platform \"\(text)\": use OS/ARCH[/VARIANT], for example linux/arm64/v8"
        case .noMatchingPlatform(let reference, let wanted, let available):
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            return "no matching manifest for \(wanted) in the manifest list entries of \(reference) (available: \(list)); choose one with --platform"
        }
    }
}
