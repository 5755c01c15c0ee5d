import BerthImages
import Foundation

/// `berth image ls` and `berth image inspect`, as Docker prints them.
enum ImageListCommand {
    static let spec = CommandSpec(
        name: "ls", arguments: "[REPOSITORY[:TAG]]",
        abstract: "List images.",
        discussion: "One line per name an image has (an image pulled by digest shows TAG <none>; an image whose tag moved to a newer pull shows <none> <none> until pruned), newest first. SIZE is the unpacked size of the layers.",
        options: [
            OptionSpec("all", short: "a", help: "Show all images (berth keeps no intermediate images, so this lists the same)."),
            OptionSpec("digests", help: "Show the digest each image was pulled by."),
            OptionSpec("filter", short: "f", value: "FILTER", help: "Filter the list: dangling=true or dangling=false.", repeatable: true),
            OptionSpec("format", value: "FORMAT", help: "Format the output: table or json (one JSON object per line).", default: "table"),
            OptionSpec("no-trunc", help: "Show full image IDs."),
            OptionSpec("quiet", short: "q", help: "Print only image IDs."),
        ],
        examples: [("berth image ls", "List every image of the store."), ("berth image ls -q busybox", "Print the IDs of the busybox images.")]
    ) { invocation in
        let context = try ImageContext(invocation)
        let options = invocation.options
        let format = options.value("format") ?? "table"
        guard format == "table" || format == "json" else {
            throw UsageError(message: "invalid value \"\(format)\" for --format: use table or json", command: "image ls")
        }
        var records = try context.store.records()
        if let pattern = invocation.arguments.first {
            let wanted = try ImageReference(parsing: pattern, defaultTag: false)
            records = records.filter { $0.repository == wanted.name && (wanted.tag == nil || $0.tag == wanted.tag) }
        }
        for filter in options.all("filter") {
            switch filter {
            case "dangling=true": records = records.filter { $0.repository == nil }
            case "dangling=false": records = records.filter { $0.repository != nil }
            default: throw UsageError(message: "invalid filter \"\(filter)\": berth supports dangling=true and dangling=false", command: "image ls")
            }
        }
        records.sort { ($0.created ?? "", $1.reference) > ($1.created ?? "", $0.reference) }
        let noTrunc = options.flag("no-trunc")
        func id(_ record: ImageRecord) -> String { noTrunc ? record.config.description : record.config.short }
        if options.flag("quiet") {
            var seen = Set<String>()
            invocation.console.out(records.map { id($0) }.filter { seen.insert($0).inserted }.map { $0 + "\n" }.joined())
            return 0
        }
        let now = Date()
        if format == "json" {
            for record in records {
                let created = Human.parseRFC3339(record.created ?? "").map(goTime) ?? ""
                let object: OrderedJSON = .object([
                    ("Containers", .string("N/A")), ("CreatedAt", .string(created)), ("CreatedSince", .string(Human.age(record.created, now: now))),
                    ("Digest", .string(record.pulled != nil ? record.target.description : "<none>")), ("ID", .string(id(record))),
                    ("Repository", .string(record.familiarRepository ?? "<none>")), ("SharedSize", .string("N/A")),
                    ("Size", .string(Human.size(record.size))), ("Tag", .string(record.tag ?? "<none>")),
                    ("UniqueSize", .string("N/A")), ("VirtualSize", .string(Human.size(record.size))),
                ])
                invocation.console.out(object.compact() + "\n")
            }
            return 0
        }
        let digests = options.flag("digests")
        let header = ["REPOSITORY", "TAG"] + (digests ? ["DIGEST"] : []) + ["IMAGE ID", "CREATED", "SIZE"]
        let rows = records.map { record in
            [record.familiarRepository ?? "<none>", record.tag ?? "<none>"]
                + (digests ? [record.pulled != nil ? record.target.description : "<none>"] : [])
                + [id(record), Human.age(record.created, now: now), Human.size(record.size)]
        }
        invocation.console.out(Table.render(header, rows))
        return 0
    }

    /// Go's `time.Time` String(): `2024-01-02 03:04:05 +0000 UTC`.
    static func goTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return formatter.string(from: date) + " +0000 UTC"
    }
}

enum ImageInspectCommand {
    static let spec = CommandSpec(
        name: "inspect", arguments: "IMAGE [IMAGE...]",
        abstract: "Show details of images as JSON.",
        discussion: "IMAGE is a name (busybox, busybox:1.36, name@sha256:...) or an image ID or ID prefix. The output is a JSON array in the shape of docker image inspect.",
        examples: [("berth image inspect busybox", "Show busybox's ID, names, config and layers.")]
    ) { invocation in
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "\"berth image inspect\" requires at least 1 argument", command: "image inspect")
        }
        let context = try ImageContext(invocation)
        var items: [OrderedJSON] = []
        var failure: ImageError?
        for name in invocation.arguments {
            do {
                items.append(try inspect(try context.store.find(name), store: context.store))
            } catch let error as ImageError {
                failure = failure ?? error
            }
        }
        invocation.console.out(OrderedJSON.array(items).render() + "\n")
        if let failure { throw failure }
        return 0
    }

    static func inspect(_ record: ImageRecord, store: ImageStore) throws -> OrderedJSON {
        let config = try store.config(of: record)
        let records = try store.records().filter { $0.config == record.config }
        let tags = records.filter { $0.tag != nil }.map { "\($0.familiarRepository ?? ""):\($0.tag ?? "")" }
        let digests = Array(Set(records.filter { $0.pulled != nil }.compactMap(\.repoDigest))).sorted()
        let c = config.config
        let healthcheck: OrderedJSON = c?.Healthcheck.map { check in
            .object([("Test", .strings(check.Test)), ("Interval", .number(check.Interval ?? 0)), ("Timeout", .number(check.Timeout ?? 0)),
                     ("StartPeriod", .number(check.StartPeriod ?? 0)), ("Retries", .number(Int64(check.Retries ?? 0)))])
        } ?? .null
        func set(_ values: [String: ImageConfig.Empty]?) -> OrderedJSON {
            values.map { .object($0.keys.sorted().map { ($0, .object([])) }) } ?? .null
        }
        return .object([
            ("Id", .string(record.config.description)),
            ("RepoTags", .strings(tags)),
            ("RepoDigests", .strings(digests)),
            ("Created", .optional(config.created)),
            ("Config", .object([
                ("User", .string(c?.User ?? "")),
                ("ExposedPorts", set(c?.ExposedPorts)),
                ("Env", .strings(c?.Env)),
                ("Cmd", .strings(c?.Cmd)),
                ("Healthcheck", healthcheck),
                ("Volumes", set(c?.Volumes)),
                ("WorkingDir", .string(c?.WorkingDir ?? "")),
                ("Entrypoint", .strings(c?.Entrypoint)),
                ("OnBuild", .strings(c?.OnBuild)),
                ("Labels", .map(c?.Labels)),
                ("StopSignal", .optional(c?.StopSignal)),
            ])),
            ("Architecture", .string(config.architecture)),
            ("Variant", .optional(config.variant)),
            ("Os", .string(config.os)),
            ("Size", .number(record.size)),
            ("RootFS", .object([("Type", .string(config.rootfs.type)), ("Layers", .strings(config.rootfs.diffIDs.map(\.description)))])),
            ("Metadata", .object([("LastTagTime", .optional(record.pulled.map { Timestamp.rfc3339(seconds: $0) }))])),
        ])
    }
}

/// RFC 3339 in UTC for Unix seconds.
enum Timestamp {
    static func rfc3339(seconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
    }
}
