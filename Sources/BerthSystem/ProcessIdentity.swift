#if canImport(Glibc)
import Glibc
#endif
import CBerthSys

/// A process known by pid *and* start time, so that a recycled pid is never mistaken for it.
public struct ProcessIdentity: Sendable, Equatable, Codable {
    public var pid: Int32
    public var startTime: UInt64

    public init(pid: Int32, startTime: UInt64) {
        self.pid = pid
        self.startTime = startTime
    }

    /// The identity of an existing process, or nil when there is none.
    public static func of(_ pid: Int32) -> ProcessIdentity? {
        stat(pid).map { ProcessIdentity(pid: pid, startTime: $0.startTime) }
    }

    /// Still the same process, and running: not exited (a zombie not yet reaped counts as
    /// exited) and not a recycled pid.
    public var isAlive: Bool {
        guard let now = Self.stat(pid) else { return false }
        return now.state != "Z" && now.state != "X" && now.startTime == startTime
    }

    /// A pidfd for it (poll readable = exited), or nil if it is gone.
    public func openPidfd() -> Int32? {
        let fd = berth_pidfd_open(pid)
        if fd < 0 { return nil }
        // The pid may have been recycled between a check and the open: check again now
        // that the pidfd pins it.
        guard Self.stat(pid)?.startTime == startTime else { close(fd); return nil }
        return fd
    }

    /// State (field 3) and start time (field 22, clock ticks after boot) from /proc/PID/stat.
    /// The command name before them may hold spaces and parentheses, so fields are counted
    /// after its last ')'.
    static func stat(_ pid: Int32) -> (state: Substring, startTime: UInt64)? {
        guard let text = try? FS.readString("/proc/\(pid)/stat", limit: 4096),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let start = UInt64(fields[19]) else { return nil }
        return (fields[0], start)
    }
}
