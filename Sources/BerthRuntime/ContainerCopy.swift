#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// Where `cp` reads or writes: the host, or a running container's file system as its
/// processes see it (`/proc/PID/root`, volumes and tmpfs mounts included).
///
/// In a container every lookup goes through `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
/// on that root: symlinks resolve as they would inside (an absolute target starts at the
/// container's root, `..` stops there), and procfs magic links are refused — so no symlink a
/// container holds can lead the copy to read or write a host file. Below the resolved
/// directories, `TreeCopy` works with `*at` calls and `O_NOFOLLOW` only.
public struct CopyLocation: ~Copyable {
    /// The container's root directory, or -1 for the host.
    let root: Int32
    /// `container NAME` in messages, or nil for the host.
    let container: String?

    public static func host() -> CopyLocation { CopyLocation(root: -1, container: nil) }

    /// A running container by the pid of one of its processes.
    public static func container(pid: Int32, name: String) throws -> CopyLocation {
        let path = "/proc/\(pid)/root"
        let fd = Glibc.open(path, BERTH_O_PATH | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RuntimeError("container \(name): cannot open its file system through \(path): \(SystemError.errnoName(errno)); is it still running?")
        }
        return CopyLocation(root: fd, container: name)
    }

    deinit { if root >= 0 { close(root) } }

    var inContainer: Bool { root >= 0 }

    /// Opens `path` (absolute in the container; any on the host), following symlinks.
    func open(_ path: String, flags: Int32) -> (fd: Int32, errno: Int32) {
        if root < 0 {
            let fd = Glibc.open(path, flags | O_CLOEXEC)
            return (fd, fd < 0 ? errno : 0)
        }
        var relative = path
        while relative.hasPrefix("/") { relative.removeFirst() }
        if relative.isEmpty { relative = "." }
        let fd = berth_openat2(root, relative, flags | O_CLOEXEC, 0, UInt64(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS))
        return (fd, fd < 0 ? errno : 0)
    }

    /// `path` as the user wrote it, for messages.
    func shown(_ path: String) -> String {
        container.map { "\($0):\(path)" } ?? path
    }
}

/// `docker cp`'s rules between two locations (one of them a container):
/// - a file to a missing path creates it, to a file replaces it, to a directory goes in it;
/// - a directory to a missing path becomes it; to an existing directory it goes in it as
///   its own name, or only its contents with `SRC/.`; to a file is an error;
/// - a destination ending in `/` must be an existing directory;
/// - without `-L` a symlink source is copied as a symlink; with it, its target (resolved
///   in the source's root) is copied;
/// - modes, times and xattrs are kept; owners are the destination's default (root in a
///   container, the caller on the host) unless `archive` (`-a`) keeps the source's.
public enum ContainerCopy {
    public struct Options: Sendable {
        public var archive: Bool
        public var followLink: Bool
        public init(archive: Bool = false, followLink: Bool = false) {
            self.archive = archive
            self.followLink = followLink
        }
    }

