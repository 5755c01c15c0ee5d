import BerthImages
import BerthNetwork
import BerthOrchestrator
import BerthRuntime
import BerthSystem
import ComposeSpec
import Foundation

/// Where a command writes: the terminal in real use, a buffer in tests.
public protocol Console: Sendable {
    func out(_ text: String)
    func err(_ text: String)
    var stdoutIsTerminal: Bool { get }
    var stderrIsTerminal: Bool { get }
}

extension Console {
    public var stderrIsTerminal: Bool { false }
}

/// Writes straight to fds 1 and 2.
public struct StandardConsole: Console {
    public init() {}
    public func out(_ text: String) { Self.write(1, text) }
    public func err(_ text: String) { Self.write(2, text) }
    public var stdoutIsTerminal: Bool { isatty(1) == 1 }
    public var stderrIsTerminal: Bool { isatty(2) == 1 }

    static func write(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                Foundation.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
        bytes.removeAll()
    }
}

/// Everything a command needs to run: its options, the global options, the environment.
public struct Invocation: Sendable {
    public var command: CommandSpec
    public var globals: ParsedOptions
    public var options: ParsedOptions
    public var environment: [String: String]
    public var workingDirectory: String
    public var console: any Console
    public var readStandardInput: @Sendable () -> [UInt8]

    public var arguments: [String] { options.arguments }

    /// Compose load options from the global flags and the environment.
    public func loadOptions(selectedServices: [String] = [], interpolate: Bool = true) -> LoadOptions {
        var load = LoadOptions()
        load.files = globals.all("file")
        load.projectName = globals.value("project-name")
        load.projectDirectory = globals.value("project-directory")
        load.envFiles = globals.all("env-file")
        if load.envFiles.isEmpty, let files = environment["COMPOSE_ENV_FILES"], !files.isEmpty {
            load.envFiles = files.split(separator: ",").map(String.init)
        }
        load.profiles = globals.all("profile")
        load.selectedServices = selectedServices
        load.environment = environment
        load.workingDirectory = workingDirectory
        load.interpolate = interpolate
        load.readStandardInput = readStandardInput
        return load
    }

    /// Loads the project and prints the loader's warnings on stderr, as Compose does.
    public func loadProject(selectedServices: [String] = [], interpolate: Bool = true) throws -> Project {
        try load(selectedServices: selectedServices, interpolate: interpolate).project
    }

    /// The whole load result (project, warnings, interpolation environment).
    public func load(selectedServices: [String] = [], interpolate: Bool = true) throws -> LoadResult {
        let result = try ProjectLoader().load(loadOptions(selectedServices: selectedServices, interpolate: interpolate))
        for warning in result.warnings {
            console.err("WARN[0000] \(warning.message)\n")
        }
        return result
    }

    /// berth's persistent store (`--root`, `BERTH_ROOT`, default /var/lib/berth).
    public var root: String { globals.value("root") ?? environment["BERTH_ROOT"] ?? "/var/lib/berth" }
    /// berth's nftables table (`BERTH_NFT_TABLE`, default berth): separate roots on one
    /// machine (tests) each need their own, since a table holds the rules of one root's networks.
    public var firewallTable: String { environment["BERTH_NFT_TABLE"] ?? "berth" }

    public var networkManager: NetworkManager {
        NetworkManager(root: root, runRoot: runRoot, firewall: Firewall(table: firewallTable))
    }

    /// berth's runtime state (`--run-root`, `BERTH_RUN_ROOT`, default /run/berth).
    public var runRoot: String { globals.value("run-root") ?? environment["BERTH_RUN_ROOT"] ?? "/run/berth" }
}

/// Entry point of the `berth` command line. `main.swift` calls only `main()`.
public enum BerthCLI {
    public static let version = "0.1.0"

