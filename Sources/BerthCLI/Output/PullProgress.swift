import BerthImages
import Foundation
import Synchronization

/// `docker pull` output. On a terminal one live line per layer (`ID: Downloading [==>  ]
/// 1.2MB/4.3MB`), redrawn in place; otherwise one plain line per change of state; nothing
/// but the final name with `--quiet`.
final class PullPrinter: Sendable {
    enum Mode { case terminal, plain, quiet }

    private let console: any Console
    private let mode: Mode
    private let prefix: String
    private struct State {
        var order: [String] = []
        var lines: [String: String] = [:]
        var drawn = 0
        var lastDraw: Int64 = 0
    }
    private let state = Mutex(State())

    /// `prefix` goes before every layer line (Compose's per-service output uses it).
    init(console: any Console, mode: Mode, prefix: String = "") {
        self.console = console
        self.mode = mode
        self.prefix = prefix
    }

    func say(_ line: String) {
        guard mode != .quiet else { return }
        console.out(line + "\n")
    }

    func handle(_ event: PullEvent) {
        guard mode != .quiet else { return }
        switch event {
        case .warning(let text):
            console.err("WARNING: \(text)\n")
        case .resolved:
            break
        case .layer(let id, let progress):
            let text: String
            switch progress {
            case .waiting: text = "Pulling fs layer"
            case .alreadyExists: text = "Already exists"
            case .complete: text = "Pull complete"
            case .downloading(let current, let total): text = "Downloading " + Self.bar(current, total)
            }
            if mode == .plain {
                if case .downloading = progress { return }
                console.out("\(prefix)\(id): \(text)\n")
                return
            }
            let output: String? = state.withLock { s in
                if s.lines[id] == nil { s.order.append(id) }
                s.lines[id] = text
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                if case .downloading = progress, now - s.lastDraw < 100 { return nil }
                s.lastDraw = now
                return redraw(&s)
            }
            if let output { console.out(output) }
        }
    }

    /// Final redraw so every layer shows its last state.
    func finish() {
        guard mode == .terminal else { return }
        let output = state.withLock { redraw(&$0) }
        console.out(output)
    }

    private func redraw(_ s: inout State) -> String {
        var out = s.drawn > 0 ? "\u{1B}[\(s.drawn)A" : ""
        for id in s.order {
            out += "\u{1B}[2K\r\(prefix)\(id): \(s.lines[id] ?? "")\n"
        }
        s.drawn = s.order.count
        return out
    }

    /// Docker's bar: 50 columns, `=` per 2 %, then the byte counts.
    static func bar(_ current: Int64, _ total: Int64) -> String {
        guard total > 0 else { return Human.size(current) }
        let filled = min(50, Int(Double(current) / Double(total) * 100) / 2)
        let numbers = Human.size(current)
        let padded = String(repeating: " ", count: max(0, 8 - numbers.count)) + numbers
        return "[" + String(repeating: "=", count: filled) + ">" + String(repeating: " ", count: 50 - filled) + "] " + padded + "/" + Human.size(total)
    }
}
