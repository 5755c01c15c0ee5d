import ComposeSpec
import Foundation

/// `berth config`: validates the project and prints it in canonical form, as
/// `docker compose config` does.
enum ConfigCommand {
    static let spec = CommandSpec(
        name: "config", arguments: "[SERVICE...]",
        abstract: "Parse, resolve and render the Compose file in canonical format.",
        discussion: """
            Loads the project exactly as every other command does (file discovery, .env, interpolation, extends, include, merging of several files, profiles) and prints the result: short syntax expanded, paths absolute, defaults filled in. The output is deterministic and can be fed back to berth unchanged.

            Naming services limits the output to them and what they depend on; a named service is enabled even when its profile is not. Errors name the file, line and column of the offending value.
            """,
        options: [
            OptionSpec("format", value: "FORMAT", help: "Format the output: yaml or json.", default: "yaml"),
            OptionSpec("quiet", short: "q", help: "Only validate the configuration; print nothing."),
            OptionSpec("services", help: "Print the service names, one per line."),
            OptionSpec("volumes", help: "Print the volume names, one per line."),
            OptionSpec("networks", help: "Print the network names, one per line."),
            OptionSpec("profiles", help: "Print the profile names, one per line."),
            OptionSpec("images", help: "Print the image names, one per line."),
            OptionSpec("hash", value: "SERVICES", help: "Print the config hash of the named services (comma-separated, or '*' for all), one per line."),
            OptionSpec("environment", help: "Print the environment used for interpolation."),
            OptionSpec("no-interpolate", help: "Don't interpolate environment variables."),
            OptionSpec("output", short: "o", value: "FILE", help: "Write the output to FILE instead of standard output."),
        ],
        examples: [
            ("berth config", "Print the project of the current directory in canonical YAML."),
            ("berth -f compose.yaml -f compose.prod.yaml config --format json", "Merge two files and print the result as JSON."),
            ("berth config -q", "Check the project and exit 0 when it is valid."),
            ("berth config --hash '*'", "Print each service's config hash."),
        ]
    ) { invocation in
        try run(invocation)
    }

    static func run(_ invocation: Invocation) throws -> Int32 {
        let options = invocation.options
        let format = options.value("format") ?? "yaml"
        guard format == "yaml" || format == "json" else {
            throw UsageError(message: "invalid value \"\(format)\" for --format: use yaml or json", command: "config")
        }
        let interpolate = !options.flag("no-interpolate")
        let selected = invocation.arguments
        let result = try invocation.load(selectedServices: selected, interpolate: interpolate)
        var project = result.project
        for name in selected where project.services[name] == nil {
            let hint = Spelling.closest(to: name, in: project.services.keys).map { " — did you mean \"\($0)\"?" } ?? ""
            throw CLIError("no such service: \(name)\(hint)")
        }
        if !selected.isEmpty { project = project.limited(to: selected) }

        let text: String
        if options.flag("quiet") {
            return 0
        } else if options.flag("services") {
            text = lines(project.services.keys.sorted())
        } else if options.flag("volumes") {
            text = lines((project.volumes?.keys ?? []).sorted())
        } else if options.flag("networks") {
            text = lines((project.networks?.keys ?? []).sorted())
        } else if options.flag("profiles") {
            let all = (project.services.values + project.disabledServices.values).flatMap { $0.profiles ?? [] }
            text = lines(Array(Set(all)).sorted())
        } else if options.flag("images") {
            text = lines(project.services.entries.sorted(by: { $0.key < $1.key }).map { $0.value.image ?? "\(project.name)-\($0.key)" })
        } else if let hash = options.value("hash") {
            let names = hash == "*" ? project.services.keys.sorted() : hash.split(separator: ",").map(String.init)
            var out: [String] = []
            for name in names {
                guard let service = project.services[name] else { throw CLIError("no such service: \(name)") }
                out.append("\(name) \(CanonicalOutput.configHash(service))")
            }
            text = lines(out)
        } else if options.flag("environment") {
            text = lines(result.interpolationEnvironment.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" })
        } else {
            text = format == "json"
                ? CanonicalOutput.json(project, escapeDollars: interpolate) : CanonicalOutput.yaml(project, escapeDollars: interpolate)
        }
        if let output = options.value("output") {
            let path = output.hasPrefix("/") ? output : invocation.workingDirectory + "/" + output
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
                throw CLIError("can't write \(path): check that the directory exists and is writable")
            }
        } else {
            invocation.console.out(text)
        }
        return 0
    }

    private static func lines(_ items: [String]) -> String {
        items.map { $0 + "\n" }.joined()
    }
}
