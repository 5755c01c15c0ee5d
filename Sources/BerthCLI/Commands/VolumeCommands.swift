import BerthOrchestrator
import Foundation

/// `berth volume ...`: the volume store's commands, in the shapes of `docker volume`.
enum VolumeCommand {
    static let spec = CommandSpec(
        name: "volume",
        abstract: "Manage volumes: create, list, inspect, remove and prune.",
        discussion: "Volumes live under --root (default /var/lib/berth/volumes), one directory per volume with its data in _data, as Docker keeps /var/lib/docker/volumes. Compose projects create theirs at up (named <project>_<key>, labelled com.docker.compose.project and com.docker.compose.volume) and remove them with down -v; a container's anonymous volumes carry the label com.docker.volume.anonymous. A volume is in use while a container (running or not) mounts it.",
        subcommands: [VolumeCreateCommand.spec, VolumeListCommand.spec, VolumeInspectCommand.spec, VolumeRemoveCommand.spec, VolumePruneCommand.spec])

    static func store(_ invocation: Invocation) -> VolumeStore { VolumeStore(root: invocation.root) }

    /// `KEY=VALUE` options (`--label`, `--opt`) into a map; a bare KEY gets "".
    static func pairs(_ items: [String], option: String, command: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for item in items {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard !kv[0].isEmpty else { throw UsageError(message: "invalid --\(option) \"\(item)\": use KEY=VALUE", command: command) }
            out[kv[0]] = kv.count == 2 ? kv[1] : ""
        }
        return out
    }

    /// The fields `--format` templates and `--format json` show, as `docker volume ls` has them.
    static func listFields(_ record: VolumeRecord) -> [(String, String)] {
        [
            ("Availability", "N/A"), ("Driver", record.driver), ("Group", "N/A"), ("Labels", labelsText(record.labels)),
            ("Links", "N/A"), ("Mountpoint", record.mountpoint), ("Name", record.name), ("Scope", record.scope),
            ("Size", "N/A"), ("Status", "N/A"),
        ]
    }

    static func labelsText(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }

    static func inspectValue(_ record: VolumeRecord) -> OrderedJSON {
        .object([
            ("CreatedAt", .string(record.createdAt)), ("Driver", .string(record.driver)),
            ("Labels", record.labels.isEmpty ? .null : .map(record.labels)), ("Mountpoint", .string(record.mountpoint)),
            ("Name", .string(record.name)), ("Options", record.options.isEmpty ? .null : .map(record.options)),
            ("Scope", .string(record.scope)),
        ])
    }
}

/// `--filter` of `volume ls` and `volume prune` (all must match); `label!=KEY[=VALUE]`
/// negates.
struct VolumeFilter {
    var key: String
    var value: String

    static func parseAll(_ texts: [String], allowed: [String], command: String) throws -> [VolumeFilter] {
        try texts.map { text in
            if text.hasPrefix("label!="), allowed.contains("label!") {
                return VolumeFilter(key: "label!", value: String(text.dropFirst(7)))
            }
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 2, allowed.contains(parts[0]) else {
                throw UsageError(message: "invalid filter \"\(text)\": use \(allowed.map { $0 + "=" }.joined(separator: ", "))", command: command)
            }
            return VolumeFilter(key: parts[0], value: parts[1])
        }
    }

    func matches(_ record: VolumeRecord, users: [String: [String]]) throws -> Bool {
        func label() -> Bool {
            let pair = value.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let found = record.labels[pair[0]] else { return false }
            return pair.count == 1 || found == pair[1]
        }
        switch key {
        case "label": return label()
        case "label!": return !label()
        case "driver": return record.driver == value
        case "name":
            // Docker matches names as a regular expression (a plain word matches a substring).
            guard let pattern = try? NSRegularExpression(pattern: value) else { return record.name.contains(value) }
            return pattern.firstMatch(in: record.name, range: NSRange(record.name.startIndex..., in: record.name)) != nil
        case "dangling":
            guard let wanted = ["true": true, "1": true, "false": false, "0": false][value.lowercased()] else {
                throw UsageError(message: "invalid filter 'dangling=\(value)': use true or false", command: "volume ls")
            }
            return (users[record.name] ?? []).isEmpty == wanted
        case "all":
            return true
        default:
            return false
        }
    }
}

