/// One `WWW-Authenticate` challenge: `Bearer realm="…",service="…",scope="…"` or
/// `Basic realm="…"`.
public struct AuthChallenge: Equatable, Sendable {
    /// Lower-cased: `bearer`, `basic`.
    public var scheme: String
    public var parameters: [String: String]

    /// Parses a header value; one header may carry several challenges.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var out: [AuthChallenge] = []
        var scanner = Scanner(Array(header.utf8))
        while true {
            scanner.skip(while: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ",") })
            guard let scheme = scanner.token(), !scheme.isEmpty else { break }
            var challenge = AuthChallenge(scheme: scheme.lowercased(), parameters: [:])
            while true {
                scanner.skip(while: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: ",") })
                let mark = scanner.position
                guard let name = scanner.token(), scanner.consume(UInt8(ascii: "=")) else {
                    scanner.position = mark
                    break
                }
                let value = scanner.quoted() ?? scanner.token() ?? ""
                challenge.parameters[name.lowercased()] = value
            }
            out.append(challenge)
        }
        return out
    }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func skip(while predicate: (UInt8) -> Bool) {
            while position < bytes.count, predicate(bytes[position]) { position += 1 }
        }

        mutating func consume(_ byte: UInt8) -> Bool {
            skip(while: { $0 == UInt8(ascii: " ") })
            guard position < bytes.count, bytes[position] == byte else { return false }
            position += 1
            skip(while: { $0 == UInt8(ascii: " ") })
            return true
        }

        /// An HTTP token (letters, digits and `!#$%&'*+-.^_`|~`).
        mutating func token() -> String? {
            let start = position
            let extra = Array("!#$%&'*+-.^_`|~/:".utf8)
            skip(while: { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || extra.contains($0) })
            return position > start ? String(decoding: bytes[start..<position], as: UTF8.self) : nil
        }

        /// A quoted string with backslash escapes.
        mutating func quoted() -> String? {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { return nil }
            position += 1
            var out: [UInt8] = []
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                if byte == UInt8(ascii: "\\"), position < bytes.count {
                    out.append(bytes[position])
                    position += 1
                } else if byte == UInt8(ascii: "\"") {
                    break
                } else {
                    out.append(byte)
                }
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
