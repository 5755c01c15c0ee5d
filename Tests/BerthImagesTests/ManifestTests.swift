import Foundation
import Testing
@testable import BerthImages

@Suite("manifests and platforms")
struct ManifestTests {
    static func digest(_ n: Int) -> String { "sha256:" + String(repeating: String(n % 10), count: 64) }

    static func entry(_ platform: String?, _ n: Int, annotations: String = "") -> String {
        let platformJSON = platform.map { text -> String in
            let parts = text.split(separator: "/").map(String.init)
            let variant = parts.count > 2 ? ",\"variant\":\"\(parts[2])\"" : ""
            return ",\"platform\":{\"os\":\"\(parts[0])\",\"architecture\":\"\(parts[1])\"\(variant)}"
        } ?? ""
        return "{\"mediaType\":\"\(MediaType.ociManifest)\",\"digest\":\"\(digest(n))\",\"size\":\(100 + n)\(platformJSON)\(annotations)}"
    }

    static func index(_ entries: [String]) throws -> ImageIndex {
        let json = "{\"schemaVersion\":2,\"mediaType\":\"\(MediaType.ociIndex)\",\"manifests\":[\(entries.joined(separator: ","))]}"
        guard case .index(let index) = try ManifestDocument.parse(Array(json.utf8), contentType: MediaType.ociIndex, source: "test") else {
            Issue.record("not an index")
            throw ImageError.unsupported("not an index")
        }
        return index
    }

    @Test func dockerManifestDecodes() throws {
        let json = """
            {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
             "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":1469,"digest":"\(Self.digest(1))"},
             "layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2220094,"digest":"\(Self.digest(2))"}]}
            """
        guard case .manifest(let manifest) = try ManifestDocument.parse(Array(json.utf8), contentType: "application/vnd.docker.distribution.manifest.v2+json; charset=utf-8", source: "busybox") else {
            Issue.record("not a manifest")
            return
        }
        #expect(manifest.config.size == 1469)
        #expect(manifest.layers.map(\.digest.description) == [Self.digest(2)])
        #expect(MediaType.isFilesystemLayer(manifest.layers[0].mediaType))
    }

    @Test func documentKindFromFieldsWhenNoMediaType() throws {
        let json = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"\(MediaType.ociConfig)\",\"digest\":\"\(Self.digest(1))\",\"size\":2},\"layers\":[]}"
        guard case .manifest = try ManifestDocument.parse(Array(json.utf8), contentType: nil, source: "x") else {
            Issue.record("not a manifest")
            return
        }
    }

