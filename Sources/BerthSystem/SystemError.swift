#if canImport(Glibc)
import Glibc
#endif
import CBerthSys

/// A failed system call: the operation, the path(s) or object it acted on, and `errno`.
///
/// Rendered like runc's `os.PathError`: `"mount proc on /run/x/rootfs/proc: EPERM (Operation
/// not permitted)"`. `errno` is read immediately after the failing call by the helpers below,
/// never later.
public struct SystemError: Error, CustomStringConvertible, Sendable, Equatable {
    public var operation: String
    public var path: String?
    public var errno: Int32

    public init(_ operation: String, path: String? = nil, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        let name = SystemError.errnoName(errno)
        let message = SystemError.strerror(errno)
        if let path {
            return "\(operation) \(path): \(name) (\(message))"
        }
        return "\(operation): \(name) (\(message))"
    }

    public static func strerror(_ code: Int32) -> String {
        guard let text = Glibc.strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }

    /// Symbolic errno names for the codes a runtime commonly meets.
    public static func errnoName(_ code: Int32) -> String {
        switch code {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case ESRCH: return "ESRCH"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case E2BIG: return "E2BIG"
        case ENOEXEC: return "ENOEXEC"
        case EBADF: return "EBADF"
        case ECHILD: return "ECHILD"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EFAULT: return "EFAULT"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case EXDEV: return "EXDEV"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case ELOOP: return "ELOOP"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOSYS: return "ENOSYS"
        case ENOTEMPTY: return "ENOTEMPTY"
        case EOPNOTSUPP: return "EOPNOTSUPP"
        case ERANGE: return "ERANGE"
        case EDOM: return "EDOM"
        case ENOTTY: return "ENOTTY"
        case ENXIO: return "ENXIO"
        default: return "errno \(code)"
        }
    }
}

/// Syscall helpers: run `body`, retry on `EINTR`, throw `SystemError` with `errno` on failure.
public enum Sys {
    @inline(__always)
    public static func check<T: BinaryInteger>(
        _ operation: @autoclosure () -> String, path: @autoclosure () -> String? = nil,
        _ body: () -> T
    ) throws -> T {
        while true {
            let result = body()
            if result >= 0 { return result }
            let code = Glibc.errno
            if code == EINTR { continue }
            throw SystemError(operation(), path: path(), errno: code)
        }
    }

    /// Like `check` but returns the errno instead of throwing (for call sites that handle
    /// specific codes such as `ENOENT` or `EEXIST`).
    @inline(__always)
    public static func attempt<T: BinaryInteger>(_ body: () -> T) -> (T, Int32) {
        while true {
            let result = body()
            if result >= 0 { return (result, 0) }
            let code = Glibc.errno
            if code == EINTR { continue }
            return (result, code)
        }
    }
}
