#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CArchive
import CBerthSys

/// Applies the entries of one layer tar to an empty directory, in the form overlayfs reads
/// as a lower layer (SEMANTICS.md §2f):
/// - `.wh.NAME` becomes a 0:0 character device `NAME` owned by the header's uid/gid;
/// - `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory;
/// - other `.wh..wh.*` meta files are ignored;
/// - owners, modes (setuid/setgid/sticky after chown), xattrs (security.capability…),
///   hardlinks, symlinks, device nodes, FIFOs, sparse files and timestamps are kept.
///
/// Nothing can land outside the directory: `..` components are refused, parents are looked
/// up with `ConfinedRoot` (absolute or escaping symlinks refused), the last component is
/// never followed, hardlink targets are resolved the same way, and `trusted.overlay.*`
/// xattrs from the tar are dropped (only whiteout conversion sets them).
final class LayerWriter {
    let root: ConfinedRoot
    /// Bytes of regular file content written (the layer's size as `docker images` counts it).
    private(set) var contentSize: Int64 = 0
    private var parentKey: [UInt8]?
    private var parentFD: Int32 = -1
    private var directoryTimes: [(EntryPath, timespec, timespec)] = []
    private let euid = geteuid()
    private let egid = getegid()

    static let whiteoutPrefix: [UInt8] = Array(".wh.".utf8)
    static let whiteoutMetaPrefix: [UInt8] = Array(".wh..wh.".utf8)
    static let opaqueMarker: [UInt8] = Array(".wh..wh..opq".utf8)

    init(directory: String) throws(EntryRefusal) {
        root = try ConfinedRoot(path: directory)
    }

    deinit {
        if parentFD >= 0 { close(parentFD) }
    }

    /// Applies one entry; the archive is positioned at its data.
    func apply(_ entry: OpaquePointer, archive: OpaquePointer) throws(EntryRefusal) {
        let path = try EntryPath(Self.pathname(entry))
        let name = path.name
        if name.starts(with: Self.whiteoutPrefix) {
            try applyWhiteout(path, entry)
            return
        }
        let type = archive_entry_filetype(entry)
        if path.isRoot {
            if type == FileType.directory { try applyDirectoryAttributes(root.fd, path, entry) }
            return
        }
        let parent = try parentDirectory(path.parent)
        if let target = archive_entry_hardlink(entry) {
            try makeHardlink(parent, path, target: Array(CStringBytes(target)))
            return
        }
        switch type {
        case FileType.directory:
            try makeDirectory(parent, path, entry)
        case FileType.regular:
            try writeFile(parent, path, entry, archive: archive)
        case FileType.symlink:
            try makeSymlink(parent, path, entry)
        case FileType.characterDevice, FileType.blockDevice, FileType.fifo:
            try makeNode(parent, path, entry, type: type)
        case FileType.socket:
            return  // sockets are not restored (as Docker)
        default:
            throw EntryRefusal("unknown file type \(String(type, radix: 8))")
        }
    }

    /// Sets the directories' times last: creating their children changed them.
    func finish() throws(EntryRefusal) {
        for (path, atime, mtime) in directoryTimes {
            let fd = path.isRoot ? dup(root.fd) : root.lookup(path.components[...])
            guard fd >= 0 else { continue }  // replaced later in the tar by a non-directory
            var times = [atime, mtime]
            let result = futimens(fd, &times)
            let code = errno
            close(fd)
            if result != 0 { throw EntryRefusal(SystemError("futimens", path: path.display, errno: code).description) }
        }
        directoryTimes.removeAll()
    }

    // MARK: entry kinds

