import ComposeSpec
import Testing

@Suite("Interpolation and env files")
struct InterpolationTests {
    func substitute(_ text: String, _ env: [String: String]) throws -> String {
        var interpolator = Interpolator(lookup: { env[$0] })
        return try interpolator.substitute(text, mark: Mark(file: "c.yaml", line: 2, column: 5), path: KeyPath(["services", "web", "image"]))
    }

    @Test func everyOperator() throws {
        let env = ["SET": "v", "EMPTY": ""]
        #expect(try substitute("$SET ${SET}", env) == "v v")
        #expect(try substitute("${UNSET:-d} ${EMPTY:-d} ${SET:-d}", env) == "d d v")
        #expect(try substitute("${UNSET-d} ${EMPTY-d} ${SET-d}", env) == "d  v")
        #expect(try substitute("${UNSET:+r}|${EMPTY:+r}|${SET:+r}", env) == "||r")
        #expect(try substitute("${UNSET+r}|${EMPTY+r}|${SET+r}", env) == "|r|r")
        #expect(try substitute("${EMPTY?e}|${SET:?e}", env) == "|v")
    }

    @Test func nestingEscapesAndLoneDollars() throws {
        let env = ["B": "inner", "T": "1.2"]
        #expect(try substitute("${A:-${B}}", env) == "inner")
        #expect(try substitute("${A:-${C:-deep}-x}", env) == "deep-x")
        #expect(try substitute("$$HOME and $$", env) == "$HOME and $")
        #expect(try substitute("cost: 5$ or $ 3", env) == "cost: 5$ or $ 3")
        #expect(try substitute("nginx:${T}", env) == "nginx:1.2")
    }

    @Test func requiredVariableErrorNamesVariableAndPlace() {
        #expect(throws: ComposeError("required variable TAG is missing a value: set TAG first", at: Mark(file: "c.yaml", line: 2, column: 5))) {
            try substitute("nginx:${TAG:?set TAG first}", [:])
        }
        #expect(throws: ComposeError("required variable TAG is missing a value: ", at: Mark(file: "c.yaml", line: 2, column: 5))) {
            try substitute("${TAG?}", [:])
        }
    }

    @Test func invalidTemplateIsLocated() {
        #expect(
            throws: ComposeError(
                "invalid interpolation format for services.web.image: \"${FOO\"; you may need to escape any $ with another $ ($$)",
                at: Mark(file: "c.yaml", line: 2, column: 5))
        ) { try substitute("${FOO", [:]) }
        #expect(throws: ComposeError.self) { try substitute("${FOO BAR}", [:]) }
    }

    @Test func loaderInterpolatesWithDotEnvAndProcessEnvironmentWins() throws {
        let fixture = try Fixture([
            "compose.yaml": "services:\n  web:\n    image: \"nginx:${TAG}\"\n    environment:\n      MODE: ${MODE:-dev}\n      REPLICAS: $N\n",
            ".env": "TAG=1.25\nMODE=prod\nN=3\n",
        ])
        let project = try fixture.load(environment: ["MODE": "shell"])
        let web = try #require(project.services["web"])
        #expect(web.image == "nginx:1.25")
        #expect(web.environment?["MODE"] == .some("shell"))
        #expect(web.environment?["REPLICAS"] == .some("3"))
    }

    @Test func unsetVariableWarnsAndBecomesEmpty() throws {
        let fixture = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx${SUFFIX}\n"])
        let result = try fixture.result()
        #expect(result.project.services["web"]?.image == "nginx")
        #expect(result.warnings.map(\.message) == ["The \"SUFFIX\" variable is not set. Defaulting to a blank string."])
    }

    @Test func envFileFlagReplacesDotEnv() throws {
        let fixture = try Fixture([
            "compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n",
            ".env": "TAG=dotenv\n",
            "prod.env": "TAG=prod\n",
        ])
        #expect(try fixture.load { $0.envFiles = ["prod.env"] }.services["web"]?.image == "nginx:prod")
    }

    @Test func dotEnvSyntax() throws {
        let text = """
            # comment
            export A=1
            B = spaced  # trailing comment
            C='single $A'
            D="double ${A}\\nline"
            E="multi
            line"
            F: colon
            G=${B}-x
            INHERIT
            MISSING
            """
        let entries = try DotEnv.parse(text, file: ".env", lookup: { $0 == "INHERIT" ? "from-shell" : nil })
        let map = Dictionary(entries.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(map == [
            "A": "1", "B": "spaced", "C": "single $A", "D": "double 1\nline", "E": "multi\nline", "F": "colon", "G": "spaced-x",
            "INHERIT": "from-shell",
        ])
    }

    @Test func envFileFillsContainerEnvironmentNotInterpolation() throws {
        let fixture = try Fixture([
            "compose.yaml": """
                services:
                  web:
                    image: nginx:${FROM_ENV_FILE:-none}
                    env_file:
                      - app.env
                      - path: optional.env
                        required: false
                    environment:
                      OVERRIDE: compose
                """,
            "app.env": "FROM_ENV_FILE=yes\nOVERRIDE=envfile\n",
        ])
        let web = try #require(try fixture.load().services["web"])
        #expect(web.image == "nginx:none")
        #expect(web.environment?["FROM_ENV_FILE"] == .some("yes"))
        #expect(web.environment?["OVERRIDE"] == .some("compose"))
        #expect(web.env_file?.map(\.required) == [true, false])
    }

    @Test func missingRequiredEnvFileIsAnError() throws {
        let fixture = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    env_file: nope.env\n"])
        #expect(fixture.error() == "services.web.env_file: env file nope.env not found; create it or mark it 'required: false'")
    }
}
