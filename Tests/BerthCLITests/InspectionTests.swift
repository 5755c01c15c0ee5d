import BerthOrchestrator
import BerthRuntime
import BerthSystem
import BerthTestSupport
import Foundation
import Testing

/// End-to-end: `top`, `stats`, `cp` on a running busybox stack (root tier).
@Suite(.serialized, .enabled(if: canRunStacks, "needs root and /bin/busybox (busybox-static)"))
struct InspectionTests {
    static let mebibytes = 48

    static func stack() throws -> (StackFixture, DirectoryWatch) {
        let stack = try StackFixture("services:\n")
        let shared = stack.base + "/shared"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        try stack.write("""
            services:
              mem:
                image: busybox
                command: [sleep, "100000"]
                tmpfs: ["/scratch:size=100m"]
                volumes: ["\(shared):/shared"]
              busy:
                image: busybox
                command: [sh, -c, "while [ ! -e /shared/spin ]; do usleep 20000; done; while :; do :; done"]
                volumes: ["\(shared):/shared"]

            """)
        return (stack, try DirectoryWatch(shared))
    }

    /// Fills mem's tmpfs (charged to its cgroup) with an exec that has ended when this
    /// returns: its PID 1 is `sleep` from the start, so nothing but it runs afterwards (a
    /// marker written before an `exec sleep` raced with that exec).
    static func fill(_ stack: StackFixture) throws {
        let fill = try stack.run(["exec", "-T", "mem", "dd", "if=/dev/zero", "of=/scratch/fill", "bs=1M", "count=\(mebibytes)"])
        #expect(fill.code == 0, "\(fill.stderr)")
    }

    /// `top` shows the container's processes with host PIDs; `stats` shows the memory the
    /// container filled (±10%) and about one CPU for a busy loop.
    @Test func topAndStats() throws {
        let (stack, watch) = try Self.stack()
        let p = stack.project
        #expect(try stack.run(["up", "-d"]).code == 0)
        try Self.fill(stack)
        let mem = try stack.container("mem").state
        let pid = try #require(mem.pid)

        let top = try stack.run(["top", "mem"])
        #expect(top.code == 0, "\(top.stderr)")
        let lines = top.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "\(p)-mem-1")
        #expect(lines.dropFirst().first?.split(separator: " ") == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"])
        let rows = lines.dropFirst(2).map { $0.split(separator: " ", maxSplits: 7, omittingEmptySubsequences: true).map(String.init) }
        // PID 1 of the container is `sleep` (its host PID, its monitor as parent).
        #expect(rows.count == 1, "\(top.stdout)")
        let row = try #require(rows.first)
        #expect(row.count == 8 && row[0] == "root" && row[1] == String(pid) && row[2] == String(mem.monitorPid ?? -1) && row[5] == "?", "\(row)")
        #expect(row.last?.trimmingCharacters(in: .whitespaces) == "sleep 100000")
        #expect(Glibc.kill(pid, 0) == 0)

