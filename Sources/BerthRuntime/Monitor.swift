#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// The foreground monitor: one `poll` loop over the container's pidfd, our signalfd, the
/// output pipes or pty, and (with -t -i) our stdin. No threads, no timers: the only timeout is
/// the stop deadline (`stop_grace_period`) after which PID 1 gets SIGKILL.
struct Monitor {
    let pid: Int32
    let pidfd: Int32
    let signalFD: Int32
    let spec: ContainerSpec
    let options: RunOptions
    var outPipe: Int32?
    var errPipe: Int32?
    var ptyMaster: Int32
    let log: JSONLogWriter?
    var stopDeadline: Int64?
    var stopRequests = 0
    var savedTermios: [UInt8]?
    var stdinOpen: Bool

    init(pid: Int32, pidfd: Int32, signalFD: Int32, spec: ContainerSpec, options: RunOptions, outPipe: Int32?, errPipe: Int32?, ptyMaster: Int32, log: JSONLogWriter?) {
        self.pid = pid
        self.pidfd = pidfd
        self.signalFD = signalFD
        self.spec = spec
        self.options = options
        self.outPipe = outPipe
        self.errPipe = errPipe
        self.ptyMaster = ptyMaster
        self.log = log
        stdinOpen = ptyMaster >= 0 && spec.process.openStdin && options.stdin >= 0
    }

    mutating func wait() throws -> ExitStatus {
        if ptyMaster >= 0 && spec.process.openStdin && isatty(options.stdin) == 1 {
            var saved = [UInt8](repeating: 0, count: Int(berth_termios_size()))
            if saved.withUnsafeMutableBytes({ berth_tty_make_raw(options.stdin, $0.baseAddress, $0.count) }) == 0 {
                savedTermios = saved
            }
        }
        defer {
            if let saved = savedTermios {
                _ = saved.withUnsafeBytes { berth_tty_restore(options.stdin, $0.baseAddress, $0.count) }
            }
        }
        for fd in [outPipe, errPipe].compactMap({ $0 }) + (ptyMaster >= 0 ? [ptyMaster] : []) {
            _ = berth_fcntl_setfl_nonblock(fd)
        }
        while true {
            var fds: [pollfd] = [pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0), pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)]
            for fd in [outPipe, errPipe].compactMap({ $0 }) { fds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0)) }
            if ptyMaster >= 0 { fds.append(pollfd(fd: ptyMaster, events: Int16(POLLIN), revents: 0)) }
            if stdinOpen { fds.append(pollfd(fd: options.stdin, events: Int16(POLLIN), revents: 0)) }
            var timeout: Int32 = -1
            if let deadline = stopDeadline {
                let remaining = (deadline - Clock.monotonicNanoseconds()) / 1_000_000
                timeout = Int32(max(0, min(remaining + 1, Int64(Int32.max))))
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                throw SystemError("poll", path: "container \(spec.name)", errno: errno)
            }
            if let deadline = stopDeadline, Clock.monotonicNanoseconds() >= deadline {
                _ = berth_pidfd_send_signal(pidfd, SIGKILL)
                stopDeadline = nil
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == pidfd {
                    var status: Int32 = 0
                    let reaped = berth_waitpid(pid, &status, 1)
                    if reaped == pid { return ExitStatus(waitStatus: status) }
                } else if entry.fd == signalFD {
                    handleSignals()
                } else if entry.fd == outPipe {
                    if !pump(entry.fd, stream: "stdout", to: options.stdout) { outPipe = nil }
                } else if entry.fd == errPipe {
                    if !pump(entry.fd, stream: "stderr", to: options.stderr) { errPipe = nil }
                } else if entry.fd == ptyMaster {
                    if !pump(entry.fd, stream: "stdout", to: options.stdout) { ptyMaster = -1 }
                } else if entry.fd == options.stdin && stdinOpen {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let n = read(options.stdin, &buffer, buffer.count)
                    if n <= 0 {
                        stdinOpen = false
                        // EOF on our stdin: send ^D so the container sees end of input.
                        var eot: UInt8 = 4
                        _ = write(ptyMaster, &eot, 1)
                    } else {
                        _ = buffer.withUnsafeBytes { write(ptyMaster, $0.baseAddress, n) }
                    }
                }
            }
        }
    }

    mutating func handleSignals() {
        while true {
            let sig = berth_signalfd_read(signalFD)
            if sig <= 0 { return }
            switch sig {
            case SIGINT, SIGTERM:
                stopRequests += 1
                if stopRequests == 1 {
                    // Stop: the stop signal now, SIGKILL after the grace period.
                    _ = berth_pidfd_send_signal(pidfd, spec.stopSignal)
                    stopDeadline = Clock.monotonicNanoseconds() + Int64(spec.stopTimeoutMilliseconds) * 1_000_000
                } else {
                    _ = berth_pidfd_send_signal(pidfd, SIGKILL)
                }
            case SIGWINCH:
                var rows: UInt16 = 0, cols: UInt16 = 0
                if ptyMaster >= 0 && berth_get_winsize(options.stdout, &rows, &cols) == 0 {
                    _ = berth_set_winsize(ptyMaster, rows, cols)
                }
            default:
                _ = berth_pidfd_send_signal(pidfd, sig)
            }
        }
    }

    /// Copies available bytes to `fd` and the log. Returns false at EOF.
    func pump(_ source: Int32, stream: String, to fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(source, &buffer, buffer.count)
            if n > 0 {
                let chunk = buffer[0..<n]
                if fd >= 0 { try? FS.writeAll(fd: fd, Array(chunk), path: stream) }
                try? log?.append(chunk, stream: stream)
                continue
            }
            if n == 0 {
                try? log?.flush(stream: stream)
                return false
            }
            if errno == EINTR { continue }
            if errno == EAGAIN { return true }
            // EIO on a pty master means the slave side is gone.
            try? log?.flush(stream: stream)
            return false
        }
    }

    /// After the container is gone: read what is still buffered in the pipes.
    mutating func drainOutput() {
        if let fd = outPipe, !pump(fd, stream: "stdout", to: options.stdout) { outPipe = nil }
        if let fd = errPipe, !pump(fd, stream: "stderr", to: options.stderr) { errPipe = nil }
        if ptyMaster >= 0, !pump(ptyMaster, stream: "stdout", to: options.stdout) { ptyMaster = -1 }
        try? log?.flush(stream: "stdout")
        try? log?.flush(stream: "stderr")
    }
}
