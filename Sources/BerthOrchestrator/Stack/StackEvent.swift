import Foundation

/// One line of Compose's progress output: `Container web-1  Started`.
public struct StackEvent: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case network = "Network"
        case volume = "Volume"
        case container = "Container"
        case image = "Image"
    }

    public enum Phase: Sendable, Equatable {
        /// Under way (`Creating`, `Starting`, …).
        case working
        /// Finished (`Created`, `Started`, …).
        case done
        /// Failed: the text is the error.
        case failed
        /// A note that is neither (`Waiting`, warnings).
        case info
    }

    public var kind: Kind
    public var name: String
    public var status: String
    public var phase: Phase

    public init(_ kind: Kind, _ name: String, _ status: String, _ phase: Phase) {
        self.kind = kind
        self.name = name
        self.status = status
        self.phase = phase
    }
}

/// Where stack operations report progress; called from several threads.
public typealias StackProgress = @Sendable (StackEvent) -> Void

/// Runs `body` for each element on its own thread and waits for all; the first error (in
/// element order) is rethrown after every body has finished — nothing is left half-running.
func concurrently<T: Sendable>(_ items: [T], _ body: @escaping @Sendable (T) throws -> Void) throws {
    if items.count == 1 { return try body(items[0]) }
    let errors = LockedBox<[Int: any Error]>([:])
    let group = DispatchGroup()
    for (index, item) in items.enumerated() {
        group.enter()
        Thread {
            defer { group.leave() }
            do { try body(item) } catch { errors.update { $0[index] = error } }
        }.start()
    }
    group.wait()
    if let first = errors.value.sorted(by: { $0.key < $1.key }).first { throw first.value }
}

/// A value behind a lock, for results gathered from several threads.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&stored) } }
}
