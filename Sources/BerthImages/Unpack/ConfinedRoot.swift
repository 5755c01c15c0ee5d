#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// A directory that path lookups can't leave: every lookup goes through `openat2` with
/// `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV`, so `..`, absolute symlinks
/// and symlinks that climb out fail with `EXDEV` instead of reaching another directory. On
/// kernels without openat2 (< 5.6) the walk is done one component at a time with
/// `O_NOFOLLOW`, refusing every symlink on the way.
///
/// Only the parents of an entry are resolved this way; the last component is always acted
/// on with an `*at` call that does not follow it (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`,
/// `mknodat`, `symlinkat`, `linkat` without `AT_SYMLINK_FOLLOW`).
final class ConfinedRoot {
    let fd: Int32
    let path: String
    private static let resolveFlags: UInt64 = UInt64(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
    nonisolated(unsafe) private static var openat2Missing = false

    init(path: String) throws(EntryRefusal) {
        let fd = berth_openat2(AT_FDCWD, path, O_DIRECTORY | O_RDONLY | O_CLOEXEC, 0, 0)
        let opened = fd >= 0 ? fd : open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC)
        guard opened >= 0 else { throw EntryRefusal(SystemError("open", path: path, errno: errno).description) }
        self.fd = opened
        self.path = path
    }

    deinit { close(fd) }

    /// Opens the directory `components` below the root (O_RDONLY|O_DIRECTORY), creating
    /// missing ones with mode 0755 when `create` is set. The caller closes the fd.
    func openDirectory(_ components: ArraySlice<[UInt8]>, create: Bool) throws(EntryRefusal) -> Int32 {
        if components.isEmpty { return dup(fd) }
        let direct = lookup(components)
        if direct >= 0 { return direct }
        let code = errno
        guard code == ENOENT, create else { throw refusal(code, components) }
        // Walk from the root, creating what is missing.
        var current = dup(fd)
        for depth in 1...components.count {
            let prefix = components.prefix(depth)
            let next = lookup(prefix)
            if next >= 0 {
                close(current)
                current = next
                continue
            }
            let lookupError = errno
            guard lookupError == ENOENT else {
                close(current)
                throw refusal(lookupError, prefix)
            }
            let name = components[components.startIndex + depth - 1].map { CChar(bitPattern: $0) } + [0]
            let made = mkdirat(current, name, 0o755)
            let mkdirError = errno
            if made != 0 && mkdirError != EEXIST {
                close(current)
                throw refusal(mkdirError, prefix)
            }
            let opened = lookup(prefix)
            let openError = errno
            close(current)
            guard opened >= 0 else { throw refusal(openError, prefix) }
            current = opened
        }
        return current
    }

    /// Opens `components` (a directory, or with `flags` something else) beneath the root;
    /// -1 with errno on failure.
    func lookup(_ components: ArraySlice<[UInt8]>, flags: Int32 = O_DIRECTORY | O_RDONLY) -> Int32 {
        let path = EntryPath.cString(components)
        if !Self.openat2Missing {
            let fd = berth_openat2(self.fd, path, flags | O_CLOEXEC, 0, Self.resolveFlags)
            if fd >= 0 || errno != ENOSYS { return fd }
            Self.openat2Missing = true
        }
        var current = dup(fd)
        for (index, component) in components.enumerated() {
            let name = component.map { CChar(bitPattern: $0) } + [0]
            let last = index == components.count - 1
            let stepFlags = (last ? flags : O_DIRECTORY | O_RDONLY) | O_NOFOLLOW | O_CLOEXEC
            let next = openat(current, name, stepFlags)
            let code = errno
            close(current)
            guard next >= 0 else {
                errno = code
                return -1
            }
            current = next
        }
        return current
    }

    private func refusal(_ code: Int32, _ components: ArraySlice<[UInt8]>) -> EntryRefusal {
        let where_ = EntryPath.display(components)
        switch code {
        case EXDEV, ELOOP:
            return EntryRefusal("parent \(where_) goes through a symlink that leaves the layer")
        case ENOTDIR:
            return EntryRefusal("parent \(where_) is not a directory")
        case ENOENT:
            return EntryRefusal("parent \(where_) does not exist in the layer")
        default:
            return EntryRefusal(SystemError("open", path: where_, errno: code).description)
        }
    }
}
