import BerthSystem
import Foundation

/// The restarts the supervisor waits to do: when each is due (monotonic nanoseconds), and
/// those under way. The supervisor's poll(2) sleeps until the earliest is due — a
/// crash-looping container costs nothing while it waits — then hands the due ones to
/// threads of their own. Both kinds count as running: a supervisor does not exit while a
/// restart is pending.
final class RestartScheduler: @unchecked Sendable {
    private let lock = NSLock()
    private var due: [String: Int64] = [:]
    private var underWay: Set<String> = []
    /// Called when the earliest due time may have changed (wakes the supervisor's poll).
    var onChange: @Sendable () -> Void = {}

    func schedule(_ id: String, at monotonic: Int64) {
        lock.withLock { due[id] = monotonic }
        onChange()
    }

    /// Drops a scheduled restart; true if there was one.
    @discardableResult
    func cancel(_ id: String) -> Bool {
        lock.withLock { due.removeValue(forKey: id) != nil }
    }

    func isScheduled(_ id: String) -> Bool { lock.withLock { due[id] != nil || underWay.contains(id) } }

    /// The earliest due time, if any restart waits.
    func nextDue() -> Int64? { lock.withLock { due.values.min() } }

    /// The restarts due at `now`, now under way (call `finished` for each).
    func takeDue(now: Int64) -> [String] {
        lock.withLock {
            let ready = due.filter { $0.value <= now }.map(\.key).sorted()
            for id in ready {
                due[id] = nil
                underWay.insert(id)
            }
            return ready
        }
    }

    func finished(_ id: String) {
        lock.withLock { _ = underWay.remove(id) }
        onChange()
    }

    var count: Int { lock.withLock { due.count + underWay.count } }
}
