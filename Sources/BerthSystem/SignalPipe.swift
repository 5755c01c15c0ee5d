#if canImport(Glibc)
import Glibc
#endif
import CBerthSys

/// Signals turned into bytes on a pipe (the self-pipe trick), so that a `poll` loop can wait
/// for them next to its other descriptors. A handler, not a blocked mask + signalfd: a mask
/// only covers the threads created after it, and Foundation or Dispatch may have started
/// threads already. One per process at a time; `close()` restores the default dispositions.
public final class SignalPipe: @unchecked Sendable {
    public let signals: [Int32]
    /// Readable when a signal has arrived.
    public private(set) var fd: Int32

    public init(_ signals: [Int32]) throws {
        self.signals = signals
        fd = try Sys.check("install signal handlers") { signals.withUnsafeBufferPointer { berth_signal_pipe_install($0.baseAddress, Int32($0.count)) } }
    }

    deinit { close() }

    /// The signals that arrived since the last call, in order (empty when none).
    public func drain() -> [Int32] {
        guard fd >= 0 else { return [] }
        var arrived: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 16)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { return arrived }
            arrived += buffer[0..<count].map(Int32.init)
        }
    }

    public func close() {
        guard fd >= 0 else { return }
        signals.withUnsafeBufferPointer { berth_signal_pipe_remove(fd, $0.baseAddress, Int32($0.count)) }
        fd = -1
    }
}