    private func applyWhiteout(_ path: EntryPath, _ entry: OpaquePointer) throws(EntryRefusal) {
        let name = path.name
        if name == Self.opaqueMarker {
            let directory = try root.openDirectory(path.parent, create: true)
            defer { close(directory) }
            let value: [UInt8] = [UInt8(ascii: "y")]
            let result = value.withUnsafeBytes { berth_fsetxattr(directory, "trusted.overlay.opaque", $0.baseAddress, 1) }
            if result != 0 {
                throw EntryRefusal(SystemError("setxattr trusted.overlay.opaque", path: EntryPath.display(path.parent), errno: errno).description)
            }
            return
        }
        if name.starts(with: Self.whiteoutMetaPrefix) { return }
        let hidden = Array(name.dropFirst(Self.whiteoutPrefix.count))
        guard !hidden.isEmpty else { throw EntryRefusal("a bare '.wh.' whiteout names nothing") }
        let parent = try parentDirectory(path.parent)
        let cName = hidden.map { CChar(bitPattern: $0) } + [0]
        var st = stat()
        // A real entry of this layer with the same name wins over its whiteout.
        if fstatat(parent, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 { return }
        let shown = EntryPath.display(path.parent + [hidden])
        guard mknodat(parent, cName, S_IFCHR, 0) == 0 else {
            throw EntryRefusal(SystemError("mknod whiteout", path: shown, errno: errno).description)
        }
        try chown(parent, cName, entry, shown: shown)
    }

    private func makeDirectory(_ parent: Int32, _ path: EntryPath, _ entry: OpaquePointer) throws(EntryRefusal) {
        let cName = Self.cName(path.name)
        // mkdir applies the permission bits and sticky bit, not setuid/setgid.
        let mode = mode_t(archive_entry_perm(entry)) & 0o1777
        var created = mode_t(archive_entry_perm(entry)) & 0o6000 == 0 ? mode : nil
        if mkdirat(parent, cName, mode) != 0 {
            let code = errno
            guard code == EEXIST else { throw EntryRefusal(SystemError("mkdir", path: path.display, errno: code).description) }
            created = nil  // directory over directory: its attributes are replaced
            if !isDirectory(parent, cName) {
                try removeExisting(parent, cName, shown: path.display)
                guard mkdirat(parent, cName, 0o700) == 0 else {
                    throw EntryRefusal(SystemError("mkdir", path: path.display, errno: errno).description)
                }
            }
        }
        let fd = openat(parent, cName, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw EntryRefusal(SystemError("open", path: path.display, errno: errno).description) }
        defer { close(fd) }
        try applyDirectoryAttributes(fd, path, entry, createdWith: created)
    }

    private func applyDirectoryAttributes(_ fd: Int32, _ path: EntryPath, _ entry: OpaquePointer, createdWith: mode_t? = nil) throws(EntryRefusal) {
        try fileAttributes(fd, entry, shown: path.display, createdWith: createdWith)
        directoryTimes.append((path, Self.time(archive_entry_atime(entry), archive_entry_atime_nsec(entry)), Self.time(archive_entry_mtime(entry), archive_entry_mtime_nsec(entry))))
    }

    private func writeFile(_ parent: Int32, _ path: EntryPath, _ entry: OpaquePointer, archive: OpaquePointer) throws(EntryRefusal) {
        let cName = Self.cName(path.name)
        // Created with its final mode when the umask lets it through (one fchmod less per
        // file); an existing entry is replaced only when the create says it is there.
        let mode = mode_t(archive_entry_perm(entry)) & 0o7777
        let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC
        var fd = openat(parent, cName, flags, mode)
        if fd < 0 && errno == EEXIST {
            try removeExisting(parent, cName, shown: path.display)
            fd = openat(parent, cName, flags, mode)
        }
        guard fd >= 0 else { throw EntryRefusal(SystemError("create", path: path.display, errno: errno).description) }
        defer { close(fd) }
        var buffer: UnsafeRawPointer?
        var size = 0
        var offset: la_int64_t = 0
        var end: Int64 = 0
        while true {
            let status = archive_read_data_block(archive, &buffer, &size, &offset)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN else { throw ArchiveFailure.current(archive, while: "reading \(path.display)") }
            var written = 0
            while written < size, let base = buffer {
                let n = pwrite(fd, base + written, size - written, off_t(offset) + off_t(written))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw EntryRefusal(SystemError("write", path: path.display, errno: errno).description)
                }
                written += n
            }
            end = max(end, Int64(offset) + Int64(size))
        }
        // A sparse file may end in a hole.
        let declared = archive_entry_size(entry)
        if declared > end, ftruncate(fd, off_t(declared)) != 0 {
            throw EntryRefusal(SystemError("truncate", path: path.display, errno: errno).description)
        }
        contentSize += declared
        try fileAttributes(fd, entry, shown: path.display, createdWith: mode)
        var times = [Self.time(archive_entry_atime(entry), archive_entry_atime_nsec(entry)),
                     Self.time(archive_entry_mtime(entry), archive_entry_mtime_nsec(entry))]
        guard futimens(fd, &times) == 0 else { throw EntryRefusal(SystemError("futimens", path: path.display, errno: errno).description) }
    }

