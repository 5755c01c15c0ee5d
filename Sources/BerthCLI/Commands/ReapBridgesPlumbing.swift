import BerthNetwork
import Glibc

/// `berth reap-bridges`: deletes the bridges of networks `down` removed (plumbing: `down`
/// starts it detached and passes it the deletions' lock, so that `down` need not wait the
/// kernel's 30-50 ms per bridge; see `BridgeDeletions`).
enum ReapBridgesPlumbing {
    static let spec = CommandSpec(
        name: "reap-bridges", arguments: "",
        abstract: "Delete the bridges of removed networks (plumbing: berth down starts it in the background).",
        discussion: "Deletes every bridge recorded under <run-root>/bridges-deleting that no network uses any more, then its record. With --lock-fd, that descriptor already holds the deletions' lock; without, the lock is taken (after any reaper at work).",
        options: [OptionSpec("lock-fd", value: "FD", help: "A descriptor holding the deletions' lock, passed on by down.")],
        hidden: true
    ) { invocation in
        let networks = invocation.networkManager
        if let text = invocation.options.value("lock-fd") {
            guard let fd = Int32(text), fd >= 0 else { throw UsageError(message: "invalid --lock-fd \"\(text)\"", command: "reap-bridges") }
            defer { close(fd) }
            _ = try networks.deleteScheduledBridges(holding: fd)
        } else {
            _ = try networks.deleteScheduledBridges()
        }
        return 0
    }
}
