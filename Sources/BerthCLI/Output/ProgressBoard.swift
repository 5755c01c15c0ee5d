import BerthOrchestrator
import BerthRuntime
import Foundation
import Synchronization

/// Compose's progress output for stack commands, on stderr as Compose writes it:
/// - `tty`: a live list redrawn in place (`[+] Running 2/3`, ` ✔ Container web-1  Started  0.3s`);
/// - `plain`: one line per event (` Container web-1  Started`);
/// - `json`: one JSON object per event;
/// - `quiet`: nothing.
/// `auto` (the default) is `tty` when stderr is a terminal, else `plain`.
final class ProgressBoard: Sendable {
    enum Mode: String, CaseIterable { case auto, tty, plain, json, quiet }

    private struct Entry {
        var event: StackEvent
        var started: Date
        var ended: Date?
    }

    private struct Board {
        var entries: [Entry] = []
        var drawn = 0
    }

    private let console: any Console
    private let mode: Mode
    private let title: String
    private let board = Mutex(Board())

    /// `title` is Compose's verb for the tty header (`Running`, `Stopping`, `Removing`).
    init(console: any Console, mode: Mode, title: String) {
        self.console = console
        self.title = title
        self.mode = mode == .auto ? (console.stderrIsTerminal ? .tty : .plain) : mode
    }

    static func mode(_ invocation: Invocation) throws -> Mode {
        let text = invocation.globals.value("progress") ?? invocation.environment["COMPOSE_PROGRESS"] ?? "auto"
        guard let mode = Mode(rawValue: text) else {
            throw UsageError(message: "invalid --progress \"\(text)\": use \(Mode.allCases.map(\.rawValue).joined(separator: ", "))", command: nil)
        }
        return mode
    }

    var progress: StackProgress {
        { [self] event in self.record(event) }
    }

    func record(_ event: StackEvent) {
        let output: String = board.withLock { b in
            let id = "\(event.kind.rawValue) \(event.name)"
            let now = Date()
            if let index = b.entries.firstIndex(where: { "\($0.event.kind.rawValue) \($0.event.name)" == id }) {
                b.entries[index].event = event
                if event.phase != .working { b.entries[index].ended = now } else { b.entries[index].ended = nil }
            } else {
                b.entries.append(Entry(event: event, started: now, ended: event.phase == .working ? nil : now))
            }
            switch mode {
            case .quiet, .auto: return ""
            case .plain: return " \(id)  \(event.status)\n"
            case .json:
                return "{\"id\":\"\(JSONLogWriter.escape(id))\",\"status\":\"\(JSONLogWriter.escape(event.status))\",\"done\":\(event.phase == .done)}\n"
            case .tty: return redraw(&b)
            }
        }
        if !output.isEmpty { console.err(output) }
    }

    /// Draws the final state (tty mode only: a redraw shows the last durations).
    func finish() {
        guard mode == .tty else { return }
        let output = board.withLock { redraw(&$0) }
        console.err(output)
    }

    private func redraw(_ b: inout Board) -> String {
        let done = b.entries.filter { $0.event.phase == .done }.count
        var out = b.drawn > 0 ? "\u{1B}[\(b.drawn)A" : ""
        out += "\u{1B}[2K\r[+] \(title) \(done)/\(b.entries.count)\n"
        let width = b.entries.map { $0.event.kind.rawValue.count + 1 + $0.event.name.count }.max() ?? 0
        let now = Date()
        for entry in b.entries {
            let mark: String
            switch entry.event.phase {
            case .done: mark = "\u{1B}[32m✔\u{1B}[0m"
            case .failed: mark = "\u{1B}[31m✘\u{1B}[0m"
            case .working, .info: mark = "⠿"
            }
            let id = "\(entry.event.kind.rawValue) \(entry.event.name)"
            let seconds = (entry.ended ?? now).timeIntervalSince(entry.started)
            let line = " \(mark) \(id.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.event.status.padding(toLength: 10, withPad: " ", startingAt: 0))"
            out += "\u{1B}[2K\r\(line) \(String(format: "%.1fs", seconds))\n"
        }
        b.drawn = b.entries.count + 1
        return out
    }
}

