import Foundation
import Testing
import BerthTestSupport
import BerthRuntime
import BerthSystem
import ComposeSpec
@testable import BerthOrchestrator

/// Service storage → mounts, without I/O: volumes, binds, tmpfs, volumes_from, image
/// VOLUMEs, secrets and configs.
@Suite("storage plan") struct StoragePlanTests {
    let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    let store = VolumeStore(root: "/var/lib/berth")
    var directory: String { "/var/lib/berth/containers/\(id)" }

    func record(_ name: String, options: [String: String] = [:]) -> VolumeRecord {
        VolumeRecord(name: name, labels: [:], options: options, createdAt: "2024-01-01T00:00:00Z", mountpoint: "/var/lib/berth/volumes/\(name)/_data")
    }

    func plan(
        _ yaml: String, imageVolumes: [String] = [], inputs: StorageInputs? = nil, environment: [String: String] = [:]
    ) throws -> (StoragePlan, Project) {
        let p = try loadProject(yaml)
        var records: [String: VolumeRecord] = [:]
        for (key, volume) in p.volumes ?? KeyedMap() {
            records[key] = record(volume.name ?? key, options: (volume.driver_opts ?? KeyedMap()).reduce(into: [:]) { $0[$1.key] = $1.value })
        }
        let counter = Counter()
        let given = inputs ?? StorageInputs(
            store: store, volumes: ProjectVolumes(records: records), newVolumeName: { counter.next() }, environment: environment)
        let image = ResolvedImage(reference: "busybox", digest: nil, layers: ["/l"], config: ImageConfig(cmd: ["sh"]), volumes: imageVolumes)
        let result = try ServiceContainer.storage(project: p, service: "web", service: p.services["web"]!, image: image, directory: directory, inputs: given)
        return (result, p)
    }

    /// Hands out anon-1, anon-2, … so that expectations are exact.
    final class Counter: @unchecked Sendable {
        private var n = 0
        private let lock = NSLock()
        func next() -> String {
            lock.lock()
            defer { lock.unlock() }
            n += 1
            return "anon-\(n)"
        }
    }

