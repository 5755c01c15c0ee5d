import ComposeSpec
import Testing

/// `OutputWriter.yaml(_, blockScalars: true)`: multi-line strings as literal blocks that
/// read back as the same strings.
struct BlockScalarTests {
    static let samples = [
        "one\ntwo\n", "no newline at the end\nsecond", "kept\n\n", "inner\n\nblank\n", "tab\there\n", "  leading blank\nx\n",
        "trailing blank \nx\n", "\nstarts with a newline\n", "carriage\r\nreturn\n", "single line", "$(A) $$ # not a comment\n- x: y\n",
    ]

    @Test func multiLineStringsBecomeLiteralBlocksThatReadBackTheSame() throws {
        let value = OutputValue.map([("data", .map(Self.samples.enumerated().map { ("k\($0.offset)", .string($0.element)) })),
                                     ("list", .list(Self.samples.map { .string($0) }))])
        let text = OutputWriter.yaml(value, blockScalars: true)
        let node = try #require(try YAMLReader().parse(text, file: "t").first)
        for (index, sample) in Self.samples.enumerated() {
            #expect(node["data"]?["k\(index)"]?.scalarText == sample)
            #expect(node["list"]?.items?[index].scalarText == sample)
        }
        #expect(text.hasPrefix("""
            data:
              k0: |
                one
                two
              k1: |-
                no newline at the end
                second
              k2: |+
                kept

              k3: |
                inner

                blank
              k4: |
                tab\there
              k5: "  leading blank\\nx\\n"
              k6: "trailing blank \\nx\\n"
              k7: "\\nstarts with a newline\\n"
              k8: "carriage\\r\\nreturn\\n"
              k9: single line
              k10: |
                $(A) $$ # not a comment
                - x: y
            list:
              - |
                one
                two

            """))
        // Without the option, nothing changes: `berth config` keeps double quotes.
        #expect(OutputWriter.yaml(.map([("k", .string("a\nb\n"))])) == "k: \"a\\nb\\n\"\n")
    }
}
