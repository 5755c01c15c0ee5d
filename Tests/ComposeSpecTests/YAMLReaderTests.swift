import ComposeSpec
import Testing

@Suite("YAML reader")
struct YAMLReaderTests {
    func parse(_ text: String) throws -> Node {
        let documents = try YAMLReader().parse(text, file: "c.yaml")
        return documents.first ?? .null()
    }

    @Test func keepsLineAndColumnOfEveryNode() throws {
        let root = try parse("services:\n  web:\n    image: nginx\n")
        let image = root["services"]?["web"]?["image"]
        #expect(image?.scalarText == "nginx")
        #expect(image?.mark == Mark(file: "c.yaml", line: 3, column: 12))
    }

    @Test func resolvesScalarsAsYAML12CoreSchema() throws {
        let root = try parse("a: yes\nb: no\nc: on\nd: true\ne: 2222:22\nf: 0x1F\ng: 010\nh: 1.5\ni: ~\nj: '1'\nk: 0o17\n")
        #expect(root["a"]?.resolved == .string("yes"))
        #expect(root["b"]?.resolved == .string("no"))
        #expect(root["c"]?.resolved == .string("on"))
        #expect(root["d"]?.resolved == .bool(true))
        #expect(root["e"]?.resolved == .string("2222:22"))
        #expect(root["f"]?.resolved == .int(31))
        #expect(root["g"]?.resolved == .int(8))
        #expect(root["h"]?.resolved == .float(1.5))
        #expect(root["i"]?.resolved == .null)
        #expect(root["j"]?.resolved == .string("1"))
        #expect(root["k"]?.resolved == .int(15))
    }

    @Test func expandsAnchorsAliasesAndMergeKeys() throws {
        let text = """
            x-base: &base
              image: busybox
              restart: always
            x-env: &env
              environment: {A: "1"}
            services:
              web:
                <<: [*base, *env]
                restart: "no"
              db: *base
            """
        let root = try parse(text)
        let web = root["services"]?["web"]
        #expect(web?["image"]?.scalarText == "busybox")
        #expect(web?["restart"]?.scalarText == "no")  // explicit keys win over merged ones
        #expect(web?["environment"]?["A"]?.scalarText == "1")
        #expect(web?.keys == ["restart", "image", "environment"])
        #expect(root["services"]?["db"]?["image"]?.scalarText == "busybox")
    }

    @Test func keepsResetAndOverrideTags() throws {
        let root = try parse("ports: !reset []\nenv: !override {A: b}\n")
        #expect(root["ports"]?.tag == "!reset")
        #expect(root["env"]?.tag == "!override")
    }

    @Test func rejectsDuplicateKeysWithBothLines() {
        #expect(throws: ComposeError("duplicate key 'image' in mapping (first defined at line 3)", at: Mark(file: "c.yaml", line: 4, column: 5))) {
            try parse("services:\n  web:\n    image: a\n    image: b\n")
        }
    }

    @Test func reportsSyntaxErrorsWithLocation() {
        #expect(throws: ComposeError("invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line 3)", at: Mark(file: "c.yaml", line: 4, column: 5))) {
            try parse("services:\n  web:\n    image: [a\n  db: x\n")
        }
        #expect(throws: ComposeError("invalid YAML: mapping values are not allowed in this context", at: Mark(file: "c.yaml", line: 1, column: 5))) {
            try parse("a: b: c\n")
        }
    }

    @Test func unknownAliasIsAnError() {
        #expect(throws: ComposeError("unknown anchor 'nope' referenced", at: Mark(file: "c.yaml", line: 1, column: 4))) {
            try parse("a: *nope\n")
        }
    }

    @Test func readsEveryDocumentOfAStream() throws {
        let documents = try YAMLReader().parse("a: 1\n---\nb: 2\n", file: "c.yaml")
        #expect(documents.count == 2)
        #expect(documents[1]["b"]?.resolved == .int(2))
    }
}