    @Test func namedAndAnonymousVolumes() throws {
        let (p, _) = try plan("""
            services:
              web:
                image: busybox
                volumes:
                  - data:/var/lib/data:ro
                  - /cache
                  - {type: volume, source: data, target: /sub, volume: {nocopy: true, subpath: site/www}}
            volumes:
              data: {}
            """)
        #expect(p.mounts == [
            .init(kind: .volume(.init(name: "demo_data", directory: "/var/lib/berth/volumes/demo_data")), destination: "/var/lib/data", readOnly: true),
            .init(kind: .volume(.init(name: "anon-1", directory: "/var/lib/berth/volumes/anon-1")), destination: "/cache"),
            .init(kind: .volume(.init(name: "demo_data", directory: "/var/lib/berth/volumes/demo_data", copyUp: false, subpath: "site/www")), destination: "/sub"),
        ])
        #expect(p.anonymousVolumes == ["anon-1"])
        #expect(p.warnings.isEmpty && p.files.isEmpty)
    }

    @Test func driverOptionsBecomeTheVolumesFileSystem() throws {
        let (p, _) = try plan("""
            services:
              web: {image: busybox, volumes: ["scratch:/scratch"]}
            volumes:
              scratch: {driver_opts: {type: tmpfs, device: tmpfs, o: "size=1m,uid=1000"}}
            """)
        guard case .volume(let volume) = p.mounts.first?.kind else { Issue.record("no volume mount: \(p.mounts)"); return }
        #expect(volume.filesystem == ContainerSpec.Filesystem(type: "tmpfs", device: "tmpfs", options: "size=1m,uid=1000"))
    }

    @Test func recreatedContainersKeepTheirAnonymousVolumes() throws {
        let counter = Counter()
        let inputs = StorageInputs(store: store, inheritedAnonymous: ["/cache": "0ld"], newVolumeName: { counter.next() })
        let (p, _) = try plan("services:\n  web:\n    image: busybox\n    volumes: [/cache, /other]\n", inputs: inputs)
        #expect(p.anonymousVolumes == ["0ld", "anon-1"])
        #expect(p.mounts.map(\.destination) == ["/cache", "/other"])
    }

    @Test func bindsShortAndLongSyntax() throws {
        let (p, project) = try plan("""
            services:
              web:
                image: busybox
                volumes:
                  - ./site:/usr/share/html:z
                  - /srv/logs:/logs:ro,rshared
                  - {type: bind, source: /etc/app, target: /etc/app, read_only: true, bind: {recursive: readonly, propagation: rslave}}
                  - {type: tmpfs, target: /scratch, tmpfs: {size: 1m, mode: 01777}}
                tmpfs: ["/run:size=64k"]
            """)
        let site = project.workingDirectory + "/site"
        #expect(p.mounts == [
            .init(kind: .bind(source: site), destination: "/usr/share/html"),
            .init(kind: .bind(source: "/srv/logs"), destination: "/logs", readOnly: true, propagation: .rshared),
            .init(kind: .bind(source: "/etc/app"), destination: "/etc/app", readOnly: true, propagation: .rslave, recursion: .readonly),
            .init(kind: .tmpfs(options: "size=1048576,mode=1777"), destination: "/scratch", flags: MountFlags.noSuid | MountFlags.noDev),
            .init(kind: .tmpfs(options: "size=64k"), destination: "/run", flags: MountFlags.noExec | MountFlags.noSuid | MountFlags.noDev),
        ])
        // The short syntax creates missing host paths; the long one requires them.
        #expect(p.hostDirectories == [site, "/srv/logs"])
        #expect(p.requiredSources == ["/etc/app"])
        #expect(p.warnings == ["service \"web\": volumes[0]: SELinux relabeling (:z) of \(site) is ignored: berth does not manage SELinux labels"])
    }

    @Test func imageVolumesBecomeAnonymousUnlessMounted() throws {
        let (p, _) = try plan("services:\n  web:\n    image: busybox\n    volumes: [\"/srv:/data\"]\n", imageVolumes: ["/logs/", "/data"])
        #expect(p.mounts.map(\.destination) == ["/data", "/logs"])
        #expect(p.mounts[1] == .init(kind: .volume(.init(name: "anon-1", directory: "/var/lib/berth/volumes/anon-1")), destination: "/logs"))
        #expect(p.anonymousVolumes == ["anon-1"])
    }

    @Test func volumesFromTakesTheOtherContainersMounts() throws {
        let shared = ContainerSpec.Mount(kind: .volume(.init(name: "demo_data", directory: "/v/demo_data")), destination: "/data")
        let bind = ContainerSpec.Mount(kind: .bind(source: "/srv"), destination: "/srv", readOnly: true)
        let tmp = ContainerSpec.Mount(kind: .tmpfs(options: ""), destination: "/tmp")
        let inputs = StorageInputs(store: store, mountsOf: { source in
            switch source {
            case .service("db"): return [shared, tmp]
            case .container("legacy"): return [bind, ContainerSpec.Mount(kind: .bind(source: "/x"), destination: "/own")]
            default: return nil
            }
        })
        let (p, _) = try plan("""
            services:
              web:
                image: busybox
                volumes_from: ["db:ro", "container:legacy:rw"]
                volumes: ["/mine:/own"]
              db: {image: busybox}
            """, inputs: inputs)
        var readOnlyShared = shared
        readOnlyShared.readOnly = true
        var writableBind = bind
        writableBind.readOnly = false
        #expect(p.mounts == [.init(kind: .bind(source: "/mine"), destination: "/own"), readOnlyShared, writableBind])
        #expect(throws: ServiceConfigError(service: "web", key: "volumes_from", message: "\"db\": service \"db\" has no container to take volumes from; create it first")) {
            try plan("services:\n  web: {image: busybox, volumes_from: [db]}\n  db: {image: busybox}\n")
        }
    }

    @Test func secretsAndConfigsAreReadOnlyBindsOfPrivateFiles() throws {
        let (p, project) = try plan("""
            services:
              web:
                image: busybox
                secrets: [db_password, {source: api_key, target: api, uid: "1000", gid: "1001", mode: 0400}]
                configs: [app, {source: motd, target: etc/motd}]
            secrets:
              db_password: {file: ./db.txt}
              api_key: {environment: API_KEY}
            configs:
              app: {content: "port=80"}
              motd: {file: /etc/motd}
            """, environment: ["API_KEY": "s3cr3t"])
        #expect(p.mounts == [
            .init(kind: .bind(source: directory + "/secrets/0"), destination: "/run/secrets/db_password", readOnly: true),
            .init(kind: .bind(source: directory + "/secrets/1"), destination: "/run/secrets/api", readOnly: true),
            .init(kind: .bind(source: directory + "/configs/0"), destination: "/app", readOnly: true),
            .init(kind: .bind(source: directory + "/configs/1"), destination: "/etc/motd", readOnly: true),
        ])
        #expect(p.files == [
            PrivateFile(path: directory + "/secrets/0", content: .file(project.workingDirectory + "/db.txt"), uid: 0, gid: 0, mode: 0o444, what: "secret \"db_password\""),
            PrivateFile(path: directory + "/secrets/1", content: .bytes(Array("s3cr3t".utf8)), uid: 1000, gid: 1001, mode: 0o400, what: "secret \"api_key\""),
            PrivateFile(path: directory + "/configs/0", content: .bytes(Array("port=80".utf8)), uid: 0, gid: 0, mode: 0o444, what: "config \"app\""),
            PrivateFile(path: directory + "/configs/1", content: .file("/etc/motd"), uid: 0, gid: 0, mode: 0o444, what: "config \"motd\""),
        ])
    }

    @Test func whatCannotBeMountedIsAClearError() throws {
        #expect(throws: ServiceConfigError(service: "web", key: "volumes[1]", message: "Duplicate mount point: /data")) {
            try plan("services:\n  web:\n    image: busybox\n    volumes: [\"/a:/data\", \"/b:/data/\"]\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "secrets[0]", message: "environment variable \"TOKEN\" required by secret \"token\" is not set")) {
            try plan("services:\n  web: {image: busybox, secrets: [token]}\nsecrets:\n  token: {environment: TOKEN}\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "secrets[0]", message: "unsupported external secret token: berth has no swarm to hold it; use file, environment")) {
            try plan("services:\n  web: {image: busybox, secrets: [token]}\nsecrets:\n  token: {external: true}\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "volumes[0].bind.propagation", message: "\"sideways\" is not one of private, rprivate, shared, rshared, slave, rslave")) {
            try plan("services:\n  web:\n    image: busybox\n    volumes: [{type: bind, source: /a, target: /b, bind: {propagation: sideways}}]\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "volumes[0]", message: "image mounts (alpine) are not supported by berth; use volume, bind or tmpfs")) {
            try plan("services:\n  web:\n    image: busybox\n    volumes: [{type: image, source: alpine, target: /b}]\n")
        }
        // Without the volume store (a bare ServiceContainer.spec), volumes are refused.
        #expect(throws: ServiceConfigError(service: "web", key: "volumes[0]", message: "volumes need berth's volume store: create the container through `berth up`")) {
            try plan("services:\n  web:\n    image: busybox\n    volumes: [\"data:/data\"]\nvolumes:\n  data: {}\n", inputs: StorageInputs())
        }
    }
}
