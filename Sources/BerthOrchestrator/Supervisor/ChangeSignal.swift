import BerthSystem
import CBerthSys
import Foundation

/// Wakes the requests that wait for containers to change (start, exit, health): each
/// waiter holds a pipe of its own, to which every `notify` writes a byte; it polls the pipe
/// (with its client's socket and its deadline) and looks at the containers again when woken.
final class ChangeSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var writers: [Int32: Int32] = [:]

    /// A pipe that turns readable at the next `notify`; give it back with `unsubscribe`.
    func subscribe() throws -> BerthSystem.Pipe {
        let pipe = try BerthSystem.Pipe()
        _ = berth_fcntl_setfl_nonblock(pipe.read)
        _ = berth_fcntl_setfl_nonblock(pipe.write)
        lock.withLock { writers[pipe.read] = pipe.write }
        return pipe
    }

    func unsubscribe(_ pipe: BerthSystem.Pipe) {
        lock.withLock { _ = writers.removeValue(forKey: pipe.read) }
        close(pipe.read)
        close(pipe.write)
    }

    /// Wakes every waiter (a full pipe already holds a wake-up).
    func notify() {
        lock.withLock {
            var byte: UInt8 = 1
            for fd in writers.values { _ = Glibc.write(fd, &byte, 1) }
        }
    }

    /// Empties a woken pipe.
    static func drain(_ pipe: BerthSystem.Pipe) {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(pipe.read, &buffer, buffer.count) > 0 {}
    }
}