    public static func copy(from source: borrowing CopyLocation, _ sourcePath: String, to destination: borrowing CopyLocation, _ destinationPath: String, options: Options) throws {
        let contentsOnly = sourcePath.hasSuffix("/.") || sourcePath == "."
        let entry = try resolveSource(source, sourcePath, follow: options.followLink)
        defer { close(entry.parent) }
        var st = stat()
        _ = try Sys.check("stat", path: source.shown(sourcePath)) { fstatat(entry.parent, entry.name, &st, AT_SYMLINK_NOFOLLOW) }
        let sourceIsDirectory = (st.st_mode & S_IFMT) == S_IFDIR
        let owner: (uid: uid_t, gid: gid_t)? = options.archive ? nil : (destination.inContainer ? (0, 0) : (getuid(), getgid()))
        let display = destination.shown(destinationPath)

        let target = destination.open(destinationPath, flags: BERTH_O_PATH)
        if target.fd >= 0 {
            defer { close(target.fd) }
            var existing = stat()
            _ = try Sys.check("stat", path: display) { fstat(target.fd, &existing) }
            if (existing.st_mode & S_IFMT) == S_IFDIR {
                let directory = try Sys.check("open", path: display) { openat(target.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
                defer { close(directory) }
                if sourceIsDirectory && contentsOnly {
                    let from = try Sys.check("open", path: source.shown(sourcePath)) {
                        openat(entry.parent, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                    }
                    defer { close(from) }
                    try TreeCopy.mergeContents(from: from, to: directory, owner: owner, display: display)
                } else {
                    try TreeCopy.copyEntry(named: entry.name, from: entry.parent, to: directory, as: entry.baseName, owner: owner, display: display)
                }
                return
            }
            if sourceIsDirectory {
                throw RuntimeError("cannot copy directory \(source.shown(sourcePath)) to \(display): it is not a directory")
            }
            if destinationPath.hasSuffix("/") {
                throw RuntimeError("\(display) is not a directory")
            }
            // An existing file (or a symlink to one): replaced where it really is.
            let real = try resolveSource(destination, destinationPath, follow: true)
            defer { close(real.parent) }
            try TreeCopy.copyEntry(named: entry.name, from: entry.parent, to: real.parent, as: real.name, owner: owner, display: display)
            return
        }
        guard target.errno == ENOENT else { throw SystemError("open", path: display, errno: target.errno) }
        if destinationPath.hasSuffix("/") {
            throw RuntimeError("destination directory \(display) must exist")
        }
        let (parentPath, name) = split(destinationPath)
        let parent = destination.open(parentPath, flags: O_RDONLY | O_DIRECTORY)
        guard parent.fd >= 0 else {
            throw RuntimeError("cannot copy to \(display): its directory \(destination.shown(parentPath)) \(parent.errno == ENOENT ? "does not exist" : "cannot be opened (\(SystemError.errnoName(parent.errno)))")")
        }
        defer { close(parent.fd) }
        try TreeCopy.copyEntry(named: entry.name, from: entry.parent, to: parent.fd, as: name, owner: owner, display: display)
    }

    /// The directory holding the entry `path` names and its name there; with `follow`, a
    /// final symlink is resolved (in the location's root, at most 40 hops). `baseName` is the
    /// name as written (the copy's name in a destination directory).
    static func resolveSource(_ location: borrowing CopyLocation, _ path: String, follow: Bool) throws -> (parent: Int32, name: String, baseName: String) {
        var current = path
        let baseName = split(path).name
        for _ in 0..<40 {
            var (parentPath, name) = split(current)
            var parent = location.open(parentPath, flags: O_RDONLY | O_DIRECTORY)
            if name == "." || name == ".." || name == "/" {
                // `/`, `dir/.`, `dir/..`: the directory itself, named in its parent.
                let directory = location.open(current == "/" ? "/" : current, flags: O_RDONLY | O_DIRECTORY)
                if parent.fd >= 0 { close(parent.fd) }
                guard directory.fd >= 0 else { throw notFound(location, path, directory.errno) }
                // `..` resolved in the root too: at the root it is the root itself.
                parent = location.open(current + "/..", flags: O_RDONLY | O_DIRECTORY)
                guard parent.fd >= 0 else {
                    close(directory.fd)
                    throw notFound(location, path, parent.errno)
                }
                name = try directoryName(directory.fd, in: parent.fd, location: location, path: path)
                close(directory.fd)
            }
            guard parent.fd >= 0 else { throw notFound(location, path, parent.errno) }
            var st = stat()
            if fstatat(parent.fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 {
                let code = errno
                close(parent.fd)
                throw notFound(location, path, code)
            }
            guard follow, (st.st_mode & S_IFMT) == S_IFLNK else { return (parent.fd, name, baseName == "." || baseName.isEmpty ? name : baseName) }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlinkat(parent.fd, name, &buffer, buffer.count - 1)
            close(parent.fd)
            guard n > 0 else { throw notFound(location, path, errno) }
            let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = target.hasPrefix("/") ? target : parentPath + "/" + target
        }
        throw RuntimeError("\(location.shown(path)): too many levels of symbolic links")
    }

    /// The name under which `directory` appears in `parent` (the root is its own parent: ".").
    static func directoryName(_ directory: Int32, in parent: Int32, location: borrowing CopyLocation, path: String) throws -> String {
        var own = stat()
        _ = try Sys.check("stat", path: location.shown(path)) { fstat(directory, &own) }
        for name in try FS.listDirectory(fd: parent, display: location.shown(path)) {
            var st = stat()
            if fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_ino == own.st_ino && st.st_dev == own.st_dev { return name }
        }
        return "."
    }

    static func notFound(_ location: borrowing CopyLocation, _ path: String, _ code: Int32) -> any Error {
        if let container = location.container, code == ENOENT || code == ENOTDIR || code == ELOOP || code == EXDEV {
            return RuntimeError("Could not find the file \(path) in container \(container)")
        }
        return SystemError("stat", path: location.shown(path), errno: code)
    }

    /// Parent path and last component (`a/b/` → `a`, `b`; `x` → `.`, `x`; `/` → `/`, `/`).
    static func split(_ path: String) -> (parent: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        if trimmed == "/" { return ("/", "/") }
        guard let slash = trimmed.lastIndex(of: "/") else { return (".", String(trimmed)) }
        let parent = trimmed[..<slash]
        return (parent.isEmpty ? "/" : String(parent), String(trimmed[trimmed.index(after: slash)...]))
    }
}
