import Testing
@testable import BerthImages

@Suite("digests")
struct DigestTests {
    @Test func knownVectors() {
        #expect(Digest.of(Array("".utf8)).description == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Digest.of(Array("abc".utf8)).description == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(Digest.of(Array(two.utf8)).encoded == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(Digest.of([UInt8](repeating: 0x61, count: 1_000_000)).encoded == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func acceleratedAndPortableAgreeOnEveryLengthAndSplit() {
        var bytes: [UInt8] = []
        var seed: UInt32 = 7
        for _ in 0..<300 {
            seed = seed &* 1_103_515_245 &+ 12345
            bytes.append(UInt8(truncatingIfNeeded: seed >> 16))
        }
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 200, 300] {
            let slice = Array(bytes[0..<length])
            var fast = Hasher256()
            var slow = Hasher256(portable: true)
            // Feed the fast one in uneven pieces to cross the 64-byte buffer boundary.
            var offset = 0
            var step = 1
            while offset < slice.count {
                let end = min(slice.count, offset + step)
                fast.update(Array(slice[offset..<end]))
                offset = end
                step = step * 3 + 1
            }
            slow.update(slice)
            #expect(fast.finalize() == slow.finalize(), "length \(length)")
        }
    }

    @Test func parsing() throws {
        let text = "sha256:" + String(repeating: "ab", count: 32)
        #expect(try Digest(parsing: text).description == text)
        #expect(try Digest(parsing: text).short == "abababababab")
        #expect(throws: ImageError.invalidDigest("sha256:abc", "sha256 needs 64 lower-case hex digits")) { try Digest(parsing: "sha256:abc") }
        #expect(throws: ImageError.invalidDigest("md5:abc", "unsupported algorithm md5; use sha256")) { try Digest(parsing: "md5:abc") }
        #expect(throws: ImageError.invalidDigest("abc", "expected ALGORITHM:HEX, for example sha256:…")) { try Digest(parsing: "abc") }
        #expect(throws: ImageError.self) { try Digest(parsing: "sha256:" + String(repeating: "AB", count: 32)) }
    }
}
