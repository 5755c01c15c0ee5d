#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// What a container uses, read where Docker's engine reads it: its cgroup (v1 controllers or
/// the v2 directory) for CPU, memory, block I/O and processes; its network namespace for
/// network I/O.
public struct ResourceUsage: Sendable, Equatable {
    /// CPU time of all its processes (v1 `cpuacct.usage`, v2 `cpu.stat` usage_usec).
    public var cpuNanoseconds: UInt64 = 0
    /// Memory in use without the inactive page cache (Docker's
    /// `calculateMemUsageUnixNoCache`: usage − `total_inactive_file` on v1, − `inactive_file`
    /// on v2).
    public var memoryBytes: UInt64 = 0
    /// The limit; nil when unlimited.
    public var memoryLimit: UInt64?
    public var pids: UInt64 = 0
    public var blockRead: UInt64 = 0
    public var blockWritten: UInt64 = 0
    public var networkReceived: UInt64 = 0
    public var networkSent: UInt64 = 0

    public init() {}
}

extension Cgroup {
    /// The cgroup's counters now (network counters stay 0: see `NetworkCounters`).
    public func usage() -> ResourceUsage {
        var usage = ResourceUsage()
        func read(_ controller: String, _ file: String) -> String? {
            guard let dir = directory(for: controller) else { return nil }
            return try? FS.readString(dir + "/" + file, limit: 1 << 20)
        }
        func number(_ text: String?) -> UInt64? { text.flatMap { UInt64($0.trimmingWhitespace()) } }
        switch layout {
        case .v1:
            usage.cpuNanoseconds = number(read("cpuacct", "cpuacct.usage")) ?? 0
            let stat = Self.keyed(read("memory", "memory.stat") ?? "")
            let used = number(read("memory", "memory.usage_in_bytes")) ?? 0
            let inactive = stat["total_inactive_file"] ?? stat["inactive_file"] ?? 0
            usage.memoryBytes = inactive < used ? used - inactive : used
            // v1 reports "no limit" as a huge page-aligned number.
            if let limit = number(read("memory", "memory.limit_in_bytes")), limit < UInt64(Int64.max) / 2 { usage.memoryLimit = limit }
            usage.pids = number(read("pids", "pids.current")) ?? UInt64(processes().count)
            let blkio = read("blkio", "blkio.throttle.io_service_bytes_recursive").flatMap { $0.isEmpty ? nil : $0 }
                ?? read("blkio", "blkio.io_service_bytes_recursive") ?? ""
            for line in blkio.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count == 3, let value = UInt64(fields[2]) else { continue }
                switch fields[1].lowercased() {
                case "read": usage.blockRead += value
                case "write": usage.blockWritten += value
                default: break
                }
            }
        case .v2:
            let cpu = Self.keyed(read("cpu", "cpu.stat") ?? "")
            usage.cpuNanoseconds = (cpu["usage_usec"] ?? 0) * 1000
            let stat = Self.keyed(read("memory", "memory.stat") ?? "")
            let used = number(read("memory", "memory.current")) ?? 0
            let inactive = stat["inactive_file"] ?? 0
            usage.memoryBytes = inactive < used ? used - inactive : used
            usage.memoryLimit = number(read("memory", "memory.max"))  // "max": nil
            usage.pids = number(read("pids", "pids.current")) ?? UInt64(processes().count)
            for line in (read("io", "io.stat") ?? "").split(separator: "\n") {
                for field in line.split(separator: " ").dropFirst() {
                    let pair = field.split(separator: "=")
                    guard pair.count == 2, let value = UInt64(pair[1]) else { continue }
                    if pair[0] == "rbytes" { usage.blockRead += value }
                    if pair[0] == "wbytes" { usage.blockWritten += value }
                }
            }
        }
        return usage
    }

    /// `key value` lines (memory.stat, cpu.stat).
    static func keyed(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = UInt64(parts[1]) { out[String(parts[0])] = value }
        }
        return out
    }
}

/// Bytes received and sent on the interfaces of a process's network namespace, loopback
/// excluded (what Docker sums over a container's endpoints). Zero for a process in the
/// caller's own namespace (`network_mode: host`), as Docker shows a host-network container.
public enum NetworkCounters {
    public static func of(pid: Int32) -> (received: UInt64, sent: UInt64) {
        var own = stat(), theirs = stat()
        if stat("/proc/self/ns/net", &own) == 0, stat("/proc/\(pid)/ns/net", &theirs) == 0, own.st_ino == theirs.st_ino {
            return (0, 0)
        }
        return parse((try? FS.readString("/proc/\(pid)/net/dev", limit: 1 << 20)) ?? "")
    }

    /// /proc/net/dev: `iface: rx_bytes rx_packets … (8 fields) tx_bytes …`.
    public static func parse(_ text: String) -> (received: UInt64, sent: UInt64) {
        var received: UInt64 = 0, sent: UInt64 = 0
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(" ")
            if name == "lo" { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ")
            guard fields.count >= 9, let rx = UInt64(fields[0]), let tx = UInt64(fields[8]) else { continue }
            received += rx
            sent += tx
        }
        return (received, sent)
    }
}

/// The machine's side of Docker's CPU percentage: all CPUs' time (user through softirq of
/// /proc/stat's `cpu` line, as the engine sums it) in nanoseconds, the online CPUs, and the
/// memory a container without a limit is measured against.
public enum HostUsage {
    public static func systemCPUNanoseconds() -> UInt64 {
        let text = (try? FS.readString("/proc/stat", limit: 1 << 20)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else { return 0 }
        let ticks = line.split(separator: " ").dropFirst().prefix(7).compactMap { UInt64($0) }.reduce(0, +)
        let perSecond = UInt64(max(1, sysconf(Int32(_SC_CLK_TCK))))
        return ticks * (1_000_000_000 / perSecond)
    }

    public static var onlineCPUs: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// MemTotal of /proc/meminfo, in bytes.
    public static func memoryBytes() -> UInt64 {
        let text = (try? FS.readString("/proc/meminfo", limit: 1 << 20)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) else { return 0 }
        return kilobytes * 1024
    }
}

extension Substring {
    fileprivate func trimmingCharacters(_ character: Character) -> String {
        var s = self
        while s.first == character { s = s.dropFirst() }
        while s.last == character { s = s.dropLast() }
        return String(s)
    }
}
