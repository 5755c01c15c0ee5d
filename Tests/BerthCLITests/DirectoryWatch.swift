import BerthSystem
import BerthTestSupport
import Foundation

/// Files renamed or written into a directory, as inotify reports them: tests wait on these
/// events (with a deadline) instead of sleeping.
final class DirectoryWatch {
    let directory: String
    private let fd: Int32

    init(_ directory: String) throws {
        self.directory = directory
        fd = inotify_init1(Int32(IN_CLOEXEC))
        guard fd >= 0 else { throw TestSupportError("inotify_init1: errno \(errno)") }
        guard inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO | IN_CLOSE_WRITE)) >= 0 else {
            close(fd)
            throw TestSupportError("inotify_add_watch \(directory): errno \(errno)")
        }
    }

    deinit { close(fd) }

    /// Blocks until `name` has been renamed into or written in the directory `count`
    /// times, counting from now; throws after `seconds`.
    func waitFor(_ name: String, count: Int = 1, seconds: Int = 60) throws {
        var seen = 0
        let deadline = Date().addingTimeInterval(TimeInterval(seconds))
        var buffer = [UInt8](repeating: 0, count: 65536)
        while seen < count {
            let left = Int32(max(0, deadline.timeIntervalSinceNow * 1000))
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, left) == 1 else { throw TestSupportError("\(directory)/\(name) did not change \(count) times within \(seconds) s (\(seen) seen)") }
            let n = Glibc.read(fd, &buffer, buffer.count)
            guard n > 0 else { continue }
            var offset = 0
            while offset + 16 <= n {
                let length = Int(buffer[offset + 12]) | Int(buffer[offset + 13]) << 8 | Int(buffer[offset + 14]) << 16 | Int(buffer[offset + 15]) << 24
                let nameBytes = buffer[(offset + 16)..<min(n, offset + 16 + length)].prefix { $0 != 0 }
                if String(decoding: nameBytes, as: UTF8.self) == name { seen += 1 }
                offset += 16 + length
            }
        }
    }

    /// The file's content now.
    func read(_ name: String) -> String {
        (try? String(contentsOfFile: directory + "/" + name, encoding: .utf8)) ?? ""
    }
}

extension LiveProcess {
    /// Blocks until the process has a descriptor open whose target (`readlink` of
    /// /proc/PID/fd/N) `matches` — the moment it holds a socket or a log file; throws after
    /// 60 s. There is no event for another process opening a file, so this looks (yielding
    /// between looks) until then.
    func waitUntilHolding(_ what: String, _ matches: (String) -> Bool) throws {
        let deadline = Date().addingTimeInterval(60)
        let fds = "/proc/\(process.processIdentifier)/fd"
        while Date() < deadline {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: fds)) ?? []
            if entries.contains(where: { (try? FileManager.default.destinationOfSymbolicLink(atPath: fds + "/" + $0)).map(matches) == true }) {
                return
            }
            sched_yield()
        }
        throw TestSupportError("\(process.arguments?.joined(separator: " ") ?? "the process") did not open \(what) within 60 s")
    }
}

/// Blocks until a connection to the Unix socket `path` is open (its server side, accepted,
/// shows in /proc/net/unix as CONNECTED with that path) — how a test knows that a client has
/// reached a supervisor; throws after 60 s. Looks, yielding between looks: nothing signals
/// another process's accept.
func waitForConnection(to path: String) throws {
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline {
        let table = (try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8)) ?? ""
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 8, fields[5] == "03", fields[7] == path { return }
        }
        sched_yield()
    }
    throw TestSupportError("nothing connected to \(path) within 60 s")
}
