import Foundation

/// Dockerfile instructions that `docker import --change` and `docker commit --change`
/// accept, applied to an image config: CMD, ENTRYPOINT (JSON or shell form), ENV, EXPOSE,
/// LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL, ONBUILD.
public enum ConfigChanges {
    public static func apply(_ instruction: String, to config: inout ImageConfig.Config) throws(ImageError) {
        let trimmed = instruction.trimmingCharacters(in: .whitespaces)
        let keyword = String(trimmed.prefix(while: { !$0.isWhitespace })).uppercased()
        let rest = trimmed.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
        func fail(_ why: String) -> ImageError { .invalidChange(instruction, why) }
        switch keyword {
        case "CMD":
            config.Cmd = try command(rest, fail)
        case "ENTRYPOINT":
            config.Entrypoint = try command(rest, fail)
        case "ENV":
            var env = config.Env ?? []
            for (key, value) in try pairs(rest, fail, allowSpaceForm: true) {
                env.removeAll { $0.hasPrefix(key + "=") }
                env.append("\(key)=\(value)")
            }
            config.Env = env
        case "LABEL":
            var labels = config.Labels ?? [:]
            for (key, value) in try pairs(rest, fail, allowSpaceForm: false) { labels[key] = value }
            config.Labels = labels
        case "EXPOSE":
            var ports = config.ExposedPorts ?? [:]
            for port in try words(rest, fail) {
                let parts = port.split(separator: "/", maxSplits: 1)
                guard let number = parts.first, let value = Int(number), (1...65_535).contains(value) else { throw fail("\(port) is not a port") }
                let proto = parts.count > 1 ? parts[1].lowercased() : "tcp"
                guard ["tcp", "udp", "sctp"].contains(proto) else { throw fail("protocol \(proto) must be tcp, udp or sctp") }
                ports["\(value)/\(proto)"] = ImageConfig.Empty()
            }
            config.ExposedPorts = ports
        case "VOLUME":
            var volumes = config.Volumes ?? [:]
            let paths = rest.hasPrefix("[") ? try jsonArray(rest, fail) : try words(rest, fail)
            for path in paths { volumes[path] = ImageConfig.Empty() }
            config.Volumes = volumes
        case "USER":
            guard !rest.isEmpty else { throw fail("USER needs a user") }
            config.User = rest
        case "WORKDIR":
            guard !rest.isEmpty else { throw fail("WORKDIR needs a path") }
            config.WorkingDir = rest
        case "STOPSIGNAL":
            guard !rest.isEmpty else { throw fail("STOPSIGNAL needs a signal") }
            config.StopSignal = rest
        case "ONBUILD":
            guard !rest.isEmpty else { throw fail("ONBUILD needs an instruction") }
            config.OnBuild = (config.OnBuild ?? []) + [rest]
        default:
            throw fail("\(keyword.isEmpty ? "an empty instruction" : keyword) is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR")
        }
    }

    /// `["a","b"]` (exec form) or `a b` (shell form: `/bin/sh -c "a b"`).
    static func command(_ text: String, _ fail: (String) -> ImageError) throws(ImageError) -> [String] {
        if text.hasPrefix("[") { return try jsonArray(text, fail) }
        guard !text.isEmpty else { throw fail("a command is missing") }
        return ["/bin/sh", "-c", text]
    }

    static func jsonArray(_ text: String, _ fail: (String) -> ImageError) throws(ImageError) -> [String] {
        guard let array = try? JSONDecoder().decode([String].self, from: Data(text.utf8)) else {
            throw fail("\(text) is not a JSON array of strings")
        }
        return array
    }

    /// Words separated by spaces, with double or single quotes and backslash escapes.
    static func words(_ text: String, _ fail: (String) -> ImageError) throws(ImageError) -> [String] {
        var out: [String] = []
        var current = ""
        var quote: Character?
        var escaped = false
        var inWord = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" && quote != "'" {
                escaped = true
                inWord = true
            } else if let open = quote {
                if character == open { quote = nil } else { current.append(character) }
            } else if character == "\"" || character == "'" {
                quote = character
                inWord = true
            } else if character.isWhitespace {
                if inWord { out.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if quote != nil { throw fail("unterminated quote") }
        if inWord { out.append(current) }
        return out
    }

    /// `k=v k2="v 2"`, or for ENV the old `KEY some value` form.
    static func pairs(_ text: String, _ fail: (String) -> ImageError, allowSpaceForm: Bool) throws(ImageError) -> [(String, String)] {
        let items = try words(text, fail)
        guard let first = items.first else { throw fail("a key is missing") }
        if !first.contains("=") {
            guard allowSpaceForm, items.count >= 2 else { throw fail("\(first) needs a value (KEY=VALUE)") }
            let value = text.dropFirst(first.count).trimmingCharacters(in: .whitespaces)
            return [(first, value)]
        }
        var out: [(String, String)] = []
        for item in items {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else { throw fail("\(item) is not KEY=VALUE") }
            out.append((String(item[..<equals]), String(item[item.index(after: equals)...])))
        }
        return out
    }
}
