import Foundation
import Testing
@testable import BerthRuntime
import BerthSystem

@Suite("capabilities")
struct CapabilityTests {
    @Test func dockerDefaultMask() throws {
        #expect(Capabilities.mask(Capabilities.dockerDefault) == 0xa804_25fb)
        #expect(try Capabilities.effective(add: [], drop: [], privileged: false) == 0xa804_25fb)
    }

    @Test func tweakLikeMoby() throws {
        // (defaults − drop) + add, names with or without CAP_, any case.
        #expect(try Capabilities.effective(add: ["net_admin"], drop: ["CAP_CHOWN"], privileged: false) == 0xa804_35fa)
        #expect(try Capabilities.effective(add: ["NET_ADMIN"], drop: ["ALL"], privileged: false) == 1 << 12)
        #expect(try Capabilities.effective(add: ["ALL"], drop: ["SYS_ADMIN"], privileged: false, lastCap: 40) == ((1 << 41) - 1) & ~(1 << 21))
        #expect(try Capabilities.effective(add: [], drop: [], privileged: true, lastCap: 40) == (1 << 41) - 1)
        #expect(throws: Capabilities.UnknownCapability.self) {
            try Capabilities.effective(add: ["CAP_NOPE"], drop: [], privileged: false)
        }
    }

    @Test func namesRoundTrip() {
        #expect(Capabilities.names.count == 41)
        #expect(Capabilities.number("SYS_ADMIN") == 21)
        #expect(Capabilities.namesOf(mask: 0x3) == ["CAP_CHOWN", "CAP_DAC_OVERRIDE"])
    }
}

@Suite("users")
struct UserTests {
    let passwd = """
        root:x:0:0:root:/root:/bin/sh
        alice:x:1000:1000:Alice:/home/alice:/bin/sh
        # comment
        bob:x:1001:100::/home/bob:/bin/sh
        """
    let group = """
        root:x:0:
        users:x:100:bob
        staff:x:50:alice,bob
        audio:x:29:alice
        alice:x:1000:
        """

    @Test func namesAndSupplementaryGroups() throws {
        let alice = try UserResolver.resolve(user: "alice", groupAdd: [], passwd: passwd, group: group)
        #expect(alice == ResolvedUser(uid: 1000, gid: 1000, additionalGids: [50, 29], home: "/home/alice"))
        let root = try UserResolver.resolve(user: "", groupAdd: [], passwd: passwd, group: group)
        #expect(root.uid == 0 && root.gid == 0 && root.home == "/root")
    }

    @Test func explicitGroupDropsSupplementaryGroups() throws {
        let bob = try UserResolver.resolve(user: "bob:staff", groupAdd: ["audio", "4000"], passwd: passwd, group: group)
        #expect(bob == ResolvedUser(uid: 1001, gid: 50, additionalGids: [29, 4000], home: "/home/bob"))
    }

    @Test func numericIdsNeedNoEntries() throws {
        let n = try UserResolver.resolve(user: "4242:4343", groupAdd: [], passwd: passwd, group: group)
        #expect(n == ResolvedUser(uid: 4242, gid: 4343, additionalGids: [], home: "/"))
        let known = try UserResolver.resolve(user: "1000", groupAdd: [], passwd: passwd, group: group)
        #expect(known.gid == 1000 && known.home == "/home/alice")
        let noFiles = try UserResolver.resolve(user: "7", groupAdd: [], passwd: nil, group: nil)
        #expect(noFiles.uid == 7 && noFiles.gid == 0)
    }

    @Test func unknownNamesAreClearErrors() {
        #expect(throws: UserError(message: "unable to find user carol: no matching entries in the image's /etc/passwd")) {
            try UserResolver.resolve(user: "carol", groupAdd: [], passwd: passwd, group: group)
        }
        #expect(throws: UserError(message: "unable to find group wheel: no matching entries in the image's /etc/group")) {
            try UserResolver.resolve(user: "alice:wheel", groupAdd: [], passwd: passwd, group: group)
        }
        #expect(throws: UserError.self) { try UserResolver.resolve(user: "alice", groupAdd: [], passwd: nil, group: nil) }
    }
}

