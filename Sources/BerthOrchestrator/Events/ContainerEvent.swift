import Foundation

/// One container lifecycle event, as Docker's engine reports it (`type: container`) and
/// `docker compose events` shows it: `create`, `start`, `die` (with `exitCode` and
/// `execDuration`), `kill` (with `signal`), `stop`, `restart`, `destroy`,
/// `health_status: healthy|unhealthy`, and later `pause`/`unpause`. One line of the
/// project's event log.
public struct ContainerEvent: Codable, Sendable, Equatable {
    /// Wall clock, Unix nanoseconds.
    public var time: Int64
    public var action: String
    /// The container id.
    public var id: String
    public var service: String
    /// A one-off container (`berth run`): Compose's `events` leaves these out.
    public var oneOff: Bool
    /// Docker's actor attributes without the `com.docker.compose.*` labels (which Compose
    /// drops): `image`, `name`, the container's other labels and the action's own.
    public var attributes: [String: String]

    public init(time: Int64, action: String, id: String, service: String, oneOff: Bool = false, attributes: [String: String]) {
        self.time = time
        self.action = action
        self.id = id
        self.service = service
        self.oneOff = oneOff
        self.attributes = attributes
    }

    /// The event of `action` for `container` (its image, name and own labels), plus `extra`
    /// (`exitCode`, `signal`, …), at `time` (Unix nanoseconds).
    public init(_ action: String, _ container: ContainerRecord, extra: [String: String] = [:], time: Int64) {
        var attributes: [String: String] = [:]
        for label in container.labels where label.count == 2 && !label[0].hasPrefix("com.docker.compose.") {
            attributes[label[0]] = label[1]
        }
        attributes["image"] = container.image
        attributes["name"] = container.name
        for (key, value) in extra { attributes[key] = value }
        self.init(time: time, action: action, id: container.id, service: container.service, oneOff: container.oneOff, attributes: attributes)
    }

    /// `health_status: healthy`, Docker's action for a health change.
    public static func healthAction(_ status: ContainerHealth.Status) -> String { "health_status: \(status.rawValue)" }

    /// The log line (with its newline). Kept under `EventLog.maxLine` bytes so that one
    /// `write` appends it whole: when the labels make it longer, they are left out.
    func encodedLine() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var line = Array((try? encoder.encode(self)) ?? Data()) + [0x0a]
        if line.count > EventLog.maxLine {
            var trimmed = self
            trimmed.attributes = attributes.filter { ["image", "name", "exitCode", "execDuration", "signal"].contains($0.key) }
            line = Array((try? encoder.encode(trimmed)) ?? Data()) + [0x0a]
        }
        return line
    }

    static func decode(line: ArraySlice<UInt8>) -> ContainerEvent? {
        try? JSONDecoder().decode(ContainerEvent.self, from: Data(line))
    }
}
