import Foundation

/// Docker's table output: Go's `text/tabwriter` with padding 3 and a minimum cell width of
/// 10 (`docker ps`, `docker image ls`) or 20 (`docker compose ls`); the last cell of a line
/// is not padded.
enum Table {
    static func render(_ header: [String], _ rows: [[String]], minWidth: Int = 10) -> String {
        TabWriter.render([header] + rows, minWidth: minWidth)
    }
}

/// Go's `text/tabwriter` (padding 3, spaces, no flags) over lines already split into cells:
/// every cell but a line's last ends with a tab, and the cells of a column are as wide as
/// the widest of the block of consecutive lines that have that column.
enum TabWriter {
    static let padding = 3

    /// Tab-separated text (`table` templates): each line split at its tabs.
    static func render(text: String, minWidth: Int = 10) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        if text.hasSuffix("\n") { lines.removeLast() }
        return render(lines, minWidth: minWidth)
    }

    static func render(_ lines: [[String]], minWidth: Int) -> String {
        var out = [String](repeating: "", count: lines.count)
        func width(_ cell: String) -> Int { cell.unicodeScalars.count }
        func format(_ start: Int, _ end: Int, column: Int) {
            var line = start
            while line < end {
                guard column < lines[line].count - 1 else {
                    line += 1
                    continue
                }
                let blockStart = line
                var columnWidth = minWidth
                while line < end, column < lines[line].count - 1 {
                    columnWidth = max(columnWidth, width(lines[line][column]) + padding)
                    line += 1
                }
                for index in blockStart..<line {
                    let cell = lines[index][column]
                    out[index] += cell + String(repeating: " ", count: columnWidth - width(cell))
                }
                format(blockStart, line, column: column + 1)
            }
        }
        format(0, lines.count, column: 0)
        return zip(out, lines).map { $0 + ($1.last ?? "") + "\n" }.joined()
    }
}

/// go-units formatting, as Docker prints sizes and ages.
enum Human {
    /// `HumanSizeWithPrecision(size, 3)`: decimal units, three significant digits
    /// (`4.26MB`, `854kB`, `100MB`).
    static func size(_ bytes: Int64) -> String {
        scaled(Double(bytes), base: 1000, units: ["B", "kB", "MB", "GB", "TB", "PB", "EB"], format: "%.3g")
    }

    /// `BytesSize`: binary units, four significant digits (`160KiB`, `48.27MiB`, `7.66GiB`).
    static func binarySize(_ bytes: UInt64) -> String {
        scaled(Double(bytes), base: 1024, units: ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"], format: "%.4g")
    }

    private static func scaled(_ size: Double, base: Double, units: [String], format: String) -> String {
        var value = size
        var unit = 0
        while value >= base, unit < units.count - 1 {
            value /= base
            unit += 1
        }
        return String(format: format, value) + units[unit]
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