@Suite("cgroups against a temp dir")
struct CgroupTests {
    func tempRoot() throws -> String {
        let dir = NSTemporaryDirectory() + "berth-cg-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test func detectsLayouts() {
        let hybrid = MountInfo.parse("""
            31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
            32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
            35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
            40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
            41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
            """)
        #expect(CgroupLayout.detect(mountInfo: hybrid) == .v1([
            .init(mountPoint: "/sys/fs/cgroup/cpu", controllers: ["cpu"]),
            .init(mountPoint: "/sys/fs/cgroup/memory", controllers: ["memory"]),
        ]))
        let v2 = MountInfo.parse("29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate")
        #expect(CgroupLayout.detect(mountInfo: v2) == .v2(mountPoint: "/sys/fs/cgroup"))
        let comounted = MountInfo.parse("32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct")
        #expect(CgroupLayout.detect(mountInfo: comounted) == .v1([.init(mountPoint: "/sys/fs/cgroup/cpu,cpuacct", controllers: ["cpu", "cpuacct"])]))
        #expect(CgroupLayout.detect(mountInfo: []) == nil)
    }

    @Test func v1Files() throws {
        let root = try tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let names = ["memory", "cpu", "cpuset", "pids", "blkio", "devices"]
        for name in names { try FileManager.default.createDirectory(atPath: "\(root)/\(name)", withIntermediateDirectories: true) }
        try "0-1\n".write(toFile: "\(root)/cpuset/cpuset.cpus", atomically: true, encoding: .utf8)
        try "0\n".write(toFile: "\(root)/cpuset/cpuset.mems", atomically: true, encoding: .utf8)
        let layout = CgroupLayout.v1(names.map { .init(mountPoint: "\(root)/\($0)", controllers: [$0]) })
        let cg = Cgroup(layout: layout, project: "proj", name: "web-1")
        var r = ContainerSpec.Resources()
        r.memoryLimit = 64 << 20
        r.memoryReservation = 32 << 20
        r.cpus = 1.5
        r.cpuShares = 512
        r.pidsLimit = 100
        r.blkioWeight = 300
        try cg.create(resources: r)
        let dir = { (c: String) in "\(root)/\(c)/berth/proj/web-1" }
        #expect(read(dir("memory") + "/memory.limit_in_bytes") == "67108864")
        #expect(read(dir("memory") + "/memory.soft_limit_in_bytes") == "33554432")
        #expect(read(dir("cpu") + "/cpu.cfs_period_us") == "100000")
        #expect(read(dir("cpu") + "/cpu.cfs_quota_us") == "150000")
        #expect(read(dir("cpu") + "/cpu.shares") == "512")
        #expect(read(dir("pids") + "/pids.max") == "100")
        #expect(read(dir("blkio") + "/blkio.weight") == "300")
        // cpuset values are copied down every new level.
        #expect(read("\(root)/cpuset/berth/cpuset.cpus") == "0-1")
        #expect(read(dir("cpuset") + "/cpuset.mems") == "0")
        // devices: the last rule written wins in a plain file; the deny comes first.
        #expect(read(dir("devices") + "/devices.deny") == "a")
        #expect(cg.directories.count == names.count)
        // OOM detection from memory.oom_control.
        try "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n".write(toFile: dir("memory") + "/memory.oom_control", atomically: true, encoding: .utf8)
        #expect(!cg.oomKilled())
        try "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n".write(toFile: dir("memory") + "/memory.oom_control", atomically: true, encoding: .utf8)
        #expect(cg.oomKilled())
    }

    @Test func v2Files() throws {
        let root = try tempRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try "cpuset cpu io memory hugetlb pids\n".write(toFile: "\(root)/cgroup.controllers", atomically: true, encoding: .utf8)
        let cg = Cgroup(layout: .v2(mountPoint: root), project: "p", name: "c")
        var r = ContainerSpec.Resources()
        r.memoryLimit = 100
        r.memorySwapLimit = 300
        r.cpus = 0.5
        r.cpuShares = 1024
        r.pidsLimit = 0
        r.blkioWeight = 500
        try cg.create(resources: r)
        let dir = "\(root)/berth/p/c"
        #expect(read("\(root)/cgroup.subtree_control") == "+cpu +cpuset +io +memory +pids")
        #expect(read("\(root)/berth/p/cgroup.subtree_control") == "+cpu +cpuset +io +memory +pids")
        #expect(read(dir + "/memory.max") == "100")
        #expect(read(dir + "/memory.swap.max") == "200")
        #expect(read(dir + "/cpu.max") == "50000 100000")
        #expect(read(dir + "/cpu.weight") == "39")
        #expect(read(dir + "/pids.max") == "max")
        #expect(read(dir + "/io.weight") == "default 4950")
        try "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n".write(toFile: dir + "/memory.events", atomically: true, encoding: .utf8)
        #expect(cg.oomKilled())
    }
}

