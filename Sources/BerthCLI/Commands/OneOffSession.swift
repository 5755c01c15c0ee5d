import BerthOrchestrator
import BerthSystem
import CBerthSys
import Foundation

/// The attached part of `berth run` (and `attach`-like waits): the container is started
/// with this process's stdin, stdout and stderr (handed to the supervisor, which gives them
/// to the container's monitor), then berth waits for it to end while passing on the signals
/// it receives — Ctrl-C reaches the container as SIGINT, a terminal resize reaches the
/// monitor, which resizes the container's pseudo-terminal.
struct OneOffSession {
    let stack: Stack
    let id: String
    let name: String
    let tty: Bool

    /// The signals passed on (Compose forwards every signal it can catch).
    static let forwarded: [Int32] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGWINCH]

    /// Starts the container attached and returns its exit status.
    func run() throws -> Int32 {
        let signals = try SignalPipe(Self.forwarded)
        defer { signals.close() }
        // The monitor puts the terminal in raw mode and restores it; restore it here too in
        // case the monitor is killed first.
        var savedTerminal: [UInt8]?
        if tty && isatty(0) == 1 {
            var saved = [UInt8](repeating: 0, count: Int(berth_termios_size()))
            if saved.withUnsafeMutableBytes({ berth_tty_make_raw(0, $0.baseAddress, $0.count) }) == 0 {
                _ = saved.withUnsafeBytes { berth_tty_restore(0, $0.baseAddress, $0.count) }
                savedTerminal = saved
            }
        }
        defer {
            if let saved = savedTerminal { _ = saved.withUnsafeBytes { berth_tty_restore(0, $0.baseAddress, $0.count) } }
        }
        let started = try stack.client.send(.init(op: .start, containers: [id], attach: true), passing: [0, 1, 2])
        if let failure = started.results.first?.error {
            // The runtime's own status: 126 not executable, 127 not found, else 125.
            let code = stack.engine.store.state(id).exitCode.flatMap { [126, 127].contains($0) ? $0 : nil } ?? 125
            if (try? LaunchConfig.load(directory: stack.engine.store.path(id)))?.autoRemove == true {
                _ = try? stack.client.send(.init(op: .remove, containers: [id]))
            }
            throw CLIError(failure, exitCode: code)
        }
        return try waitForExit(signals: signals)
    }

    private func waitForExit(signals: SignalPipe) throws -> Int32 {
        let done = try BerthSystem.Pipe()
        defer { close(done.read); close(done.write) }
        let outcome = LockedResult()
        let client = stack.client
        let id = self.id
        let wakeFD = done.write
        Thread {
            do {
                let response = try client.send(.init(op: .wait, containers: [id]))
                if let error = response.results.first?.error { throw EngineError(error) }
                outcome.set(.success(response.results.first?.exitCode ?? 0))
            } catch {
                outcome.set(.failure(error))
            }
            var byte: UInt8 = 1
            _ = Glibc.write(wakeFD, &byte, 1)
        }.start()
        while true {
            var fds = [pollfd(fd: done.read, events: Int16(POLLIN), revents: 0), pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 && errno != EINTR { throw CLIError("poll: \(SystemError.errnoName(errno))", exitCode: 125) }
            if fds[0].revents != 0, let result = outcome.value {
                return try result.get()
            }
            if fds[1].revents != 0 {
                for signal in signals.drain() { forward(signal) }
            }
        }
    }

    /// A resize goes to the monitor (it owns the pseudo-terminal); anything else to the
    /// container's main process. A container that has just ended is no error.
    private func forward(_ signal: Int32) {
        if signal == SIGWINCH {
            let state = stack.engine.store.state(id)
            guard tty, let pid = state.monitorPid, let start = state.monitorStartTime,
                  let fd = ProcessIdentity(pid: pid, startTime: start).openPidfd() else { return }
            _ = berth_pidfd_send_signal(fd, SIGWINCH)
            close(fd)
            return
        }
        _ = try? stack.client.send(.init(op: .kill, containers: [id], signal: signal))
    }
}

/// The waiting thread's outcome, read by the main thread once it is woken.
final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Int32, any Error>?
    func set(_ value: Result<Int32, any Error>) { lock.withLock { result = value } }
    var value: Result<Int32, any Error>? { lock.withLock { result } }
}
