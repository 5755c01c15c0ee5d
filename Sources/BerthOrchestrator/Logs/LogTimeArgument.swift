/// The `--since`/`--until` values Docker accepts (`docker/api/types/time.GetTimestamp`):
/// a Go duration counted back from now (`42m`, `1h30m`, `10s`), an RFC 3339 date or date-time
/// (`2013-01-02T13:23:37Z`, `2013-01-02T13:23`, `2013-01-02`; local time when no zone is
/// given), or Unix seconds with an optional fraction (`1700000000.5`).
public enum LogTimeArgument {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// `now` is the reference for durations; `utcOffset` (seconds east of UTC) is the local
    /// zone used for values without one.
    public static func parse(_ value: String, now: LogTime, utcOffset: Int) throws(ParseError) -> LogTime {
        // A duration: Docker sends whole Unix seconds (`reference.Add(-d).Unix()`).
        if value != "0", let duration = GoDuration.nanoseconds(value) {
            let instant = now.subtracting(nanoseconds: duration)
            return LogTime(seconds: instant.seconds)
        }
        let local = !(value.contains(where: { "zZ+".contains($0) }) || value.filter({ $0 == "-" }).count == 3)
        if let parsed = parseDate(value, local: local, utcOffset: utcOffset) { return parsed }
        if value.contains("-") {
            throw ParseError(description: "\"\(value)\" is not a valid time: use RFC 3339 (2013-01-02T13:23:37Z, 2013-01-02T13:23:37 in local time, 2013-01-02), Unix seconds, or a duration such as 42m")
        }
        if let unix = parseUnix(value) { return unix }
        throw ParseError(description: "failed to parse value as time or duration: \"\(value)\"")
    }

    /// The layouts Docker tries, picked the same way: a fraction means seconds with
    /// nanoseconds, a `T` means a time of 0, 1 or 2 colons, else a bare date.
    static func parseDate(_ value: String, local: Bool, utcOffset: Int) -> LogTime? {
        var scanner = TimeFieldScanner(value)
        guard let year = scanner.digits(exactly: 4), scanner.skip("-"), let month = scanner.digits(exactly: 2), scanner.skip("-"),
              let day = scanner.digits(exactly: 2), (1...12).contains(month), day >= 1, day <= LogTime.daysIn(month: month, year: year)
        else { return nil }
        var hour = 0, minute = 0, second = 0
        var nanos: Int32 = 0
        if value.contains(".") || value.contains("T") {
            guard scanner.skip("T"), let h = scanner.digits(from: 1, to: 2), h < 24 else { return nil }
            hour = h
            var colons = value.filter { $0 == ":" }.count
            // A `+hh:mm` zone adds a colon that is not part of the time.
            if !local && !value.contains(where: { $0 == "z" || $0 == "Z" }) && colons > 0 { colons -= 1 }
            if value.contains(".") { colons = 2 }
            if colons >= 1 {
                guard scanner.skip(":"), let m = scanner.digits(exactly: 2), m < 60 else { return nil }
                minute = m
            }
            if colons >= 2 {
                guard scanner.skip(":"), let s = scanner.digits(exactly: 2), s < 60 else { return nil }
                second = s
                nanos = scanner.fraction()
            }
        }
        var offset = utcOffset
        if !local {
            guard let zone = scanner.zone() else { return nil }
            offset = zone
        }
        guard scanner.atEnd else { return nil }
        let seconds = LogTime.daysFromCivil(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return LogTime(seconds: seconds, nanoseconds: nanos)
    }

    /// `seconds[.fraction]` (Docker's `parseTimestamp`).
    static func parseUnix(_ value: String) -> LogTime? {
        let parts = value.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let seconds = Int64(parts[0]) else { return nil }
        guard parts.count == 2 else { return LogTime(seconds: seconds) }
        let fraction = parts[1]
        guard !fraction.isEmpty, fraction.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        let digits = fraction.prefix(9)
        guard let value = Int32(digits) else { return nil }
        var nanos = value
        for _ in digits.count..<9 { nanos *= 10 }
        return LogTime(seconds: seconds, nanoseconds: nanos)
    }
}

/// Walks the characters of a date-time argument.
struct TimeFieldScanner {
    let characters: [Character]
    var index = 0

    init(_ text: String) { characters = Array(text) }

    var atEnd: Bool { index == characters.count }

    mutating func skip(_ character: Character) -> Bool {
        guard index < characters.count, characters[index] == character else { return false }
        index += 1
        return true
    }

    mutating func digits(exactly count: Int) -> Int? { digits(from: count, to: count) }

    mutating func digits(from minimum: Int, to maximum: Int) -> Int? {
        var value = 0
        var taken = 0
        while taken < maximum, index < characters.count, let digit = characters[index].wholeNumberValue, characters[index].isASCII {
            value = value * 10 + digit
            taken += 1
            index += 1
        }
        return taken >= minimum ? value : nil
    }

    mutating func fraction() -> Int32 {
        guard index + 1 < characters.count, characters[index] == ".", characters[index + 1].isASCII, characters[index + 1].isNumber else { return 0 }
        index += 1
        var nanos: Int32 = 0
        var count = 0
        while index < characters.count, characters[index].isASCII, let digit = characters[index].wholeNumberValue {
            if count < 9 {
                nanos = nanos * 10 + Int32(digit)
                count += 1
            }
            index += 1
        }
        for _ in count..<9 { nanos *= 10 }
        return nanos
    }

    /// `Z` or `±hh:mm`, in seconds east of UTC.
    mutating func zone() -> Int? {
        if skip("Z") || skip("z") { return 0 }
        let negative = skip("-")
        guard negative || skip("+"), let hours = digits(exactly: 2), skip(":"), let minutes = digits(exactly: 2), hours < 24, minutes < 60 else {
            return nil
        }
        return (negative ? -1 : 1) * (hours * 3600 + minutes * 60)
    }
}

/// Go's `time.ParseDuration`: `[-+]?(number unit)+` with units ns, us (µs, μs), ms, s, m, h;
/// `0` alone is zero.
public enum GoDuration {
    static let units: [(String, Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// Nanoseconds, or nil when `text` is not a duration (or overflows).
    public static func nanoseconds(_ text: String) -> Int64? {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            // Go accepts "1.5", ".5" and "1." (digits on at least one side of the point).
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                  let value = Double(number.contains(".") ? "0" + number + "0" : String(number)) else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix(while: { !($0.isASCII && ($0.isNumber || $0 == ".")) })
            guard let unit = units.first(where: { $0.0 == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            total += value * unit.1
        }
        guard total <= Double(Int64.max) else { return nil }
        return Int64(negative ? -total : total)
    }
}