@Suite("seccomp rule table")
struct SeccompTableTests {
    func allowed(_ caps: UInt64) -> Set<String> {
        Set(SeccompProfile.rules(capabilities: caps).filter { $0.action == .allow && $0.args.isEmpty }.flatMap(\.names))
    }

    @Test func defaultCapabilitiesSelectRules() {
        let rules = SeccompProfile.rules(capabilities: 0xa804_25fb)
        let plain = allowed(0xa804_25fb)
        #expect(plain.contains("read") && plain.contains("execve") && plain.contains("chroot"))
        #expect(!plain.contains("mount") && !plain.contains("unshare") && !plain.contains("setns"))
        #expect(!plain.contains("reboot") && !plain.contains("bpf") && !plain.contains("kexec_load"))
        // clone only without namespace flags; clone3 → ENOSYS.
        #expect(rules.contains { $0.names == ["clone"] && $0.args == [.init(index: 0, op: .maskedEqual(mask: 0x7E02_0000), value: 0)] })
        #expect(rules.contains { $0.names == ["clone3"] && $0.action == .errno(ENOSYS) })
        #expect(rules.contains { $0.names == ["socket"] && $0.args == [.init(index: 0, op: .notEqual, value: 40)] })
        #expect(SeccompProfile.alwaysAllowed.count > 350)
    }

    @Test func sysAdminUnlocksMountAndClone() {
        let caps = UInt64(0xa804_25fb) | (1 << 21)
        let plain = allowed(caps)
        #expect(plain.contains("mount") && plain.contains("unshare") && plain.contains("clone") && plain.contains("clone3"))
        #expect(!SeccompProfile.rules(capabilities: caps).contains { $0.action == .errno(ENOSYS) })
    }

    @Test func hashIsStable() {
        #expect(SeccompProfile.tableHash == SeccompProfile.tableHash)
    }
}

@Suite("json-file log")
struct LogTests {
    @Test func escapesLikeGo() {
        let line = JSONLogWriter.entry(Array("a\"b\\c<d>&\t\u{1}\n".utf8), stream: "stdout", time: "T")
        #expect(line == "{\"log\":\"a\\\"b\\\\c\\u003cd\\u003e\\u0026\\t\\u0001\\n\",\"stream\":\"stdout\",\"time\":\"T\"}\n")
        let invalid = JSONLogWriter.entry([0xff, 0x41], stream: "stderr", time: "T")
        #expect(invalid.hasPrefix("{\"log\":\"\u{FFFD}A\""))
    }

