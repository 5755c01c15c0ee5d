import BerthSystem
import CBerthSys
import Foundation

/// A request line that carries descriptors (SCM_RIGHTS) — how `berth run` hands its standard
/// input, output and error to the supervisor, which gives them to the container's monitor.
/// The descriptors ride on the first bytes of the line.
enum DescriptorPassing {
    /// Sends `bytes` (the whole line) with `fds` attached to the first chunk.
    static func send(_ fd: Int32, _ bytes: [UInt8], fds: [Int32]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written: Int
            if offset == 0 && !fds.isEmpty {
                written = bytes.withUnsafeBytes { raw in
                    fds.withUnsafeBufferPointer { Int(berth_send_with_fds(fd, raw.baseAddress, raw.count, $0.baseAddress, Int32($0.count))) }
                }
            } else {
                written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            if written < 0 && errno == EINTR { continue }
            if written <= 0 { return false }
            offset += written
        }
        return true
    }

    /// The first line on `fd` (without the newline, "" at EOF) and the descriptors that came
    /// with it (close-on-exec; the caller closes them).
    static func readLine(_ fd: Int32) -> (line: String, fds: [Int32]) {
        var bytes: [UInt8] = []
        var received: [Int32] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            var fds = [Int32](repeating: -1, count: Int(BERTH_MAX_PASSED_FDS))
            var count: Int32 = 0
            let n = buffer.withUnsafeMutableBytes { raw in
                berth_recv_with_fds(fd, raw.baseAddress, raw.count, &fds, Int32(fds.count), &count)
            }
            received += fds.prefix(Int(count))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += buffer[0..<n]
            if let newline = bytes.firstIndex(of: 0x0a) { return (String(decoding: bytes[..<newline], as: UTF8.self), received) }
        }
        return (String(decoding: bytes, as: UTF8.self), received)
    }
}
