import Foundation

/// `--help` text and man pages, both rendered from the command registry so they can't
/// disagree with what the parser accepts.
public enum Help {
    public static func overview() -> String {
        var out = "Usage:  berth [OPTIONS] COMMAND\n\n"
        out += "berth runs Compose stacks on one Linux machine with its own embedded runtime.\n\n"
        out += "Commands:\n"
        let visible = BerthCLI.commands.filter { !$0.hidden }
        let width = (visible.map(\.name.count).max() ?? 0) + 2
        for command in visible {
            out += "  " + command.name.padding(toLength: width, withPad: " ", startingAt: 0) + command.abstract + "\n"
        }
        out += "\nOptions:\n" + optionTable(BerthCLI.globalOptions + [CommandSpec.helpOption])
        out += "\nRun 'berth COMMAND --help' for more information on a command.\n"
        return out
    }

    public static func text(for command: CommandSpec) -> String {
        if !command.subcommands.isEmpty { return groupText(for: command) }
        var out = "Usage:  berth [OPTIONS] \(command.name)"
        if !command.options.isEmpty { out += " [OPTIONS]" }
        if !command.arguments.isEmpty { out += " \(command.arguments)" }
        out += "\n\n\(command.abstract)\n"
        if !command.discussion.isEmpty { out += "\n\(command.discussion)\n" }
        out += "\nOptions:\n" + optionTable(command.allOptions)
        if !command.examples.isEmpty {
            out += "\nExamples:\n"
            for example in command.examples { out += "  \(example.command)\n      \(example.explanation)\n" }
        }
        return out
    }

    /// `berth image --help`: the group's commands.
    static func groupText(for group: CommandSpec) -> String {
        var out = "Usage:  berth [OPTIONS] \(group.name) COMMAND\n\n\(group.abstract)\n"
        if !group.discussion.isEmpty { out += "\n\(group.discussion)\n" }
        out += "\nCommands:\n"
        let width = (group.subcommands.map(\.name.count).max() ?? 0) + 2
        for sub in group.subcommands {
            out += "  " + sub.name.padding(toLength: width, withPad: " ", startingAt: 0) + sub.abstract + "\n"
        }
        out += "\nOptions:\n" + optionTable(group.allOptions)
        out += "\nRun 'berth \(group.name) COMMAND --help' for more information on a command.\n"
        return out
    }

    static func optionTable(_ options: [OptionSpec]) -> String {
        let labels = options.map { option -> String in
            let names = option.short.map { "-\($0), " } ?? "    "
            return names + "--\(option.long)" + (option.valueName.map { " \($0)" } ?? "")
        }
        let width = (labels.map(\.count).max() ?? 0) + 3
        var out = ""
        for (label, option) in zip(labels, options) {
            var help = option.help
            if let value = option.defaultValue { help += " (default \"\(value)\")" }
            out += "  " + label.padding(toLength: width, withPad: " ", startingAt: 0) + help + "\n"
        }
        return out
    }

    // MARK: Man pages

    /// Date stamped into generated pages: fixed per release so the pages are reproducible.
    static let manDate = "2026-11-21"

    /// `berth-NAME.1` for a command.
    public static func manPage(for command: CommandSpec) -> String {
        let title = command.pageName.uppercased()
        var out = header(title: title, section: 1)
        out += ".SH NAME\n\(roff(command.pageName)) \\- \(roff(lowercasedFirst(command.abstract)))\n"
        out += ".SH SYNOPSIS\n.B berth\n[\\fIGLOBAL OPTIONS\\fR]\n.B \(roff(command.name))\n"
        if !command.subcommands.isEmpty {
            out += "\\fICOMMAND\\fR\n"
            out += ".SH DESCRIPTION\n\(paragraphs(command.abstract + (command.discussion.isEmpty ? "" : "\n\n" + command.discussion)))"
            out += ".SH COMMANDS\n"
            for sub in command.qualifiedSubcommands {
                out += ".TP\n.BR \(roff(sub.pageName)) (1)\n\(roff(sub.abstract))\n"
            }
            out += ".SH SEE ALSO\n.BR berth (1)\n"
            return out
        }
        if !command.options.isEmpty { out += "[\\fIOPTIONS\\fR]\n" }
        if !command.arguments.isEmpty { out += "\\fI\(roff(command.arguments))\\fR\n" }
        out += ".SH DESCRIPTION\n\(paragraphs(command.abstract + (command.discussion.isEmpty ? "" : "\n\n" + command.discussion)))"
        out += ".SH OPTIONS\n" + manOptions(command.allOptions.sorted(by: { $0.long < $1.long }))
        out += ".SH EXIT STATUS\n.TP\n.B 0\nSuccess.\n.TP\n.B 1\nThe project or the operation failed; the reason is printed after \\fBError:\\fR.\n"
        out += ".TP\n.B 64\nThe command line is wrong (unknown command or option, missing value).\n"
        if !command.examples.isEmpty {
            out += ".SH EXAMPLES\n"
            for example in command.examples {
                out += ".TP\n.B \(roff(example.command))\n\(roff(example.explanation))\n"
            }
        }
        out += ".SH SEE ALSO\n.BR berth (1),\n.BR berth\\-compose (5)\n"
        return out
    }

    /// A group's page and one per subcommand.
    static func pages(for command: CommandSpec) -> [(file: String, text: String)] {
        [(command.pageName + ".1", manPage(for: command))] + command.qualifiedSubcommands.map { ($0.pageName + ".1", manPage(for: $0)) }
    }

