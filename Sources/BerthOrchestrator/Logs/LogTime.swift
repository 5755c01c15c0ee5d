import BerthSystem
import CBerthSys
import Glibc

/// A wall-clock instant with nanosecond precision: the `time` of a json-file log entry.
/// Parsed by hand (a log holds millions of them; Foundation's date parsing is far slower
/// and stops at microseconds).
public struct LogTime: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var seconds: Int64
    public var nanoseconds: Int32

    public init(seconds: Int64, nanoseconds: Int32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public static func now() -> LogTime {
        var sec: Int64 = 0
        var nsec: Int = 0
        berth_realtime(&sec, &nsec)
        return LogTime(seconds: sec, nanoseconds: Int32(nsec))
    }

    public static func < (a: LogTime, b: LogTime) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    /// `self` minus `nanoseconds` (Go's `t.Add(-d)`).
    public func subtracting(nanoseconds delta: Int64) -> LogTime {
        let total = Int64(nanoseconds) - delta % 1_000_000_000
        var seconds = self.seconds - delta / 1_000_000_000
        var nanos = total
        if nanos < 0 { nanos += 1_000_000_000; seconds -= 1 }
        if nanos >= 1_000_000_000 { nanos -= 1_000_000_000; seconds += 1 }
        return LogTime(seconds: seconds, nanoseconds: Int32(nanos))
    }

    /// Seconds from `earlier` to `self`, for ages ("Up 3 minutes").
    public func secondsSince(_ earlier: LogTime) -> Double {
        Double(seconds - earlier.seconds) + Double(nanoseconds - earlier.nanoseconds) / 1e9
    }

    /// Docker's `RFC3339NanoFixed` in UTC (`2024-01-02T03:04:05.000000000Z`): what
    /// `docker logs -t` prints before each line.
    public var rfc3339NanoFixed: String {
        let nanos = String(nanoseconds)
        return Clock.rfc3339Nano(seconds: seconds, nanoseconds: 0).dropLast() + "." + String(repeating: "0", count: 9 - nanos.count) + nanos + "Z"
    }

    /// RFC 3339 as Go's RFC3339Nano writes it (trailing zeros of the fraction dropped).
    public var description: String { Clock.rfc3339Nano(seconds: seconds, nanoseconds: Int(nanoseconds)) }

    /// Parses RFC 3339 with an optional fraction of any length and a `Z` or `±hh:mm` zone;
    /// nil for anything else.
    public init?(rfc3339 text: String) {
        var copy = text
        guard let parsed = copy.withUTF8({ LogTime.parse(rfc3339: $0[...]) }) else { return nil }
        self = parsed
    }

    /// The same from raw bytes (the json-file reader's hot path).
    static func parse(rfc3339 bytes: Slice<UnsafeBufferPointer<UInt8>>) -> LogTime? {
        var scanner = DigitScanner(bytes)
        guard let year = scanner.number(4), scanner.skip("-"), let month = scanner.number(2), scanner.skip("-"),
              let day = scanner.number(2), scanner.skip("T") || scanner.skip("t"), let hour = scanner.number(2), scanner.skip(":"),
              let minute = scanner.number(2), scanner.skip(":"), let second = scanner.number(2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60, second < 60
        else { return nil }
        let nanos = scanner.fraction()
        guard let offset = scanner.zoneOffset(), scanner.atEnd else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offset)
        return LogTime(seconds: seconds, nanoseconds: nanos)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}

/// Reads the fixed-width digit groups of a timestamp.
struct DigitScanner {
    let bytes: Slice<UnsafeBufferPointer<UInt8>>
    var index: Int

    init(_ bytes: Slice<UnsafeBufferPointer<UInt8>>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    var atEnd: Bool { index == bytes.endIndex }

    mutating func skip(_ character: UInt8) -> Bool {
        guard index < bytes.endIndex, bytes[index] == character else { return false }
        index += 1
        return true
    }

    mutating func skip(_ character: Unicode.Scalar) -> Bool { skip(UInt8(character.value)) }

    /// Exactly `width` decimal digits.
    mutating func number(_ width: Int) -> Int? {
        guard bytes.endIndex - index >= width else { return nil }
        var value = 0
        for _ in 0..<width {
            let digit = bytes[index] &- 48
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
            index += 1
        }
        return value
    }

    /// `.ddd…` → nanoseconds (digits past the ninth are ignored, as Go does); 0 if absent.
    mutating func fraction() -> Int32 {
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "."), index + 1 < bytes.endIndex,
              bytes[index + 1] &- 48 < 10 else { return 0 }
        index += 1
        var nanos: Int32 = 0
        var digits = 0
        while index < bytes.endIndex, bytes[index] &- 48 < 10 {
            if digits < 9 {
                nanos = nanos * 10 + Int32(bytes[index] &- 48)
                digits += 1
            }
            index += 1
        }
        while digits < 9 {
            nanos *= 10
            digits += 1
        }
        return nanos
    }

    /// `Z` → 0, `±hh:mm` → seconds east of UTC; nil if neither.
    mutating func zoneOffset() -> Int? {
        if skip("Z") || skip("z") { return 0 }
        guard index < bytes.endIndex else { return nil }
        let sign = bytes[index]
        guard sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return nil }
        index += 1
        guard let hours = number(2), skip(":"), let minutes = number(2), hours < 24, minutes < 60 else { return nil }
        let offset = hours * 3600 + minutes * 60
        return sign == UInt8(ascii: "-") ? -offset : offset
    }
}
