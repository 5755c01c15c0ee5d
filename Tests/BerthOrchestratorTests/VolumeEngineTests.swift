import Foundation
import Testing
import BerthTestSupport
import BerthRuntime
import BerthSystem
import CBerthSys
import ComposeSpec
@testable import BerthOrchestrator

/// The steps `up` takes for a container's storage, on an engine fixture: ensure the
/// project's volumes, plan the container's storage, build its spec, create it, materialise.
extension EngineFixture {
    var volumes: VolumeStore { VolumeStore(root: base + "/root") }

    /// More busybox applets in the fixture's image layer.
    func addApplets() throws {
        for applet in ["ls", "stat", "touch", "dd", "rm", "mkdir", "sync", "id", "cut", "grep", "wc", "mount"] where !FileManager.default.fileExists(atPath: layer + "/bin/" + applet) {
            try FileManager.default.createSymbolicLink(atPath: layer + "/bin/" + applet, withDestinationPath: "busybox")
        }
    }

    func createWithStorage(
        _ body: String, service: String = "web", number: Int = 1, layers: [String]? = nil, imageVolumes: [String] = [],
        environment: [String: String] = [:], mountsOf: @escaping @Sendable (VolumesFromSource) -> [ContainerSpec.Mount]? = { _ in nil }
    ) throws -> ContainerRecord {
        try addApplets()
        let p = try loadProject("name: \(project)\n" + body)
        guard let serviceConfig = p.services[service] else { throw FixtureFailure("no service \(service)") }
        let store = volumes
        let projectVolumes = try store.ensure(project: p)
        let id = VolumeStore.randomName()
        let name = Naming.containerName(project: p.name, service: service, number: number)
        let image = ResolvedImage(reference: "busybox", digest: nil, layers: layers ?? [layer], config: ImageConfig(), volumes: imageVolumes)
        let directory = engine.store.path(id)
        let plan = try ServiceContainer.storage(
            project: p, service: service, service: serviceConfig, image: image, directory: directory,
            inputs: StorageInputs(store: store, volumes: projectVolumes, mountsOf: mountsOf, environment: environment))
        let spec = try ServiceContainer.spec(
            project: p, service: service, service: serviceConfig, containerName: name, id: id, image: image, directory: directory, storage: plan)
        let hash = CanonicalOutput.configHash(serviceConfig)
        let record = ContainerRecord(
            id: id, name: name, project: p.name, service: service, number: number, oneOff: false,
            labels: Label.container(project: p, service: service, service: serviceConfig, number: number, configHash: hash, imageDigest: nil).map { [$0.0, $0.1] },
            image: "busybox", imageDigest: nil, configHash: hash, command: spec.process.args, created: Clock.rfc3339Nano())
        try engine.store.create(record, spec: spec.encoded)
        try plan.materialise(volumes: store)
        return record
    }

    /// Starts the container, waits for its end, and returns its exit code and stdout+stderr
    /// (from its json-file log).
    func runToEnd(_ record: ContainerRecord) throws -> (code: Int32, output: String) {
        try engine.start(record.id)
        let state = waitForExit(record.id)
        return (state.exitCode ?? -1, output(record.id))
    }

    func output(_ id: String) -> String {
        guard let text = try? String(contentsOfFile: engine.store.path(id) + "/\(id)-json.log", encoding: .utf8) else { return "" }
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["log"] as? String
        }.joined()
    }

    /// Stops (SIGKILL) and removes every container, as `down` does.
    func removeAll() throws {
        for record in engine.store.records() {
            try engine.stop(record.id, signal: SIGKILL, timeoutSeconds: 0)
            try engine.remove(record.id)
        }
    }

    /// The processes in the cgroup of a container (by name).
    static func processes(inCgroupOf name: String, project: String) -> [Int32] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.filter { pid in
            ((try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? "").contains("/berth/\(project)/\(name)\n")
        }
    }

    /// Kills a process that is not our child and waits (pidfd) until it is gone.
    static func killAndWait(_ pid: Int32) {
        let fd = berth_pidfd_open(pid)
        kill(pid, SIGKILL)
        if fd >= 0 {
            _ = ContainerEngine.waitReadable(fd, milliseconds: 30_000)
            close(fd)
        }
    }
}