    private func makeSymlink(_ parent: Int32, _ path: EntryPath, _ entry: OpaquePointer) throws(EntryRefusal) {
        let cName = Self.cName(path.name)
        guard let target = archive_entry_symlink(entry) ?? archive_entry_symlink_utf8(entry) else {
            throw EntryRefusal("symlink without a target")
        }
        try removeExisting(parent, cName, shown: path.display)
        guard symlinkat(target, parent, cName) == 0 else {
            throw EntryRefusal(SystemError("symlink", path: path.display, errno: errno).description)
        }
        try chown(parent, cName, entry, shown: path.display)
        try setTimes(parent, cName, entry, shown: path.display)
    }

    private func makeNode(_ parent: Int32, _ path: EntryPath, _ entry: OpaquePointer, type: UInt32) throws(EntryRefusal) {
        let cName = Self.cName(path.name)
        try removeExisting(parent, cName, shown: path.display)
        let kind: mode_t = type == FileType.characterDevice ? S_IFCHR : type == FileType.blockDevice ? S_IFBLK : S_IFIFO
        let device = type == FileType.fifo ? 0 : berth_makedev(UInt32(archive_entry_rdevmajor(entry)), UInt32(archive_entry_rdevminor(entry)))
        guard mknodat(parent, cName, kind | 0o600, dev_t(device)) == 0 else {
            throw EntryRefusal(SystemError("mknod", path: path.display, errno: errno).description)
        }
        try chown(parent, cName, entry, shown: path.display)
        let mode = mode_t(archive_entry_perm(entry)) & 0o7777
        guard fchmodat(parent, cName, mode, 0) == 0 else {
            throw EntryRefusal(SystemError("chmod", path: path.display, errno: errno).description)
        }
        try pathXattrs(parent, cName, entry, shown: path.display)
        try setTimes(parent, cName, entry, shown: path.display)
    }

    private func makeHardlink(_ parent: Int32, _ path: EntryPath, target: [UInt8]) throws(EntryRefusal) {
        let targetPath: EntryPath
        do { targetPath = try EntryPath(target) } catch {
            throw EntryRefusal("hardlink target \(String(decoding: target, as: UTF8.self)) is outside the layer")
        }
        guard !targetPath.isRoot else { throw EntryRefusal("hardlink to the layer's root directory") }
        let targetParent: Int32
        do { targetParent = try root.openDirectory(targetPath.parent, create: false) } catch {
            throw EntryRefusal("hardlink target \(targetPath.display): \(error.why)")
        }
        defer { close(targetParent) }
        let cName = Self.cName(path.name)
        let targetName = Self.cName(targetPath.name)
        var st = stat()
        guard fstatat(targetParent, targetName, &st, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw EntryRefusal("hardlink target \(targetPath.display) does not exist in the layer")
        }
        try removeExisting(parent, cName, shown: path.display)
        let linked = linkat(targetParent, targetName, parent, cName, 0)
        guard linked == 0 else { throw EntryRefusal(SystemError("link \(targetPath.display)", path: path.display, errno: errno).description) }
    }

    // MARK: attributes

