import CBerthSys

/// How a child process ended, decoded from a `waitpid` status.
public enum ExitStatus: Equatable, Sendable {
    case exited(Int32)
    case signaled(Int32)

    public init(waitStatus status: Int32) {
        if berth_wifsignaled(status) != 0 {
            self = .signaled(berth_wtermsig(status))
        } else {
            self = .exited(berth_wexitstatus(status))
        }
    }

    /// The shell convention Docker reports: the exit code, or 128 + signal number.
    public var code: Int32 {
        switch self {
        case .exited(let code): return code
        case .signaled(let signal): return 128 + signal
        }
    }
}
