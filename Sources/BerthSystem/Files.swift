#if canImport(Glibc)
import Glibc
#endif
import CBerthSys

/// Small, Foundation-free file and fd helpers for the container start path.
public enum FS {
    /// Reads a whole file (at most `limit` bytes).
    public static func read(_ path: String, limit: Int = 1 << 22) throws -> [UInt8] {
        let fd = try Sys.check("open", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try readAll(fd: fd, path: path, limit: limit)
    }

    public static func readString(_ path: String, limit: Int = 1 << 22) throws -> String {
        String(decoding: try read(path, limit: limit), as: UTF8.self)
    }

    /// Reads an fd to EOF.
    public static func readAll(fd: Int32, path: String, limit: Int = 1 << 22) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 8192)
        while out.count < limit {
            let n = try buffer.withUnsafeMutableBytes { (raw) throws -> Int in
                try Sys.check("read", path: path) { Glibc.read(fd, raw.baseAddress, raw.count) }
            }
            if n == 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }

    /// Writes `bytes` fully to an fd.
    public static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = try bytes.withUnsafeBytes { (raw) throws -> Int in
                try Sys.check("write", path: path) {
                    Glibc.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                }
            }
            offset += n
        }
    }

    /// Writes a string to an existing file (cgroup and /proc files): open O_WRONLY, one write.
    public static func writeExisting(_ path: String, _ text: String) throws {
        let fd = try Sys.check("open", path: path) { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        try writeAll(fd: fd, bytes, path: path)
    }

    /// Creates or truncates a file with `mode` and writes `bytes`.
    public static func write(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let fd = try Sys.check("open", path: path) {
            open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        }
        defer { close(fd) }
        try writeAll(fd: fd, bytes, path: path)
    }

    /// Atomic replace: write a temp file beside `path`, fsync, rename. The temp file is the
    /// writer's own (pid and thread in its name): two processes replacing the same file (a
    /// CLI and a supervisor recording one container's exit) must not write into, or rename
    /// away, each other's.
    public static func writeAtomically(_ path: String, sync: Bool = true, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let temp = "\(path).\(getpid()).\(UInt(bitPattern: Int(bitPattern: pthread_self()))).tmp"
        let fd = try Sys.check("open", path: temp) {
            open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        }
        do {
            try writeAll(fd: fd, bytes, path: temp)
            if sync { _ = try Sys.check("fsync", path: temp) { fsync(fd) } }
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        close(fd)
        _ = try Sys.check("rename", path: "\(temp) to \(path)") { rename(temp, path) }
    }

    /// `getcwd(3)`, or nil when it fails (a removed directory).
    public static func currentDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return nil }
        return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// `realpath(3)`: symlinks resolved, absolute; the path itself when it cannot be.
    public static func realPath(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `mkdir -p`; existing directories are fine. Tries the leaf first (one syscall in the
    /// common case), then creates missing parents.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        let (_, code) = Sys.attempt { mkdir(path, mode) }
        if code == 0 || (code == EEXIST && isDirectory(path)) { return }
        guard code == ENOENT, let slash = path.lastIndex(of: "/"), slash != path.startIndex else {
            throw SystemError("mkdir", path: path, errno: code)
        }
        try makeDirectories(String(path[..<slash]), mode: mode)
        let (_, again) = Sys.attempt { mkdir(path, mode) }
        if again != 0 && again != EEXIST { throw SystemError("mkdir", path: path, errno: again) }
    }

    /// `mkdir -p` of a directory that will hold many short-lived subdirectories (one per
    /// container, volume, layer), marked as the top of a hierarchy (`chattr +T`) so that ext4
    /// places each subdirectory in a block group of its own rather than in the parent's. On a
    /// file system without a journal, ext4 skips inodes freed in the last 30 seconds when it
    /// allocates one, scanning past them one inode-table block at a time: creating 100
    /// containers right after removing 100 spent most of berth's CPU there (bench/scale.sh,
    /// `perf`), about five times less with the flag. Best effort: other file systems have no such
    /// flag, and then this is `makeDirectories`.
    public static func makeSpreadDirectory(_ path: String, mode: mode_t = 0o755) throws {
        try makeDirectories(path, mode: mode)
        _ = berth_mark_top_directory(path)
    }

    /// `rm -rf` without following symlinks. Stays on one path tree; used for state dirs.
    public static func removeTree(_ path: String) throws {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return }
            throw SystemError("lstat", path: path, errno: errno)
        }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) {
                try removeTree(path + "/" + name)
            }
            let (_, code) = Sys.attempt { rmdir(path) }
            if code != 0 && code != ENOENT { throw SystemError("rmdir", path: path, errno: code) }
        } else {
            let (_, code) = Sys.attempt { unlink(path) }
            if code != 0 && code != ENOENT { throw SystemError("unlink", path: path, errno: code) }
        }
    }

    public static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            throw SystemError("opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        return names(in: dir)
    }

    /// The names in an open directory fd (not `.`/`..`), read through a duplicate so that
    /// `fd` stays open and usable. `display` names it in errors.
    public static func listDirectory(fd: Int32, display: String) throws -> [String] {
        let copy = try Sys.check("dup", path: display) { dup(fd) }
        guard let dir = fdopendir(copy) else {
            let code = errno
            close(copy)
            throw SystemError("fdopendir", path: display, errno: code)
        }
        defer { closedir(dir) }
        rewinddir(dir)
        return names(in: dir)
    }

    private static func names(in dir: OpaquePointer) -> [String] {
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            names.append(name)
        }
        return names
    }
}

/// A pair of pipe fds, both close-on-exec.
public struct Pipe: Sendable {
    public var read: Int32
    public var write: Int32

    public init(cloexec: Bool = true) throws {
        var fds: [Int32] = [-1, -1]
        _ = try Sys.check("pipe2") { berth_pipe2(&fds, cloexec ? O_CLOEXEC : 0) }
        read = fds[0]
        write = fds[1]
    }
}

public enum Clock {
    /// Monotonic nanoseconds, for deadlines.
    public static func monotonicNanoseconds() -> Int64 { Int64(berth_monotonic_ns()) }

    /// Wall clock as RFC 3339 with nanoseconds in UTC, like Docker's json-file `time`.
    public static func rfc3339Nano() -> String {
        var sec: Int64 = 0
        var nsec: Int = 0
        berth_realtime(&sec, &nsec)
        return rfc3339Nano(seconds: sec, nanoseconds: nsec)
    }

    public static func rfc3339Nano(seconds: Int64, nanoseconds: Int) -> String {
        // Formatted in C: Swift's generic integer-to-text paths cost ~50 µs at their first
        // use in a process, and a container start formats two of these.
        var buffer = [CChar](repeating: 0, count: 48)
        let length = berth_format_rfc3339nano(seconds, nanoseconds, &buffer, buffer.count)
        guard length > 0 else { return "" }
        return String(decoding: buffer[0..<Int(length)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
