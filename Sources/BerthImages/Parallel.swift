import Foundation
import Synchronization

/// Runs `body(0..<count)` on up to `limit` threads and waits for all of them. Plain threads,
/// not Swift concurrency: the work blocks on sockets and disks. After the first failure no
/// new job starts; that first error (in time: the cause, not a consequence) is thrown once
/// every started job has ended.
public enum Parallel {
    public static func forEach(_ count: Int, limit: Int, _ body: @escaping @Sendable (Int) throws(ImageError) -> Void) throws(ImageError) {
        guard count > 0 else { return }
        if count == 1 || limit <= 1 {
            for index in 0..<count { try body(index) }
            return
        }
        let next = Atomic<Int>(0)
        let failure = Mutex<ImageError?>(nil)
        let done = DispatchSemaphore(value: 0)
        let workers = min(limit, count)
        for _ in 0..<workers {
            let thread = Thread {
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < count, failure.withLock({ $0 == nil }) else { break }
                    do throws(ImageError) { try body(index) } catch { failure.withLock { if $0 == nil { $0 = error } } }
                }
                done.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in 0..<workers { done.wait() }
        if let error = failure.withLock({ $0 }) { throw error }
    }
}
