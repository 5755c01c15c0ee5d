import Foundation
import Testing
@testable import BerthRuntime
import BerthSystem
import BerthTestSupport
import CBerthSys

/// Root tier: real containers on a busybox rootfs, asserted from inside.
@Suite("containers (root)", .serialized, .enabled(if: canRunContainers, containerGateReason))
struct ContainerTests {
    @Test func pid1IsTheCommand() throws {
        let f = try ContainerFixture()
        let out = try f.sh("echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == "1\nsh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' ' ")
    }

    @Test func hostProcessesAreInvisible() throws {
        let f = try ContainerFixture()
        // Only the shell (1), ls and wc exist in the container's pid namespace.
        let out = try f.sh("ls -d /proc/[0-9]* | wc -l; [ -e /proc/\(getpid()) ] && echo visible || echo hidden")
        #expect(out.code == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n")
        #expect(lines.first.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 99 <= 3, "\(out.stdout)")
        #expect(lines.last == "hidden" || getpid() <= 2)
    }

    @Test func defaultCapabilities() throws {
        let f = try ContainerFixture()
        let out = try f.run([], ["grep", "-E", "^Cap(Inh|Prm|Eff|Bnd|Amb)", "/proc/self/status"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout.contains("CapEff:\t00000000a80425fb"))
        #expect(out.stdout.contains("CapPrm:\t00000000a80425fb"))
        #expect(out.stdout.contains("CapBnd:\t00000000a80425fb"))
        #expect(out.stdout.contains("CapInh:\t0000000000000000"))
        #expect(out.stdout.contains("CapAmb:\t0000000000000000"))
    }

    @Test func capAddAndDropChangeTheSet() throws {
        let f = try ContainerFixture()
        // -CHOWN (bit 0) +NET_ADMIN (bit 12)
        let out = try f.run(["--cap-drop", "CHOWN", "--cap-add", "NET_ADMIN"], ["grep", "CapEff", "/proc/self/status"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == "CapEff:\t00000000a80435fa\n")
        let none = try f.run(["--cap-drop", "ALL"], ["grep", "CapEff", "/proc/self/status"])
        #expect(none.stdout == "CapEff:\t0000000000000000\n")
        let chownDropped = try f.sh("touch /tmp/x && chown 1000 /tmp/x && echo ok", ["--cap-drop", "chown"])
        #expect(chownDropped.code != 0)
        #expect(chownDropped.stderr.contains("Operation not permitted"))
    }

    @Test func maskedAndReadOnlyPaths() throws {
        let f = try ContainerFixture()
        let script = """
            if [ -e /proc/kcore ]; then echo "kcore $(wc -c < /proc/kcore)"; else echo "kcore absent"; fi
            echo "timer_list $(cat /proc/timer_list 2>/dev/null | wc -c)"
            grep -c ' /proc/kcore \\| /proc/timer_list \\| /proc/keys ' /proc/self/mountinfo
            echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable || echo sys-readonly
            echo 1 > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-readonly
            mount -t tmpfs none /mnt 2>/dev/null && echo mount-ok || echo mount-failed
            touch /sys/x 2>/dev/null && echo sysfs-writable || echo sysfs-readonly
            """
        let out = try f.sh(script)
        #expect(out.code == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 7, "\(out.stdout)")
        guard lines.count == 7 else { return }
        #expect(lines[0] == "kcore 0" || lines[0] == "kcore absent")
        #expect(lines[1] == "timer_list 0")
        #expect((Int(lines[2]) ?? 0) >= 1, "masked entries are mounts")
        #expect(lines[3] == "sys-readonly")
        #expect(lines[4] == "sysrq-readonly")
        #expect(lines[5] == "mount-failed")
        #expect(lines[6] == "sysfs-readonly")
    }

    @Test func privilegedLiftsMasksAndSeccomp() throws {
        let f = try ContainerFixture()
        // A host device node beyond the default six, which only --privileged exposes.
        let defaults: Set<String> = ["null", "zero", "full", "random", "urandom", "tty", "console", "ptmx"]
        let hostNode = try FileManager.default.contentsOfDirectory(atPath: "/dev").sorted().first { name in
            var st = stat()
            return !defaults.contains(name) && lstat("/dev/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR
        } ?? "null"
        let out = try f.sh("grep -E '^(CapEff|Seccomp):' /proc/self/status; mount -t tmpfs none /mnt && echo mount-ok; [ -c /dev/\(hostNode) ] && echo host-device", ["--privileged"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout.contains("Seccomp:\t0"))
        #expect(out.stdout.contains("mount-ok"))
        #expect(out.stdout.contains("host-device"), "/dev/\(hostNode) missing")
        let plain = try f.sh("[ -e /dev/\(hostNode) ] && echo host-device || echo default-devices")
        #expect(plain.stdout == "default-devices\n" || defaults.contains(hostNode))
        #expect(!out.stdout.contains("CapEff:\t00000000a80425fb"))
    }

    @Test func seccompDefaultAndUnconfined() throws {
        let f = try ContainerFixture()
        let confined = try f.run([], ["grep", "^Seccomp:", "/proc/self/status"])
        #expect(confined.stdout == "Seccomp:\t2\n", "\(confined.stderr)")
        // The profile's CAP_SYS_ADMIN rules follow the capability set: mount works with it.
        let admin = try f.sh("mount -t tmpfs none /mnt && echo mounted", ["--cap-add", "SYS_ADMIN"])
        #expect(admin.stdout == "mounted\n", "\(admin.stderr)")
        let unconfined = try f.run(["--security-opt", "seccomp=unconfined"], ["grep", "^Seccomp:", "/proc/self/status"])
        #expect(unconfined.stdout == "Seccomp:\t0\n")
        let nnp = try f.run(["--security-opt", "no-new-privileges"], ["grep", "^NoNewPrivs:", "/proc/self/status"])
        #expect(nnp.stdout == "NoNewPrivs:\t1\n", "\(nnp.stderr)")
        let defaultNNP = try f.run([], ["grep", "^NoNewPrivs:", "/proc/self/status"])
        #expect(defaultNNP.stdout == "NoNewPrivs:\t0\n")
    }

    @Test func hostnameAndDomainname() throws {
        let f = try ContainerFixture()
        let out = try f.sh("hostname; cat /etc/hostname; cat /proc/sys/kernel/domainname", ["--name", "c1", "--hostname", "web", "--domainname", "example.org"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == "web\nweb\nexample.org\n")
        let byName = try f.run(["--name", "named"], ["hostname"])
        #expect(byName.stdout == "named\n")
    }

    @Test func onlyStandardFdsAndCleanSignals() throws {
        let f = try ContainerFixture()
        // PID 1's fds, seen from a second container that joins its pid namespace (ls
        // would add its own directory fd to /proc/self/fd, and a shell its pipes).
        let first = try f.start(["--name", "fds", "--stop-timeout", "0"], "exec sleep 1000")
        let state = try String(contentsOfFile: f.runRoot + "/runtime/\(f.project)/fds/state.json", encoding: .utf8)
        let pid = state.split(separator: ",").first { $0.hasPrefix("\"Pid\":") }.map { $0.dropFirst(6) } ?? ""
        let fds = try f.run(["--name", "peek", "--pid", "ns:/proc/\(pid)/ns/pid"], ["ls", "/proc/1/fd"])
        #expect(fds.code == 0, "\(fds.stderr)")
        #expect(fds.stdout == "0\n1\n2\n")
        kill(first.processIdentifier, SIGTERM)
        first.waitUntilExit()
        #expect(first.terminationStatus == 137)
        // PID 1 straight from execve (a shell would set up its own dispositions).
        let out = try f.run([], ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"])
        #expect(out.stdout == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", "\(out.stderr)")
        let underInit = try f.run(["--init"], ["grep", "-E", "^Sig(Ign|Blk):", "/proc/self/status"])
        #expect(underInit.stdout == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n", "\(underInit.stderr)")
    }

    @Test func exitCodesAndSignals() throws {
        let f = try ContainerFixture()
        #expect(try f.sh("exit 0").code == 0)
        #expect(try f.sh("exit 42").code == 42)
        #expect(try f.sh("exit 255").code == 255)
        // PID 1 of a pid namespace ignores signals it has no handler for; with the host pid
        // namespace, or under --init, a signal ends the command: 128 + n.
        #expect(try f.sh("kill -USR1 $$", ["--pid", "host"]).code == 138)
        #expect(try f.sh("kill -USR1 $$", ["--init"]).code == 138)
        #expect(try f.sh("kill -KILL $$", ["--init"]).code == 137)
        #expect(try f.sh("exit 3", ["--init"]).code == 3)
        let missing = try f.run([], ["no-such-command"])
        #expect(missing.code == 127)
        #expect(missing.stderr.contains("executable file not found"))
        let notExecutable = try f.run([], ["/etc/passwd"])
        #expect(notExecutable.code == 126)
        #expect(notExecutable.stderr.contains("permission denied"))
        let usage = try ContainerFixture.spawn([berthBinary, "runtime", "run", "--no-such-flag"])
        #expect(usage.code == 64)
        #expect(usage.stderr.hasPrefix("Error: unknown option --no-such-flag"))
    }

    /// A failure inside the container's setup comes back as the child's own message.
    @Test func childFailuresAreStructuredErrors() throws {
        let f = try ContainerFixture()
        let out = try f.run(["--name", "broken", "--tmpfs", "/etc/passwd"], ["true"])
        #expect(out.code == 125)
        #expect(out.stderr == "Error: container broken: mount tmpfs on \(f.rootfs)/etc/passwd: ENOTDIR (Not a directory)\n", "\(out.stderr)")
        #expect(leftovers(fixture: f) == [])
    }

    @Test func unknownUserIsAClearError() throws {
        let f = try ContainerFixture()
        let out = try f.run(["--user", "bob"], ["id"])
        #expect(out.code == 125)
        #expect(out.stderr.contains("unable to find user bob: no matching entries in the image's /etc/passwd"), "\(out.stderr)")
        let group = try f.run(["--user", "alice:nogrp"], ["id"])
        #expect(group.code == 125)
        #expect(group.stderr.contains("unable to find group nogrp"))
    }

    @Test func usersAndGroups() throws {
        let f = try ContainerFixture()
        let alice = try f.sh("id; grep CapEff /proc/self/status; echo $HOME", ["--user", "alice", "--group-add", "audio"])
        #expect(alice.code == 0, "\(alice.stderr)")
        #expect(alice.stdout == "uid=1000(alice) gid=1000(alice) groups=29(audio),50(staff)\nCapEff:\t0000000000000000\n/home/alice\n"
            || alice.stdout == "uid=1000(alice) gid=1000(alice) groups=50(staff),29(audio)\nCapEff:\t0000000000000000\n/home/alice\n", "\(alice.stdout)")
        let numeric = try f.run(["--user", "4242:4343"], ["id"])
        #expect(numeric.stdout == "uid=4242 gid=4343 groups=4343\n" || numeric.stdout == "uid=4242 gid=4343\n", "\(numeric.stdout)")
        let workdir = try f.run(["--workdir", "/srv/app"], ["pwd"])
        #expect(workdir.stdout == "/srv/app\n", "\(workdir.stderr)")
    }

    @Test func memoryLimitOOMKilled() throws {
        let f = try ContainerFixture()
        let status = f.base + "/status.json"
        let out = try f.sh("a=xxxxxxxxxxxxxxxx; while true; do a=$a$a; done", ["--memory", "16m", "--memory-swap", "16m", "--status-file", status])
        #expect(out.code == 137, "\(out.stderr)")
        #expect(out.stderr.contains("OOMKilled"))
        let json = try String(contentsOfFile: status, encoding: .utf8)
        #expect(json.contains("\"OOMKilled\":true"))
        #expect(json.contains("\"ExitCode\":137"))
        #expect(json.contains("\"FinishedAt\":\""))
    }

    @Test func pidsLimitStopsAForkBomb() throws {
        let f = try ContainerFixture()
        // Each successful fork prints its number; the shell dies at the first failed fork.
        let script = "n=0; while [ $n -lt 100 ]; do sleep 1000 & n=$((n+1)); echo $n; done"
        let out = try f.sh(script, ["--pids-limit", "10"])
        #expect(out.code != 0)
        let forks = out.stdout.split(separator: "\n").compactMap { Int($0) }.max() ?? 0
        #expect(forks >= 1 && forks < 10, "successful forks: \(forks)")
        #expect(out.stderr.contains("can't fork"), "\(out.stderr)")
    }

    @Test func sigtermIgnoringPID1IsKilledAfterTheGracePeriod() throws {
        let f = try ContainerFixture()
        // busybox sleep as PID 1 has no SIGTERM handler, so the kernel drops SIGTERM.
        let (code, _) = try runAndStop(f, ["--stop-timeout", "1"], ["sh", "-c", "echo ready; exec sleep 1000"])
        #expect(code == 137)
        // A handler that exits is honoured: the stop signal, not SIGKILL.
        let (handled, _) = try runAndStop(f, ["--stop-timeout", "30"], ["sh", "-c", "trap 'exit 7' TERM; echo ready; sleep 1000 & wait"])
        #expect(handled == 7)
        // stop_signal is what gets sent.
        let (custom, _) = try runAndStop(f, ["--stop-signal", "SIGUSR1", "--stop-timeout", "30"], ["sh", "-c", "trap 'exit 9' USR1; echo ready; sleep 1000 & wait"])
        #expect(custom == 9)
    }

    /// Starts a container, waits for "ready" on its stdout, sends SIGTERM to berth, returns
    /// berth's exit code. Event-driven: no sleeps.
    func runAndStop(_ f: ContainerFixture, _ options: [String], _ command: [String]) throws -> (Int32, String) {
        let (process, output) = try f.startUntilReady(options, command)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func initReapsOrphans() throws {
        let f = try ContainerFixture()
        // The inner shell starts a sleep and exits: the sleep is orphaned to PID 1. After
        // it is killed, only a reaping PID 1 makes /proc/<pid> disappear.
        let script = """
            pid=$(sh -c 'sleep 1000 >/dev/null 2>&1 & echo $!')
            kill -9 $pid
            i=0
            while [ -e /proc/$pid ] && [ $i -lt 200000 ]; do
              state=$(sed -n 's/^State:\\t\\(.\\).*/\\1/p' /proc/$pid/status 2>/dev/null)
              [ "$state" = Z ] && [ $i -gt 100000 ] && break
              i=$((i+1))
            done
            [ -e /proc/$pid ] && echo "zombie $(cat /proc/$pid/status | grep State)" || echo reaped
            echo "pid1 $(cat /proc/1/comm)"
            """
        let out = try f.sh(script, ["--init"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout.hasPrefix("reaped\n"), "\(out.stdout)")
    }

    @Test func symlinkAtMountTargetDoesNotEscape() throws {
        let f = try ContainerFixture()
        let fm = FileManager.default
        // A host directory the image tries to redirect a mount into.
        let hostDir = f.base + "/host-target"
        try fm.createDirectory(atPath: hostDir, withIntermediateDirectories: true)
        try "host".write(toFile: hostDir + "/marker", atomically: true, encoding: .utf8)
        let volume = f.base + "/volume"
        try fm.createDirectory(atPath: volume, withIntermediateDirectories: true)
        try "volume".write(toFile: volume + "/data", atomically: true, encoding: .utf8)
        // Absolute and relative escapes planted in the image at mount targets.
        try fm.createSymbolicLink(atPath: f.rootfs + "/evil", withDestinationPath: hostDir)
        try fm.createSymbolicLink(atPath: f.rootfs + "/evil2", withDestinationPath: "../../../../../../../../" + hostDir)
        let out = try f.sh("cat /evil/sub/data; cat \(hostDir)/sub/data; ls /evil2/tmpfs-here && echo tmpfs-inside",
                           ["-v", "\(volume):/evil/sub", "--tmpfs", "/evil2/tmpfs-here"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout.hasPrefix("volumevolume"), "the mount landed inside the rootfs: \(out.stdout)")
        // Nothing was created or mounted on the host side.
        #expect(!fm.fileExists(atPath: hostDir + "/sub"))
        #expect(!fm.fileExists(atPath: hostDir + "/tmpfs-here"))
        #expect(try fm.contentsOfDirectory(atPath: hostDir) == ["marker"])
        // The directories were created inside the rootfs instead.
        #expect(fm.fileExists(atPath: f.rootfs + hostDir + "/sub"))
    }

    @Test func readOnlyRootfsTmpfsAndVolumes() throws {
        let f = try ContainerFixture()
        let volume = f.base + "/vol"
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        let out = try f.sh("touch /x 2>/dev/null && echo root-rw || echo root-ro; touch /run/x && echo tmpfs-rw; echo hi > /data/file; touch /ro/x 2>/dev/null && echo vol-rw || echo vol-ro",
                           ["--read-only", "--tmpfs", "/run:size=1m", "-v", "\(volume):/data", "-v", "\(volume):/ro:ro"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == "root-ro\ntmpfs-rw\nvol-ro\n")
        #expect(try String(contentsOfFile: volume + "/file", encoding: .utf8) == "hi\n")
    }

    @Test func overlayRootfsLeavesTheImageUntouched() throws {
        let f = try ContainerFixture()
        let out = try f.sh("echo new > /etc/added; rm /bin/vi; grep -c overlay /proc/mounts", ["--overlay"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: f.rootfs + "/etc/added"))
        #expect(FileManager.default.fileExists(atPath: f.rootfs + "/bin/vi") || (try? FileManager.default.destinationOfSymbolicLink(atPath: f.rootfs + "/bin/vi")) != nil)
        // A kept writable layer: the next run sees the first run's change.
        let layer = f.base + "/layer"
        #expect(try f.sh("echo kept > /etc/kept", ["--overlay-dir", layer]).code == 0)
        let again = try f.sh("cat /etc/kept", ["--overlay-dir", layer])
        #expect(again.stdout == "kept\n", "\(again.stderr)")
        #expect(FileManager.default.fileExists(atPath: layer + "/upper/etc/kept"))
        #expect(!FileManager.default.fileExists(atPath: f.rootfs + "/etc/kept"))
    }

    @Test func environmentSysctlsAndUlimits() throws {
        let f = try ContainerFixture()
        let out = try f.sh("echo $FOO; cat /proc/sys/net/ipv4/ip_unprivileged_port_start; ulimit -n",
                           ["-e", "FOO=bar", "--sysctl", "net.ipv4.ip_unprivileged_port_start=80", "--ulimit", "nofile=512:1024"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == "bar\n80\n512\n")
        let tooHigh = try f.run(["--ulimit", "nofile=4096:99999999"], ["true"])
        #expect(tooHigh.code == 125)
        #expect(tooHigh.stderr.contains("hard limit"), "\(tooHigh.stderr)")
    }

    @Test func jsonFileLog() throws {
        let f = try ContainerFixture()
        let log = f.base + "/logs/c.log"
        let out = try f.sh("echo out; echo err >&2; printf 'no-newline'", ["--log-path", log])
        #expect(out.code == 0)
        #expect(out.stdout == "out\nno-newline")
        #expect(out.stderr == "err\n")
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines.contains { $0.hasPrefix("{\"log\":\"out\\n\",\"stream\":\"stdout\",\"time\":\"") })
        #expect(lines.contains { $0.hasPrefix("{\"log\":\"err\\n\",\"stream\":\"stderr\",\"time\":\"") })
        #expect(lines.contains { $0.hasPrefix("{\"log\":\"no-newline\",\"stream\":\"stdout\"") })
        // Rotation: max-size 300 bytes, 2 files.
        let rotated = f.base + "/logs/r.log"
        let many = try f.sh("i=0; while [ $i -lt 40 ]; do echo line-$i; i=$((i+1)); done", ["--log-path", rotated, "--log-max-size", "300", "--log-max-file", "2"])
        #expect(many.code == 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: f.base + "/logs").filter { $0.hasPrefix("r.log") }.sorted()
        #expect(files == ["r.log", "r.log.1"])
        for file in files {
            let size = (try FileManager.default.attributesOfItem(atPath: f.base + "/logs/" + file)[.size] as? Int) ?? 0
            #expect(size > 0 && size <= 300)
        }
        #expect(try String(contentsOfFile: rotated, encoding: .utf8).contains("line-39\\n"))
        // A terminal's output is logged as stdout.
        let ttyLog = f.base + "/logs/t.log"
        _ = try f.sh("echo via-tty", ["-t", "--log-path", ttyLog])
        #expect(try String(contentsOfFile: ttyLog, encoding: .utf8).hasPrefix("{\"log\":\"via-tty\\r\\n\",\"stream\":\"stdout\""))
    }

    @Test func terminal() throws {
        let f = try ContainerFixture()
        let out = try f.sh("tty; [ -t 0 ] && [ -t 1 ] && echo in-tty", ["-t"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout.hasPrefix("/dev/pts/0\r\nin-tty\r\n"), "\(out.stdout)")
        let piped = try f.run(["-i"], ["cat"], stdin: "through stdin\n")
        #expect(piped.stdout == "through stdin\n")
        let closed = try f.run([], ["cat"], stdin: "not passed\n")
        #expect(closed.stdout == "")
    }

    /// cgroup v2 device control (eBPF), exercised on whatever cgroup2 mount the host has
    /// (the unified hierarchy of a hybrid host, or / of a v2 host).
    @Test func cgroup2DeviceFilter() throws {
        guard let mount = MountInfo.parse(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8))
            .first(where: { $0.fsType == "cgroup2" })?.mountPoint else { return }
        let f = try ContainerFixture()
        let dir = "\(mount)/berth-devtest-\(f.project)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
        f.defer_ { rmdir(dir) }
        try Cgroup.attachDeviceFilter(directory: dir)
        let nodes = f.base + "/nodes"
        try FileManager.default.createDirectory(atPath: nodes, withIntermediateDirectories: true)
        let script = """
            echo $$ > \(dir)/cgroup.procs
            mknod \(nodes)/null c 1 3 && head -c 1 \(nodes)/null >/dev/null && echo null-ok
            mknod \(nodes)/mem c 1 1 && (head -c 1 \(nodes)/mem >/dev/null 2>&1 && echo mem-open || echo mem-denied)
            mknod \(nodes)/blk b 7 0 && (head -c 1 \(nodes)/blk >/dev/null 2>&1 && echo blk-open || echo blk-denied)
            """
        let out = try ContainerFixture.spawn(["/bin/busybox", "sh", "-c", script])
        #expect(out.stdout == "null-ok\nmem-denied\nblk-denied\n", "\(out.stderr)")
    }

    /// The cgroup v2 start path (clone3 + CLONE_INTO_CGROUP, eBPF device filter, cgroup2 at
    /// /sys/fs/cgroup inside), driven on the unified hierarchy of a hybrid host.
    @Test func cgroupV2StartPath() throws {
        guard let mount = MountInfo.parse(try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8))
            .first(where: { $0.fsType == "cgroup2" })?.mountPoint else { return }
        let f = try ContainerFixture()
        let project = f.project  // not `f`: a closure holding the fixture keeps it alive
        f.defer_ { Cgroup.removeParents(layout: .v2(mountPoint: mount), project: project) }
        let env = ["BERTH_CGROUP2_ROOT": mount]
        let out = try f.run(["--name", "v2"], ["sh", "-c", "cat /proc/self/cgroup; grep -c cgroup2 /proc/mounts; mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem"], environment: env)
        #expect(out.code != 0, "reading /dev/mem must be denied")
        #expect(out.stdout.hasSuffix("0::/\n1\n"), "\(out.stdout)")
        #expect(out.stderr.contains("Operation not permitted"), "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(mount)/berth/\(f.project)/v2"))
    }

    /// SIGKILL of the runtime: the container dies with it (PDEATHSIG), and the next run in
    /// the project removes the state dir and cgroup it could not clean up.
    @Test func leftoversOfAKilledRuntimeAreSwept() throws {
        let f = try ContainerFixture()
        let monitor = try f.start(["--name", "victim"], "exec sleep 1000")
        let stateDir = f.runRoot + "/runtime/\(f.project)/victim"
        let state = try String(contentsOfFile: stateDir + "/state.json", encoding: .utf8)
        let pid = Int32(state.split(separator: ",").first { $0.hasPrefix("\"Pid\":") }.map { $0.dropFirst(6) } ?? "") ?? 0
        let pidfd = berth_pidfd_open(pid)
        #expect(pidfd >= 0)
        kill(monitor.processIdentifier, SIGKILL)
        monitor.waitUntilExit()
        // The container's exit (not its reaping: this host's PID 1 reaps lazily).
        var entry = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
        _ = poll(&entry, 1, -1)
        close(pidfd)
        #expect(FileManager.default.fileExists(atPath: stateDir), "a SIGKILLed runtime cannot clean up")
        let next = try f.run(["--name", "next"], ["true"])
        #expect(next.code == 0, "\(next.stderr)")
        #expect(!FileManager.default.fileExists(atPath: stateDir))
        #expect(leftovers(fixture: f) == [])
    }

    /// exec: the same single-threaded path joins a running container's namespaces, cgroup,
    /// user, capabilities and seccomp filter.
    @Test func execIntoARunningContainer() throws {
        let f = try ContainerFixture()
        let container = try f.start(["--name", "svc", "--user", "alice", "-e", "FOO=bar", "-w", "/tmp", "--cap-drop", "NET_RAW", "--hostname", "svc-host", "--stop-timeout", "0"], "exec sleep 1000")
        let out = try f.exec([], "svc", ["sh", "-c", "id -u; pwd; echo $FOO; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; grep -E '^(CapBnd|Seccomp):' /proc/self/status; ls /proc | grep -c '^[0-9]'"])
        #expect(out.code == 0, "\(out.stderr)")
        let lines = out.stdout.split(separator: "\n").map(String.init)
        #expect(Array(lines.prefix(5)) == ["1000", "/tmp", "bar", "svc-host", "sleep 1000 "], "\(out.stdout)")
        #expect(lines.contains("CapBnd:\t00000000a80405fb"))
        #expect(lines.contains("Seccomp:\t2"))
        let asRoot = try f.exec(["-u", "0", "-e", "FOO=override"], "svc", ["sh", "-c", "id -u; echo $FOO"])
        #expect(asRoot.stdout == "0\noverride\n", "\(asRoot.stderr)")
        #expect(try f.exec([], "svc", ["sh", "-c", "exit 5"]).code == 5)
        #expect(try f.exec([], "svc", ["no-such-command"]).code == 127)
        let missing = try f.exec([], "nope", ["true"])
        #expect(missing.code == 125)
        #expect(missing.stderr.contains("no running container \"nope\""))
        kill(container.processIdentifier, SIGTERM)
        container.waitUntilExit()
        #expect(container.terminationStatus == 137)
    }

    /// The supervisor's way in: the whole spec as a file for a re-executed runtime.
    @Test func runFromASpecFile() throws {
        let f = try ContainerFixture()
        var spec = ContainerSpec(name: "from-spec", project: f.project, root: .directory(f.rootfs, readOnly: true),
                                 process: .init(args: ["sh", "-c", "hostname; id -u; echo $X; cat /etc/hosts"], env: ["PATH=/bin", "X=y"], user: "alice"))
        spec.hostname = "spec-host"
        spec.etcHosts = "127.0.0.1\tlocalhost\n10.1.2.3\tdb\n"
        let file = f.base + "/spec"
        try spec.encoded.write(toFile: file, atomically: true, encoding: .utf8)
        let out = try ContainerFixture.spawn([berthBinary, "runtime", "run", "--run-root", f.runRoot, "--spec", file])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == "spec-host\n1000\ny\n127.0.0.1\tlocalhost\n10.1.2.3\tdb\n")
        let mixed = try ContainerFixture.spawn([berthBinary, "runtime", "run", "--spec", file, "--memory", "1g"])
        #expect(mixed.code == 64)
    }

    /// Pod-style sharing: a second container joins the first one's network, IPC and pid
    /// namespaces by name.
    @Test func joinAnotherContainersNamespaces() throws {
        let f = try ContainerFixture()
        let first = try f.start(["--name", "infra", "--stop-timeout", "0"], "exec sleep 1000")
        let script = """
            cat /proc/1/cmdline | tr '\\0' ' '; echo
            for ns in net ipc uts; do
              [ "$(readlink /proc/1/ns/$ns)" = "$(readlink /proc/self/ns/$ns)" ] && echo "same $ns" || echo "own $ns"
            done
            """
        let out = try f.sh(script, ["--name", "sidecar", "--network", "container:infra", "--pid", "container:infra", "--ipc", "container:infra"])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == "sleep 1000 \nsame net\nsame ipc\nown uts\n", "\(out.stdout)")
        let missing = try f.run(["--network", "container:nope"], ["true"])
        #expect(missing.code == 125)
        #expect(missing.stderr.contains("container \"nope\" is not running"))
        kill(first.processIdentifier, SIGTERM)
        first.waitUntilExit()
    }

    /// A pod's infra (`infra` in the spec): a process that only holds its namespaces — an
    /// empty root, no capabilities, no descriptors but stdio and its signalfd — which members
    /// join, and which SIGTERM ends with 0.
    @Test func infraHoldsNamespacesForMembers() throws {
        let f = try ContainerFixture()
        var spec = ContainerSpec(name: "infra", project: f.project, root: .directory("/nonexistent", readOnly: true), process: .init(args: ["pause"]))
        spec.infra = true
        spec.hostname = "podhost"
        let file = f.base + "/infra.spec"
        try spec.encoded.write(toFile: file, atomically: true, encoding: .utf8)
        let monitor = Process()
        monitor.executableURL = URL(fileURLWithPath: "/bin/sh")
        monitor.arguments = ["-c", "exec 3>&1 1>/dev/null; exec \"$@\"", "sh", runtimeBinary, "run", "--run-root", f.runRoot, "--spec", file, "--ready-fd", "3"]
        let ready = Foundation.Pipe()
        monitor.standardOutput = ready
        try monitor.run()
        f.defer_ { if monitor.isRunning { kill(monitor.processIdentifier, SIGKILL); monitor.waitUntilExit() } }
        let line = String(decoding: ready.fileHandleForReading.availableData, as: UTF8.self)
        let pid = try #require(line.split(separator: ",").first.flatMap { Int32($0.dropFirst("{\"Pid\":".count)) }, "\(line)")

        #expect(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/root") == [])
        #expect(try String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) == "pause\0")
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("CapEff:\t0000000000000000\n") && status.contains("CapPrm:\t0000000000000000\n"), "\(status)")
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap(Int32.init).filter { $0 > 2 }
        #expect(try fds.map { try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") } == ["anon_inode:[signalfd]"])

        let member = try f.sh("hostname; for ns in net ipc uts; do readlink /proc/self/ns/$ns; done",
                              ["--name", "member", "--network", "container:infra", "--ipc", "container:infra", "--uts", "container:infra"])
        #expect(member.code == 0, "\(member.stderr)")
        let held = try ["net", "ipc", "uts"].map { try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/\($0)") }
        #expect(member.stdout == (["podhost"] + held).joined(separator: "\n") + "\n")

        kill(pid, SIGTERM)
        monitor.waitUntilExit()
        #expect(monitor.terminationStatus == 0)
        #expect(leftovers(fixture: f) == [])
    }

    /// State dirs live on tmpfs (mounted by berth when the run root is on disk, as here in
    /// /tmp), and the last container out unmounts it.
    @Test func stateDirsLiveOnATmpfsThatGoesWithTheLastContainer() throws {
        let f = try ContainerFixture()
        let monitor = try f.start(["--name", "svc"], "exec sleep 1000")
        let stateDir = f.runRoot + "/runtime/\(f.project)/svc"
        #expect(berth_statfs_type(stateDir) == 0x0102_1994, "TMPFS_MAGIC")
        let state = try String(contentsOfFile: stateDir + "/state.json", encoding: .utf8)
        let pid = Int32(state.split(separator: ",").first { $0.hasPrefix("\"Pid\":") }.map { $0.dropFirst(6) } ?? "") ?? 0
        #expect(pid > 0)
        kill(pid, SIGKILL)
        monitor.waitUntilExit()
        #expect(monitor.terminationStatus == 137)
        let mounted = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
            .split(separator: "\n").filter { $0.contains(f.runRoot) }
        #expect(mounted == [])
        #expect(leftovers(fixture: f) == [])
    }

    /// --ready-fd: how a supervisor learns that the container runs, or why it could not start.
    @Test func readyFDReportsTheStartOrTheError() throws {
        let f = try ContainerFixture()
        let report = f.base + "/ready"
        let started = try ContainerFixture.spawn(["/bin/sh", "-c", "exec 3>\(report); exec \"$@\"", "sh"] + f.runArguments(["--ready-fd", "3"], ["sh", "-c", "echo $$"]))
        #expect(started.code == 0 && started.stdout == "1\n", "\(started.stderr)")
        let line = try String(contentsOfFile: report, encoding: .utf8)
        #expect(line.hasPrefix("{\"Pid\":") && line.contains(",\"StartedAt\":\"") && line.hasSuffix("\"}\n"), "\(line)")

        let failed = try ContainerFixture.spawn(["/bin/sh", "-c", "exec 3>\(report); exec \"$@\"", "sh"] + f.runArguments(["--ready-fd", "3"], ["/no/such/command"]))
        #expect(failed.code == 127)
        let error = try String(contentsOfFile: report, encoding: .utf8)
        #expect(error.hasPrefix("{\"Error\":\"") && error.contains("/no/such/command") && error.hasSuffix(",\"ExitCode\":127}\n"), "\(error)")

        let bad = try ContainerFixture.spawn(f.runArguments(["--ready-fd", "1"], ["true"]))
        #expect(bad.code == 64 && bad.stderr.contains("invalid --ready-fd 1: give an open file descriptor of 3 or more"))
        #expect(leftovers(fixture: f) == [])
    }

    @Test func finishedContainerFreesItsName() throws {
        let f = try ContainerFixture()
        let first = try f.run(["--name", "same"], ["true"])
        let second = try f.run(["--name", "same"], ["true"])
        #expect(first.code == 0 && second.code == 0, "a finished container frees its name")
    }

    @Test func parallelRunsInOneProject() throws {
        let f = try ContainerFixture()
        var processes: [Process] = []
        for i in 0..<12 {
            let process = Process()
            let argv = f.runArguments(["--name", "par\(i)", "--memory", "64m"], ["sh", "-c", "exit \(i)"])
            process.executableURL = URL(fileURLWithPath: argv[0])
            process.arguments = Array(argv.dropFirst())
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        for (i, process) in processes.enumerated() {
            process.waitUntilExit()
            #expect(process.terminationStatus == Int32(i))
        }
        #expect(leftovers(fixture: f) == [])
    }

    /// Long-lived containers started at once on a run root that is not tmpfs all come up:
    /// the one that mounts the state tmpfs never waits on the shares the others hold for
    /// their whole life (it did, forever, when it needed an exclusive lock on the same file).
    @Test func longLivedContainersStartTogether() throws {
        let f = try ContainerFixture()
        defer { f.cleanup() }
        // Each waits for a line on a FIFO (a barrier) before starting, so that all start at once.
        let barrier = f.base + "/barrier"
        guard mkfifo(barrier, 0o600) == 0 else { throw FixtureError("mkfifo \(barrier) failed") }
        let gate = open(barrier, O_RDWR | O_CLOEXEC)  // read-write: opens without a peer
        guard gate >= 0 else { throw FixtureError("open \(barrier) failed") }
        defer { close(gate) }
        var processes: [(process: Process, output: FileHandle)] = []
        for i in 0..<8 {
            let process = Process()
            let argv = f.runArguments(["--name", "long\(i)"], ["sh", "-c", "trap 'exit 0' TERM; echo ready; sleep 1000 & wait"])
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "read line < \"$0\"; exec \"$@\"", barrier] + argv
            process.standardInput = FileHandle.nullDevice
            let pipe = Foundation.Pipe()
            process.standardOutput = pipe
            try process.run()
            f.defer_ { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
            processes.append((process, pipe.fileHandleForReading))
        }
        // One line each, in one write: the readers waiting on the FIFO go at the same moment.
        let lines = Array(String(repeating: "go\n", count: processes.count).utf8)
        guard write(gate, lines, lines.count) == lines.count else { throw FixtureError("write \(barrier) failed") }
        let deadline = Clock.monotonicNanoseconds() + 60_000_000_000
        for (i, entry) in processes.enumerated() {
            var seen = ""
            while !seen.contains("ready") {
                let left = Int32(max(0, (deadline - Clock.monotonicNanoseconds()) / 1_000_000))
                var fd = pollfd(fd: entry.output.fileDescriptor, events: Int16(POLLIN), revents: 0)
                guard poll(&fd, 1, left) == 1 else { throw FixtureError("container long\(i) did not start within 60 s") }
                let chunk = entry.output.availableData
                if chunk.isEmpty { throw FixtureError("container long\(i) ended before it was ready") }
                seen += String(decoding: chunk, as: UTF8.self)
            }
        }
        for entry in processes { kill(entry.process.processIdentifier, SIGTERM) }
        for entry in processes {
            entry.process.waitUntilExit()
            #expect(entry.process.terminationStatus == 0)
        }
        #expect(leftovers(fixture: f) == [])
    }

    @Test func leakCheckAfter200Runs() throws {
        let f = try ContainerFixture()
        var failures = 0
        for i in 0..<200 {
            let opts = i % 4 == 0 ? ["--init"] : (i % 4 == 1 ? ["--overlay", "--read-only"] : (i % 4 == 2 ? ["--memory", "32m", "--pids-limit", "50"] : []))
            let out = try f.run(opts + ["--name", "leak\(i)"], ["sh", "-c", "sleep 1000 & echo $i"])
            if out.code != 0 { failures += 1 }
        }
        #expect(failures == 0)
        #expect(leftovers(fixture: f) == [])
    }
}
