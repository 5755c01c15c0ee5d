import BerthSystem
import Foundation

/// `ps -ef`'s columns, as Docker's `top` runs it on the host: UID (the effective user's
/// name from the host's /etc/passwd, its number when unknown or longer than 8), PID, PPID, C
/// (CPU use over the process's life, %, at most 99), STIME (HH:MM today, MonDD this year,
/// else the year), TTY (`?`, `pts/N`, `ttyN`), TIME (CPU time, [DD-]HH:MM:SS) and CMD (the
/// command line, `[name]` without one) — procps' `pr_c`, `pr_stime`, `pr_time`.
struct ProcessTable {
    static let titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]

    /// User names by uid (the host's /etc/passwd).
    var users: [UInt32: String]
    /// Seconds since boot now, and the boot time (epoch seconds).
    var uptime: Double
    var bootTime: Int64
    var ticksPerSecond: UInt64
    var now: Int64
    var timeZone: TimeZone

    init(passwd: String, uptime: Double, bootTime: Int64, ticksPerSecond: UInt64, now: Int64, timeZone: TimeZone = .current) {
        var users: [UInt32: String] = [:]
        for line in passwd.split(separator: "\n") {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            if fields.count > 2, let uid = UInt32(fields[2]), users[uid] == nil { users[uid] = String(fields[0]) }
        }
        self.users = users
        self.uptime = uptime
        self.bootTime = bootTime
        self.ticksPerSecond = ticksPerSecond
        self.now = now
        self.timeZone = timeZone
    }

    /// This machine now.
    static func host() -> ProcessTable {
        ProcessTable(
            passwd: (try? FS.readString("/etc/passwd")) ?? "", uptime: ProcessSnapshot.uptime(), bootTime: ProcessSnapshot.bootTime(),
            ticksPerSecond: ProcessSnapshot.ticksPerSecond, now: Int64(Date().timeIntervalSince1970))
    }

    func row(_ process: ProcessSnapshot) -> [String] {
        [user(process.effectiveUID), String(process.pid), String(process.ppid), cpu(process), startTime(process),
         terminal(process.terminal), cpuTime(process), command(process)]
    }

    func user(_ uid: UInt32) -> String {
        if let name = users[uid], name.count <= 8 { return name }
        return String(uid)
    }

    func cpu(_ process: ProcessSnapshot) -> String {
        let booted = UInt64(max(0, uptime))
        let started = process.startTicks / ticksPerSecond
        let elapsed = booted >= started ? booted - started : 0
        guard elapsed > 0 else { return "0" }
        return String(min(process.cpuTicks * 100 / ticksPerSecond / elapsed, 99))
    }

    func startTime(_ process: ProcessSnapshot) -> String {
        let started = Date(timeIntervalSince1970: TimeInterval(bootTime) + Double(process.startTicks / ticksPerSecond))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let current = Date(timeIntervalSince1970: TimeInterval(now))
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        if calendar.component(.year, from: current) != calendar.component(.year, from: started) {
            formatter.dateFormat = "yyyy"
        } else if calendar.ordinality(of: .day, in: .year, for: current) != calendar.ordinality(of: .day, in: .year, for: started) {
            formatter.dateFormat = "MMMdd"
        } else {
            formatter.dateFormat = "HH:mm"
        }
        return formatter.string(from: started)
    }

    func terminal(_ device: UInt32) -> String {
        if device == 0 { return "?" }
        let major = (device >> 8) & 0xfff
        let minor = (device & 0xff) | ((device >> 12) & 0xfff00)
        switch major {
        case 136...143: return "pts/\((major - 136) * 256 + minor)"
        case 4: return minor < 64 ? "tty\(minor)" : "ttyS\(minor - 64)"
        default: return "?"
        }
    }

    func cpuTime(_ process: ProcessSnapshot) -> String {
        var seconds = process.cpuTicks / ticksPerSecond
        let s = seconds % 60
        seconds /= 60
        let m = seconds % 60
        seconds /= 60
        let h = seconds % 24
        let d = seconds / 24
        let clock = String(format: "%02llu:%02llu:%02llu", h, m, s)
        return d > 0 ? "\(d)-\(clock)" : clock
    }

    func command(_ process: ProcessSnapshot) -> String {
        process.arguments.isEmpty ? "[\(process.name)]" : process.arguments.joined(separator: " ")
    }

    /// Compose's `top` block of one container: its name, then the table (Go's tabwriter,
    /// minimum width 5, padding 3; every process cell, CMD included, ends with a tab).
    func render(container: String, processes: [ProcessSnapshot]) -> String {
        let lines = [Self.titles] + processes.sorted { $0.pid < $1.pid }.map { row($0) + [""] }
        return container + "\n" + TabWriter.render(lines, minWidth: 5)
    }
}
