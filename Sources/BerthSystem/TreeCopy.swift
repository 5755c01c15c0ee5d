#if canImport(Glibc)
import Glibc
#endif
import CBerthSys

/// Copies a directory tree between two open directories, keeping what a volume copy-up must
/// keep (Docker's `fs.CopyDir` from containerd's continuity): owner, mode (setuid/setgid/
/// sticky included), extended attributes (file capabilities, ACLs), modification and access
/// times, symlinks as symlinks, hard links as hard links, device nodes and FIFOs. Sockets
/// are skipped (a socket file is meaningless without its process).
///
/// Everything is opened relative to directory fds with `O_NOFOLLOW`: a symlink in the
/// source is copied, never followed, so a tree cannot lead the copy outside itself. File
/// data moves with `copy_file_range` (in-kernel, reflinks where the file system can).
/// Ownership is set before the mode (chown clears setuid bits) and before the xattrs (chown
/// clears `security.capability`); a directory's times are set after its children, which
/// would otherwise change them. Overlayfs' private `trusted.overlay.*` attributes are never
/// copied.
public struct TreeCopy {
    /// (device, inode) of a source file with several links → its path relative to the
    /// destination root, for `linkat`.
    private var links: [DeviceInode: String] = [:]
    private let display: String
    /// The destination root, which the paths in `links` are relative to.
    private let root: Int32
    /// Owner of everything created (nil: the source's), as `cp` without `-a` wants.
    private var owner: (uid: uid_t, gid: gid_t)?
    /// Replace existing non-directories of the destination (a copy into a populated
    /// directory); otherwise an existing name is an error.
    private var overwrite = false

    struct DeviceInode: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    private init(root: Int32, display: String) {
        self.root = root
        self.display = display
    }

    /// Copies the children of `source` into `destination` (both directory fds), then gives
    /// `destination` itself the owner, mode, xattrs and times of `source`. `display` names
    /// the copy in errors.
    public static func copyContents(from source: Int32, to destination: Int32, display: String) throws {
        var copy = TreeCopy(root: destination, display: display)
        try copy.copyChildren(from: source, to: destination, relative: "")
        var st = stat()
        _ = try Sys.check("fstat", path: display) { fstat(source, &st) }
        try copy.applyMetadata(source: source, destination: destination, st, path: "")
    }

    /// Copies the entry `name` of the directory `source` into the directory `destination` as
    /// `newName` — recursively for a directory, merging into an existing one. `owner` nil
    /// keeps the source's owners; existing non-directories are replaced.
    public static func copyEntry(
        named name: String, from source: Int32, to destination: Int32, as newName: String, owner: (uid: uid_t, gid: gid_t)?, display: String
    ) throws {
        var copy = TreeCopy(root: destination, display: display)
        copy.owner = owner
        copy.overwrite = true
        var st = stat()
        _ = try Sys.check("stat", path: display) { fstatat(source, name, &st, AT_SYMLINK_NOFOLLOW) }
        try copy.copyEntry(name, st, from: source, to: destination, path: newName, sourceName: name)
    }

    /// `copyContents` with `copyEntry`'s owner and overwrite rules (`cp SRC/. DEST`).
    public static func mergeContents(from source: Int32, to destination: Int32, owner: (uid: uid_t, gid: gid_t)?, display: String) throws {
        var copy = TreeCopy(root: destination, display: display)
        copy.owner = owner
        copy.overwrite = true
        try copy.copyChildren(from: source, to: destination, relative: "")
        var st = stat()
        _ = try Sys.check("fstat", path: display) { fstat(source, &st) }
        try copy.applyMetadata(source: source, destination: destination, st, path: "")
    }

    /// True when the directory holds nothing but `.` and `..`.
    public static func isEmpty(directory fd: Int32) throws -> Bool {
        try FS.listDirectory(fd: fd, display: "").isEmpty
    }

