import BerthOrchestrator
import Synchronization

/// Compose's log consumer (`cmd/formatter/logs.go`): each line behind a `web-1  | ` prefix
/// padded to the widest name registered so far, in a colour per container taken in
/// Compose's rotation when colours are on. `logs` and `up` print through it.
struct LogPrinter {
    /// Compose's rainbow: cyan, yellow, green, magenta, blue, then the same intense.
    static let rainbow = ["36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"]

    let colors: Bool
    let prefixes: Bool
    /// Prepend each line's time (`-t`), as Docker's RFC3339NanoFixed.
    let timestamps: Bool
    private var names: [String] = []
    private var colorOf: [String: String] = [:]
    /// Each name's prefix, redone when a longer name widens them all.
    private var prefixOf: [String: String] = [:]

    init(colors: Bool, prefixes: Bool, timestamps: Bool) {
        self.colors = colors
        self.prefixes = prefixes
        self.timestamps = timestamps
    }

    /// Takes the next colour for `name` and widens the prefixes if it is the longest.
    /// Lines of an unregistered name register it (as Compose does).
    mutating func register(_ name: String) {
        guard colorOf[name] == nil else { return }
        colorOf[name] = Self.rainbow[names.count % Self.rainbow.count]
        names.append(name)
        guard prefixes else { return }
        let width = (names.map(\.utf8.count).max() ?? 0) + 1
        for name in names {
            prefixOf[name] = colored(name, name + String(repeating: " ", count: max(0, width - name.utf8.count)) + " | ")
        }
    }

    func colored(_ name: String, _ text: String) -> String {
        guard colors, let code = colorOf[name] else { return text }
        return "\u{1B}[\(code)m" + text + "\u{1B}[0m"
    }

    mutating func line(_ line: LogLine) -> String {
        register(line.name)
        return (prefixOf[line.name] ?? "") + (timestamps ? line.time.rfc3339NanoFixed + " " : "") + line.text + "\n"
    }

    /// A status line in the container's colour, without a prefix: `web-1 exited with code 0`.
    mutating func status(_ name: String, _ message: String) -> String {
        register(name)
        return colored(name, "\(name) \(message)") + "\n"
    }
}

/// Colours are on when stdout is a terminal, unless `--no-color`, `NO_COLOR` or
/// `COMPOSE_ANSI=never` (and `COMPOSE_ANSI=always` forces them), as in Compose.
enum ANSIMode {
    static func colors(noColor: Bool, environment: [String: String], console: any Console) -> Bool {
        if noColor { return false }
        if let value = environment["NO_COLOR"], !value.isEmpty { return false }
        switch environment["COMPOSE_ANSI"] {
        case "never": return false
        case "always": return true
        default: return console.stdoutIsTerminal
        }
    }
}

/// A `LogStreamer` sink that prints through a `LogPrinter` onto the console, one write per
/// batch. `exitStatus` prints `name exited with code N` lines (`up` wants them, `logs` not).
/// `splitStreams` prints what containers wrote to stderr on stderr (`up`, as Compose's
/// attach does); otherwise every line goes to stdout (`logs`).
final class LogOutput: Sendable {
    private let printer: Mutex<LogPrinter>
    private let console: any Console
    private let exitStatus: Bool
    private let splitStreams: Bool

    init(_ printer: LogPrinter, console: any Console, exitStatus: Bool, splitStreams: Bool = false) {
        self.printer = Mutex(printer)
        self.console = console
        self.exitStatus = exitStatus
        self.splitStreams = splitStreams
    }

    func register(_ name: String) {
        printer.withLock { $0.register(name) }
    }

    func write(_ events: [LogEvent]) {
        // Runs of lines bound for one stream, in order: each run is one write.
        let runs = printer.withLock { printer in
            var runs: [(toStderr: Bool, text: String)] = []
            func append(_ text: String, toStderr: Bool) {
                if let last = runs.last, last.toStderr == toStderr {
                    runs[runs.count - 1].text += text
                } else {
                    runs.append((toStderr, text))
                }
            }
            for event in events {
                switch event {
                case .line(let line):
                    append(printer.line(line), toStderr: splitStreams && line.stream == .stderr)
                case .exited(_, let name, let code) where exitStatus:
                    append(printer.status(name, "exited with code \(code)"), toStderr: false)
                case .exited, .ended:
                    break
                }
            }
            return runs
        }
        for run in runs where !run.text.isEmpty {
            if run.toStderr { console.err(run.text) } else { console.out(run.text) }
        }
    }
}
