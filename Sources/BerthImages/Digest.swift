import CBerthSys

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
        var hasher = Hasher256()
        if let done = bytes.withContiguousStorageIfAvailable({ hasher.update($0) }) { _ = done } else { hasher.update(Array(bytes)) }
        return hasher.finalize()
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

/// Streaming SHA-256 over the C implementation (SHA extensions when the CPU has them).
public struct Hasher256: Sendable {
    private var context = berth_sha256()
    public private(set) var count: Int64 = 0

    public init(portable: Bool = false) {
        berth_sha256_init(&context)
        context.portable = portable ? 1 : 0
    }

    public mutating func update(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        berth_sha256_update(&context, base, buffer.count)
        count += Int64(buffer.count)
    }

    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        update(raw.bindMemory(to: UInt8.self))
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { update($0) }
    }

    public mutating func finalize() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { pointer in
            guard let base = pointer.baseAddress else { return }
            berth_sha256_final(&context, base)
        }
        return Digest(sha256: Self.hex(out))
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public static var accelerated: Bool { berth_sha256_accelerated() == 1 }
}
