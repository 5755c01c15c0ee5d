import Foundation

/// Docker's table output: columns padded like Go's tabwriter with minimum width 10 and
/// padding 3 (`docker image ls`, `docker compose images`); the last column is not padded.
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        var widths = [Int](repeating: 0, count: header.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count - 1 {
                widths[index] = max(widths[index], max(cell.count + 3, 10))
            }
        }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined()
        }.map { $0 + "\n" }.joined()
    }
}

/// go-units formatting, as Docker prints sizes and ages.
enum Human {
    /// `HumanSizeWithPrecision(size, 3)`: decimal units, three significant digits
    /// (`4.26MB`, `854kB`, `100MB`).
    static func size(_ bytes: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1000, unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return String(format: "%.3g", value) + units[unit]
    }

    /// `HumanDuration`: "Less than a second", "About a minute", "3 hours", "2 weeks", …
    static func duration(seconds: Int64) -> String {
        let s = Double(seconds)
        if seconds < 1 { return "Less than a second" }
        if seconds == 1 { return "1 second" }
        if seconds < 60 { return "\(seconds) seconds" }
        let minutes = Int(s / 60)
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int(s / 3600 + 0.5)
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(Int(s / 3600) / 24 / 365) years"
    }

    /// `2 weeks ago` for an RFC 3339 time; `N/A` when unknown.
    static func age(_ rfc3339: String?, now: Date = Date()) -> String {
        guard let text = rfc3339, let date = parseRFC3339(text) else { return "N/A" }
        return duration(seconds: Int64(max(0, now.timeIntervalSince(date)))) + " ago"
    }

    static func parseRFC3339(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // Nanosecond fractions (Go writes 9 digits) are more than ISO8601DateFormatter takes.
        if let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) {
            return formatter.date(from: String(text[..<dot]) + String(text[zone...]))
        }
        return nil
    }
}