    @Test func rotatesBySizeAndKeepsMaxFiles() throws {
        let dir = NSTemporaryDirectory() + "berth-log-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try JSONLogWriter(config: .init(path: dir + "/c.log", maxSize: 200, maxFiles: 3))
        for i in 0..<20 {
            try writer.append(ArraySlice(Array("line \(i)\n".utf8)), stream: "stdout")
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(files == ["c.log", "c.log.1", "c.log.2"])
        for file in files {
            let size = try FileManager.default.attributesOfItem(atPath: dir + "/" + file)[.size] as? Int ?? 0
            #expect(size <= 200)
        }
        let current = try String(contentsOfFile: dir + "/c.log", encoding: .utf8)
        #expect(current.contains("line 19\\n"))
    }

    @Test func partialLinesAndLongLines() throws {
        let dir = NSTemporaryDirectory() + "berth-log-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let writer = try JSONLogWriter(config: .init(path: dir + "/c.log"))
        try writer.append(ArraySlice(Array("hel".utf8)), stream: "stdout")
        try writer.append(ArraySlice(Array("lo\nwor".utf8)), stream: "stdout")
        try writer.flush(stream: "stdout")
        try writer.append(ArraySlice(Array(repeating: UInt8(ascii: "x"), count: JSONLogWriter.maxLine + 5)), stream: "stderr")
        try writer.flush(stream: "stderr")
        let lines = try String(contentsOfFile: dir + "/c.log", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("{\"log\":\"hello\\n\""))
        #expect(lines[1].hasPrefix("{\"log\":\"wor\""))
    }

    @Test func rfc3339Nano() {
        #expect(Clock.rfc3339Nano(seconds: 0, nanoseconds: 0) == "1970-01-01T00:00:00Z")
        #expect(Clock.rfc3339Nano(seconds: 1_795_276_800, nanoseconds: 120_000_000) == "2026-11-21T16:00:00.12Z")
        #expect(Clock.rfc3339Nano(seconds: 1_795_276_800, nanoseconds: 5) == "2026-11-21T16:00:00.000000005Z")
    }
}

@Suite("runtime run flags")
struct FlagTests {
    @Test func parsesDockerLikeFlags() throws {
        let p = try RuntimeCommand.parse([
            "--rootfs", "/r", "--name", "c1", "-e", "A=1", "-e", "HOME_FROM_ENV", "--env=B=2", "-w", "/app", "-u", "alice:staff",
            "--group-add", "audio", "--cap-add", "NET_ADMIN", "--cap-drop", "chown", "--security-opt", "no-new-privileges",
            "--read-only", "--tmpfs", "/run:size=1m", "-v", "/h:/c:ro", "--sysctl", "net.ipv4.ip_forward=1",
            "--ulimit", "nofile=10:20", "-m", "64m", "--memory-swap", "-1", "--memory-reservation", "32m", "--cpus", "1.5",
            "-c", "512", "--cpuset-cpus", "0", "--pids-limit", "20", "--blkio-weight", "300", "--init", "-it",
            "--stop-signal", "SIGINT", "--stop-timeout", "2", "--log-path", "/l", "--log-max-size", "1k", "--log-max-file", "3",
            "--pid", "host", "--network", "none", "--ipc", "ns:/proc/1/ns/ipc", "--hostname", "h", "--", "sh", "-c", "x",
        ], environment: ["HOME_FROM_ENV": "yes"])
        let s = p.spec
        #expect(s.name == "c1")
        #expect(s.process.args == ["sh", "-c", "x"])
        #expect(s.process.env.contains("A=1") && s.process.env.contains("B=2") && s.process.env.contains("HOME_FROM_ENV=yes"))
        #expect(s.process.cwd == "/app" && s.process.user == "alice:staff" && s.process.additionalGroups == ["audio"])
        #expect(s.process.terminal && s.process.openStdin)
        #expect(s.security.capAdd == ["NET_ADMIN"] && s.security.capDrop == ["chown"] && s.security.noNewPrivileges)
        #expect(s.root == .directory("/r", readOnly: true))
        #expect(s.mounts.count == 2)
        #expect(s.mounts.contains(.init(kind: .bind(source: "/h"), destination: "/c", readOnly: true)))
        #expect(s.mounts.contains { $0.destination == "/run" && $0.kind == .tmpfs(options: "size=1m") })
        #expect(s.sysctls.map(\.key) == ["net.ipv4.ip_forward"])
        #expect(s.rlimits == [.init(resource: 7, name: "nofile", soft: 10, hard: 20)])
        #expect(s.resources.memoryLimit == 64 << 20 && s.resources.memorySwapLimit == -1 && s.resources.memoryReservation == 32 << 20)
        #expect(s.resources.cpus == 1.5 && s.resources.cpuShares == 512 && s.resources.cpusetCpus == "0")
        #expect(s.resources.pidsLimit == 20 && s.resources.blkioWeight == 300)
        #expect(s.useInit && s.stopSignal == 2 && s.stopTimeoutMilliseconds == 2000)
        #expect(s.log == .init(path: "/l", maxSize: 1024, maxFiles: 3))
        #expect(s.namespaces.pid == .host && s.namespaces.network == .private && s.namespaces.ipc == .path("/proc/1/ns/ipc"))
        #expect(s.hostname == "h")
    }