    /// Owner, mode and xattrs through an fd. The mode is set after chown (which clears
    /// setuid/setgid), and skipped when the file was created with it and kept it.
    private func fileAttributes(_ fd: Int32, _ entry: OpaquePointer, shown: String, createdWith: mode_t? = nil) throws(EntryRefusal) {
        let uid = uid_t(truncatingIfNeeded: archive_entry_uid(entry))
        let gid = gid_t(truncatingIfNeeded: archive_entry_gid(entry))
        let mode = mode_t(archive_entry_perm(entry)) & 0o7777
        var modeSet = createdWith == mode && mode & Self.umask == 0
        if uid != euid || gid != egid {
            guard fchown(fd, uid, gid) == 0 else { throw EntryRefusal(SystemError("chown", path: shown, errno: errno).description) }
            if mode & (S_ISUID | S_ISGID) != 0 { modeSet = false }
        }
        if !modeSet {
            guard fchmod(fd, mode) == 0 else { throw EntryRefusal(SystemError("chmod", path: shown, errno: errno).description) }
        }
        try forEachXattr(entry) { name, value, size throws(EntryRefusal) in
            guard berth_fsetxattr(fd, name, value, size) == 0 else {
                throw EntryRefusal(SystemError("setxattr \(String(cString: name))", path: shown, errno: errno).description)
            }
        }
    }

    /// The process umask, read without changing it (from /proc/self/status).
    static let umask: mode_t = {
        guard let text = try? FS.readString("/proc/self/status"),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
              let value = mode_t(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) else { return 0o777 }
        return value
    }()

