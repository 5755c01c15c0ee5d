#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// `pause` and `unpause`: the freezer of the container's cgroup — `freezer.state` on
/// cgroup v1, `cgroup.freeze` on v2 (where `cgroup.events` reports when the whole subtree
/// is frozen). A frozen process does nothing, not even handle a signal, until thawed.
extension Cgroup {
    /// Paused (or on its way there: v1 `FREEZING`).
    public var isFrozen: Bool {
        switch layout {
        case .v1:
            guard let dir = directory(for: "freezer"), let state = try? FS.readString(dir + "/freezer.state") else { return false }
            return state.trimmingWhitespace() != "THAWED"
        case .v2(let mount):
            return ((try? FS.readString(mount + "/" + relativePath + "/cgroup.freeze")) ?? "0").trimmingWhitespace() == "1"
        }
    }

    /// Freezes every process of the cgroup and returns once they all are frozen (or fails
    /// after `timeoutMilliseconds`, thawed again).
    public func freeze(timeoutMilliseconds: Int = 10_000) throws {
        try setFrozen(true, timeoutMilliseconds: timeoutMilliseconds)
    }

    public func thaw(timeoutMilliseconds: Int = 10_000) throws {
        try setFrozen(false, timeoutMilliseconds: timeoutMilliseconds)
    }

    private func setFrozen(_ frozen: Bool, timeoutMilliseconds: Int) throws {
        let deadline = Clock.monotonicNanoseconds() + Int64(timeoutMilliseconds) * 1_000_000
        switch layout {
        case .v1:
            guard let dir = directory(for: "freezer") else {
                throw RuntimeError("no freezer cgroup controller is mounted: pause needs the v1 freezer hierarchy (or cgroup v2)")
            }
            let wanted = frozen ? "FROZEN" : "THAWED"
            // v1 has no notification: each write of FROZEN makes the kernel try to freeze the
            // tasks still running (the state reads FREEZING until all are), so the write is
            // repeated — as runc does — until the state settles or the deadline passes.
            while true {
                try Cgroup.write(dir, "freezer.state", wanted)
                let state = ((try? FS.readString(dir + "/freezer.state")) ?? "").trimmingWhitespace()
                if state == wanted { return }
                if Clock.monotonicNanoseconds() >= deadline {
                    if frozen { try? Cgroup.write(dir, "freezer.state", "THAWED") }
                    throw RuntimeError("cgroup \(dir) did not reach \(wanted) within \(timeoutMilliseconds) ms (state \(state))")
                }
                sched_yield()
            }
        case .v2(let mount):
            let dir = mount + "/" + relativePath
            try Cgroup.write(dir, "cgroup.freeze", frozen ? "1" : "0")
            // cgroup.events changes (a kernfs notification: POLLPRI) when `frozen` flips.
            let events = dir + "/cgroup.events"
            let fd = try Sys.check("open", path: events) { open(events, O_RDONLY | O_CLOEXEC) }
            defer { close(fd) }
            while true {
                var buffer = [UInt8](repeating: 0, count: 512)
                let n = pread(fd, &buffer, buffer.count, 0)
                let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
                if text.split(separator: "\n").contains(where: { $0 == "frozen \(frozen ? 1 : 0)" }) { return }
                let left = (deadline - Clock.monotonicNanoseconds()) / 1_000_000
                if left <= 0 {
                    if frozen { try? Cgroup.write(dir, "cgroup.freeze", "0") }
                    throw RuntimeError("cgroup \(dir) was not \(frozen ? "frozen" : "thawed") within \(timeoutMilliseconds) ms (\(events): \(text.split(separator: "\n").joined(separator: ", ")))")
                }
                var entry = pollfd(fd: fd, events: Int16(POLLPRI), revents: 0)
                _ = poll(&entry, 1, Int32(min(left, 1000)))
            }
        }
    }
}
