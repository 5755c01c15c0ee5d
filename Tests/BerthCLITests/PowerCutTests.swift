import BerthOrchestrator
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// Crash safety of a stack writing into a named volume: everything of berth is SIGKILLed in the
/// middle of heavy writes, then what a reboot takes away (the run root on tmpfs, mounts, netns,
/// cgroups, the bridge, nft tables) is taken away too, and `up` must bring the stack back on a
/// usable volume with berth's own state consistent — `ps`, `volume ls`, `down -v` all right.
@Suite("power cut (root)", .serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (Debian busybox-static)"))
struct PowerCutTests {
    @Test func everythingKilledDuringHeavyWritesThenUpBringsTheStackBack() throws {
        // Each writer rewrites 20 files of 1 MiB in its own directory of the shared volume, for ever.
        func writer(_ name: String) -> String {
            """
              \(name):
                image: busybox
                command: [sh, -c, "mkdir -p /data/\(name); i=0; while :; do dd if=/dev/zero of=/data/\(name)/f$$((i % 20)) bs=64k count=16 2>/dev/null; i=$$((i + 1)); [ $$i = 20 ] && echo \(name) wrote twenty; done"]
                volumes: [data:/data]

            """
        }
        // A subnet outside the default pool: while the "rebooted" bridge is gone, a test with
        // other roots running in parallel would take a freed default subnet (its IPAM does
        // not see this root's records), and the restored bridge's DNS address would clash.
        let subnet = "10.254.\(Int.random(in: 100...250)).0/24"
        let stack = try StackFixture("services:\n" + writer("a") + writer("b") + "volumes:\n  data: {}\n"
            + "networks:\n  default:\n    ipam: {config: [{subnet: \"\(subnet)\"}]}\n")
        let p = stack.project
        let up = try stack.run(["up", "-d"])
        #expect(up.code == 0, "\(up.stderr)")
        let logs = try LiveProcess(
            ["/usr/bin/env", "-C", stack.directory, berthBinary, "logs", "-f", "--no-log-prefix"], environment: stack.environment)
        try logs.waitForStdout(containing: "a wrote twenty\n")
        try logs.waitForStdout(containing: "b wrote twenty\n")

        // The cut: every process of the project at once — supervisor, monitors, containers.
        var victims = try ["a", "b"].compactMap { try stack.container($0).state.monitorPid }
        victims += Self.processes(inCgroupsOf: p)
        if let supervisor = stack.supervisorPid { victims.append(supervisor) }
        let identities = victims.compactMap { ProcessIdentity.of($0) }
        #expect(identities.count >= 5, "2 monitors, 2 writers, a supervisor: \(victims)")
        for identity in identities { kill(identity.pid, SIGKILL) }
        for identity in identities { Self.waitUntilGone(identity) }
        logs.kill(SIGKILL)
        _ = logs.wait()
        Self.forgetWhatARebootForgets(stack)

        // Back up: the same containers start again on the volume, which reads and writes.
        let again = try stack.run(["up", "-d"])
        #expect(again.code == 0, "\(again.stderr)")
        let ps = try stack.run(["ps", "-a", "--format", "{{.Name}} {{.State}}"])
        #expect(ps.stdout == "\(p)-a-1 running\n\(p)-b-1 running\n", "\(ps.stdout)\(ps.stderr)")
        for name in ["a", "b"] {
            let read = try stack.run(["exec", "-T", name, "sh", "-c", "cat /data/\(name)/* | wc -c >/dev/null && ls /data/\(name) | wc -l"])
            #expect(read.code == 0 && read.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "20", "\(read.stdout)\(read.stderr)")
        }
        let volumes = try stack.run(["volume", "ls", "--format", "{{.Name}}"])
        #expect(volumes.stdout == "\(p)_data\n", "\(volumes.stderr)")

        let down = try stack.run(["down", "-v", "-t", "0"])
        #expect(down.code == 0, "\(down.stderr)")
        #expect(!FS.exists(stack.root + "/volumes/\(p)_data"))
        let (_, left) = try stack.close()
        #expect(left == [])
    }

    /// A volume with its own file system (driver_opts) is held by its users' monitors; when a
    /// monitor is SIGKILLed with its container, the supervisor sees the monitor end and
    /// unmounts what nobody holds any more.
    @Test func theSupervisorReleasesAVolumeWhoseUsersWereKilled() throws {
        let stack = try StackFixture("""
            services:
              app:
                image: busybox
                command: [sleep, "1000"]
                volumes: [scratch:/scratch]
            volumes:
              scratch:
                driver_opts: {type: tmpfs, device: tmpfs, o: size=1m}

            """)
        let p = stack.project
        let data = stack.root + "/volumes/\(p)_scratch/_data"
        let mounts = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        defer { close(mounts) }
        func mounted() -> Bool {
            ((try? FS.readString("/proc/self/mountinfo")) ?? "").split(separator: "\n").contains { $0.split(separator: " ").dropFirst(4).first == Substring(data) }
        }
        #expect(try stack.run(["up", "-d"]).code == 0)
        #expect(mounted())
        let monitor = try #require(try stack.container("app").state.monitorPid)
        let identities = ([monitor] + Self.processes(inCgroupsOf: p)).compactMap { ProcessIdentity.of($0) }
        for identity in identities { kill(identity.pid, SIGKILL) }
        // The mount table changing wakes poll (POLLPRI); up to 30 s for the supervisor's sweep.
        let deadline = Clock.monotonicNanoseconds() + 30_000_000_000
        while mounted() && Clock.monotonicNanoseconds() < deadline {
            var entry = pollfd(fd: mounts, events: Int16(POLLPRI), revents: 0)
            _ = poll(&entry, 1, Int32(max(1, (deadline - Clock.monotonicNanoseconds()) / 1_000_000)))
            _ = lseek(mounts, 0, SEEK_SET)
            var buffer = [UInt8](repeating: 0, count: 4096)
            while read(mounts, &buffer, buffer.count) > 0 {}
        }
        #expect(!mounted(), "the supervisor unmounts the tmpfs once its only user is gone")
        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// The processes whose cgroup is under `berth/<project>/` (the containers').
    static func processes(inCgroupsOf project: String) -> [Int32] {
        let pids = (try? FS.listDirectory("/proc"))?.compactMap { Int32($0) } ?? []
        return pids.filter { pid in
            ((try? FS.readString("/proc/\(pid)/cgroup")) ?? "").contains("/berth/\(project)/")
        }
    }

    /// Blocks until a process that is not our child is gone (its pidfd turns readable).
    static func waitUntilGone(_ identity: ProcessIdentity) {
        guard let fd = identity.openPidfd() else { return }
        defer { close(fd) }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, 30_000)
    }

    /// What a reboot takes: mounts under the test's directory (rootfs overlays, netns pins),
    /// the project's cgroups, its bridges, its nft table, and the run root (a tmpfs).
    static func forgetWhatARebootForgets(_ stack: StackFixture) {
        let mountinfo = (try? FS.readString("/proc/self/mountinfo")) ?? ""
        let mountPoints = mountinfo.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            return fields.count > 4 && fields[4].hasPrefix(stack.base) ? String(fields[4]) : nil
        }
        for point in mountPoints.sorted(by: { $0.count > $1.count }) { umount2(point, Int32(MNT_DETACH)) }
        for controller in (try? FS.listDirectory("/sys/fs/cgroup")) ?? [] {
            let project = "/sys/fs/cgroup/\(controller)/berth/\(stack.project)"
            for child in (try? FS.listDirectory(project)) ?? [] { rmdir(project + "/" + child) }
            rmdir(project)
        }
        for record in (try? FS.listDirectory(stack.root + "/networks")) ?? [] where record.hasSuffix(".json") {
            let text = (try? FS.readString(stack.root + "/networks/" + record)) ?? ""
            if let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
               let bridge = object["bridge"] as? String {
                _ = try? TestProcess.spawn(["/usr/sbin/ip", "link", "delete", bridge])
            }
        }
        let tables = (try? TestProcess.spawn(["/usr/sbin/nft", "list", "tables"]))?.stdout ?? ""
        for line in tables.split(separator: "\n") where line.hasSuffix(" berth_\(stack.project)") {
            _ = try? TestProcess.spawn(["/usr/sbin/nft", "delete"] + line.split(separator: " ").map(String.init))
        }
        try? FileManager.default.removeItem(atPath: stack.runRoot)
    }
}
