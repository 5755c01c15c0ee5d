#if canImport(Glibc)
import Glibc
#endif

/// Signal names and numbers (Linux x86_64/aarch64 numbering).
public enum Signals {
    public static let table: [(String, Int32)] = [
        ("HUP", 1), ("INT", 2), ("QUIT", 3), ("ILL", 4), ("TRAP", 5), ("ABRT", 6), ("BUS", 7),
        ("FPE", 8), ("KILL", 9), ("USR1", 10), ("SEGV", 11), ("USR2", 12), ("PIPE", 13),
        ("ALRM", 14), ("TERM", 15), ("STKFLT", 16), ("CHLD", 17), ("CONT", 18), ("STOP", 19),
        ("TSTP", 20), ("TTIN", 21), ("TTOU", 22), ("URG", 23), ("XCPU", 24), ("XFSZ", 25),
        ("VTALRM", 26), ("PROF", 27), ("WINCH", 28), ("IO", 29), ("PWR", 30), ("SYS", 31),
    ]

    /// Parses `SIGTERM`, `TERM`, `15`, `RTMIN+3` (Docker's accepted forms).
    public static func parse(_ text: String) -> Int32? {
        if let number = Int32(text), number > 0, number <= 64 { return number }
        var name = text.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let match = table.first(where: { $0.0 == name }) { return match.1 }
        if name == "RTMIN" { return 34 }
        if name == "RTMAX" { return 64 }
        if name.hasPrefix("RTMIN+"), let n = Int32(name.dropFirst(6)), 34 + n <= 64 { return 34 + n }
        if name.hasPrefix("RTMAX-"), let n = Int32(name.dropFirst(6)), 64 - n >= 34 { return 64 - n }
        return nil
    }

    public static func name(_ number: Int32) -> String {
        if let match = table.first(where: { $0.1 == number }) { return "SIG" + match.0 }
        return "signal \(number)"
    }
}