        // What the busy loop really got around the command (its cgroup's CPU time over the
        // wall time): on a quiet machine one CPU, on a busy one its share; `stats` must agree.
        // The busy loop spins only for the measurement (the suite's other tests share the CPUs).
        try "".write(toFile: watch.directory + "/spin", atomically: false, encoding: .utf8)
        let busy = try stack.container("busy").record
        let cgroup = Cgroup(layout: try CgroupLayout.detect(), project: p, name: busy.name)
        let cpuBefore = cgroup.usage().cpuNanoseconds, wallBefore = Clock.monotonicNanoseconds()
        let stats = try stack.run(["stats", "--no-stream", "--format", "json"])
        let share = Double(cgroup.usage().cpuNanoseconds - cpuBefore) / Double(Clock.monotonicNanoseconds() - wallBefore) * 100
        #expect(try stack.run(["kill", "busy"]).code == 0)
        #expect(stats.code == 0, "\(stats.stderr)")
        let entries = try stats.stdout.split(separator: "\n").map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        }
        #expect(entries.map { $0["Name"] } == ["\(p)-busy-1", "\(p)-mem-1"])
        #expect(entries.allSatisfy { $0.keys.sorted() == ["BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"] })
        let memory = try #require(entries.last?["MemUsage"]?.components(separatedBy: " / ").first.flatMap(Self.bytes))
        let filled = Double(Self.mebibytes << 20)
        #expect(memory >= filled * 0.9 && memory <= filled * 1.1, "memory \(memory) for \(filled) filled")
        let cpu = try #require(entries.first?["CPUPerc"].flatMap { Double($0.dropLast()) })
        #expect(cpu <= 105 && abs(cpu - share) <= 15 + share / 4, "busy loop at \(cpu)%, it had \(share)% of a CPU (load \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""))")
        #expect(share < 80 || cpu >= 80, "a busy loop that had most of a CPU shows near 100%: \(cpu)%")
        #expect(entries.allSatisfy { $0["PIDs"] == "1" })

        let table = try stack.run(["stats", "--no-stream", "--format", "table {{.Name}}\t{{.PIDs}}", "mem"])
        let width = max(10, "\(p)-mem-1".count + 3)
        #expect(table.stdout == "NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "PIDS\n" + "\(p)-mem-1".padding(toLength: width, withPad: " ", startingAt: 0) + "1\n")

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    /// A tree with modes, a symlink and a setuid file goes into the container and back
    /// unchanged (owners: root without -a, the source's with -a); symlinks inside the
    /// container that point at host paths lead nowhere outside it.
    @Test func copyRoundTripAndSymlinkEscape() throws {
        let (stack, _) = try Self.stack()
        let p = stack.project
        #expect(try stack.run(["up", "-d", "mem"]).code == 0)
        try Self.fill(stack)
        let pid = try #require(try stack.container("mem").state.pid)
        let tree = stack.base + "/tree"
        let fm = FileManager.default
        try fm.createDirectory(atPath: tree + "/sub/deeper", withIntermediateDirectories: true)
        try "alpha\n".write(toFile: tree + "/a", atomically: false, encoding: .utf8)
        try "run me\n".write(toFile: tree + "/sub/deeper/tool", atomically: false, encoding: .utf8)
        try fm.createSymbolicLink(atPath: tree + "/sub/link", withDestinationPath: "../a")
        #expect(chmod(tree + "/a", 0o640) == 0 && chmod(tree + "/sub/deeper/tool", 0o4755) == 0 && chmod(tree + "/sub", 0o700) == 0)
        #expect(chown(tree + "/a", 1234, 55) == 0)

        let into = try stack.run(["cp", tree, "mem:/tmp/"])
        #expect(into.code == 0, "\(into.stderr)")
        #expect(into.stderr == " Container \(p)-mem-1  Copying\n Container \(p)-mem-1  Copied\n")
        let back = stack.base + "/back"
        let out = try stack.run(["cp", "mem:/tmp/tree", back])
        #expect(out.code == 0, "\(out.stderr)")
        let inside = "/proc/\(pid)/root/tmp/tree"
        for path in ["", "/a", "/sub", "/sub/deeper", "/sub/deeper/tool", "/sub/link"] {
            let original = try Self.lstat(tree + path), copied = try Self.lstat(back + path), container = try Self.lstat(inside + path)
            #expect(copied.st_mode == original.st_mode && container.st_mode == original.st_mode, "mode of \(path)")
            #expect(container.st_uid == 0 && container.st_gid == 0 && copied.st_uid == 0, "owner of \(path)")
            #expect(copied.st_mtim.tv_sec == original.st_mtim.tv_sec, "mtime of \(path)")
        }
        #expect(try String(contentsOfFile: back + "/sub/deeper/tool", encoding: .utf8) == "run me\n")
        #expect(try fm.destinationOfSymbolicLink(atPath: back + "/sub/link") == "../a")

        #expect(try stack.run(["cp", "-a", tree + "/a", "mem:/tmp/owned"]).code == 0)
        let owned = try Self.lstat("/proc/\(pid)/root/tmp/owned")
        #expect(owned.st_uid == 1234 && owned.st_gid == 55 && owned.st_mode & 0o7777 == 0o640)
        let contents = try stack.run(["cp", tree + "/sub/.", "mem:/tmp/owned-dir/"])
        #expect(contents.code == 1 && contents.stderr.hasSuffix("Error: destination directory \(p)-mem-1:/tmp/owned-dir/ must exist\n"), "\(contents.stderr)")

        // Symlinks in the container to a host directory, absolute and climbing.
        let secrets = stack.base + "/host-secrets"
        try fm.createDirectory(atPath: secrets, withIntermediateDirectories: true)
        try "host only\n".write(toFile: secrets + "/secret", atomically: false, encoding: .utf8)
        let links = try stack.run(["exec", "-T", "mem", "sh", "-c", "ln -s \(secrets) /tmp/esc && ln -s ../../../../../../../../..\(secrets) /tmp/climb"])
        #expect(links.code == 0, "\(links.stderr)")
        for source in ["mem:/tmp/esc/secret", "mem:/tmp/climb/secret"] {
            let read = try stack.run(["cp", source, stack.base + "/stolen"])
            #expect(read.code == 1 && read.stderr.hasSuffix("Error: Could not find the file \(source.dropFirst(4)) in container \(p)-mem-1\n"), "\(read.stderr)")
        }
        let followed = try stack.run(["cp", "-L", "mem:/tmp/esc", stack.base + "/stolen"])
        #expect(followed.code == 1, "\(followed.stderr)")
        #expect(!fm.fileExists(atPath: stack.base + "/stolen"))
        for destination in ["mem:/tmp/esc/planted", "mem:/tmp/climb/planted", "mem:/tmp/esc/"] {
            let write = try stack.run(["cp", tree + "/a", destination])
            #expect(write.code == 1, "\(destination): \(write.stderr)")
        }
        #expect(try fm.contentsOfDirectory(atPath: secrets) == ["secret"])
        // Copied as a symlink (not followed), it points where it pointed: nothing is read.
        #expect(try stack.run(["cp", "mem:/tmp/esc", stack.base + "/link-copy"]).code == 0)
        #expect(try fm.destinationOfSymbolicLink(atPath: stack.base + "/link-copy") == secrets)

        let (down, left) = try stack.close()
        #expect(down.code == 0, "\(down.stderr)")
        #expect(left == [])
    }

    static func lstat(_ path: String) throws -> stat {
        var st = stat()
        guard Glibc.lstat(path, &st) == 0 else { throw TestSupportError("lstat \(path): errno \(errno)") }
        return st
    }

    /// `48.27MiB` → bytes (go-units binary sizes).
    static func bytes(_ text: String) -> Double? {
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("B", 1)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            return Double(text.dropLast(suffix.count)).map { $0 * factor }
        }
        return nil
    }
}