    @Test func mismatchesAndSchema1AreClearErrors() {
        let json = "{\"schemaVersion\":2,\"mediaType\":\"\(MediaType.ociIndex)\",\"manifests\":[]}"
        #expect(throws: ImageError.invalidManifest("r", "Content-Type \(MediaType.ociManifest) does not match the document's mediaType \(MediaType.ociIndex)")) {
            try ManifestDocument.parse(Array(json.utf8), contentType: MediaType.ociManifest, source: "r")
        }
        #expect(throws: ImageError.unsupported("old:1 is a Docker schema 1 manifest, which berth does not support; push the image again with a current client")) {
            try ManifestDocument.parse(Array("{\"schemaVersion\":1,\"name\":\"x\"}".utf8), contentType: MediaType.dockerSchema1Signed, source: "old:1")
        }
        #expect(throws: ImageError.invalidManifest("r", "not a JSON manifest: The given data was not valid JSON.")) {
            try ManifestDocument.parse(Array("<html>".utf8), contentType: nil, source: "r")
        }
        #expect(throws: ImageError.invalidManifest("r", "missing field config")) {
            try ManifestDocument.parse(Array("{\"schemaVersion\":2,\"mediaType\":\"\(MediaType.ociManifest)\",\"layers\":[]}".utf8), contentType: nil, source: "r")
        }
    }

    @Test func platformSelectionFollowsContainerd() throws {
        let index = try Self.index([
            Self.entry("unknown/unknown", 9, annotations: ",\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}"),
            Self.entry("linux/386", 1),
            Self.entry("linux/arm/v6", 2),
            Self.entry("linux/arm64/v8", 3),
            Self.entry("linux/amd64", 4),
            Self.entry("linux/arm/v7", 5),
            Self.entry("linux/amd64/v3", 6),
        ])
        func pick(_ platform: String) throws -> String? {
            PlatformMatcher(try Platform(parsing: platform)).select(index.manifests)?.digest.description
        }
        #expect(try pick("linux/amd64") == Self.digest(4))
        #expect(try pick("linux/amd64/v3") == Self.digest(6))
        #expect(try pick("linux/amd64/v2") == Self.digest(4))
        #expect(try pick("linux/x86_64") == Self.digest(4))
        #expect(try pick("linux/arm64") == Self.digest(3))
        #expect(try pick("linux/arm/v7") == Self.digest(5))
        #expect(try pick("linux/arm/v8") == Self.digest(5))
        #expect(try pick("linux/arm/v6") == Self.digest(2))
        #expect(try pick("linux/arm/v5") == nil)
        #expect(try pick("linux/386") == Self.digest(1))
        #expect(try pick("linux/s390x") == nil)
        // arm64 falls back to 32-bit arm; amd64 to 386.
        let armOnly = try Self.index([Self.entry("linux/arm/v7", 1)])
        #expect(PlatformMatcher(try Platform(parsing: "linux/arm64")).select(armOnly.manifests)?.digest.description == Self.digest(1))
        let i386Only = try Self.index([Self.entry("linux/386", 7)])
        #expect(PlatformMatcher(try Platform(parsing: "linux/amd64")).select(i386Only.manifests)?.digest.description == Self.digest(7))
        // Only the attestation entry: nothing to run.
        let attestation = try Self.index([Self.entry("unknown/unknown", 9, annotations: ",\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}")])
        #expect(PlatformMatcher(try Platform(parsing: "linux/amd64")).select(attestation.manifests) == nil)
        // No platform at all: accepted after platform matches.
        let bare = try Self.index([Self.entry(nil, 8)])
        #expect(PlatformMatcher(try Platform(parsing: "linux/amd64")).select(bare.manifests)?.digest.description == Self.digest(8))
    }

    @Test func platformParsing() throws {
        #expect(try Platform(parsing: "linux/arm64").description == "linux/arm64/v8")
        #expect(try Platform(parsing: "arm").description == "linux/arm/v7")
        #expect(try Platform(parsing: "linux/amd64/v1").description == "linux/amd64")
        #expect(try Platform(parsing: "LINUX/AMD64").description == "linux/amd64")
        #expect(throws: ImageError.invalidPlatform("linux//x")) { try Platform(parsing: "linux//x") }
        #expect(throws: ImageError.invalidPlatform("a/b/c/d")) { try Platform(parsing: "a/b/c/d") }
        #expect(ImageError.invalidPlatform("x/").description == "invalid platform \"x/\": use OS/ARCH[/VARIANT], for example linux/arm64/v8")
        #expect(Platform.host.os == "linux")
        #expect(!Platform.host.architecture.isEmpty)
    }

    @Test func configAndChainIDs() throws {
        let json = """
            {"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":["sh"],"Entrypoint":null,
             "ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"WorkingDir":"/srv","User":"1000:1000","StopSignal":"SIGQUIT",
             "Labels":{"a":"b"},"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3}},
             "rootfs":{"type":"layers","diff_ids":["\(Self.digest(1))","\(Self.digest(2))","\(Self.digest(3))"]},
             "history":[{"created":"2024-01-01T00:00:00Z","created_by":"ADD file"}]}
            """
        let config = try ImageConfig.decode(Array(json.utf8), source: "cfg")
        #expect(config.config?.Env == ["PATH=/bin"])
        #expect(config.config?.Entrypoint == nil)
        #expect(config.config?.ExposedPorts?.keys.sorted() == ["80/tcp"])
        #expect(config.config?.Healthcheck?.Interval == 30_000_000_000)
        #expect(config.config?.StopSignal == "SIGQUIT")
        let chain = config.chainIDs
        #expect(chain[0].description == Self.digest(1))
        #expect(chain[1] == Digest.of(Array("\(Self.digest(1)) \(Self.digest(2))".utf8)))
        #expect(chain[2] == Digest.of(Array("\(chain[1]) \(Self.digest(3))".utf8)))
        #expect(throws: ImageError.invalidManifest("cfg", "image config: missing field rootfs")) {
            try ImageConfig.decode(Array("{\"architecture\":\"amd64\",\"os\":\"linux\"}".utf8), source: "cfg")
        }
    }
}