enum VolumeCreateCommand {
    static let spec = CommandSpec(
        name: "create", arguments: "[VOLUME]",
        abstract: "Create a volume.",
        discussion: "Prints the volume's name. Without a name, the volume gets a random 64-hex one. Creating a volume that exists returns it unchanged. The local driver's options mount a file system on the volume while containers use it, as mount(8) would: -o type=tmpfs -o device=tmpfs -o o=size=100m, or -o type=none -o o=bind -o device=/srv/data, or -o type=nfs -o o=addr=10.0.0.1,rw -o device=:/export.",
        options: [
            OptionSpec("driver", short: "d", value: "DRIVER", help: "Volume driver; berth has local only.", default: "local"),
            OptionSpec("label", value: "KEY=VALUE", help: "Set a label.", repeatable: true),
            OptionSpec("opt", short: "o", value: "KEY=VALUE", help: "A driver option: type, device or o.", repeatable: true),
        ],
        examples: [
            ("berth volume create cache", "Create the volume cache."),
            ("berth volume create -o type=tmpfs -o device=tmpfs -o o=size=64m scratch", "A volume that is a 64 MB tmpfs while containers use it."),
        ]
    ) { invocation in
        guard invocation.arguments.count <= 1 else {
            throw UsageError(message: "\"volume create\" accepts at most 1 argument", command: "volume create")
        }
        let driver = invocation.options.value("driver") ?? "local"
        guard driver == "local" else { throw CLIError("create: driver \"\(driver)\" is not supported: berth has the local driver only") }
        let name = invocation.arguments.first ?? VolumeStore.randomName()
        do {
            let record = try VolumeCommand.store(invocation).create(
                name: name, labels: try VolumeCommand.pairs(invocation.options.all("label"), option: "label", command: "volume create"),
                options: try VolumeCommand.pairs(invocation.options.all("opt"), option: "opt", command: "volume create"))
            invocation.console.out(record.name + "\n")
        } catch let error as VolumeError {
            throw CLIError(error.message)
        }
        return 0
    }
}

enum VolumeListCommand {
    static let spec = CommandSpec(
        name: "ls",
        abstract: "List volumes.",
        discussion: "One line per volume, sorted by name. Filters (--filter, repeatable, all must match): dangling=true|false (used by no container), driver=local, label=KEY or label=KEY=VALUE, name=PATTERN (a regular expression, so a word matches part of a name). --format table prints DRIVER and VOLUME NAME, json one JSON object per line, and a template such as '{{.Name}}: {{.Mountpoint}}' one line per volume (fields Driver, Labels, Mountpoint, Name, Scope; {{json .}} for the whole line as JSON).",
        options: [
            OptionSpec("filter", short: "f", value: "FILTER", help: "Only volumes matching FILTER.", repeatable: true),
            OptionSpec("format", value: "FORMAT", help: "table, json, or a template like '{{.Name}}'.", default: "table"),
            OptionSpec("quiet", short: "q", help: "Print only volume names."),
        ],
        examples: [
            ("berth volume ls", "List every volume."),
            ("berth volume ls --filter label=com.docker.compose.project=demo", "List the volumes of the project demo."),
            ("berth volume ls -q --filter dangling=true", "Name the volumes no container uses."),
        ]
    ) { invocation in
        if !invocation.arguments.isEmpty { throw UsageError(message: "\"volume ls\" accepts no arguments", command: "volume ls") }
        let store = VolumeCommand.store(invocation)
        let filters = try VolumeFilter.parseAll(invocation.options.all("filter"), allowed: ["dangling", "driver", "label", "name"], command: "volume ls")
        let users = filters.contains { $0.key == "dangling" } ? store.usage() : [:]
        let volumes = try store.list().filter { record in try filters.allSatisfy { try $0.matches(record, users: users) } }
        let console = invocation.console
        if invocation.options.flag("quiet") {
            console.out(volumes.map { $0.name + "\n" }.joined())
            return 0
        }
        switch invocation.options.value("format") ?? "table" {
        case "table":
            console.out(Table.render(["DRIVER", "VOLUME NAME"], volumes.map { [$0.driver, $0.name] }))
        case "json":
            for record in volumes {
                console.out(OrderedJSON.object(VolumeCommand.listFields(record).map { ($0.0, .string($0.1)) }).compact() + "\n")
            }
        case let template:
            for record in volumes {
                console.out(try GoTemplate.render(template, fields: VolumeCommand.listFields(record), command: "volume ls") + "\n")
            }
        }
        return 0
    }
}

