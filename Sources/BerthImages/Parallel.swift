import Foundation
import Synchronization

/// Runs `body(0..<count)` on up to `limit` threads and waits for all of them. Plain threads,
/// not Swift concurrency: the work blocks on sockets and disks. The first error (by index)
/// is thrown after every started job has ended.
enum Parallel {
    static func forEach(_ count: Int, limit: Int, _ body: @escaping @Sendable (Int) throws(ImageError) -> Void) throws(ImageError) {
        guard count > 0 else { return }
        if count == 1 || limit <= 1 {
            for index in 0..<count { try body(index) }
            return
        }
        let next = Atomic<Int>(0)
        let errors = Mutex<[Int: ImageError]>([:])
        let done = DispatchSemaphore(value: 0)
        let workers = min(limit, count)
        for _ in 0..<workers {
            let thread = Thread {
                while true {
                    let index = next.add(1, ordering: .relaxed).oldValue
                    guard index < count else { break }
                    do throws(ImageError) { try body(index) } catch { errors.withLock { $0[index] = error } }
                }
                done.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        for _ in 0..<workers { done.wait() }
        if let first = errors.withLock({ $0.min(by: { $0.key < $1.key }) }) { throw first.value }
    }
}
