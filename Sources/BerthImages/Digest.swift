import BerthDigest

/// A content digest, `sha256:<64 hex>` (the only algorithm registries use in practice;
/// sha512 is accepted by the grammar and refused with a clear error when content must be
/// verified).
public struct Digest: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let algorithm: String
    public let encoded: String

    public init(parsing text: String) throws(ImageError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw .invalidDigest(text, "expected ALGORITHM:HEX, for example sha256:…")
        }
        let algorithm = String(text[..<colon])
        let encoded = String(text[text.index(after: colon)...])
        guard !algorithm.isEmpty, algorithm.utf8.allSatisfy({ Self.isAlgorithmByte($0) }) else {
            throw .invalidDigest(text, "the algorithm must be lower-case letters and digits")
        }
        let expectedLength: Int? = algorithm == "sha256" ? 64 : algorithm == "sha512" ? 128 : nil
        guard let expectedLength else { throw .invalidDigest(text, "unsupported algorithm \(algorithm); use sha256") }
        guard encoded.utf8.count == expectedLength, encoded.utf8.allSatisfy({ Self.isLowerHex($0) }) else {
            throw .invalidDigest(text, "\(algorithm) needs \(expectedLength) lower-case hex digits")
        }
        self.algorithm = algorithm
        self.encoded = encoded
    }

    /// From a trusted sha256 hex string (computed here).
    init(sha256 hex: String) {
        algorithm = "sha256"
        encoded = hex
    }

    public var description: String { "\(algorithm):\(encoded)" }
    /// The 12-character short form Docker prints as IMAGE ID.
    public var short: String { String(encoded.prefix(12)) }

    public static func < (a: Digest, b: Digest) -> Bool { a.description < b.description }

    /// The digest of `bytes`.
    public static func of<C: Collection>(_ bytes: C) -> Digest where C.Element == UInt8 {
        Digest(sha256: SHA256.hex(bytes))
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try Digest(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func isAlgorithmByte(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) }
    static func isLowerHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66) }
}

/// Streaming SHA-256 that counts what it saw and ends in a `Digest`.
public struct Hasher256: Sendable {
    private var sha: SHA256
    public private(set) var count: Int64 = 0

    public init(portable: Bool = false) {
        sha = SHA256(portable: portable)
    }

    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        sha.update(raw)
        count += Int64(raw.count)
    }

    public mutating func update(_ buffer: UnsafeBufferPointer<UInt8>) {
        update(UnsafeRawBufferPointer(buffer))
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    public mutating func finalize() -> Digest {
        let copy = sha
        return Digest(sha256: SHA256.hex(digest: copy.finalize()))
    }
}