enum VolumeInspectCommand {
    static let spec = CommandSpec(
        name: "inspect", arguments: "VOLUME [VOLUME...]",
        abstract: "Show volumes' details as JSON.",
        discussion: "Prints a JSON array with one object per volume (CreatedAt, Driver, Labels, Mountpoint, Name, Options, Scope), as docker volume inspect does; or, with --format and a template such as '{{.Mountpoint}}', one line per volume. A name that is not a volume is reported on stderr and makes the exit status 1.",
        options: [OptionSpec("format", short: "f", value: "FORMAT", help: "json, or a template like '{{.Mountpoint}}'.", default: "json")],
        examples: [("berth volume inspect demo_data", "Show where demo_data keeps its data, its labels and options.")]
    ) { invocation in
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "\"volume inspect\" requires at least 1 argument", command: "volume inspect")
        }
        let store = VolumeCommand.store(invocation)
        var found: [VolumeRecord] = []
        var missing: [String] = []
        for name in invocation.arguments {
            if let record = try? store.get(name) { found.append(record) } else { missing.append(name) }
        }
        let format = invocation.options.value("format") ?? "json"
        if format == "json" {
            invocation.console.out(OrderedJSON.array(found.map(VolumeCommand.inspectValue)).render() + "\n")
        } else {
            for record in found {
                var fields = VolumeCommand.listFields(record).filter { ["Driver", "Mountpoint", "Name", "Scope"].contains($0.0) }
                fields += [("CreatedAt", record.createdAt), ("Labels", "map[\(record.labels.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))]"),
                           ("Options", "map[\(record.options.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " "))]")]
                invocation.console.out(try GoTemplate.render(format, fields: fields, json: VolumeCommand.inspectValue(record), command: "volume inspect") + "\n")
            }
        }
        for name in missing { invocation.console.err("Error: No such volume: \(name)\n") }
        return missing.isEmpty ? 0 : 1
    }
}

enum VolumeRemoveCommand {
    static let spec = CommandSpec(
        name: "rm", arguments: "VOLUME [VOLUME...]",
        abstract: "Remove volumes.",
        discussion: "Removes each volume and its data, printing its name. A volume that a container uses, running or not, is refused (remove the container first); a volume that does not exist is an error unless --force.",
        options: [OptionSpec("force", short: "f", help: "Do not report volumes that do not exist.")],
        examples: [("berth volume rm demo_cache", "Remove the volume demo_cache and its data.")]
    ) { invocation in
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "\"volume rm\" requires at least 1 argument", command: "volume rm")
        }
        let store = VolumeCommand.store(invocation)
        var failed = false
        for name in invocation.arguments {
            do {
                try store.remove(name)
                invocation.console.out(name + "\n")
            } catch let error as VolumeError {
                if error.code == .notFound && invocation.options.flag("force") { continue }
                invocation.console.err("Error: \(error.message)\n")
                failed = true
            }
        }
        return failed ? 1 : 0
    }
}

enum VolumePruneCommand {
    static let spec = CommandSpec(
        name: "prune",
        abstract: "Remove unused volumes.",
        discussion: "Removes the anonymous volumes no container uses, or with --all every unused volume, then prints their names and the space their data took. Asks for confirmation unless --force. Filters: label=KEY[=VALUE], label!=KEY[=VALUE].",
        options: [
            OptionSpec("all", short: "a", help: "Remove all unused volumes, not only anonymous ones."),
            OptionSpec("filter", value: "FILTER", help: "Only volumes matching FILTER.", repeatable: true),
            OptionSpec("force", short: "f", help: "Do not ask for confirmation."),
        ],
        examples: [("berth volume prune -f", "Remove every anonymous volume no container uses.")]
    ) { invocation in
        if !invocation.arguments.isEmpty { throw UsageError(message: "\"volume prune\" accepts no arguments", command: "volume prune") }
        let filters = try VolumeFilter.parseAll(invocation.options.all("filter"), allowed: ["label", "label!", "all"], command: "volume prune")
        let all = invocation.options.flag("all") || filters.contains { $0.key == "all" && ["true", "1"].contains($0.value) }
        if !invocation.options.flag("force") {
            let warning = all ? "WARNING! This will remove all local volumes not used by at least one container." : "WARNING! This will remove anonymous local volumes not used by at least one container."
            guard Confirmation.ask(invocation, warning: warning) else { return 0 }
        }
        do {
            let (removed, reclaimed) = try VolumeCommand.store(invocation).prune(all: all) { record in
                filters.allSatisfy { (try? $0.matches(record, users: [:])) ?? false }
            }
            if !removed.isEmpty {
                invocation.console.out("Deleted Volumes:\n" + removed.map { $0 + "\n" }.joined() + "\n")
            }
            invocation.console.out("Total reclaimed space: \(Human.size(reclaimed))\n")
        } catch let error as VolumeError {
            throw CLIError(error.message)
        }
        return 0
    }
}
