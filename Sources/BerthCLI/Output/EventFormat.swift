import BerthOrchestrator
import Glibc

/// `docker compose events` output (compose's `cmd/compose/events.go` and `api.Event.String`).
enum EventFormat {
    /// `2026-11-21 10:00:00.123456 container start <id> (image=busybox, name=p-web-1)` and,
    /// as Compose prints it (`Fprintln` of a text that ends with a newline), an empty line.
    /// Attributes sorted by key (Compose's come in Go's random map order).
    static func plain(_ event: ContainerEvent, utcOffset: Int? = nil) -> String {
        let attributes = event.attributes.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
        return "\(localTime(event.time, utcOffset: utcOffset).plain) container \(event.action) \(event.id) (\(attributes))\n\n"
    }

    /// One JSON object on a line, keys sorted as Go's `json.Marshal` of a map sorts them:
    /// action, attributes, id, service, time (RFC 3339 with nanoseconds, local zone), type.
    static func json(_ event: ContainerEvent, utcOffset: Int? = nil) -> String {
        OrderedJSON.object([
            ("action", .string(event.action)),
            ("attributes", .map(event.attributes)),
            ("id", .string(event.id)),
            ("service", .string(event.service)),
            ("time", .string(localTime(event.time, utcOffset: utcOffset).rfc3339Nano)),
            ("type", .string("container")),
        ]).compact() + "\n"
    }

    struct LocalTime {
        var year, month, day, hour, minute, second: Int
        var nanoseconds: Int
        /// Seconds east of UTC.
        var offset: Int

        /// Go's `2006-01-02 15:04:05.000000` (microseconds, truncated).
        var plain: String {
            "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2)).\(pad(nanoseconds / 1000, 6))"
        }

        /// Go's `time.RFC3339Nano`: trailing zeros of the fraction dropped, `Z` for UTC.
        var rfc3339Nano: String {
            var fraction = pad(nanoseconds, 9)
            while fraction.hasSuffix("0") { fraction.removeLast() }
            let zone = offset == 0 ? "Z" : (offset < 0 ? "-" : "+") + pad(abs(offset) / 3600, 2) + ":" + pad(abs(offset) % 3600 / 60, 2)
            return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))"
                + (fraction.isEmpty ? "" : "." + fraction) + zone
        }

        private func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
    }

    /// Unix nanoseconds in the local zone (or at `utcOffset` seconds east of UTC).
    static func localTime(_ nanoseconds: Int64, utcOffset: Int? = nil) -> LocalTime {
        let seconds = nanoseconds >= 0 ? nanoseconds / 1_000_000_000 : (nanoseconds - 999_999_999) / 1_000_000_000
        var t = time_t(seconds + Int64(utcOffset ?? 0))
        var parts = tm()
        if utcOffset != nil { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
        return LocalTime(
            year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday), hour: Int(parts.tm_hour),
            minute: Int(parts.tm_min), second: Int(parts.tm_sec), nanoseconds: Int(nanoseconds - seconds * 1_000_000_000),
            offset: utcOffset ?? Int(parts.tm_gmtoff))
    }
}
