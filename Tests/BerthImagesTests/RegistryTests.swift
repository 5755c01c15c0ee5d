import BerthSystem
import Foundation
import Synchronization
import Testing
@testable import BerthImages

/// Images the registry tests push: a busybox rootfs (Debian's busybox-static), a
/// two-layer image with whiteouts, and a three-platform index.
enum Seeds {
    static let busyboxApplets = ["sh", "ls", "cat", "echo", "true", "sleep"]

    static func busybox() throws -> TestImage {
        let busybox = try FS.read("/bin/busybox", limit: 1 << 24)
        let tar = TarBuilder().directory("bin").file("bin/busybox", bytes: busybox)
        for applet in busyboxApplets { tar.symlink("bin/\(applet)", to: "busybox") }
        tar.directory("etc").file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n").directory("tmp", mode: 0o1777)
        return try TestImage(layers: [tar], cmd: ["sh"])
    }

    static func layered() throws -> TestImage {
        try TestImage(layers: [
            TarBuilder().directory("etc").file("etc/motd", "hello\n").file("etc/remove-me", "x").directory("var/cache").file("var/cache/a", "a"),
            TarBuilder().file("etc/.wh.remove-me").file("var/cache/.wh..wh..opq").file("var/cache/b", "b").file("etc/motd", "upper\n"),
        ], compression: .zstd)
    }

    static func platform(_ name: String) throws -> TestImage {
        let parts = name.split(separator: "/").map(String.init)
        return try TestImage(layers: [TarBuilder().file("arch", name + "\n")], architecture: parts[1])
    }

    /// A registry holding `busybox:latest` (and the layout it came from).
    static func registry(auth: RegistryFixture.Auth = .none, name: String = "busybox:latest", credentials: String? = nil) throws -> (RegistryFixture, TestImage) {
        let registry = try RegistryFixture(auth: auth)
        let image = try busybox()
        let layout = try registry.scratch.directory("layout")
        try OCILayout.write(image, to: layout, tag: "latest")
        try registry.push(layout: layout, tag: "latest", as: name, credentials: credentials)
        return (registry, image)
    }
}

/// Everything a pull test needs: a private store and a client with quick back-off.
struct PullSetup {
    let scratch: Scratch
    let store: ImageStore
    let client: RegistryClient

    init(options: RegistryOptions = RegistryOptions()) throws {
        scratch = try Scratch("pull")
        store = try ImageStore(root: scratch.path)
        var options = options
        options.backoffMilliseconds = 5
        options.retries = options.retries == RegistryOptions().retries ? 2 : options.retries
        client = RegistryClient(options: options)
    }

    func puller(platform: Platform = Platform(os: "linux", architecture: "amd64")) -> ImagePuller {
        ImagePuller(store: store, client: client, platform: platform)
    }

    func pull(_ text: String, platform: Platform = Platform(os: "linux", architecture: "amd64")) throws -> PullResult {
        try puller(platform: platform).pull(try ImageReference(parsing: text))
    }

    /// Nothing of a failed pull may remain: no record, no work directories.
    func expectNothingStored() throws {
        #expect(try store.records() == [])
        #expect(listing(store.directory + "/tmp") == [])
    }
}

@Suite("registry pulls", .serialized, .enabled(if: isRoot && haveRegistryTools, registryReason))
struct RegistryPullTests {
    @Test func pullByTagThenByDigest() throws {
        let (registry, image) = try Seeds.registry()
        let setup = try PullSetup()
        let events = Mutex<[PullEvent]>([])
        let result = try setup.puller().pull(try ImageReference(parsing: "\(registry.domain)/busybox")) { event in events.withLock { $0.append(event) } }
        #expect(!result.upToDate)
        #expect(result.digest == image.manifestDigest)
        #expect(result.record.reference == "\(registry.domain)/busybox:latest")
        #expect(result.record.config == image.configDigest)
        #expect(result.record.size == Int64(try FS.read("/bin/busybox", limit: 1 << 24).count) + 30)
        let layerID = image.manifest.layers[0].digest.short
        let seen = events.withLock { $0 }
        #expect(seen.first == .resolved(layers: [layerID]))
        #expect(seen.last == .layer(layerID, .complete))
        #expect(seen.contains(.layer(layerID, .downloading(image.manifest.layers[0].size, of: image.manifest.layers[0].size))))

        let lower = try setup.store.lowerDirs(for: try setup.store.find("\(registry.domain)/busybox"))
        #expect(lower == [setup.store.layerPath(image.chainIDs[0])])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: lower[0] + "/bin/sh") == "busybox")
        #expect(try setup.store.config(of: result.record).config?.Cmd == ["sh"])

        // Again: up to date, nothing fetched.
        #expect(try setup.pull("\(registry.domain)/busybox:latest").upToDate)

        // By digest: a record without tag, the same image.
        let byDigest = try setup.pull("\(registry.domain)/busybox@\(image.manifestDigest)")
        #expect(byDigest.record.tag == nil)
        #expect(byDigest.record.reference == "\(registry.domain)/busybox@\(image.manifestDigest)")
        #expect(byDigest.record.config == image.configDigest)
        #expect(try setup.store.records().count == 2)
        #expect(listing(setup.store.directory + "/layers").count == 1)
    }

    @Test func platformSelectionFromAnIndex() throws {
        let registry = try RegistryFixture()
        let layout = try registry.scratch.directory("layout")
        let amd64 = try Seeds.platform("linux/amd64"), arm64 = try Seeds.platform("linux/arm64"), arm = try Seeds.platform("linux/arm")
        let attestation = Descriptor(
            mediaType: MediaType.ociManifest, digest: amd64.manifestDigest, size: Int64(amd64.manifestBytes.count),
            annotations: ["vnd.docker.reference.type": "attestation-manifest"], platform: Platform(os: "unknown", architecture: "unknown"))
        let index = try OCILayout.write(index: [
            (arm64, Platform(os: "linux", architecture: "arm64", variant: "v8")),
            (amd64, Platform(os: "linux", architecture: "amd64")),
            (arm, Platform(os: "linux", architecture: "arm", variant: "v7")),
        ], to: layout, tag: "multi", extra: [attestation])
        try registry.push(layout: layout, tag: "multi", as: "multi:1", all: true)
        let setup = try PullSetup()
        let reference = "\(registry.domain)/multi:1"
        for (platform, expected) in [("linux/arm64", arm64), ("linux/amd64", amd64), ("linux/arm/v7", arm), ("linux/arm/v8", arm)] {
            let result = try setup.pull(reference, platform: try Platform(parsing: platform))
            #expect(result.digest == index.digest, "\(platform)")
            #expect(result.record.manifest == expected.manifestDigest, "\(platform)")
            let lower = try setup.store.lowerDirs(for: result.record)
            #expect(contents(lower[0] + "/arch") == (expected.configBytes == arm.configBytes ? "linux/arm\n" : platform + "\n"))
        }
        #expect(throws: ImageError.noMatchingPlatform(reference, "linux/s390x", ["linux/arm64/v8", "linux/amd64", "linux/arm/v7"])) {
            try setup.pull(reference, platform: try Platform(parsing: "linux/s390x"))
        }
    }
}
