import ComposeSpec
import Foundation
import Testing

/// Hostile or broken input gets a clear, located error — never a crash, a hang, or
/// unbounded memory.
@Suite("Malformed input")
struct MalformedInputTests {
    func loadError(_ bytes: [UInt8]) throws -> String? {
        let fixture = try Fixture()
        try Data(bytes).write(to: URL(fileURLWithPath: fixture.directory + "/compose.yaml"))
        return fixture.error()
    }

    static func maxResidentKB() -> Int {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return usage.ru_maxrss
    }

    @Test func truncatedFiles() throws {
        let full = "services:\n  web:\n    image: \"nginx:1.25\"\n    ports: [\"80:80\", \"443:443\"]\n"
        #expect(try loadError(Array(full.utf8.prefix(30))) == "compose.yaml:3:14: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line 3)")
        #expect(try loadError(Array(full.utf8.prefix(60))) == "compose.yaml:5:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 4)")
        // Cut at a line end the YAML is valid, and the Compose checks catch what is missing.
        #expect(try loadError(Array(full.utf8.prefix(17))) == "compose.yaml:2:3: service \"web\" has neither an image nor a build context specified; add 'image:' or 'build:'")
    }

    @Test func binaryInput() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let bytes = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let message = try #require(try loadError(bytes))
            #expect(message.hasPrefix("compose.yaml:"))
        }
        #expect(try loadError([0x73, 0x3a, 0x00, 0x01, 0xff]) == "compose.yaml:1:1: invalid YAML: control characters are not allowed; is this a text file?")
    }

    @Test func deepNesting() throws {
        let flow = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(try loadError(Array(("x-deep: " + flow + "\n").utf8)) == "compose.yaml:1:520: YAML nesting is deeper than 512 levels")
        var block = ""
        for level in 0..<1_000 { block += String(repeating: " ", count: level) + "a:\n" }
        #expect(try loadError(Array(block.utf8))?.hasSuffix("YAML nesting is deeper than 512 levels") == true)
    }

    @Test func hugeInputIsRefusedWithinBoundedMemory() throws {
        let fixture = try Fixture()
        let path = fixture.directory + "/compose.yaml"
        let line = Array("x-pad: \(String(repeating: "a", count: 1016))\n".utf8)
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        for _ in 0..<(50 * 1024) { handle.write(Data(line)) }
        try handle.close()
        let before = Self.maxResidentKB()
        #expect(fixture.error() == "compose.yaml: file is 50 MB; berth reads Compose files of at most 16 MB")
        #expect(Self.maxResidentKB() - before < 64 * 1024)
    }

    @Test func aliasBombIsRefused() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<10 {
            let refs = Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ")
            text += "a\(i): &a\(i) [\(refs)]\n"
        }
        let message = try #require(try loadError(Array(("services: {}\nx-bomb:\n" + text.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n").utf8)))
        #expect(message.hasSuffix("document expands to more than 2000000 nodes through aliases; refusing to load it"))
    }
}
