import BerthSystem
import Foundation
import Testing
@testable import BerthImages

@Suite("image store", .enabled(if: isRoot, rootReason))
struct StoreTests {
    static var base: TarBuilder { TarBuilder().directory("bin").file("bin/sh", "#!shell", mode: 0o755).directory("etc").file("etc/os-release", "ID=test\n") }
    static var app: TarBuilder { TarBuilder().directory("app").file("app/run", "run", mode: 0o755).file("etc/.wh.os-release") }

    @Test func storedImageHasRecordConfigAndTopFirstLowerDirs() throws {
        let scratch = try Scratch("store")
        let store = try ImageStore(root: scratch.path)
        let image = try TestImage(layers: [Self.base, Self.app], cmd: ["/app/run"], labels: ["tier": "web"])
        let stored = try image.store(in: store, as: "localhost:5000/shop/web:1.0", pulled: 1_700_000_000)
        #expect(stored.config == image.configDigest)
        #expect(stored.target == image.manifestDigest)
        #expect(stored.size == 7 + 8 + 3)
        #expect(stored.created == "2026-01-02T03:04:05Z")

        let record = try store.find("localhost:5000/shop/web:1.0")
        #expect(record.reference == "localhost:5000/shop/web:1.0")
        #expect(record.pulled == 1_700_000_000)
        #expect(try store.find(image.configDigest.short) == record)
        #expect(try store.find("sha256:" + image.configDigest.encoded) == record)
        #expect(try store.find("localhost:5000/shop/web@\(image.manifestDigest)") == record)
        #expect(throws: ImageError.notFound("localhost:5000/shop/web:2.0")) { try store.find("localhost:5000/shop/web:2.0") }

        let config = try store.config(of: record)
        #expect(config.config?.Cmd == ["/app/run"])
        #expect(config.config?.Labels == ["tier": "web"])
        let chain = image.chainIDs
        #expect(try store.lowerDirs(for: record) == [
            scratch.path + "/images/layers/\(chain[1].encoded)/diff",
            scratch.path + "/images/layers/\(chain[0].encoded)/diff",
        ])
        #expect(contents(scratch.path + "/images/layers/\(chain[0].encoded)/diff/etc/os-release") == "ID=test\n")
        #expect(lstatOf(scratch.path + "/images/layers/\(chain[1].encoded)/diff/etc/os-release")?.st_mode == S_IFCHR)
        for digest in [image.configDigest, image.manifestDigest] + image.manifest.layers.map(\.digest) {
            #expect(Digest.of(try FS.read(store.blobPath(digest), limit: 1 << 26)) == digest)
        }
        #expect(listing(scratch.path + "/images/tmp") == [])
    }

    @Test func layersAreSharedByChainID() throws {
        let scratch = try Scratch("share")
        let store = try ImageStore(root: scratch.path)
        let one = try TestImage(layers: [Self.base, Self.app])
        let two = try TestImage(layers: [Self.base, TarBuilder().file("other", "o")])
        try one.store(in: store, as: "one")
        try two.store(in: store, as: "two")
        #expect(one.chainIDs[0] == two.chainIDs[0])
        #expect(listing(scratch.path + "/images/layers").count == 3)
        let session = try store.session()
        let (_, reused) = try session.ingestLayer(two.manifest.layers[0], diffID: two.diffIDs[0], chainID: two.chainIDs[0], what: "base") { () throws(ImageError) in
            throw .store("must not be opened")
        }
        #expect(reused)
    }

    @Test func aTamperedLayerFailsAndLeavesNothingBehind() throws {
        let scratch = try Scratch("tamper")
        let store = try ImageStore(root: scratch.path)
        let image = try TestImage(layers: [Self.base, Self.app])
        var layers = image.layers
        layers[1] = TarBuilder().directory("app").file("app/run", "evil", mode: 0o755).build(.gzip)
        let tampered = layers
        let session = try store.session()
        #expect(throws: ImageError.digestMismatch("\(image.manifest.layers[1].digest) of test image", image.manifest.layers[1].digest, Digest.of(tampered[1]))) {
            try session.storeImage(image.parts) { index, _ in MemorySource(tampered[index]) }
        }
        #expect(throws: ImageError.notFound("busybox:latest")) { try store.find("busybox:latest") }
        #expect(!store.hasLayer(image.chainIDs[1]))
        #expect(!store.hasBlob(Digest.of(tampered[1])))
        #expect(!store.hasBlob(image.configDigest))
        #expect(listing(session.tmp) == [])
        #expect(try store.records() == [])
        // The good layer is kept for the next attempt, which then succeeds.
        #expect(store.hasLayer(image.chainIDs[0]))
        try image.store(in: store, as: "busybox")
        #expect(try store.lowerDirs(for: try store.find("busybox")).count == 2)
    }

    @Test func aLayerWhoseTarDoesNotMatchTheConfigIsRefused() throws {
        let scratch = try Scratch("diffid")
        let store = try ImageStore(root: scratch.path)
        let image = try TestImage(layers: [Self.base])
        var config = try ImageConfig.decode(image.configBytes, source: "x")
        let wrong = Digest.of(Array("nope".utf8))
        config.rootfs.diffIDs = [wrong]
        let configBytes = Array(try JSONEncoder().encode(config))
        var manifest = image.manifest
        manifest.config = Descriptor(mediaType: MediaType.ociConfig, digest: Digest.of(configBytes), size: Int64(configBytes.count))
        let parts = ImageParts(manifestBytes: Array(try JSONEncoder().encode(manifest)), configBytes: configBytes, what: "x")
        let layers = image.layers
        #expect(throws: ImageError.digestMismatch("\(image.manifest.layers[0].digest) of x (uncompressed, against the config's diff_ids)", wrong, image.diffIDs[0])) {
            try store.session().storeImage(parts) { index, _ in MemorySource(layers[index]) }
        }
        #expect(listing(scratch.path + "/images/layers") == [])
    }

    @Test func aMovedTagLeavesADanglingImageThatPruneRemoves() throws {
        let scratch = try Scratch("prune")
        let store = try ImageStore(root: scratch.path)
        let old = try TestImage(layers: [Self.base, Self.app])
        let new = try TestImage(layers: [Self.base, TarBuilder().file("v2", "2")])
        try old.store(in: store, as: "app")
        try new.store(in: store, as: "app")
        let records = try store.records()
        #expect(records.map(\.reference) == ["docker.io/library/app:latest", old.configDigest.description])
        #expect(records[1].repository == nil)
        let (events, reclaimed) = try store.prune(all: false)
        #expect(events == [.deleted(old.configDigest), .deleted(old.chainIDs[1])])
        #expect(reclaimed == Int64(old.layers[1].count) + Int64(old.configBytes.count) + Int64(old.manifestBytes.count) + 3)
        #expect(try store.records().map(\.reference) == ["docker.io/library/app:latest"])
        #expect(!store.hasBlob(old.configDigest))
        #expect(store.hasLayer(old.chainIDs[0]))
    }

    @Test func removeByTagAndByID() throws {
        let scratch = try Scratch("rm")
        let store = try ImageStore(root: scratch.path)
        let image = try TestImage(layers: [Self.base])
        let record = try image.store(in: store, as: "busybox", pulled: 1)
        try store.tag(record, as: try ImageReference(parsing: "localhost:5000/busybox:copy"))
        #expect(try store.remove("busybox:latest") == [.untagged("busybox:latest")])
        try store.tag(record, as: try ImageReference(parsing: "busybox:again"))
        #expect(throws: ImageError.conflict("conflict: unable to delete \(image.configDigest.short) (must be forced) - image is referenced in multiple repositories")) {
            try store.remove(image.configDigest.short)
        }
        #expect(try store.remove(image.configDigest.short, force: true) == [
            .untagged("localhost:5000/busybox:copy"), .untagged("busybox:again"),
            .deleted(image.configDigest), .deleted(image.chainIDs[0]),
        ])
        #expect(listing(scratch.path + "/images/blobs/sha256") == [])
        #expect(listing(scratch.path + "/images/layers") == [])
        #expect(RemovalEvent.deleted(image.configDigest).description == "Deleted: \(image.configDigest)")
    }

    @Test func leftoversOfACrashedSessionAreRemovedAndTheNextPullWorks() throws {
        let scratch = try Scratch("crash")
        let store = try ImageStore(root: scratch.path)
        let image = try TestImage(layers: [Self.base, Self.app])
        // What a killed pull leaves: its work dir and lock file (lock no longer held), a
        // finished layer, and no record.
        let crashed = scratch.path + "/images/tmp/deadbeef"
        try FS.makeDirectories(crashed + "/layer-1/diff/half")
        try FS.write(crashed + ".lock", [])
        let session = try store.session()
        let layers = image.layers
        _ = try session.ingestLayer(image.manifest.layers[0], diffID: image.diffIDs[0], chainID: image.chainIDs[0], what: "l0") { () throws(ImageError) in MemorySource(layers[0]) }
        #expect(!FS.exists(crashed))
        #expect(!FS.exists(crashed + ".lock"))
        #expect(try store.records() == [])
        let record = try image.store(in: store, as: "busybox")
        #expect(try store.lowerDirs(for: record).count == 2)
    }

    @Test func concurrentStoresOfTheSameImageAgree() throws {
        let scratch = try Scratch("race")
        let store = try ImageStore(root: scratch.path)
        let image = try TestImage(layers: [Self.base, Self.app, TarBuilder().file("x", String(repeating: "x", count: 200_000))])
        try Parallel.forEach(4, limit: 4) { (index: Int) throws(ImageError) in
            do { try image.store(in: store, as: "race:\(index)") } catch { throw .store("\(error)") }
        }
        #expect(try store.records().map(\.reference).sorted() == (0..<4).map { "docker.io/library/race:\($0)" })
        #expect(listing(scratch.path + "/images/layers").count == 3)
        #expect(try store.collectGarbage() == CollectedGarbage())
    }
}