    /// Global options, before the command (as Compose v2).
    public static let globalOptions: [OptionSpec] = [
        OptionSpec("file", short: "f", value: "FILE", help: "Compose configuration file; repeat to merge several, '-' reads standard input.", repeatable: true, environment: "COMPOSE_FILE"),
        OptionSpec("project-name", short: "p", value: "NAME", help: "Project name.", environment: "COMPOSE_PROJECT_NAME"),
        OptionSpec("project-directory", value: "PATH", help: "Alternate working directory (default: the directory of the first Compose file)."),
        OptionSpec("env-file", value: "PATH", help: "Alternate environment file for interpolation (default: .env in the project directory); repeatable.", repeatable: true, environment: "COMPOSE_ENV_FILES"),
        OptionSpec("profile", value: "PROFILE", help: "Enable a profile; repeatable.", repeatable: true, environment: "COMPOSE_PROFILES"),
        OptionSpec("root", value: "DIR", help: "Persistent store for images, volumes and project state.", default: "/var/lib/berth", environment: "BERTH_ROOT"),
        OptionSpec("run-root", value: "DIR", help: "Runtime state: sockets, mounts, container scratch space.", default: "/run/berth", environment: "BERTH_RUN_ROOT"),
        OptionSpec("progress", value: "TYPE", help: "Progress output of stack commands: auto, tty, plain, json or quiet.", default: "auto", environment: "COMPOSE_PROGRESS"),
        OptionSpec("version", short: "v", help: "Show the berth version and exit."),
    ]

    /// Every command, in the order help lists them.
    public static var commands: [CommandSpec] {
        [ConfigCommand.spec, UpCommand.spec, DownCommand.spec, PsCommand.spec, LogsCommand.spec, InspectCommand.spec, LsCommand.spec, UpCommand.createSpec, StartStopCommands.startSpec, StartStopCommands.stopSpec, StartStopCommands.restartSpec, ScaleCommand.spec, RunCommand.spec, ExecCommand.spec, EventsCommand.spec, KillCommand.spec, RmCommand.spec, PauseCommands.pauseSpec, PauseCommands.unpauseSpec, WaitCommand.spec, TopCommand.spec, CpCommand.spec, StatsCommand.spec, PortCommand.spec, AttachCommand.spec, PullCommand.spec, ImagesCommand.spec, ImageCommand.spec, NetworkCommand.spec, VolumeCommand.spec, KubeCommand.spec,
            PodCommand.spec,
            VersionCommand.spec, HelpCommand.spec, RuntimePlumbing.spec, DNSPlumbing.spec, SupervisePlumbing.spec, ReapBridgesPlumbing.spec]
    }

    public static func command(named name: String) -> CommandSpec? {
        commands.first(where: { $0.name == name })
    }

    public static func main() -> Never {
        // Not ProcessInfo.environment and FileManager's currentDirectoryPath: Foundation's
        // versions cost ~0.3 ms more per command.
        let code = run(
            arguments: Array(CommandLine.arguments.dropFirst()),
            environment: ProcessEnvironment.all(),
            workingDirectory: FS.currentDirectory() ?? FileManager.default.currentDirectoryPath,
            console: StandardConsole())
        exit(code)
    }