struct FixtureFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@Suite("volumes in containers (root)", .serialized, .enabled(if: canRunContainers, "needs root and /bin/busybox (Debian busybox-static)"))
struct VolumeEngineTests {
    @Test func dataInANamedVolumeOutlivesItsContainers() throws {
        let f = try EngineFixture()
        func compose(_ script: String) -> String {
            "services:\n  web:\n    image: busybox\n    command: [sh, -c, '\(script)']\n    volumes: [data:/data]\nvolumes:\n  data: {}\n"
        }
        func run(_ script: String) throws -> (code: Int32, output: String) {
            let record = try f.createWithStorage(compose(script))
            defer { try? f.removeAll() }
            return try f.runToEnd(record)
        }
        #expect(try run("echo kept > /data/file; sync; echo written") == (0, "written\n"))
        // A container that crashes (SIGKILL) after writing loses nothing either.
        // It tells through a FIFO in the volume that it wrote, so the kill never comes first.
        let data = f.base + "/root/volumes/\(f.project)_data/_data"
        #expect(mkfifo(data + "/written", 0o600) == 0)
        let written = open(data + "/written", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        defer { close(written); unlink(data + "/written") }
        let crasher = try f.createWithStorage(compose("echo more >> /data/file; sync; echo > /data/written; exec sleep 1000"))
        let started = try f.engine.start(crasher.id)
        #expect(ContainerEngine.waitReadable(written, milliseconds: 30_000))
        kill(started.pid ?? 0, SIGKILL)
        #expect(f.waitForExit(crasher.id).exitCode == 137)
        try f.removeAll()
        #expect(try run("cat /data/file") == (0, "kept\nmore\n"))
        #expect(try String(contentsOfFile: f.base + "/root/volumes/\(f.project)_data/_data/file", encoding: .utf8) == "kept\nmore\n")
        #expect(f.leftovers() == [])
    }

    /// Docker's copy-up: an empty volume gets the image's content at the mount point, read
    /// through the overlay (a whiteout in an upper layer hides a lower file), with owners,
    /// modes, xattrs, symlinks and hard links; a volume with data is never overwritten.
    @Test func copyUpFillsAnEmptyVolumeOnly() throws {
        let f = try EngineFixture()
        let lower = f.base + "/image-lower", upper = f.base + "/image-upper"
        try FS.makeDirectories(lower + "/data/sub")
        try FS.makeDirectories(upper + "/data")
        try "seed\n".write(toFile: lower + "/data/seed.txt", atomically: false, encoding: .utf8)
        try "old\n".write(toFile: lower + "/data/gone", atomically: false, encoding: .utf8)
        #expect(chown(lower + "/data/seed.txt", 1000, 1000) == 0 && chmod(lower + "/data/seed.txt", 0o640) == 0)
        #expect(link(lower + "/data/seed.txt", lower + "/data/hard") == 0)
        #expect(symlink("../seed.txt", lower + "/data/sub/link") == 0)
        #expect(berth_lsetxattr(lower + "/data/seed.txt", "user.origin", "image", 5) == 0)
        // The topmost layer's directory gives the merged /data its owner and mode.
        #expect(chown(upper + "/data", 1000, 1000) == 0 && chmod(upper + "/data", 0o750) == 0)
        // The upper layer deletes /data/gone (overlayfs whiteout: char device 0:0).
        #expect(berth_mknod(upper + "/data/gone", UInt32(S_IFCHR), 0) == 0)
        let layers = [upper, lower, f.layer]
        let compose = """
            services:
              web:
                image: busybox
                command: [sh, -c, "ls /data; cat /data/sub/link"]
                volumes: [data:/data, "fresh:/fresh:nocopy"]
            volumes:
              data: {}
              fresh: {}
            """
        let first = try f.runToEnd(try f.createWithStorage(compose.replacingOccurrences(of: "/fresh:nocopy", with: "/data2:nocopy"), layers: layers))
        #expect(first == (0, "hard\nseed.txt\nsub\nseed\n"))
        let data = f.base + "/root/volumes/\(f.project)_data/_data"
        var st = stat(), hard = stat()
        #expect(lstat(data + "/seed.txt", &st) == 0 && lstat(data + "/hard", &hard) == 0)
        #expect(st.st_uid == 1000 && st.st_mode & 0o7777 == 0o640 && st.st_ino == hard.st_ino && st.st_nlink == 2)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: data + "/sub/link") == "../seed.txt")
        var value = [UInt8](repeating: 0, count: 16)
        let length = berth_lgetxattr(data + "/seed.txt", "user.origin", &value, value.count)
        #expect(length == 5 && Array(value[0..<5]) == Array("image".utf8))
        #expect(lstat(data, &st) == 0 && st.st_uid == 1000 && st.st_mode & 0o7777 == 0o750, "the volume root takes the image directory's owner and mode")
        #expect(!FileManager.default.fileExists(atPath: data + "/gone"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.base + "/root/volumes/\(f.project)_fresh/_data") == [], "nocopy")
        #expect(!FileManager.default.fileExists(atPath: f.base + "/root/volumes/\(f.project)_data/copy-up"))
        try f.removeAll()

        // A volume with data is never overwritten: the image's seed does not come back.
        try FileManager.default.removeItem(atPath: data + "/seed.txt")
        try "mine\n".write(toFile: data + "/mine", atomically: false, encoding: .utf8)
        let second = try f.runToEnd(try f.createWithStorage(compose.replacingOccurrences(of: "cat /data/sub/link", with: "true"), layers: layers))
        #expect(second == (0, "hard\nmine\nsub\n"))

        // An image VOLUME becomes an anonymous volume, filled from the image too.
        try f.removeAll()
        let anonymous = try f.createWithStorage("services:\n  web:\n    image: busybox\n    command: [cat, /data/seed.txt]\n", layers: layers, imageVolumes: ["/data"])
        #expect(try f.runToEnd(anonymous) == (0, "seed\n"))
        let created = f.volumes.list().filter(\.isAnonymous)
        #expect(created.count == 1 && created.first?.name.count == 64)
        #expect(f.leftovers() == [])
    }

    /// A copy-up cut short (its marker still there) is redone at the next start rather than
    /// taken for the user's data.
    @Test func anInterruptedCopyUpIsRedone() throws {
        let f = try EngineFixture()
        let image = f.base + "/image"
        try FS.makeDirectories(image + "/data")
        try "whole\n".write(toFile: image + "/data/a", atomically: false, encoding: .utf8)
        let compose = "services:\n  web:\n    image: busybox\n    command: [ls, /data]\n    volumes: [data:/data]\nvolumes:\n  data: {}\n"
        _ = try f.volumes.ensure(project: try loadProject("name: \(f.project)\n" + compose))
        let volume = f.base + "/root/volumes/\(f.project)_data"
        try "half".write(toFile: volume + "/_data/partial", atomically: false, encoding: .utf8)
        try "".write(toFile: volume + "/copy-up", atomically: false, encoding: .utf8)
        #expect(try f.runToEnd(try f.createWithStorage(compose, layers: [image, f.layer])) == (0, "a\n"))
        #expect(!FileManager.default.fileExists(atPath: volume + "/copy-up"))
        #expect(f.leftovers() == [])
    }

    @Test func readOnlyBindsAreReadOnlyWithTheirSubmounts() throws {
        let f = try EngineFixture()
        let host = f.base + "/host"
        try FS.makeDirectories(host + "/sub")
        try Mounts.mount(source: "tmpfs", target: host + "/sub", type: "tmpfs", flags: 0, data: "size=1m")
        defer { _ = umount2(host + "/sub", Int32(MNT_DETACH)) }
        let record = try f.createWithStorage("""
            services:
              web:
                image: busybox
                command: [sh, -c, "exec 2>/dev/null; touch /ro/x || echo top-ro; touch /ro/sub/x || echo sub-ro; touch /rw/x && echo rw; touch /wr/sub/x && echo sub-writable"]
                volumes:
                  - \(host):/ro:ro
                  - \(host):/rw
                  - {type: bind, source: \(host), target: /wr, read_only: true, bind: {recursive: writable}}
            """)
        let result = try f.runToEnd(record)
        #expect(result == (0, "top-ro\nsub-ro\nrw\nsub-writable\n"))
        #expect(FileManager.default.fileExists(atPath: host + "/x") && FileManager.default.fileExists(atPath: host + "/sub/x"))
        try f.removeAll()
        _ = umount2(host + "/sub", Int32(MNT_DETACH))
        #expect(f.leftovers() == [])
    }

    /// Symlinks in the image at mount targets: a bind and a volume land inside the rootfs,
    /// never on the host path the link names.
    @Test func aSymlinkInTheImageCannotRedirectAMountOntoTheHost() throws {
        let f = try EngineFixture()
        let hostTarget = f.base + "/host-target"
        try FS.makeDirectories(hostTarget)
        try "host".write(toFile: hostTarget + "/marker", atomically: false, encoding: .utf8)
        let source = f.base + "/bind-source"
        try FS.makeDirectories(source)
        try "bound\n".write(toFile: source + "/file", atomically: false, encoding: .utf8)
        let image = f.base + "/evil-layer"
        try FS.makeDirectories(image)
        #expect(symlink(hostTarget, image + "/evil") == 0)
        #expect(symlink("../../../../../../../.." + hostTarget, image + "/evil2") == 0)
        let record = try f.createWithStorage("""
            services:
              web:
                image: busybox
                command: [sh, -c, "cat /evil/sub/file; echo v > /evil2/vol/inside; cat \(hostTarget)/sub/file"]
                volumes: ["\(source):/evil/sub", "data:/evil2/vol"]
            volumes:
              data: {}
            """, layers: [image, f.layer])
        let result = try f.runToEnd(record)
        #expect(result == (0, "bound\nbound\n"), "inside the container, the links resolve within its rootfs")
        #expect(try FileManager.default.contentsOfDirectory(atPath: hostTarget) == ["marker"])
        #expect(try String(contentsOfFile: f.base + "/root/volumes/\(f.project)_data/_data/inside", encoding: .utf8) == "v\n")
        #expect(f.leftovers() == [])
    }

    @Test func tmpfsSizeIsEnforced() throws {
        let f = try EngineFixture()
        let record = try f.createWithStorage("""
            services:
              web:
                image: busybox
                command: [sh, -c, "dd if=/dev/zero of=/scratch/f bs=1024 count=2048 2>/dev/null || echo full; ls -l /scratch/f | cut -c1-10; stat -c %s /scratch/f"]
                volumes: [{type: tmpfs, target: /scratch, tmpfs: {size: 1m, mode: 0700}}]
            """)
        #expect(try f.runToEnd(record) == (0, "full\n-rw-r--r--\n1048576\n"))
        #expect(f.leftovers() == [])
    }

    @Test func secretsAndConfigsHaveTheirOwnerAndModeAndStayPrivate() throws {
        let f = try EngineFixture()
        let file = f.base + "/db-password"
        try "from-file".write(toFile: file, atomically: false, encoding: .utf8)
        let record = try f.createWithStorage("""
            services:
              web:
                image: busybox
                read_only: true
                command: [sh, -c, "for p in /run/secrets/db /run/secrets/api /app.conf; do echo $$(stat -c '%a %u %g' $$p) $$(cat $$p); done; echo x 2>/dev/null > /run/secrets/db || echo ro"]
                secrets: [{source: db, target: db}, {source: api, uid: "1000", gid: "1001", mode: 0400}]
                configs: [{source: app, target: /app.conf}]
            secrets:
              db: {file: \(file)}
              api: {environment: API_TOKEN}
            configs:
              app: {content: port=80}
            """, environment: ["API_TOKEN": "t0ken-value"])
        let result = try f.runToEnd(record)
        #expect(result == (0, "444 0 0 from-file\n400 1000 1001 t0ken-value\n444 0 0 port=80\nro\n"))
        // Not in what inspect shows (the record, the spec), nor in the writable layer.
        let dir = f.engine.store.path(record.id)
        for name in ["config.json", "spec", "state.json"] {
            #expect(!(try String(contentsOfFile: dir + "/" + name, encoding: .utf8)).contains("t0ken-value"), "\(name)")
        }
        let upper = FileManager.default.enumerator(atPath: dir + "/rw/upper")?.allObjects as? [String] ?? []
        for path in upper where FS.isDirectory(dir + "/rw/upper/" + path) == false {
            #expect(!((try? String(contentsOfFile: dir + "/rw/upper/" + path, encoding: .utf8)) ?? "").contains("t0ken"), "\(path)")
        }
        #expect(f.leftovers() == [])
    }

    /// driver_opts: a tmpfs volume is mounted for its first user and shared; a monitor
    /// killed with SIGKILL does not release it while processes of its container live on
    /// (with `pid: host`, pdeathsig takes only the first one); the last user out unmounts it.
    @Test func aFileSystemVolumeIsSharedAndReleasedByItsLastUser() throws {
        let f = try EngineFixture()
        let volumeYAML = "volumes:\n  scratch: {driver_opts: {type: tmpfs, device: tmpfs, o: \"size=4m,mode=0777\"}}\n"
        let data = f.base + "/root/volumes/\(f.project)_scratch/_data"
        func isMounted() -> Bool { (try? Mounts.mountInfo())?.contains { $0.mountPoint == FS.realPath(data) } ?? false }
        let holder = try f.createWithStorage(
            "services:\n  web:\n    image: busybox\n    pid: host\n    command: [sh, -c, \"echo shared > /s/a; sleep 1000 & exec sleep 1001\"]\n    volumes: [scratch:/s]\n" + volumeYAML)
        let started = try f.engine.start(holder.id)
        #expect(isMounted())
        let reader = try f.createWithStorage(
            "services:\n  web:\n    image: busybox\n    command: [sh, -c, \"cat /s/a\"]\n    volumes: [scratch:/s]\n" + volumeYAML, number: 2)

        // The holder's monitor dies, its first process with it; its background sleep lives on.
        guard let monitor = started.monitorPid else { throw FixtureFailure("no monitor: \(started)") }
        EngineFixture.killAndWait(monitor)
        // pdeathsig kills the first process asynchronously: wait until it is gone too.
        if let first = started.pid { EngineFixture.killAndWait(first) }
        let orphans = EngineFixture.processes(inCgroupOf: holder.name, project: f.project)
        #expect(orphans.count == 1)
        #expect(try f.runToEnd(reader) == (0, "shared\n"))
        #expect(isMounted(), "the orphaned process still uses it")
        #expect(throws: VolumeError.self) { try f.volumes.remove("\(f.project)_scratch") }

        // Once it is gone too, the next user's exit unmounts.
        orphans.forEach(EngineFixture.killAndWait)
        // (the log holds both runs)
        #expect(try f.runToEnd(reader) == (0, "shared\nshared\n"), "still the same tmpfs: nobody released it while the orphan lived")
        #expect(!isMounted())
        f.volumes.releaseUnusedMounts()
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.base + "/root/volumes/\(f.project)_scratch/users") == [])
        try f.removeAll()
        try f.volumes.remove("\(f.project)_scratch")
        #expect(f.leftovers() == [])
    }

    /// A container that cannot start still releases the file system it had mounted, and a
    /// copy-up that cannot complete leaves the volume empty for the next try.
    @Test func aFailedStartLeavesNothingMounted() throws {
        let f = try EngineFixture()
        let record = try f.createWithStorage("""
            services:
              web:
                image: busybox
                entrypoint: [/no/such/binary]
                volumes: [scratch:/s]
            volumes:
              scratch: {driver_opts: {type: tmpfs, device: tmpfs, o: size=1m}}
            """)
        #expect(throws: EngineError.self) { try f.engine.start(record.id) }
        #expect(f.leftovers() == [], "the tmpfs was unmounted by the failed start")
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.base + "/root/volumes/\(f.project)_scratch/users") == [])

        // A bad driver_opts mount is the container's error, naming the volume and its options.
        let bad = try f.createWithStorage("""
            services:
              web:
                image: busybox
                command: ["true"]
                volumes: [broken:/b]
            volumes:
              broken: {driver_opts: {type: none, o: bind, device: /no/such/dir}}
            """, number: 2)
        #expect {
            try f.engine.start(bad.id)
        } throws: { error in
            "\(error)".contains("volume \(f.project)_broken:") && "\(error)".contains("check its driver_opts (type none, device /no/such/dir, o bind)")
        }
        #expect(f.leftovers() == [])
    }

    @Test func volumesFromSharesTheOtherContainersVolumesReadOnly() throws {
        let f = try EngineFixture()
        let compose = "services:\n  db:\n    image: busybox\n    command: [sh, -c, \"echo from-db > /data/f\"]\n    volumes: [data:/data]\n  web:\n    image: busybox\n    command: [sh, -c, \"cat /data/f; echo x 2>/dev/null > /data/f || echo ro\"]\n    volumes_from: [\"db:ro\"]\nvolumes:\n  data: {}\n"
        let db = try f.createWithStorage(compose, service: "db")
        #expect(try f.runToEnd(db).code == 0)
        let dbMounts = try f.engine.store.spec(db.id).mounts
        let web = try f.createWithStorage(compose, service: "web", mountsOf: { $0 == .service("db") ? dbMounts : nil })
        let result = try f.runToEnd(web)
        #expect(result == (0, "from-db\nro\n"))
        #expect(f.leftovers() == [])
    }
}
