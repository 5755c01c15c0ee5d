#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import Synchronization

/// An flock(2) lock on a file, held until the object goes away. Each lock opens its own
/// file description, so two threads of one process exclude each other too.
public final class FileLock: Sendable {
    private let fd: Int32
    private let released = Atomic<Bool>(false)
    public let path: String

    /// Waits for the lock.
    init(_ path: String, exclusive: Bool) throws(ImageError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .store(SystemError("open lock", path: path, errno: errno).description) }
        let (_, code) = Sys.attempt { flock(fd, exclusive ? LOCK_EX : LOCK_SH) }
        guard code == 0 else {
            close(fd)
            throw .store(SystemError("flock", path: path, errno: code).description)
        }
        self.fd = fd
    }

    private init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    /// The lock if nobody holds it, else nil (without waiting).
    static func attempt(_ path: String, exclusive: Bool = true) -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        guard flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        return FileLock(fd: fd, path: path)
    }

    /// Releases the lock now (otherwise when the object goes away).
    public func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { close(fd) }
    }

    deinit { release() }
}
