#if canImport(Glibc)
import Glibc
#endif

/// One process as /proc shows it from the host: what `ps -ef` prints (`top`).
public struct ProcessSnapshot: Sendable, Equatable {
    public var pid: Int32
    public var ppid: Int32
    public var effectiveUID: UInt32
    /// `tty_nr` (field 7 of stat): 0 for none.
    public var terminal: UInt32
    /// User plus system CPU time, in clock ticks.
    public var cpuTicks: UInt64
    /// Start, in clock ticks after boot.
    public var startTicks: UInt64
    /// The command line; empty for kernel threads and zombies.
    public var arguments: [String]
    /// `comm`, the name in parentheses of stat.
    public var name: String

    public init(pid: Int32, ppid: Int32, effectiveUID: UInt32, terminal: UInt32, cpuTicks: UInt64, startTicks: UInt64, arguments: [String], name: String) {
        self.pid = pid
        self.ppid = ppid
        self.effectiveUID = effectiveUID
        self.terminal = terminal
        self.cpuTicks = cpuTicks
        self.startTicks = startTicks
        self.arguments = arguments
        self.name = name
    }

    /// The process now, or nil if it is gone.
    public static func of(_ pid: Int32, procRoot: String = "/proc") -> ProcessSnapshot? {
        guard let stat = try? FS.readString("\(procRoot)/\(pid)/stat", limit: 4096),
              let status = try? FS.readString("\(procRoot)/\(pid)/status", limit: 65536) else { return nil }
        var snapshot = parse(stat: stat, status: status)
        let cmdline = (try? FS.read("\(procRoot)/\(pid)/cmdline", limit: 1 << 20)) ?? []
        snapshot?.arguments = cmdline.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
        if snapshot?.arguments.last == "" { snapshot?.arguments.removeLast() }
        return snapshot
    }

    /// From the text of /proc/PID/stat and /proc/PID/status (arguments left empty).
    public static func parse(stat: String, status: String) -> ProcessSnapshot? {
        guard let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")"),
              let pid = Int32(stat[..<open].trimming(" ")) else { return nil }
        let name = String(stat[stat.index(after: open)..<close])
        // Fields after the name, counted from 3 (state).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> UInt64? { fields.count > number - 3 ? UInt64(fields[number - 3]) : nil }
        guard let ppid = field(4), let tty = field(7), let utime = field(14), let stime = field(15), let start = field(22) else { return nil }
        var uid: UInt32 = 0
        for line in status.split(separator: "\n") where line.hasPrefix("Uid:") {
            let values = line.dropFirst(4).split(whereSeparator: { $0 == "\t" || $0 == " " })
            if values.count > 1, let effective = UInt32(values[1]) { uid = effective }
        }
        return ProcessSnapshot(
            pid: pid, ppid: Int32(truncatingIfNeeded: ppid), effectiveUID: uid, terminal: UInt32(truncatingIfNeeded: tty),
            cpuTicks: utime + stime, startTicks: start, arguments: [], name: name)
    }

    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
    public static var ticksPerSecond: UInt64 { UInt64(max(1, sysconf(Int32(_SC_CLK_TCK)))) }

    /// Seconds since boot (/proc/uptime).
    public static func uptime(procRoot: String = "/proc") -> Double {
        Double(((try? FS.readString(procRoot + "/uptime")) ?? "").split(separator: " ").first ?? "") ?? 0
    }

    /// Boot time, seconds since the epoch (`btime` of /proc/stat).
    public static func bootTime(procRoot: String = "/proc") -> Int64 {
        let text = (try? FS.readString(procRoot + "/stat", limit: 1 << 20)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Int64(line.dropFirst(6)) ?? 0
        }
        return 0
    }
}

extension StringProtocol {
    fileprivate func trimming(_ set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
