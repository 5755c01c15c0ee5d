/// One option of a command: its spellings, the value it takes (nil for a flag), the help
/// text, and its default. `--help`, the man pages and the parser all read this.
public struct OptionSpec: Sendable {
    public var short: String?
    public var long: String
    public var valueName: String?
    public var help: String
    public var defaultValue: String?
    public var repeatable: Bool
    public var environment: String?

    public init(
        _ long: String, short: String? = nil, value: String? = nil, help: String, default defaultValue: String? = nil,
        repeatable: Bool = false, environment: String? = nil
    ) {
        self.long = long
        self.short = short
        self.valueName = value
        self.help = help
        self.defaultValue = defaultValue
        self.repeatable = repeatable
        self.environment = environment
    }

    public var isFlag: Bool { valueName == nil }

    /// `-f, --file FILE` as help and man pages show it.
    public var label: String {
        let names = [short.map { "-\($0)" }, "--\(long)"].compactMap { $0 }.joined(separator: ", ")
        return valueName.map { "\(names) \($0)" } ?? names
    }
}

/// A command: name, arguments, options, text, and what it runs.
public struct CommandSpec: Sendable {
    public var name: String
    public var arguments: String
    public var abstract: String
    public var discussion: String
    public var options: [OptionSpec]
    public var examples: [(command: String, explanation: String)]
    public var hidden: Bool
    /// Accepts everything after its own options verbatim (for `-- CMD…`).
    public var passThrough: Bool
    /// A group (`berth image …`) dispatches to these; its own `run` is not used.
    public var subcommands: [CommandSpec]
    public var run: @Sendable (Invocation) throws -> Int32

    public init(
        name: String, arguments: String = "", abstract: String, discussion: String = "", options: [OptionSpec] = [],
        examples: [(command: String, explanation: String)] = [], hidden: Bool = false, passThrough: Bool = false,
        subcommands: [CommandSpec] = [], run: @escaping @Sendable (Invocation) throws -> Int32 = { _ in 0 }
    ) {
        self.name = name
        self.arguments = arguments
        self.abstract = abstract
        self.discussion = discussion
        self.options = options
        self.examples = examples
        self.hidden = hidden
        self.passThrough = passThrough
        self.subcommands = subcommands
        self.run = run
    }

    public var allOptions: [OptionSpec] { options + [CommandSpec.helpOption] }

    /// The subcommands with their full names (`image pull`), as help and man pages show them.
    public var qualifiedSubcommands: [CommandSpec] {
        subcommands.map { sub in
            var qualified = sub
            qualified.name = "\(name) \(sub.name)"
            return qualified
        }
    }

    /// `berth-image-pull`: the man page name.
    public var pageName: String { "berth-" + name.replacingOccurrences(of: " ", with: "-") }

    static let helpOption = OptionSpec("help", short: "h", help: "Show help for this command and exit.")
}

/// A usage error: exits 64 with a hint, as argument-parser and Compose do.
public struct UsageError: Error, CustomStringConvertible {
    public var message: String
    public var command: String?
    public var description: String { message }
}

/// A failure reported to the user as `Error: …`, with Compose's exit code.
public struct CLIError: Error, CustomStringConvertible {
    public var message: String
    public var exitCode: Int32
    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
    public var description: String { message }
}

/// Parsed values of one command's options plus its positional arguments.
public struct ParsedOptions: Sendable {
    public var values: [String: [String]] = [:]
    public var arguments: [String] = []

    public func value(_ long: String) -> String? { values[long]?.last }
    public func all(_ long: String) -> [String] { values[long] ?? [] }
    /// Set, and not turned off by a later `--flag=false`.
    public func flag(_ long: String) -> Bool { values[long].map { $0.last != "false" } ?? false }
    /// A flag whose default is true (`--orphans`): off only with `--flag=false`.
    public func flag(_ long: String, default: Bool) -> Bool { values[long].map { $0.last != "false" } ?? `default` }
}

enum OptionParser {
    /// Parses `args` against `options`. Stops at `--` or, with `stopAtPositional`, at the
    /// first positional argument (everything after it is kept as arguments).
    static func parse(_ args: [String], options: [OptionSpec], command: String?, stopAtPositional: Bool = false) throws -> ParsedOptions {
        var parsed = ParsedOptions()
        var index = 0
        func find(long: String) -> OptionSpec? { options.first(where: { $0.long == long }) }
        func find(short: String) -> OptionSpec? { options.first(where: { $0.short == short }) }
        func unknown(_ name: String) -> UsageError { UsageError(message: "unknown flag: \(name)", command: command) }
        while index < args.count {
            let arg = args[index]
            index += 1
            if arg == "--" {
                parsed.arguments.append(contentsOf: args[index...])
                break
            }
            if arg.hasPrefix("--") {
                var name = String(arg.dropFirst(2))
                var inline: String?
                if let eq = name.firstIndex(of: "=") {
                    inline = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                guard let spec = find(long: name) else { throw unknown("--\(name)") }
                if spec.isFlag {
                    if let inline, !["true", "false"].contains(inline) {
                        throw UsageError(message: "invalid argument \"\(inline)\" for \"--\(name)\" flag: expected true or false", command: command)
                    }
                    parsed.values[spec.long, default: []].append(inline == "false" ? "false" : "true")
                    continue
                }
                let value: String
                if let inline {
                    value = inline
                } else {
                    guard index < args.count else { throw UsageError(message: "flag needs an argument: --\(name)", command: command) }
                    value = args[index]
                    index += 1
                }
                parsed.values[spec.long, default: []].append(value)
            } else if arg.hasPrefix("-") && arg.count > 1 {
                // -q, -qf FILE, -fFILE
                var letters = Array(arg.dropFirst())
                while !letters.isEmpty {
                    let letter = String(letters.removeFirst())
                    guard let spec = find(short: letter) else { throw unknown("-\(letter)") }
                    if spec.isFlag {
                        parsed.values[spec.long, default: []].append("true")
                        continue
                    }
                    let value: String
                    if !letters.isEmpty {
                        value = String(letters)
                        letters = []
                    } else {
                        guard index < args.count else { throw UsageError(message: "flag needs an argument: '\(letter)' in -\(letter)", command: command) }
                        value = args[index]
                        index += 1
                    }
                    parsed.values[spec.long, default: []].append(value)
                }
            } else {
                parsed.arguments.append(arg)
                if stopAtPositional {
                    parsed.arguments.append(contentsOf: args[index...])
                    break
                }
            }
        }
        return parsed
    }
}
