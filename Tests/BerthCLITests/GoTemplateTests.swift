import Testing
@testable import BerthCLI

/// The Go template subset over walkable data (inspect), with what text/template prints.
@Suite("go templates")
struct GoTemplateTests {
    static let data = TemplateData.object([
        ("Name", .string("/demo-web-1")),
        ("RestartCount", .int(2)),
        ("State", .object([("Status", .string("running")), ("Running", .bool(true)), ("Health", .null)])),
        ("Args", .strings(["-c", "echo <hi>"])),
        ("Labels", .stringMap([("b", "2"), ("a", "1"), ("com.docker.compose.service", "web")])),
        ("Empty", .strings(nil)),
        ("Ports", .map([
            ("80/tcp", .list([.object([("HostIp", .string("0.0.0.0")), ("HostPort", .string("8080"))])])),
            ("443/tcp", .list(nil)),
        ])),
        ("Networks", .map([
            ("front", .object([("IPAddress", .string("10.0.1.2"))])),
            ("back", .object([("IPAddress", .string("10.0.2.2"))])),
        ])),
    ])

    func run(_ source: String) throws -> String {
        try GoTemplate(parsing: source).execute(GoTemplate.Context(data: Self.data))
    }

    @Test func fieldsPrintAsGoDoes() throws {
        #expect(try run("{{.Name}} {{.RestartCount}} {{.State.Status}} {{.State.Running}}") == "/demo-web-1 2 running true")
        // %v of a struct, a slice, a map (keys sorted), nil values, a missing map key.
        #expect(try run("{{.State}}|{{.Args}}|{{.Labels}}|{{.Empty}}|{{.State.Health}}|{{.Labels.nosuch}}")
            == "{running true <nil>}|[-c echo <hi>]|map[a:1 b:2 com.docker.compose.service:web]|[]|<nil>|<no value>")
        #expect(try run("{{json .Args}} {{json .Labels}} {{json .Empty}} {{json .State}}")
            == #"["-c","echo <hi>"] {"a":"1","b":"2","com.docker.compose.service":"web"} null {"Status":"running","Running":true,"Health":null}"#)
    }

    @Test func rangeIfWithVariablesAndPipelines() throws {
        #expect(try run("{{range .Networks}}{{.IPAddress}} {{end}}") == "10.0.2.2 10.0.1.2 ")
        #expect(try run("{{range $name, $net := .Networks}}{{$name}}={{$net.IPAddress}};{{end}}") == "back=10.0.2.2;front=10.0.1.2;")
        #expect(try run("{{range $p, $conf := .Ports}}{{if $conf}}{{$p}} -> {{(index $conf 0).HostPort}}{{else}}{{$p}} unpublished{{end}}, {{end}}")
            == "443/tcp unpublished, 80/tcp -> 8080, ")
        #expect(try run("{{range .Empty}}x{{else}}none{{end}}") == "none")
        #expect(try run("{{range $i, $a := .Args}}{{$i}}:{{$a}} {{end}}") == "0:-c 1:echo <hi> ")
        #expect(try run("{{with .State}}{{.Status}}{{end}}{{with .State.Health}}{{.Status}}{{else}} no health{{end}}") == "running no health")
        #expect(try run("{{if eq .State.Status \"running\"}}up{{else if eq .State.Status \"exited\"}}down{{else}}?{{end}}") == "up")
        #expect(try run("{{if and .State.Running (gt .RestartCount 1)}}flapping{{end}}") == "flapping")
        #expect(try run("{{if not .State.Health}}unchecked{{end}} {{or .Empty \"fallback\"}}") == "unchecked fallback")
        #expect(try run("{{$n := .Name}}{{.State.Status}} {{$n}} {{$.RestartCount}}") == "running /demo-web-1 2")
        #expect(try run("{{.Name | upper}} {{index .Labels \"com.docker.compose.service\" | printf \"%-5s|\"}} {{len .Args}} {{len .Labels}}")
            == "/DEMO-WEB-1 web  | 2 3")
        #expect(try run("{{join .Args \",\"}} {{printf \"%s has %d\" .Name .RestartCount}} {{print 1 2 \"a\" \"b\"}}") == "-c,echo <hi> /demo-web-1 has 2 1 2ab")
        #expect(try run("{{- /* a comment */ -}}  {{.RestartCount -}}   !") == "2!")
    }

    @Test func errorsSayWhat() throws {
        #expect(throws: GoTemplate.TemplateError.self) { try run("{{.Nosuch}}") }
        #expect(throws: GoTemplate.TemplateError.self) { try run("{{.State.Nosuch}}") }
        #expect(throws: GoTemplate.TemplateError.self) { try run("{{.Name.Deeper}}") }
        #expect(throws: GoTemplate.TemplateError.self) { try run("{{range .Name}}{{end}}") }
        #expect(throws: GoTemplate.TemplateError.self) { try run("{{index .Args 5}}") }
        #expect(throws: GoTemplate.TemplateError.self) { try run("{{$undefined}}") }
        #expect(throws: GoTemplate.TemplateError.self) { try run("{{eq .Name 1}}") }
        for source in ["{{if .Name}}", "{{end}}", "{{else}}", "{{.Name", "{{nosuch .Name}}", "{{(index .Args 0}}", "{{\"a\" \"b\"}}", "{{.Name | }}"] {
            #expect(throws: GoTemplate.TemplateError.self, "\(source)") { try GoTemplate(parsing: source) }
        }
        #expect(throws: GoTemplate.TemplateError(description: "can't evaluate field Nosuch: the fields are Name, RestartCount, State, Args, Labels, Empty, Ports, Networks")) {
            try run("{{.Nosuch}}")
        }
    }
}
