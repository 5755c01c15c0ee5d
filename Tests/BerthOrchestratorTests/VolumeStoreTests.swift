import Foundation
import Testing
import BerthTestSupport
import BerthRuntime
import BerthSystem
import ComposeSpec
@testable import BerthOrchestrator

/// A private root for a volume store, removed at the end.
final class VolumeRoot {
    let root: String
    let store: VolumeStore

    init() throws {
        root = NSTemporaryDirectory() + "berth-volumes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        store = VolumeStore(root: root)
    }

    /// A container record whose spec mounts `volumes` (by name), as `up` would leave it.
    func container(_ id: String, using volumes: [String]) throws {
        var spec = ContainerSpec(name: "c-\(id)", project: "demo", root: .directory("/", readOnly: false), process: .init(args: ["true"]))
        spec.mounts = volumes.map { .init(kind: .volume(.init(name: $0, directory: store.path($0))), destination: "/\($0)") }
        let record = ContainerRecord(
            id: id, name: "c-\(id)", project: "demo", service: "web", number: 1, oneOff: false, labels: [], image: "busybox",
            imageDigest: nil, configHash: "h", command: ["true"], created: "2024-01-01T00:00:00Z")
        try ContainerStore(root: root).create(record, spec: spec.encoded)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

@Suite("volume store") struct VolumeStoreTests {
    @Test func createLaysOutTheVolumeAsDockerDoes() throws {
        let r = try VolumeRoot()
        let record = try r.store.create(name: "data", labels: ["team": "a"], options: [:])
        #expect(record.name == "data" && record.driver == "local" && record.scope == "local")
        #expect(record.mountpoint == r.root + "/volumes/data/_data" && record.labels == ["team": "a"] && record.options == [:])
        #expect(record.createdAt.count == 20 && record.createdAt.hasSuffix("Z"), "RFC 3339 in seconds: \(record.createdAt)")
        #expect(FS.isDirectory(r.root + "/volumes/data/_data"))
        let json = try String(contentsOfFile: r.root + "/volumes/data/volume.json", encoding: .utf8)
        #expect(json == "{\"CreatedAt\":\"\(record.createdAt)\",\"Driver\":\"local\",\"Labels\":{\"team\":\"a\"},\"Mountpoint\":\"\(record.mountpoint)\",\"Name\":\"data\",\"Options\":{},\"Scope\":\"local\"}\n")
        // Idempotent: the existing volume comes back unchanged.
        #expect(try r.store.create(name: "data", labels: ["other": "b"]) == record)
        #expect(try r.store.get("data") == record)
        #expect(throws: VolumeError(.notFound, "get nope: no such volume")) { try r.store.get("nope") }
    }

    @Test func namesAndOptionsAreCheckedAsDockerChecksThem() throws {
        let r = try VolumeRoot()
        #expect(throws: VolumeError(.invalid, "create a: \"a\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")) {
            try r.store.create(name: "a")
        }
        #expect(throws: VolumeError.self) { try r.store.create(name: "../etc") }
        #expect(throws: VolumeError(.invalid, "invalid option key: \"colour\"")) { try r.store.create(name: "v1", options: ["colour": "red"]) }
        #expect(throws: VolumeError(.invalid, "missing required option: \"device\"")) { try r.store.create(name: "v1", options: ["type": "tmpfs"]) }
        #expect(throws: VolumeError(.invalid, "missing required option: \"device\"")) { try r.store.create(name: "v1", options: ["o": "size=1m"]) }
        #expect(try r.store.create(name: "v1", options: ["type": "tmpfs", "device": "tmpfs", "o": "size=1m"]).options["o"] == "size=1m")
        #expect(VolumeStore.randomName().count == 64 && VolumeStore.randomName().allSatisfy(\.isHexDigit))
    }

    @Test func aCutShortCreationOrRemovalLeavesNothingVisible() throws {
        let r = try VolumeRoot()
        try r.store.create(name: "bb")
        try r.store.create(name: "aa")
        // A creation that died before volume.json, and a removal that died after its rename.
        try FileManager.default.createDirectory(atPath: r.root + "/volumes/half/_data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: r.root + "/volumes/.removing-old-x/_data/deep", withIntermediateDirectories: true)
        #expect(r.store.list().map(\.name) == ["aa", "bb"])
        #expect(!FileManager.default.fileExists(atPath: r.root + "/volumes/.removing-old-x"))
        // The next create of that name completes it.
        #expect(try r.store.create(name: "half").name == "half")
    }

    @Test func removeRefusesAVolumeAContainerUses() throws {
        let r = try VolumeRoot()
        try r.store.create(name: "used")
        try r.store.create(name: "free")
        try "x".write(toFile: r.root + "/volumes/free/_data/file", atomically: true, encoding: .utf8)
        try r.container("c1", using: ["used"])
        try r.container("c2", using: ["used", "used"])
        #expect(r.store.usage() == ["used": ["c1", "c2"]])
        #expect(throws: VolumeError(.inUse, "remove used: volume is in use - [c1, c2]")) { try r.store.remove("used") }
        try r.store.remove("free")
        #expect(!FileManager.default.fileExists(atPath: r.root + "/volumes/free"))
        #expect(throws: VolumeError(.notFound, "get free: no such volume")) { try r.store.remove("free") }
    }

    @Test func pruneTakesAnonymousVolumesUnlessAll() throws {
        let r = try VolumeRoot()
        let anonymous = VolumeStore.randomName()
        try r.store.createAnonymous(name: anonymous)
        try r.store.createAnonymous(name: "busyanon")
        try r.store.create(name: "named", labels: ["keep": "no"])
        try Data(count: 1500).write(to: URL(fileURLWithPath: r.root + "/volumes/\(anonymous)/_data/blob"))
        try r.container("c1", using: ["busyanon"])
        let first = try r.store.prune(all: false)
        #expect(first.removed == [anonymous] && first.reclaimed == 1500)
        #expect(try r.store.prune(all: true, matching: { $0.labels["keep"] == "yes" }).removed == [])
        #expect(try r.store.prune(all: true).removed == ["named"])
        #expect(r.store.list().map(\.name) == ["busyanon"])
    }

    @Test func ensureCreatesTheProjectsVolumesWithComposeLabels() throws {
        let r = try VolumeRoot()
        try r.store.create(name: "handmade")
        try r.store.create(name: "demo_taken", labels: [Label.project: "other"])
        let p = try loadProject("""
            services:
              web: {image: busybox}
            volumes:
              data: {labels: {tier: db}}
              handmade: {name: handmade}
              taken: {}
              ext: {external: true, name: handmade}
              tmp: {driver_opts: {type: tmpfs, device: tmpfs, o: size=1m}}
            """)
        let result = try r.store.ensure(project: p)
        #expect(result.records["data"]?.labels == ["tier": "db", Label.project: "demo", Label.volume: "data", Label.version: Label.composeVersion])
        #expect(result.records["tmp"]?.options == ["type": "tmpfs", "device": "tmpfs", "o": "size=1m"])
        #expect(result.records["ext"]?.name == "handmade" && result.records["handmade"]?.name == "handmade")
        #expect(result.warnings == [
            "volume \"handmade\" already exists but was not created by Docker Compose. Use `external: true` to use an existing volume",
            "volume \"demo_taken\" already exists but was created for project \"other\" (expected \"demo\"). Use `external: true` to use an existing volume",
        ])
        // Again: nothing new, the same warnings.
        #expect(try r.store.ensure(project: p).records == result.records)

        #expect(throws: VolumeError(.notFound, "external volume \"missing\" not found")) {
            try r.store.ensure(project: try loadProject("services:\n  web: {image: busybox}\nvolumes:\n  missing: {external: true}\n"))
        }
        #expect(throws: VolumeError(.invalid, "volume \"bad\": invalid option key: \"size\" (berth has no xfs project quotas; use type: tmpfs with o: size=… for a size-limited volume)")) {
            try r.store.ensure(project: try loadProject("services:\n  web: {image: busybox}\nvolumes:\n  bad: {driver_opts: {size: 10G}}\n"))
        }
        #expect(throws: VolumeError(.invalid, "volume \"nfs\": driver \"nfs\" is not supported: berth has the local driver only (driver_opts type, o and device mount other file systems)")) {
            try r.store.ensure(project: try loadProject("services:\n  web: {image: busybox}\nvolumes:\n  nfs: {driver: nfs}\n"))
        }

        // down -v: the project's own volumes, never the external one; a used one stays.
        try r.container("c1", using: ["demo_tmp"])
        let removals = r.store.removeVolumes(of: p)
        #expect(removals == [
            VolumeRemoval(name: "demo_data", outcome: .removed), VolumeRemoval(name: "handmade", outcome: .removed),
            VolumeRemoval(name: "demo_taken", outcome: .removed), VolumeRemoval(name: "demo_tmp", outcome: .inUse),
        ])
        #expect(r.store.list().map(\.name) == ["demo_tmp"])
        #expect(r.store.removeVolumes(of: p).first == VolumeRemoval(name: "demo_data", outcome: .notFound))
    }

    @Test func anonymousVolumesOfAContainer() throws {
        let r = try VolumeRoot()
        try r.store.createAnonymous(name: "anon1")
        try r.store.create(name: "named")
        var spec = ContainerSpec(name: "c", root: .directory("/", readOnly: false), process: .init(args: ["true"]))
        spec.mounts = [
            .init(kind: .volume(.init(name: "anon1", directory: r.store.path("anon1"))), destination: "/cache"),
            .init(kind: .volume(.init(name: "named", directory: r.store.path("named"))), destination: "/data"),
            .init(kind: .bind(source: "/srv"), destination: "/srv"),
        ]
        #expect(r.store.anonymousVolumes(of: spec) == ["/cache": "anon1"])
        #expect(r.store.removeAnonymousVolumes(of: spec) == [VolumeRemoval(name: "anon1", outcome: .removed)])
        #expect(r.store.list().map(\.name) == ["named"])
    }

    @Test func materialiseMakesVolumesDirectoriesAndPrivateFiles() throws {
        let r = try VolumeRoot()
        var plan = StoragePlan()
        plan.anonymousVolumes = ["anon2"]
        plan.hostDirectories = [r.root + "/host/made"]
        let secret = r.root + "/containers/c1/secrets/0"
        plan.files = [PrivateFile(path: secret, content: .bytes(Array("pw".utf8)), uid: getuid(), gid: getgid(), mode: 0o440, what: "secret \"pw\"")]
        try plan.materialise(volumes: r.store)
        #expect(try r.store.get("anon2").isAnonymous)
        #expect(FS.isDirectory(r.root + "/host/made"))
        #expect(try String(contentsOfFile: secret, encoding: .utf8) == "pw")
        let attributes = try FileManager.default.attributesOfItem(atPath: secret)
        #expect((attributes[.posixPermissions] as? Int) == 0o440)
        #expect((try FileManager.default.attributesOfItem(atPath: r.root + "/containers/c1/secrets")[.posixPermissions] as? Int) == 0o700)

        plan.requiredSources = [r.root + "/nowhere"]
        #expect(throws: VolumeError(.notFound, "invalid mount config for type \"bind\": bind source path does not exist: \(r.root)/nowhere")) {
            try plan.materialise(volumes: r.store)
        }
    }
}
