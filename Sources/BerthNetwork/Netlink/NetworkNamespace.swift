#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// A network namespace kept alive by a bind mount of its nsfs file on `path` (the
/// `ip netns add` / podman model). The container joins it with `NamespaceMode.path(path)`,
/// so its links can be set up before and independently of the container's start.
public struct NetworkNamespace: Sendable, Hashable {
    public var path: String

    public init(path: String) { self.path = path }

    /// Creates a fresh namespace pinned at `path` (the parent directory must exist).
    /// Our own threads never change namespace (see `berth_netns_create`).
    @discardableResult
    public static func create(at path: String) throws -> NetworkNamespace {
        let fd = try Sys.check("create", path: path) { open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o444) }
        close(fd)
        let (_, code) = Sys.attempt { berth_netns_create(path) }
        if code != 0 {
            unlink(path)
            throw SystemError("create network namespace", path: path, errno: code)
        }
        return NetworkNamespace(path: path)
    }

    /// Is a namespace mounted on `path`? (A leftover empty file is not one.)
    public var exists: Bool {
        berth_statfs_type(path) == 0x6e736673  // NSFS_MAGIC
    }

    /// Unmounts and unlinks the pin. The namespace itself (and the veths in it) goes away
    /// when its last process exits. A missing pin is fine.
    public func remove() throws {
        let (_, code) = Sys.attempt { umount2(path, Int32(MNT_DETACH)) }
        if code != 0 && code != EINVAL && code != ENOENT {
            throw SystemError("umount network namespace", path: path, errno: code)
        }
        let (_, unlinkCode) = Sys.attempt { unlink(path) }
        if unlinkCode != 0 && unlinkCode != ENOENT {
            throw SystemError("unlink", path: path, errno: unlinkCode)
        }
    }

    /// Runs `body` with an open fd of the namespace (for IFLA_NET_NS_FD and setns).
    public func withDescriptor<T>(_ body: (Int32) throws -> T) throws -> T {
        let fd = try Sys.check("open network namespace", path: path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        return try body(fd)
    }
}
