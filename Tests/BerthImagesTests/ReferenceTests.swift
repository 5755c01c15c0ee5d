import Testing
@testable import BerthImages

@Suite("references")
struct ReferenceTests {
    static let hex = String(repeating: "0123456789abcdef", count: 4)

    @Test(arguments: [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("bitnami/redis:7.2", "docker.io/bitnami/redis:7.2", "bitnami/redis:7.2"),
        ("ghcr.io/owner/repo/sub:v1", "ghcr.io/owner/repo/sub:v1", "ghcr.io/owner/repo/sub:v1"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/app:dev", "localhost:5000/app:dev", "localhost:5000/app:dev"),
        ("127.0.0.1:5000/ns/app", "127.0.0.1:5000/ns/app:latest", "127.0.0.1:5000/ns/app:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
        ("Registry.Example/app", "Registry.Example/app:latest", "Registry.Example/app:latest"),
        ("a.b-c/d-e--f/g.h_i__j:T_1.x-y", "a.b-c/d-e--f/g.h_i__j:T_1.x-y", "a.b-c/d-e--f/g.h_i__j:T_1.x-y"),
    ])
    func normalizes(input: String, full: String, familiar: String) throws {
        let reference = try ImageReference(parsing: input)
        #expect(reference.description == full)
        #expect(reference.familiarString == familiar)
    }

    @Test func tagAndDigest() throws {
        let both = try ImageReference(parsing: "127.0.0.1:5000/ns/name:tag@sha256:\(Self.hex)")
        #expect(both.domain == "127.0.0.1:5000")
        #expect(both.path == "ns/name")
        #expect(both.tag == "tag")
        #expect(both.digest?.description == "sha256:\(Self.hex)")
        #expect(both.manifestReference == "sha256:\(Self.hex)")
        let digestOnly = try ImageReference(parsing: "busybox@sha256:\(Self.hex)")
        #expect(digestOnly.description == "docker.io/library/busybox@sha256:\(Self.hex)")
        #expect(digestOnly.tag == nil)
        let untagged = try ImageReference(parsing: "busybox", defaultTag: false)
        #expect(untagged.tag == nil)
        #expect(untagged.manifestReference == "latest")
        #expect(untagged.name == "docker.io/library/busybox")
        #expect(untagged.familiarName == "busybox")
    }

    @Test(arguments: [
        ("", "repository name must have at least one component"),
        (":tag", "repository name must have at least one component"),
        ("Busybox", "repository name (Busybox) must be lowercase"),
        ("docker.io/Library/busybox", "repository name (Library/busybox) must be lowercase"),
        ("busybox:", "invalid tag format: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and can't start with . or -"),
        ("busybox:.x", "invalid tag format: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and can't start with . or -"),
        ("busybox:" + String(repeating: "a", count: 129), "invalid tag format: a tag is 1 to 128 of A-Z a-z 0-9 _ . - and can't start with . or -"),
        ("busybox@sha256:abc", "invalid digest format: sha256 needs 64 lower-case hex digits"),
        ("busybox@latest", "invalid digest format: expected ALGORITHM:HEX, for example sha256:…"),
        ("a//b", "empty path component in repository name"),
        ("busy box", "invalid path component \"busy box\": use a-z 0-9 separated by '.', '_', '__' or dashes"),
        ("foo/-bar", "invalid path component \"-bar\": use a-z 0-9 separated by '.', '_', '__' or dashes"),
        ("foo/bar_", "invalid path component \"bar_\": use a-z 0-9 separated by '.', '_', '__' or dashes"),
        ("foo/a___b", "invalid path component \"a___b\": use a-z 0-9 separated by '.', '_', '__' or dashes"),
        ("host:99999999/app", "invalid registry host \"host:99999999\": use HOST or HOST:PORT"),
        ("-host.io/app", "invalid registry host \"-host.io\": use HOST or HOST:PORT"),
        ("a.b__c/app", "invalid registry host \"a.b__c\": use HOST or HOST:PORT"),
        (String(repeating: "0123456789abcdef", count: 4), "cannot specify 64-byte hexadecimal strings"),
        ("r.io/" + String(repeating: "a", count: 251), "repository name must not be more than 255 characters"),
    ])
    func rejects(input: String, reason: String) {
        #expect(throws: ImageError.invalidReference(input, reason)) { try ImageReference(parsing: input) }
    }

    @Test func errorText() {
        #expect(ImageError.invalidReference("Busybox", "repository name (Busybox) must be lowercase").description
            == "invalid reference format \"Busybox\": repository name (Busybox) must be lowercase")
    }
}
