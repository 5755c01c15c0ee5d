import Foundation
import Testing
import BerthRuntime
@testable import BerthOrchestrator

@Suite("log parsing") struct LogParsingTests {
    @Test func rfc3339TimesParseToTheNanosecondAndPrintFixed() throws {
        let time = try #require(LogTime(rfc3339: "2024-01-02T03:04:05.123456789Z"))
        #expect(time == LogTime(seconds: 1_704_164_645, nanoseconds: 123_456_789))
        #expect(time.rfc3339NanoFixed == "2024-01-02T03:04:05.123456789Z")
        #expect(LogTime(rfc3339: "2024-01-02T03:04:05.5Z")?.rfc3339NanoFixed == "2024-01-02T03:04:05.500000000Z")
        #expect(LogTime(rfc3339: "2024-01-02T04:04:05+01:00") == LogTime(seconds: 1_704_164_645))
        #expect(LogTime(rfc3339: "1969-12-31T23:59:59Z") == LogTime(seconds: -1))
        #expect(LogTime(rfc3339: "2024-02-29T00:00:00Z") != nil)
        #expect(LogTime(rfc3339: "2023-02-29T00:00:00Z") == nil)
        #expect(LogTime(rfc3339: "2024-01-02 03:04:05Z") == nil)
        #expect(LogTime(rfc3339: "2024-01-02T03:04:05") == nil)
        #expect(LogTime(seconds: 0).description == "1970-01-01T00:00:00Z")
    }

    @Test func sinceAndUntilTakeWhatDockerTakes() throws {
        let now = LogTime(seconds: 1_700_000_000, nanoseconds: 900_000_000)
        func parse(_ text: String, offset: Int = 0) throws -> LogTime { try LogTimeArgument.parse(text, now: now, utcOffset: offset) }
        // Durations count back from now, in whole seconds as Docker sends them.
        #expect(try parse("10s") == LogTime(seconds: 1_699_999_990))
        #expect(try parse("42m") == LogTime(seconds: 1_700_000_000 - 42 * 60))
        #expect(try parse("1h30m") == LogTime(seconds: 1_700_000_000 - 5400))
        #expect(try parse("1.5h") == LogTime(seconds: 1_700_000_000 - 5400))
        #expect(try parse("-10m") == LogTime(seconds: 1_700_000_600))
        #expect(try parse("0") == LogTime(seconds: 0))
        // RFC 3339 and its shorter forms; local time (here UTC+1) when no zone is given.
        #expect(try parse("2013-01-02T13:23:37Z") == LogTime(seconds: 1_357_133_017))
        #expect(try parse("2013-01-02T13:23:37.25Z") == LogTime(seconds: 1_357_133_017, nanoseconds: 250_000_000))
        #expect(try parse("2013-01-02T14:23:37+01:00") == LogTime(seconds: 1_357_133_017))
        #expect(try parse("2013-01-02T14:23:37", offset: 3600) == LogTime(seconds: 1_357_133_017))
        #expect(try parse("2013-01-02T14:23", offset: 3600) == LogTime(seconds: 1_357_132_980))
        #expect(try parse("2013-01-02T14", offset: 3600) == LogTime(seconds: 1_357_131_600))
        #expect(try parse("2013-01-02", offset: 3600) == LogTime(seconds: 1_357_081_200))
        #expect(try parse("2013-01-02Z") == LogTime(seconds: 1_357_084_800))
        // Unix seconds with a fraction.
        #expect(try parse("1700000000") == LogTime(seconds: 1_700_000_000))
        #expect(try parse("1700000000.5") == LogTime(seconds: 1_700_000_000, nanoseconds: 500_000_000))
        #expect(throws: LogTimeArgument.ParseError(description: "failed to parse value as time or duration: \"yesterday\"")) { try parse("yesterday") }
        #expect(throws: LogTimeArgument.ParseError.self) { try parse("2013-13-02") }
        #expect(throws: LogTimeArgument.ParseError.self) { try parse("10x") }
    }

    @Test func goDurations() {
        #expect(GoDuration.nanoseconds("300ms") == 300_000_000)
        #expect(GoDuration.nanoseconds("1h15m30.5s") == 4_530_500_000_000)
        #expect(GoDuration.nanoseconds(".5s") == 500_000_000)
        #expect(GoDuration.nanoseconds("1.s") == 1_000_000_000)
        #expect(GoDuration.nanoseconds("+2us") == 2000)
        #expect(GoDuration.nanoseconds("-0") == 0)
        #expect(GoDuration.nanoseconds("") == nil)
        #expect(GoDuration.nanoseconds("12") == nil)
        #expect(GoDuration.nanoseconds("1d") == nil)
        #expect(GoDuration.nanoseconds(".s") == nil)
    }

    @Test func tailTakesWhatDockerTakes() {
        #expect(LogOptions.tail("all") == nil)
        #expect(LogOptions.tail("0") == 0)
        #expect(LogOptions.tail("25") == 25)
        #expect(LogOptions.tail("-1") == nil)
        #expect(LogOptions.tail("abc") == nil)
    }

    @Test func jsonFileEntriesDecodeEveryEscape() throws {
        func decode(_ line: String) -> LogEntry? {
            Array(line.utf8).withUnsafeBufferPointer { LogEntry.decode($0) }
        }
        let entry = try #require(decode(#"{"log":"a \"b\" \\ \u003cc\u003e \ud83d\ude00 é\t\n","stream":"stderr","time":"2024-01-02T03:04:05.000000001Z"}"#))
        #expect(entry.stream == .stderr)
        #expect(String(decoding: entry.message, as: UTF8.self) == "a \"b\" \\ <c> 😀 é\t\n")
        #expect(entry.time == LogTime(seconds: 1_704_164_645, nanoseconds: 1))
        // What the runtime's writer writes reads back the same.
        let written = JSONLogWriter.entry(Array("x <&> \u{2028}\u{1}\n".utf8), stream: "stdout", time: "2024-01-02T03:04:05Z")
        let back = try #require(decode(String(written.dropLast())))
        #expect(back.message == Array("x <&> \u{2028}\u{1}\n".utf8) && back.stream == .stdout && back.endsLine)
        // Other keys (Docker's attrs) are skipped; torn or foreign lines are not entries.
        #expect(decode(#"{"attrs":{"a":["b",1]},"time":"2024-01-02T03:04:05Z","log":"x","stream":"stdout"}"#)?.message == Array("x".utf8))
        #expect(decode(#"{"log":"x\n","stream":"stdout","time":"2024-01-02T03:04"#) == nil)
        #expect(decode(#"{"log":"x\n","stream":"stdout"}"#) == nil)
        #expect(decode("hello") == nil)
    }
}