    /// Removes everything inside a directory fd (not the directory itself), without
    /// following symlinks and without crossing into another file system: a mount point
    /// inside is an error, never a reason to delete what is mounted there.
    public static func removeContents(of fd: Int32, display: String) throws {
        var own = stat()
        _ = try Sys.check("fstat", path: display) { fstat(fd, &own) }
        for name in try FS.listDirectory(fd: fd, display: display) {
            var st = stat()
            if fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 { continue }
            if st.st_dev != own.st_dev {
                throw SystemError("remove (a file system is mounted there; unmount it first)", path: display + "/" + name, errno: EBUSY)
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                let child = try Sys.check("open", path: display + "/" + name) { openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
                defer { close(child) }
                try removeContents(of: child, display: display + "/" + name)
                _ = try Sys.check("rmdir", path: display + "/" + name) { unlinkat(fd, name, AT_REMOVEDIR) }
            } else {
                _ = try Sys.check("unlink", path: display + "/" + name) { unlinkat(fd, name, 0) }
            }
        }
    }

    private mutating func copyChildren(from source: Int32, to destination: Int32, relative: String) throws {
        for name in try FS.listDirectory(fd: source, display: shown(relative)).sorted() {
            let path = relative.isEmpty ? name : relative + "/" + name
            var st = stat()
            let (_, code) = Sys.attempt { fstatat(source, name, &st, AT_SYMLINK_NOFOLLOW) }
            if code == ENOENT { continue }  // removed while we copy
            if code != 0 { throw SystemError("stat", path: shown(path), errno: code) }
            try copyEntry(name, st, from: source, to: destination, path: path)
        }
    }

    /// `sourceName` names the entry in `source` when it differs from its name in
    /// `destination` (the last component of `path`).
    private mutating func copyEntry(_ name: String, _ st: stat, from source: Int32, to destination: Int32, path: String, sourceName: String? = nil) throws {
        let from = sourceName ?? name
        let name = path.split(separator: "/").last.map(String.init) ?? name
        let type = st.st_mode & S_IFMT
        if overwrite && type != S_IFDIR { try replaceable(name, in: destination, path: path) }
        if type != S_IFDIR && st.st_nlink > 1 {
            let key = DeviceInode(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
            if let first = links[key] {
                _ = try Sys.check("link", path: "\(shown(first)) to \(shown(path))") { linkat(root, first, destination, name, 0) }
                return
            }
            links[key] = path
        }
        switch type {
        case S_IFDIR:
            let (_, mkdirCode) = Sys.attempt { mkdirat(destination, name, 0o700) }
            if mkdirCode != 0 && mkdirCode != EEXIST { throw SystemError("mkdir", path: shown(path), errno: mkdirCode) }
            let from = try Sys.check("open", path: shown(path)) { openat(source, from, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            defer { close(from) }
            let to = try Sys.check("open", path: shown(path)) { openat(destination, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
            defer { close(to) }
            try copyChildren(from: from, to: to, relative: path)
            try applyMetadata(source: from, destination: to, st, path: path)
        case S_IFREG:
            let from = try Sys.check("open", path: shown(path)) { openat(source, from, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) }
            defer { close(from) }
            let to = try Sys.check("create", path: shown(path)) {
                openat(destination, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            }
            defer { close(to) }
            try copyData(from: from, to: to, size: Int64(st.st_size), path: path)
            try applyMetadata(source: from, destination: to, st, path: path)
        case S_IFLNK:
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = try Sys.check("readlink", path: shown(path)) { readlinkat(source, from, &buffer, buffer.count - 1) }
            buffer[n] = 0
            _ = try Sys.check("symlink", path: shown(path)) { symlinkat(buffer, destination, name) }
            _ = try Sys.check("chown", path: shown(path)) { fchownat(destination, name, owner?.uid ?? st.st_uid, owner?.gid ?? st.st_gid, AT_SYMLINK_NOFOLLOW) }
            try setTimes(destination, name, st, path: path)
        case S_IFCHR, S_IFBLK, S_IFIFO:
            _ = try Sys.check("mknod", path: shown(path)) { mknodat(destination, name, st.st_mode & ~0o7777 | 0o600, st.st_rdev) }
            _ = try Sys.check("chown", path: shown(path)) { fchownat(destination, name, owner?.uid ?? st.st_uid, owner?.gid ?? st.st_gid, AT_SYMLINK_NOFOLLOW) }
            _ = try Sys.check("chmod", path: shown(path)) { fchmodat(destination, name, st.st_mode & 0o7777, 0) }
            try setTimes(destination, name, st, path: path)
        default:
            break  // sockets
        }
    }

    private func copyData(from: Int32, to: Int32, size: Int64, path: String) throws {
        var remaining = size
        var useRange = true
        while true {
            if useRange {
                let n = berth_copy_file_range(from, to, Int(min(max(remaining, 1 << 20), 1 << 30)))
                if n > 0 { remaining -= Int64(n); continue }
                if n == 0 { return }
                let code = errno
                if code == EINTR { continue }
                // Across file systems on old kernels, or file systems without support.
                guard code == EXDEV || code == EINVAL || code == ENOSYS || code == EOPNOTSUPP else {
                    throw SystemError("copy_file_range", path: shown(path), errno: code)
                }
                useRange = false
            }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            let n = try buffer.withUnsafeMutableBytes { raw in
                try Sys.check("read", path: shown(path)) { read(from, raw.baseAddress, raw.count) }
            }
            if n == 0 { return }
            try FS.writeAll(fd: to, Array(buffer[0..<n]), path: shown(path))
        }
    }

    /// Owner, then mode, then xattrs, then times, on an open fd.
    private func applyMetadata(source: Int32, destination: Int32, _ st: stat, path: String) throws {
        _ = try Sys.check("chown", path: shown(path)) { fchown(destination, owner?.uid ?? st.st_uid, owner?.gid ?? st.st_gid) }
        _ = try Sys.check("chmod", path: shown(path)) { fchmod(destination, st.st_mode & 0o7777) }
        try copyXattrs(from: source, to: destination, path: path)
        var times = [st.st_atim, st.st_mtim]
        _ = try Sys.check("utimens", path: shown(path)) { futimens(destination, &times) }
    }

    private func setTimes(_ dir: Int32, _ name: String, _ st: stat, path: String) throws {
        var times = [st.st_atim, st.st_mtim]
        _ = try Sys.check("utimens", path: shown(path)) { utimensat(dir, name, &times, AT_SYMLINK_NOFOLLOW) }
    }

    private func copyXattrs(from: Int32, to: Int32, path: String) throws {
        let size = berth_flistxattr(from, nil, 0)
        if size <= 0 { return }  // none, or a file system without xattrs
        var list = [CChar](repeating: 0, count: Int(size))
        let listed = berth_flistxattr(from, &list, list.count)
        if listed <= 0 { return }
        var start = 0
        for index in 0..<Int(listed) where list[index] == 0 {
            let name = String(decoding: list[start..<index].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            start = index + 1
            if name.isEmpty || name.hasPrefix("trusted.overlay.") { continue }
            let length = berth_fgetxattr(from, name, nil, 0)
            if length < 0 { continue }
            var value = [UInt8](repeating: 0, count: Int(length))
            let read = berth_fgetxattr(from, name, &value, value.count)
            if read < 0 { continue }
            _ = try Sys.check("setxattr \(name)", path: shown(path)) { berth_fsetxattr(to, name, value, Int(read)) }
        }
    }

    /// Makes room for a non-directory `name`: an existing file, link or node goes (never
    /// followed); an existing directory is an error.
    private func replaceable(_ name: String, in directory: Int32, path: String) throws {
        var existing = stat()
        guard fstatat(directory, name, &existing, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (existing.st_mode & S_IFMT) == S_IFDIR {
            throw SystemError("cannot overwrite a directory with a non-directory", path: shown(path), errno: EISDIR)
        }
        _ = try Sys.check("unlink", path: shown(path)) { unlinkat(directory, name, 0) }
    }

    private func shown(_ relative: String) -> String {
        relative.isEmpty ? display : display + "/" + relative
    }
}