    /// `berth.1`: the overview, global options, environment, files and exit status.
    public static func mainManPage() -> String {
        var out = header(title: "BERTH", section: 1)
        out += ".SH NAME\nberth \\- run Compose stacks on one Linux machine with an embedded container runtime\n"
        out += ".SH SYNOPSIS\n.B berth\n[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR...]\n"
        out += ".SH DESCRIPTION\n"
        out += paragraphs(
            "berth reads Compose files (the format of Docker Compose v2, see berth-compose(5)) and runs the stack on this machine without a Docker daemon: it creates the namespaces, cgroups, root filesystems and networks itself.\n\nGlobal options come before the command, as with docker compose.")
        out += ".SH COMMANDS\n"
        for command in BerthCLI.commands where !command.hidden {
            out += ".TP\n.BR berth\\-\(roff(command.name)) (1)\n\(roff(command.abstract))\n"
        }
        out += ".SH OPTIONS\n" + manOptions(BerthCLI.globalOptions + [CommandSpec.helpOption])
        out += ".SH ENVIRONMENT\n"
        let environment: [(String, String)] = [
            ("COMPOSE_FILE", "Compose files to use when no \\fB\\-f\\fR is given, separated by \\fB:\\fR (or \\fBCOMPOSE_PATH_SEPARATOR\\fR)."),
            ("COMPOSE_PATH_SEPARATOR", "Separator for \\fBCOMPOSE_FILE\\fR."),
            ("COMPOSE_PROJECT_NAME", "Project name when no \\fB\\-p\\fR is given; wins over the file's top-level \\fBname\\fR."),
            ("COMPOSE_PROFILES", "Comma-separated profiles to enable when no \\fB\\-\\-profile\\fR is given."),
            ("COMPOSE_ENV_FILES", "Comma-separated environment files when no \\fB\\-\\-env\\-file\\fR is given."),
            ("BERTH_ROOT", "Persistent store, as \\fB\\-\\-root\\fR."),
            ("BERTH_RUN_ROOT", "Runtime state, as \\fB\\-\\-run\\-root\\fR."),
        ]
        for (name, text) in environment { out += ".TP\n.B \(name)\n\(text)\n" }
        out += ".PP\nEvery other variable of the environment, and of the project's \\fB.env\\fR file, is available for interpolation in Compose files; the process environment wins over \\fB.env\\fR.\n"
        out += ".SH FILES\n"
        out += ".TP\n.I compose.yaml\nLooked for, with \\fIcompose.yml\\fR, \\fIdocker\\-compose.yaml\\fR and \\fIdocker\\-compose.yml\\fR, in the working directory and its parents, with the matching \\fI*.override.yaml\\fR next to it.\n"
        out += ".TP\n.I .env\nVariables for interpolation, in the project directory.\n"
        out += ".TP\n.I /var/lib/berth\nImages, layers, volumes and project state.\n"
        out += ".TP\n.I /run/berth\nSockets, pid files, overlay mount points and container scratch space.\n"
        out += ".SH EXIT STATUS\n.TP\n.B 0\nSuccess.\n.TP\n.B 1\nThe project or the operation failed; the reason follows \\fBError:\\fR on standard error.\n"
        out += ".TP\n.B 64\nThe command line is wrong: unknown command or option, or a missing value.\n"
        out += ".SH SEE ALSO\n"
        let pages = BerthCLI.commands.filter { !$0.hidden }.map { ".BR berth\\-\(roff($0.name)) (1)," } + [".BR berth\\-compose (5)"]
        out += pages.joined(separator: "\n") + "\n"
        return out
    }

    /// Every generated page by file name.
    public static func generatedPages() -> [(file: String, text: String)] {
        [("berth.1", mainManPage())] + BerthCLI.commands.filter { !$0.hidden }.flatMap(pages)
    }

    private static func header(title: String, section: Int) -> String {
        ".\\\" Generated from the berth command registry; run 'make man' after changing a command.\n"
            + ".TH \(title) \(section) \"\(manDate)\" \"berth \(BerthCLI.version)\" \"berth manual\"\n"
    }

    private static func manOptions(_ options: [OptionSpec]) -> String {
        var out = ""
        for option in options {
            let names = [option.short.map { "\\fB\\-\(roff($0))\\fR" }, "\\fB\\-\\-\(roff(option.long))\\fR"].compactMap { $0 }.joined(separator: ", ")
            out += ".TP\n\(names)\(option.valueName.map { " \\fI\(roff($0))\\fR" } ?? "")\n"
            var help = roff(option.help)
            if let value = option.defaultValue { help += " Default: \\fB\(roff(value))\\fR." }
            if let env = option.environment { help += " Environment: \\fB\(roff(env))\\fR." }
            out += help + "\n"
        }
        return out
    }

    private static func paragraphs(_ text: String) -> String {
        text.components(separatedBy: "\n\n").map { roff($0) + "\n" }.joined(separator: ".PP\n")
    }

    private static func lowercasedFirst(_ text: String) -> String {
        guard let first = text.first else { return text }
        let trimmed = text.hasSuffix(".") ? String(text.dropLast()) : text
        return first.lowercased() + trimmed.dropFirst()
    }

    /// Escapes text for roff: backslashes, hyphens, and control characters at line start.
    static func roff(_ text: String) -> String {
        var out = text.replacingOccurrences(of: "\\", with: "\\e").replacingOccurrences(of: "-", with: "\\-")
        out = out.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix(".") || line.hasPrefix("'") ? "\\&" + line : String(line)
        }.joined(separator: "\n")
        return out
    }
}