    @Test func usageErrors() {
        func code(_ args: [String]) -> Int32? {
            do { _ = try RuntimeCommand.parse(args, environment: [:]); return nil } catch let e as RuntimeError { return e.exitCode } catch { return -1 }
        }
        #expect(code(["--bogus"]) == 64)
        #expect(code(["--rootfs", "/r"]) == 64)
        #expect(code(["--", "true"]) == 64)
        #expect(code(["--rootfs", "/r", "--memory", "lots", "--", "true"]) == 64)
        #expect(code(["--rootfs", "/r", "-v", "named:/data", "--", "true"]) == 64)
        #expect(code(["--rootfs", "/r", "--network", "bridge", "--", "true"]) == 64)
        #expect(code(["--rootfs", "/r", "--security-opt", "apparmor=x", "--", "true"]) == 64)
        #expect(code(["--rootfs", "/r", "--ulimit", "nofile=20:10", "--", "true"]) == 64)
        #expect(code(["--rootfs", "/r", "--name"]) == 64)
    }

    @Test func sizesAndSignals() throws {
        #expect(try RuntimeCommand.parseBytes("512k", option: "x") == 512 * 1024)
        #expect(try RuntimeCommand.parseBytes("1g", option: "x") == 1 << 30)
        #expect(try RuntimeCommand.parseBytes("100", option: "x") == 100)
        #expect(try RuntimeCommand.parseBytes("64mb", option: "x") == 64 << 20)
        #expect(Signals.parse("SIGTERM") == 15 && Signals.parse("kill") == 9 && Signals.parse("10") == 10)
        #expect(Signals.parse("RTMIN+1") == 35 && Signals.parse("NOPE") == nil)
    }

    @Test func manPageListsEveryOption() throws {
        let manPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../man/berth-runtime.8").path
        let page = try String(contentsOfFile: manPath, encoding: .utf8)
        for option in RuntimeCommand.options {
            #expect(page.contains("Fl " + option.names[0].dropFirst()), "\(option.names[0]) missing from man/berth-runtime.8")
            #expect(page.contains(option.help.split(separator: ".").first.map(String.init) ?? option.help), "help of \(option.names[0]) differs")
        }
    }

    @Test func optionsTableIsSortedAndDocumented() {
        let names = RuntimeCommand.options.map { $0.names[0] }
        #expect(names == names.sorted())
        #expect(RuntimeCommand.options.allSatisfy { !$0.help.isEmpty && $0.names[0].hasPrefix("--") })
        #expect(RuntimeCommand.usage.contains("--rootfs DIR"))
    }
}

@Suite("spec merging")
struct SpecTests {
    @Test func argumentsLikeDocker() {
        let image = ImageConfig(entrypoint: ["/entry"], cmd: ["serve"])
        #expect(ContainerSpec.mergeArguments(entrypoint: nil, command: nil, image: image) == ["/entry", "serve"])
        #expect(ContainerSpec.mergeArguments(entrypoint: nil, command: ["run"], image: image) == ["/entry", "run"])
        #expect(ContainerSpec.mergeArguments(entrypoint: ["/other"], command: nil, image: image) == ["/other"])
        #expect(ContainerSpec.mergeArguments(entrypoint: [], command: ["ls"], image: image) == ["ls"])
        #expect(ContainerSpec.mergeArguments(entrypoint: nil, command: nil, image: ImageConfig(cmd: ["sh"])) == ["sh"])
    }

