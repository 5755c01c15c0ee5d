import CBerthSys

/// SHA-256 (FIPS 180-4) for config hashes and content digests, over the C shim's
/// implementation (`sha256.c`: the CPU's SHA extensions when present, else portable C) —
/// berth has no package dependencies and Foundation on Linux has no CryptoKit. Image pulls
/// hash every layer byte twice (compressed and uncompressed), so the speed matters.
public struct SHA256: Sendable {
    private var context = berth_sha256()

    /// `portable` forces the generic code path (tests compare both).
    public init(portable: Bool = false) {
        berth_sha256_init(&context)
        context.portable = portable ? 1 : 0
    }

    public mutating func update(_ buffer: UnsafeRawBufferPointer) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        berth_sha256_update(&context, base, buffer.count)
    }

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
        if done == nil { Array(bytes).withUnsafeBytes { update($0) } }
    }

    public mutating func update(_ text: String) { update(Array(text.utf8)) }

    public consuming func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        out.withUnsafeMutableBufferPointer { pointer in
            guard let base = pointer.baseAddress else { return }
            berth_sha256_final(&context, base)
        }
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

    /// Whether the SHA extensions are used on this CPU.
    public static var accelerated: Bool { berth_sha256_accelerated() == 1 }
}
