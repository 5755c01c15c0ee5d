import CBerthSys

/// SHA-256 (FIPS 180-4) for config hashes and content digests, over the C shim's
/// implementation (`sha256.c`: the CPU's SHA extensions when present, else portable C) —
/// berth has no package dependencies and Foundation on Linux has no CryptoKit.
public struct SHA256: Sendable {
    private var context = berth_sha256()

    public init() { berth_sha256_init(&context) }

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            if let base = buffer.baseAddress { berth_sha256_update(&context, base, buffer.count) }
        }
        if done == nil {
            Array(bytes).withUnsafeBufferPointer { buffer in
                if let base = buffer.baseAddress { berth_sha256_update(&context, base, buffer.count) }
            }
        }
    }

    public mutating func update(_ text: String) { update(Array(text.utf8)) }

    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { berth_sha256_final(&context, $0.baseAddress!) }
        return out
    }

    /// Lower-case hex of the digest of `bytes`.
    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var hasher = SHA256()
        hasher.update(bytes)
        return hex(digest: hasher.finalize())
    }

    public static func hex(_ text: String) -> String { hex(Array(text.utf8)) }

    /// Lower-case hex of raw digest bytes.
    public static func hex(digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(digest.count * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