    @Test func environmentOverridesInPlace() {
        #expect(ContainerSpec.mergeEnvironment(image: ["PATH=/bin", "A=1"], service: ["A=2", "B=3"]) == ["PATH=/bin", "A=2", "B=3"])
    }

    @Test func specCodecRoundTrip() throws {
        var spec = ContainerSpec(name: "web-1", project: "demo", root: .overlay(lower: ["/l/2", "/l/1"], writableDir: "/w", readOnly: true),
                                 process: .init(args: ["sh", "-c", "echo 'a\tb'\nnext"], env: ["A=1", "B=x\\y"], cwd: "/app", user: "alice:staff", additionalGroups: ["audio"], terminal: true, openStdin: true))
        spec.hostname = "h"
        spec.domainname = "d.example"
        spec.mounts = [
            .init(kind: .bind(source: "/src"), destination: "/dst", readOnly: true),
            .init(kind: .tmpfs(options: "size=1m"), destination: "/run", flags: 14),
            .init(kind: .bind(source: "/s2"), destination: "/d2", propagation: .rslave, recursion: .readonly),
            .init(kind: .volume(.init(name: "demo_data", directory: "/v/demo_data")), destination: "/data", readOnly: true),
            .init(kind: .volume(.init(name: "tmp", directory: "/v/tmp", filesystem: .init(type: "tmpfs", device: "tmpfs", options: "size=1m,uid=1000"),
                                      copyUp: false, subpath: "a/b")), destination: "/t"),
        ]
        spec.namespaces.pid = .host
        spec.namespaces.network = .path("/proc/1/ns/net")
        spec.resources.memoryLimit = 64 << 20
        spec.resources.memorySwapLimit = -1
        spec.resources.cpus = 1.5
        spec.resources.pidsLimit = 50
        spec.resources.cpusetCpus = "0-1"
        spec.security.capAdd = ["NET_ADMIN"]
        spec.security.capDrop = ["ALL"]
        spec.security.noNewPrivileges = true
        spec.security.seccomp = .unconfined
        spec.security.maskedPaths = []
        spec.sysctls = [("net.ipv4.ip_forward", "1")]
        spec.rlimits = [.init(resource: 7, name: "nofile", soft: 10, hard: UInt64.max)]
        spec.stopSignal = 2
        spec.stopTimeoutMilliseconds = 2500
        spec.log = .init(path: "/l.log", maxSize: 1024, maxFiles: 3)
        spec.useInit = true
        spec.etcHosts = "127.0.0.1\tlocalhost\n10.0.0.2\tdb\n"
        spec.shmSize = 1 << 20
        let decoded = try ContainerSpec(decoding: spec.encoded)
        #expect(decoded == spec)
        let plain = ContainerSpec(name: "p", root: .directory("/r", readOnly: false), process: .init(args: ["true"]))
        #expect(try ContainerSpec(decoding: plain.encoded) == plain)
        #expect(throws: RuntimeError.self) { try ContainerSpec(decoding: "berth-spec 1\nname x\nfuture-key 1\n") }
        #expect(throws: RuntimeError.self) { try ContainerSpec(decoding: "berth-spec 2\nname x\n") }
        // A mount line written before propagation and recursion existed still reads.
        let old = try ContainerSpec(decoding: "berth-spec 1\nname x\nmount bind\t/a\t/b\tro\t0\n")
        #expect(old.mounts == [.init(kind: .bind(source: "/a"), destination: "/b", readOnly: true)])
    }

    @Test func systemErrorsSayWhatAndWhere() {
        #expect(SystemError("mount proc", path: "on /r/proc", errno: EPERM).description == "mount proc on /r/proc: EPERM (Operation not permitted)")
        #expect(SystemError("pipe2", errno: EMFILE).description == "pipe2: EMFILE (Too many open files)")
    }

    @Test func mountInfoUnescapes() {
        let info = MountInfo.parse("36 35 98:0 / /mnt/with\\040space rw - ext4 /dev/x rw")
        #expect(info.first?.mountPoint == "/mnt/with space")
    }
}
