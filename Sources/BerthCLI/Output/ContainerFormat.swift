import BerthOrchestrator
import Foundation

/// Compose's `ps --format`: `table` (the default columns), `json` (one object per line, as
/// Compose ≥ 2.21), a Go template, or `table TEMPLATE` (a header row and aligned columns).
/// The fields are those of Compose's `ContainerContext`, truncated unless `--no-trunc`.
struct ContainerFormat {
    static let defaultTable = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"
    /// The default table when pods are listed: their replica in a POD column.
    static let podTable = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.Pod}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"

    /// Header of each field in `table` templates (fields without one print `<no value>`, as
    /// Go's template does for a missing map key).
    static let headers: [String: String] = [
        "ID": "CONTAINER ID", "Name": "NAME", "Project": "PROJECT", "Service": "SERVICE", "Image": "IMAGE", "Command": "COMMAND",
        "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
        "Labels": "LABELS", "Pod": "POD",
    ]

    let truncate: Bool
    let now: LogTime

    /// Every field of a container, in the (alphabetical) order of its JSON form.
    func fields(_ c: ContainerSummary) -> [(String, GoTemplate.Value)] {
        let command = truncate ? GoFormat.ellipsis(c.command, width: 20) : c.command
        var fields: [(String, GoTemplate.Value)] = [
            ("Command", .string(GoFormat.quote(command))),
            ("CreatedAt", .string(GoFormat.timeString(seconds: c.created.seconds))),
            ("ExitCode", .int(Int64(c.exitCode))),
            ("Health", .string(c.health)),
            ("ID", .string(truncate ? String(c.id.prefix(12)) : c.id)),
            ("Image", .string(c.image)),
            ("Labels", .string(c.labels.map { "\($0.0)=\($0.1)" }.joined(separator: ","))),
            ("LocalVolumes", .string("0")),
            ("Mounts", .string(c.mounts.map { truncate ? GoFormat.ellipsis($0, width: 15) : $0 }.joined(separator: ","))),
            ("Name", .string(c.name)),
            ("Names", .string(c.name)),
            ("Networks", .string(c.networks.joined(separator: ","))),
            ("Ports", .string(PortPublisher.display(c.publishers))),
            ("Project", .string(c.project)),
            ("Publishers", .structured(
                text: "[" + c.publishers.map(\.goValue).joined(separator: " ") + "]",
                json: OrderedJSON.array(c.publishers.map(\.json)).compact())),
            ("RunningFor", .string(Human.duration(seconds: Int64(now.secondsSince(c.created))) + " ago")),
            ("Service", .string(c.service)),
            ("Size", .string("0B")),
            ("State", .string(c.state)),
            ("Status", .string(c.status)),
        ]
        // berth's pods: the container's pod replica, in a field Compose's JSON does not have.
        if !c.pod.isEmpty, let index = fields.firstIndex(where: { $0.0 == "Ports" }) { fields.insert(("Pod", .string(c.pod)), at: index) }
        return fields
    }

    /// The JSON object of `--format json` and `{{json .}}` (Go's `json.Marshal` of the
    /// context: keys sorted, HTML characters escaped).
    func json(_ fields: [(String, GoTemplate.Value)]) -> String {
        "{" + fields.map { name, value -> String in
            let encoded: String
            switch value {
            case .string(let text): encoded = GoFormat.jsonString(text)
            case .int(let number): encoded = String(number)
            case .list(let items): encoded = "[" + items.map { GoFormat.jsonString($0) }.joined(separator: ",") + "]"
            case .structured(_, let json): encoded = json
            case .data(let data): encoded = data.json.compact()
            }
            return GoFormat.jsonString(name) + ":" + encoded
        }.joined(separator: ",") + "}"
    }

    func context(_ c: ContainerSummary) -> GoTemplate.Context {
        let fields = fields(c)
        let labels = c.labels
        return GoTemplate.Context(
            field: { name, arguments in
                if name == "Label" {
                    guard arguments.count == 1 else { return nil }
                    return .string(labels.last { $0.0 == arguments[0] }?.1 ?? "")
                }
                // Pod: berth's, empty for a container outside pods (left out of its JSON).
                return arguments.isEmpty ? fields.first { $0.0 == name }?.1 ?? (name == "Pod" ? .string("") : nil) : nil
            },
            json: json(fields),
            text: "&{" + fields.map(\.1.text).joined(separator: " ") + "}",
            fieldNames: fields.map(\.0) + (fields.contains { $0.0 == "Pod" } ? [] : ["Pod"]) + ["Label"])
    }

    static func headerContext(fieldNames: [String]) -> GoTemplate.Context {
        GoTemplate.Context(
            field: { name, arguments in
                if name == "Label" {
                    // The last dotted part of the key, `-` and `_` as spaces.
                    let key = arguments.first?.split(separator: ".").last.map(String.init) ?? ""
                    return .string(key.replacingOccurrences(of: "-", with: " ").replacingOccurrences(of: "_", with: " "))
                }
                return .string(headers[name] ?? "<no value>")
            },
            json: "", text: "", fieldNames: fieldNames, isHeader: true)
    }

    /// The output of `--format FORMAT` for `containers`.
    func render(_ containers: [ContainerSummary], format: String) throws(GoTemplate.TemplateError) -> String {
        var source = format
        if source == "table" || source.isEmpty { source = containers.contains { !$0.pod.isEmpty } ? Self.podTable : Self.defaultTable }
        if source == "json" { source = "{{json .}}" }
        let table = source.hasPrefix("table")
        if table { source = String(source.dropFirst("table".count)) }
        source = source.trimmingCharacters(in: CharacterSet(charactersIn: " ")).replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(of: "\\n", with: "\n")
        let template = try GoTemplate(parsing: source)
        var text = ""
        for container in containers { text += try template.execute(context(container)) + "\n" }
        guard table else { return text }
        let names = containers.first.map { fields($0).map(\.0) } ?? []
        let header = try template.execute(Self.headerContext(fieldNames: names))
        return TabWriter.render(text: header + "\n" + text)
    }
}