    private func pathXattrs(_ parent: Int32, _ cName: [CChar], _ entry: OpaquePointer, shown: String) throws(EntryRefusal) {
        // lsetxattr through the parent's /proc/self/fd link: the last component is not followed.
        let path = "/proc/self/fd/\(parent)/" + String(decoding: cName.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        try forEachXattr(entry) { name, value, size throws(EntryRefusal) in
            guard berth_lsetxattr(path, name, value, size) == 0 else {
                throw EntryRefusal(SystemError("setxattr \(String(cString: name))", path: shown, errno: errno).description)
            }
        }
    }

    private func forEachXattr(_ entry: OpaquePointer, _ body: (UnsafePointer<CChar>, UnsafeRawPointer?, Int) throws(EntryRefusal) -> Void) throws(EntryRefusal) {
        guard archive_entry_xattr_reset(entry) > 0 else { return }
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        while archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK {
            guard let name else { continue }
            if strncmp(name, "trusted.overlay.", 16) == 0 { continue }
            try body(name, value, size)
        }
    }

    private func chown(_ parent: Int32, _ cName: [CChar], _ entry: OpaquePointer, shown: String) throws(EntryRefusal) {
        let uid = uid_t(truncatingIfNeeded: archive_entry_uid(entry))
        let gid = gid_t(truncatingIfNeeded: archive_entry_gid(entry))
        guard uid != euid || gid != egid else { return }
        guard fchownat(parent, cName, uid, gid, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw EntryRefusal(SystemError("chown", path: shown, errno: errno).description)
        }
    }

    private func setTimes(_ parent: Int32, _ cName: [CChar], _ entry: OpaquePointer, shown: String) throws(EntryRefusal) {
        var times = [Self.time(archive_entry_atime(entry), archive_entry_atime_nsec(entry)),
                     Self.time(archive_entry_mtime(entry), archive_entry_mtime_nsec(entry))]
        guard utimensat(parent, cName, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw EntryRefusal(SystemError("utimensat", path: shown, errno: errno).description)
        }
    }

    // MARK: helpers

    /// The parent directory of an entry, created (0755) when the tar did not list it.
    private func parentDirectory(_ components: ArraySlice<[UInt8]>) throws(EntryRefusal) -> Int32 {
        let key = Self.key(components)
        if key == parentKey, parentFD >= 0 { return parentFD }
        invalidateParent()
        parentFD = try root.openDirectory(components, create: true)
        parentKey = key
        return parentFD
    }

    private func invalidateParent() {
        if parentFD >= 0 { close(parentFD) }
        parentFD = -1
        parentKey = nil
    }

    private func isDirectory(_ parent: Int32, _ cName: [CChar]) -> Bool {
        var st = stat()
        return fstatat(parent, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Any other case than directory over directory unlinks what is there (SEMANTICS §2f).
    private func removeExisting(_ parent: Int32, _ cName: [CChar], shown: String) throws(EntryRefusal) {
        var st = stat()
        guard fstatat(parent, cName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            try TreeRemoval.remove(parent: parent, name: cName, shown: shown)
        } else if unlinkat(parent, cName, 0) != 0 {
            throw EntryRefusal(SystemError("unlink", path: shown, errno: errno).description)
        }
    }

    private static func key(_ components: ArraySlice<[UInt8]>) -> [UInt8] {
        Array(components.joined(separator: [0]))
    }

    static func cName(_ name: [UInt8]) -> [CChar] { name.map { CChar(bitPattern: $0) } + [0] }

    private static func time(_ seconds: time_t, _ nanoseconds: Int) -> timespec {
        timespec(tv_sec: seconds, tv_nsec: nanoseconds)
    }

    /// The entry's path bytes, whatever their encoding.
    static func pathname(_ entry: OpaquePointer) -> [UInt8] {
        if let raw = archive_entry_pathname(entry) { return Array(CStringBytes(raw)) }
        if let utf8 = archive_entry_pathname_utf8(entry) { return Array(CStringBytes(utf8)) }
        return []
    }
}

/// libarchive's `AE_IF*` file types (macros with casts, not imported into Swift).
enum FileType {
    static let regular: UInt32 = 0o100000
    static let directory: UInt32 = 0o040000
    static let symlink: UInt32 = 0o120000
    static let characterDevice: UInt32 = 0o020000
    static let blockDevice: UInt32 = 0o060000
    static let fifo: UInt32 = 0o010000
    static let socket: UInt32 = 0o140000
}

/// The bytes of a C string, without its NUL.
struct CStringBytes: Sequence {
    let pointer: UnsafePointer<CChar>
    init(_ pointer: UnsafePointer<CChar>) { self.pointer = pointer }
    func makeIterator() -> AnyIterator<UInt8> {
        var index = 0
        return AnyIterator {
            let byte = UInt8(bitPattern: pointer[index])
            if byte == 0 { return nil }
            index += 1
            return byte
        }
    }
}

/// `rm -rf` of one directory entry through fds, never following symlinks.
enum TreeRemoval {
    static func remove(parent: Int32, name: [CChar], shown: String) throws(EntryRefusal) {
        let fd = openat(parent, name, O_DIRECTORY | O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd >= 0 {
            guard let dir = fdopendir(fd) else {
                close(fd)
                throw EntryRefusal(SystemError("opendir", path: shown, errno: errno).description)
            }
            defer { closedir(dir) }
            var children: [[CChar]] = []
            while let item = readdir(dir) {
                let child = withUnsafePointer(to: item.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { Array(UnsafeBufferPointer(start: $0, count: strlen($0) + 1)) } }
                if child == [46, 0] || child == [46, 46, 0] { continue }
                children.append(child)
            }
            let dirFD = dirfd(dir)
            for child in children {
                if unlinkat(dirFD, child, 0) != 0 {
                    let code = errno
                    guard code == EISDIR else { throw EntryRefusal(SystemError("unlink", path: shown, errno: code).description) }
                    try remove(parent: dirFD, name: child, shown: shown)
                }
            }
            guard unlinkat(parent, name, AT_REMOVEDIR) == 0 else {
                throw EntryRefusal(SystemError("rmdir", path: shown, errno: errno).description)
            }
        } else if unlinkat(parent, name, 0) != 0 {
            throw EntryRefusal(SystemError("unlink", path: shown, errno: errno).description)
        }
    }
}