    /// Runs one command line and returns the exit status. Never traps: every error becomes
    /// an `Error: …` line on stderr.
    public static func run(
        arguments: [String], environment: [String: String], workingDirectory: String, console: any Console,
        readStandardInput: @escaping @Sendable () -> [UInt8] = { Array(FileHandle.standardInput.readDataToEndOfFile()) }
    ) -> Int32 {
        var commandName: String?
        do {
            let globals = try OptionParser.parse(arguments, options: globalOptions + [CommandSpec.helpOption], command: nil, stopAtPositional: true)
            if globals.flag("version") {
                console.out("berth version \(version)\n")
                return 0
            }
            guard let name = globals.arguments.first else {
                console.out(Help.overview())
                return 0
            }
            commandName = name
            guard var command = command(named: name) else {
                let hint = Spelling.closest(to: name, in: commands.filter { !$0.hidden }.map(\.name)).map { "\nDid you mean \"\($0)\"?" } ?? ""
                throw UsageError(message: "unknown command \"\(name)\" for \"berth\"\(hint)", command: nil)
            }
            if globals.flag("help") {
                console.out(Help.text(for: command))
                return 0
            }
            var rest = Array(globals.arguments.dropFirst())
            if !command.subcommands.isEmpty {
                // A group: `berth image pull …`.
                guard let subName = rest.first, !subName.hasPrefix("-") else {
                    if let flag = rest.first, flag != "--help", flag != "-h" {
                        throw UsageError(message: "unknown flag: \(flag)", command: command.name)
                    }
                    console.out(Help.text(for: command))
                    return 0
                }
                guard let sub = command.qualifiedSubcommands.first(where: { $0.name == "\(command.name) \(subName)" }) else {
                    let hint = Spelling.closest(to: subName, in: command.subcommands.map(\.name)).map { "\nDid you mean \"\($0)\"?" } ?? ""
                    throw UsageError(message: "unknown command \"\(subName)\" for \"berth \(command.name)\"\(hint)", command: command.name)
                }
                commandName = sub.name
                command = sub
                rest.removeFirst()
            }
            let options = try OptionParser.parse(rest, options: command.allOptions, command: command.name, stopAtPositional: command.passThrough)
            if options.flag("help") {
                console.out(Help.text(for: command))
                return 0
            }
            let invocation = Invocation(
                command: command, globals: globals, options: options, environment: environment,
                workingDirectory: workingDirectory, console: console, readStandardInput: readStandardInput)
            return try command.run(invocation)
        } catch let error as UsageError {
            let target = error.command.map { "berth \($0)" } ?? "berth"
            console.err("Error: \(error.message)\nRun '\(target) --help' for usage.\n")
            return 64
        } catch let error as CLIError {
            console.err("Error: \(error.message)\n")
            return error.exitCode
        } catch let error as ComposeError {
            console.err("Error: \(error.description)\n")
            return 1
        } catch let error as ImageError {
            console.err("Error: \(error.description)\n")
            return 1
        } catch let error as EngineError {
            console.err("Error: \(error.message)\n")
            return 1
        } catch let error as ServiceConfigError {
            console.err("Error: \(error.description)\n")
            return 1
        } catch let error as PlanError {
            console.err("Error: \(error.description)\n")
            return 1
        } catch {
            console.err("Error: \(commandName.map { "\($0): " } ?? "")\(error)\n")
            return 1
        }
    }
}

enum VersionCommand {
    static let spec = CommandSpec(
        name: "version", abstract: "Show the berth version information.",
        options: [OptionSpec("format", short: "f", value: "FORMAT", help: "Format the output: pretty or json.", default: "pretty"),
                  OptionSpec("short", help: "Show only the version number.")]
    ) { invocation in
        let format = invocation.options.value("format") ?? "pretty"
        if invocation.options.flag("short") {
            invocation.console.out(BerthCLI.version + "\n")
        } else if format == "json" {
            invocation.console.out("{\"version\":\"\(BerthCLI.version)\"}\n")
        } else if format == "pretty" {
            invocation.console.out("berth version \(BerthCLI.version)\n")
        } else {
            throw UsageError(message: "invalid format \"\(format)\": use pretty or json", command: "version")
        }
        return 0
    }
}

enum HelpCommand {
    static let spec = CommandSpec(
        name: "help", arguments: "[COMMAND]", abstract: "Show help for berth or one of its commands.",
        options: [OptionSpec("generate-man", value: "DIR", help: "Write the man pages generated from the command registry into DIR.")]
    ) { invocation in
        if let directory = invocation.options.value("generate-man") {
            for page in Help.generatedPages() {
                let path = (directory.hasPrefix("/") ? directory : invocation.workingDirectory + "/" + directory) + "/" + page.file
                guard FileManager.default.createFile(atPath: path, contents: Data(page.text.utf8)) else {
                    throw CLIError("can't write \(path): check that the directory exists and is writable")
                }
                invocation.console.out(path + "\n")
            }
            return 0
        }
        guard let name = invocation.arguments.first else {
            invocation.console.out(Help.overview())
            return 0
        }
        guard let command = BerthCLI.command(named: name) else {
            throw UsageError(message: "unknown command \"\(name)\" for \"berth\"", command: nil)
        }
        if invocation.arguments.count > 1 {
            let wanted = "\(name) \(invocation.arguments[1])"
            guard let sub = command.qualifiedSubcommands.first(where: { $0.name == wanted }) else {
                throw UsageError(message: "unknown command \"\(invocation.arguments[1])\" for \"berth \(name)\"", command: nil)
            }
            invocation.console.out(Help.text(for: sub))
            return 0
        }
        invocation.console.out(Help.text(for: command))
        return 0
    }
}