@Suite("pull policy")
struct PullPolicyTests {
    @Test func parsing() throws {
        #expect(try PullPolicy(parsing: "if_not_present") == .missing)
        #expect(try PullPolicy(parsing: "daily") == .every(seconds: 86_400, text: "daily"))
        #expect(try PullPolicy(parsing: "weekly") == .every(seconds: 604_800, text: "weekly"))
        #expect(try PullPolicy(parsing: "every_12h") == .every(seconds: 43_200, text: "every_12h"))
        #expect(try PullPolicy(parsing: "every_1h30m") == .every(seconds: 5400, text: "every_1h30m"))
        #expect(try PullPolicy(parsing: "every_2d") == .every(seconds: 172_800, text: "every_2d"))
        for bad in ["sometimes", "every_", "every_12", "every_x", "every_0s"] {
            #expect(throws: ImageError.invalidPullPolicy(bad)) { try PullPolicy(parsing: bad) }
        }
        #expect(ImageError.invalidPullPolicy("x").description == "invalid pull policy \"x\": use always, missing, never, build, daily, weekly or every_<duration> (for example every_12h)")
    }

    @Test func decisions() throws {
        let now: Int64 = 1_000_000
        #expect(PullPolicy.always.decide(present: true, lastPulled: now, now: now) == .pull)
        #expect(PullPolicy.missing.decide(present: true, lastPulled: nil, now: now) == .useLocal)
        #expect(PullPolicy.missing.decide(present: false, lastPulled: nil, now: now) == .pull)
        #expect(PullPolicy.never.decide(present: false, lastPulled: nil, now: now) == .missingLocally)
        #expect(PullPolicy.never.decide(present: true, lastPulled: nil, now: now) == .useLocal)
        #expect(PullPolicy.build.decide(present: true, lastPulled: nil, now: now) == .build)
        let daily = try PullPolicy(parsing: "daily")
        #expect(daily.decide(present: true, lastPulled: now - 86_399, now: now) == .useLocal)
        #expect(daily.decide(present: true, lastPulled: now - 86_400, now: now) == .pull)
        #expect(daily.decide(present: true, lastPulled: nil, now: now) == .pull)
        #expect(daily.decide(present: false, lastPulled: now, now: now) == .pull)
    }
}
