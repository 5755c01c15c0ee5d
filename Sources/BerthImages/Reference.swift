/// An image reference in Docker's grammar (distribution/reference), normalized:
/// `busybox` → `docker.io/library/busybox:latest`, `host:port/ns/name:tag@sha256:…`.
///
/// ```
/// reference := name [":" tag] ["@" digest]
/// name      := [domain "/"] path-component ("/" path-component)*
/// domain    := host [":" port]      host := domain-name | IPv4 | "[" IPv6 "]"
/// path-component := [a-z0-9]+ (([_.]|__|-+) [a-z0-9]+)*
/// tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
/// ```
/// The first component is a domain when it contains `.` or `:`, is `localhost`, or has an
/// upper-case letter; otherwise the name is on Docker Hub (`docker.io`), and a one-component
/// Hub name gets `library/`.
public struct ImageReference: Hashable, Sendable, CustomStringConvertible, Codable {
    public static let defaultDomain = "docker.io"
    public static let defaultTag = "latest"

    /// Registry host with optional port, for example `docker.io` or `127.0.0.1:5000`.
    public var domain: String
    /// Repository path inside the registry, for example `library/busybox`.
    public var path: String
    public var tag: String?
    public var digest: Digest?

    public init(domain: String, path: String, tag: String?, digest: Digest?) {
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest
    }

    /// Parses and normalizes `text`. A reference without tag and digest gets `latest`.
    public init(parsing text: String, defaultTag: Bool = true) throws(ImageError) {
        func fail(_ why: String) -> ImageError { .invalidReference(text, why) }
        guard !text.isEmpty else { throw fail("repository name must have at least one component") }
        if text.utf8.count == 64, text.utf8.allSatisfy(Digest.isLowerHex) {
            throw fail("cannot specify 64-byte hexadecimal strings")
        }
        var rest = Substring(text)
        var digest: Digest?
        if let at = rest.lastIndex(of: "@") {
            let digestText = String(rest[rest.index(after: at)...])
            do { digest = try Digest(parsing: digestText) } catch { throw fail("invalid digest format: \(error.reason)") }
            rest = rest[..<at]
        }
        var tag: String?
        let lastSlash = rest.lastIndex(of: "/")
        if let colon = rest.lastIndex(of: ":"), lastSlash.map({ colon > $0 }) ?? true {
            let tagText = String(rest[rest.index(after: colon)...])
            guard Self.isValidTag(tagText) else {
                throw fail("invalid tag format: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and can't start with . or -")
            }
            tag = tagText
            rest = rest[..<colon]
        }
        guard !rest.isEmpty else { throw fail("repository name must have at least one component") }
        var domain = Self.defaultDomain
        var path = rest
        if let slash = rest.firstIndex(of: "/") {
            let first = rest[..<slash]
            if first.contains(".") || first.contains(":") || first == "localhost" || first.lowercased() != first {
                domain = String(first)
                path = rest[rest.index(after: slash)...]
                guard Self.isValidDomain(domain) else {
                    throw fail("invalid registry host \"\(domain)\": use HOST or HOST:PORT")
                }
            }
        }
        if domain == "index.docker.io" { domain = Self.defaultDomain }
        if path.lowercased() != path { throw fail("repository name (\(path)) must be lowercase") }
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        for component in components where !Self.isValidPathComponent(component) {
            throw fail(component.isEmpty
                ? "empty path component in repository name"
                : "invalid path component \"\(component)\": use a-z 0-9 separated by '.', '_', '__' or dashes")
        }
        var fullPath = String(path)
        if domain == Self.defaultDomain && components.count == 1 { fullPath = "library/" + fullPath }
        guard domain.utf8.count + 1 + fullPath.utf8.count <= 255 else {
            throw fail("repository name must not be more than 255 characters")
        }
        if defaultTag && tag == nil && digest == nil { tag = Self.defaultTag }
        self.init(domain: domain, path: fullPath, tag: tag, digest: digest)
    }

    /// `docker.io/library/busybox`.
    public var name: String { domain + "/" + path }

    /// The fully qualified form: `docker.io/library/busybox:latest`.
    public var description: String {
        name + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    /// What `docker images` shows in REPOSITORY: Hub names without `docker.io/` and `library/`.
    public var familiarName: String {
        guard domain == Self.defaultDomain else { return name }
        return path.hasPrefix("library/") ? String(path.dropFirst("library/".count)) : path
    }

    /// The short form Docker prints in messages: `busybox:latest`, `localhost:5000/x@sha256:…`.
    public var familiarString: String {
        familiarName + (tag.map { ":" + $0 } ?? "") + (digest.map { "@" + $0.description } ?? "")
    }

    /// What to ask the registry for: the digest when there is one, else the tag.
    public var manifestReference: String { digest?.description ?? tag ?? Self.defaultTag }

    /// The same repository with another tag and no digest.
    public func with(tag: String) -> ImageReference { ImageReference(domain: domain, path: path, tag: tag, digest: nil) }
    public func with(digest: Digest) -> ImageReference { ImageReference(domain: domain, path: path, tag: nil, digest: digest) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try ImageReference(parsing: text, defaultTag: false) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: grammar

    static func isValidTag(_ tag: String) -> Bool {
        let bytes = Array(tag.utf8)
        guard let first = bytes.first, bytes.count <= 128, isWordByte(first) else { return false }
        return bytes.allSatisfy { isWordByte($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }
    }

    /// `[a-z0-9]+ (([_.]|__|-+) [a-z0-9]+)*`
    static func isValidPathComponent(_ component: Substring) -> Bool {
        let bytes = Array(component.utf8)
        var i = 0
        func alnumRun() -> Bool {
            let start = i
            while i < bytes.count, isLowerAlnum(bytes[i]) { i += 1 }
            return i > start
        }
        guard alnumRun() else { return false }
        while i < bytes.count {
            let sep = bytes[i]
            if sep == UInt8(ascii: ".") {
                i += 1
            } else if sep == UInt8(ascii: "_") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "_") { i += 1 }
            } else if sep == UInt8(ascii: "-") {
                while i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            } else {
                return false
            }
            guard alnumRun() else { return false }
        }
        return true
    }

    /// `host[:port]`, host a domain name, IPv4 address or bracketed IPv6 address.
    static func isValidDomain(_ domain: String) -> Bool {
        var host = Substring(domain)
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let inner = host[host.index(after: host.startIndex)..<close]
            guard !inner.isEmpty, inner.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            host = host[host.index(after: close)...]
            if host.isEmpty { return true }
            guard host.hasPrefix(":") else { return false }
            return isPort(host.dropFirst())
        }
        if let colon = host.lastIndex(of: ":") {
            guard isPort(host[host.index(after: colon)...]) else { return false }
            host = host[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy { label in
            let bytes = Array(label.utf8)
            guard let first = bytes.first, let last = bytes.last else { return false }
            return isAlnum(first) && isAlnum(last) && bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    private static func isPort(_ text: Substring) -> Bool { !text.isEmpty && text.count <= 5 && text.allSatisfy(\.isASCII) && text.allSatisfy(\.isNumber) }
    private static func isLowerAlnum(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
    private static func isAlnum(_ b: UInt8) -> Bool { isLowerAlnum(b) || (b >= 0x41 && b <= 0x5A) }
    private static func isWordByte(_ b: UInt8) -> Bool { isAlnum(b) || b == UInt8(ascii: "_") }
}
