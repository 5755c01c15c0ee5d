import BerthCLI
import Foundation
import Synchronization
import Testing

/// Captures what a command prints.
final class BufferConsole: Console {
    private let buffers = Mutex<(out: String, err: String)>(("", ""))
    func out(_ text: String) { buffers.withLock { $0.out += text } }
    func err(_ text: String) { buffers.withLock { $0.err += text } }
    var stdoutIsTerminal: Bool { false }
    var stdout: String { buffers.withLock { $0.out } }
    var stderr: String { buffers.withLock { $0.err } }
}

struct Run {
    var code: Int32
    var stdout: String
    var stderr: String
}

func berth(_ arguments: [String], in directory: String = "/", environment: [String: String] = [:], stdin: String = "") -> Run {
    let console = BufferConsole()
    let input = Array(stdin.utf8)
    let code = BerthCLI.run(
        arguments: arguments, environment: environment, workingDirectory: directory, console: console, readStandardInput: { input })
    return Run(code: code, stdout: console.stdout, stderr: console.stderr)
}

func scratch(_ files: [String: String]) throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("berth-cli-\(UUID().uuidString.prefix(8))/demo").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    return directory
}

func removeScratch(_ directory: String) {
    try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent)
}

@Suite("Command line")
struct CLITests {
    @Test func version() {
        #expect(berth(["--version"]).stdout == "berth version \(BerthCLI.version)\n")
        #expect(berth(["version", "--format", "json"]).stdout == "{\"version\":\"\(BerthCLI.version)\"}\n")
    }

    @Test func unknownCommandAndOptionExit64WithHint() {
        let command = berth(["confg"])
        #expect(command.code == 64)
        #expect(command.stderr == "Error: unknown command \"confg\" for \"berth\"\nDid you mean \"config\"?\nRun 'berth --help' for usage.\n")
        let option = berth(["config", "--bogus"])
        #expect(option.code == 64)
        #expect(option.stderr == "Error: unknown flag: --bogus\nRun 'berth config --help' for usage.\n")
        let missing = berth(["-f"])
        #expect(missing.code == 64)
        #expect(missing.stderr == "Error: flag needs an argument: 'f' in -f\nRun 'berth --help' for usage.\n")
    }

    @Test func helpListsEveryOptionOfEveryCommand() {
        for command in BerthCLI.commands {
            let help = berth([command.name, "--help"])
            #expect(help.code == 0)
            for option in command.allOptions {
                #expect(help.stdout.contains("--\(option.long)"), "\(command.name) --help lacks --\(option.long)")
            }
        }
        #expect(berth(["--help"]).stdout.contains("  config   Parse, resolve and render the Compose file in canonical format.\n"))
    }

    @Test func configPrintsCanonicalYAMLAndJSON() throws {
        let dir = try scratch(["compose.yaml": "services:\n  web:\n    image: nginx\n    ports: [\"8080:80\"]\n"])
        defer { removeScratch(dir) }
        let yaml = berth(["config"], in: dir)
        #expect(yaml.code == 0)
        #expect(yaml.stdout == """
            name: demo
            services:
              web:
                image: nginx
                networks:
                  default: null
                ports:
                  - mode: ingress
                    target: 80
                    published: "8080"
                    protocol: tcp
            networks:
              default:
                name: demo_default

            """)
        let json = berth(["config", "--format", "json"], in: dir)
        #expect(json.code == 0)
        #expect(json.stdout.hasPrefix("{\n  \"name\": \"demo\",\n  \"services\": {\n    \"web\": {\n"))
        #expect(berth(["config", "--services"], in: dir).stdout == "web\n")
        #expect(berth(["config", "--networks"], in: dir).stdout == "default\n")
        #expect(berth(["config", "--images"], in: dir).stdout == "nginx\n")
        let quiet = berth(["config", "-q"], in: dir)
        #expect(quiet.code == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty)
        let hash = berth(["config", "--hash", "*"], in: dir)
        #expect(hash.stdout.hasPrefix("web ") && hash.stdout.count == "web ".count + 64 + 1)
        #expect(berth(["config", "--format", "toml"], in: dir).code == 64)
    }

    @Test func globalOptionsAndEnvironment() throws {
        let dir = try scratch([
            "compose.yaml": "services:\n  web:\n    image: nginx:${TAG}\n  debug:\n    image: busybox\n    profiles: [debug]\n",
            "other.yaml": "services:\n  web:\n    image: other\n",
            "ci.env": "TAG=ci\n",
        ])
        defer { removeScratch(dir) }
        #expect(berth(["-p", "named", "config", "--services"], in: dir).code == 0)
        #expect(berth(["--profile", "debug", "config", "--services"], in: dir).stdout == "debug\nweb\n")
        #expect(berth(["config", "--services"], in: dir, environment: ["COMPOSE_PROFILES": "debug"]).stdout == "debug\nweb\n")
        #expect(berth(["--env-file", "ci.env", "config", "--images"], in: dir).stdout == "nginx:ci\n")
        #expect(berth(["config", "--images"], in: dir, environment: ["COMPOSE_FILE": "other.yaml"]).stdout == "other\n")
        #expect(berth(["-f", "-", "config", "--images"], in: dir, stdin: "services:\n  s:\n    image: from-stdin\n").stdout == "from-stdin\n")
        // --environment shows what interpolation used: env files under the process environment.
        #expect(berth(["--env-file", "ci.env", "config", "--environment"], in: dir, environment: ["X": "1"]).stdout == "TAG=ci\nX=1\n")
        #expect(berth(["--env-file", "ci.env", "config", "--environment"], in: dir, environment: ["TAG": "shell"]).stdout == "TAG=shell\n")
        let unset = berth(["config", "--images"], in: dir)
        #expect(unset.stderr == "WARN[0000] The \"TAG\" variable is not set. Defaulting to a blank string.\n")
    }

    @Test func loaderErrorsExit1WithLocation() throws {
        let dir = try scratch(["compose.yaml": "services:\n  web:\n    imgae: nginx\n"])
        defer { removeScratch(dir) }
        let run = berth(["config"], in: dir)
        #expect(run.code == 1)
        #expect(run.stderr == "Error: \(dir)/compose.yaml:3:5: services.web: unknown key 'imgae' — did you mean 'image'?\n")
        #expect(run.stdout.isEmpty)
        let none = berth(["config"], in: (dir as NSString).deletingLastPathComponent)
        #expect(none.code == 1)
        #expect(none.stderr.hasPrefix("Error: no configuration file provided: not found"))
        let service = berth(["config", "nope"], in: dir.replacingOccurrences(of: "/demo", with: "/demo"))
        #expect(service.code == 1)
    }

    @Test func configSelectsServicesWithTheirDependencies() throws {
        let dir = try scratch(["compose.yaml": "services:\n  web: {image: w, depends_on: [db]}\n  db: {image: d}\n  other: {image: o}\n"])
        defer { removeScratch(dir) }
        #expect(berth(["config", "--services", "web"], in: dir).stdout == "db\nweb\n")
        let missing = berth(["config", "wbe"], in: dir)
        #expect(missing.code == 1)
        #expect(missing.stderr == "Error: no such service: wbe — did you mean \"web\"?\n")
    }
}
