@testable import ComposeSpec
import Foundation
import Testing

@Suite("Loader rules")
struct LoaderTests {
    // MARK: Discovery, names

    @Test func discoversComposeFileAndOverrideInParentDirectory() throws {
        let fixture = try Fixture([
            "compose.yaml": "services:\n  web:\n    image: nginx\n",
            "compose.override.yaml": "services:\n  web:\n    image: nginx:override\n",
            "sub/dir/.keep": "",
        ])
        let project = try fixture.load { $0.workingDirectory = fixture.directory + "/sub/dir" }
        #expect(project.services["web"]?.image == "nginx:override")
        #expect(project.configFiles == [fixture.directory + "/compose.yaml", fixture.directory + "/compose.override.yaml"])
        #expect(project.name == "myapp")
    }

    @Test func noComposeFileIsAClearError() throws {
        let fixture = try Fixture()
        let message = try #require(fixture.error())
        #expect(message.hasPrefix("no configuration file provided: not found (looked for compose.yaml, compose.yml, docker-compose.yaml, docker-compose.yml in "))
    }

    @Test func projectNamePrecedenceAndNormalization() throws {
        let fixture = try Fixture(["compose.yaml": "name: fromfile\nservices:\n  web:\n    image: nginx\n", "plain.yaml": "services:\n  web:\n    image: nginx\n"])
        #expect(try fixture.load { $0.projectName = "flag" }.name == "flag")
        #expect(try fixture.load(environment: ["COMPOSE_PROJECT_NAME": "env"]).name == "env")
        #expect(try fixture.load().name == "fromfile")
        let odd = try Fixture(["x": ""])
        try FileManager.default.createDirectory(atPath: odd.directory + "/_My.App", withIntermediateDirectories: true)
        try "services:\n  web:\n    image: nginx\n".write(toFile: odd.directory + "/_My.App/compose.yaml", atomically: true, encoding: .utf8)
        #expect(try odd.load { $0.workingDirectory = odd.directory + "/_My.App" }.name == "myapp")
        #expect(
            fixture.error { $0.projectName = "Bad Name" }
                == "invalid project name \"Bad Name\" (from -p): must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number")
    }

    // MARK: Short syntax

    @Test func portsShortSyntaxExpands() throws {
        let fixture = try Fixture([
            "compose.yaml": """
                services:
                  web:
                    image: nginx
                    ports:
                      - 80
                      - "8080:80"
                      - "127.0.0.1::53/udp"
                      - "[::1]:443:443"
                      - "9000-9001:9000-9001"
                      - "7000-7002:80"
                      - target: 22
                        published: 2222
                """
        ])
        let ports = try #require(try fixture.load().services["web"]?.ports)
        let summary = ports.map { "\($0.host_ip ?? "")|\($0.published ?? "")|\($0.target)|\($0.protocol ?? "")|\($0.mode ?? "")" }
        #expect(summary == [
            "||80|tcp|ingress", "|8080|80|tcp|ingress", "127.0.0.1||53|udp|ingress", "::1|443|443|tcp|ingress",
            "|9000|9000|tcp|ingress", "|9001|9001|tcp|ingress", "|7000-7002|80|tcp|ingress", "|2222|22|tcp|ingress",
        ])
    }

    @Test func badPortIsLocated() throws {
        let fixture = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    ports:\n      - \"80:70000\"\n"])
        #expect(
            fixture.error()
                == "compose.yaml:5:9: services.web.ports[0]: invalid port '80:70000': '70000' is not a port or a port range (1-65535); use [[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL], for example '127.0.0.1:8080:80/tcp'")
    }

    @Test func volumesShortSyntaxExpands() throws {
        let fixture = try Fixture([
            "compose.yaml": """
                services:
                  web:
                    image: nginx
                    volumes:
                      - ./html:/usr/share/nginx/html:ro,z
                      - data:/data:nocopy
                      - /cache
                      - ~/conf:/conf
                volumes:
                  data: {}
                """
        ])
        let volumes = try #require(try fixture.load(environment: ["HOME": "/home/u"]).services["web"]?.volumes)
        #expect(volumes[0] == ServiceVolume(
            type: "bind", source: fixture.directory + "/html", target: "/usr/share/nginx/html", read_only: true,
            bind: .init(create_host_path: true, selinux: "z")))
        #expect(volumes[1] == ServiceVolume(type: "volume", source: "data", target: "/data", volume: .init(nocopy: true)))
        #expect(volumes[2] == ServiceVolume(type: "volume", target: "/cache"))
        #expect(volumes[3].source == "/home/u/conf")
    }

    @Test func environmentLabelsCommandHealthcheckDependsOn() throws {
        let fixture = try Fixture([
            "compose.yaml": """
                services:
                  web:
                    image: nginx
                    environment: [A=1, B=, C]
                    labels: [com.example=x]
                    command: sh -c "echo 'hi there'"
                    healthcheck:
                      test: curl -f http://localhost
                      interval: 1m30s
                      timeout: 500ms
                    depends_on: [db]
                    stop_grace_period: 1h
                    mem_limit: 1.5g
                    ulimits:
                      nofile: {soft: 1024, hard: 2048}
                      nproc: 512
                  db:
                    image: postgres
                    depends_on: {}
                """
        ])
        let web = try #require(try fixture.load(environment: ["C": "from-shell"]).services["web"])
        #expect(web.environment == KeyedMap([("A", "1"), ("B", ""), ("C", "from-shell")]))
        #expect(web.labels == KeyedMap([("com.example", "x")]))
        #expect(web.command == ["sh", "-c", "echo 'hi there'"])
        #expect(web.healthcheck?.test == ["CMD-SHELL", "curl -f http://localhost"])
        #expect(web.healthcheck?.interval?.description == "1m30s")
        #expect(web.healthcheck?.timeout?.description == "500ms")
        #expect(web.stop_grace_period?.description == "1h0m0s")
        #expect(web.mem_limit?.bytes == 1_610_612_736)
        #expect(web.ulimits?["nofile"] == Ulimit(soft: 1024, hard: 2048))
        #expect(web.ulimits?["nproc"] == Ulimit(soft: 512, hard: 512))
        #expect(web.depends_on?["db"] == DependsOn(condition: "service_started", required: true))
    }

    @Test func implicitDefaultNetworkAndResourceNames() throws {
        let fixture = try Fixture([
            "compose.yaml": """
                services:
                  web: {image: nginx}
                  api: {image: api, networks: [back]}
                networks:
                  back: {}
                  outside: {external: true}
                volumes:
                  data:
                  named: {name: custom}
                """
        ])
        let project = try fixture.load()
        #expect(project.services["web"]?.networks?.keys == ["default"])
        #expect(project.services["api"]?.networks?.keys == ["back"])
        #expect(project.networks?["default"]?.name == "myapp_default")
        #expect(project.networks?["back"]?.name == "myapp_back")
        #expect(project.networks?["outside"]?.name == "outside")
        #expect(project.volumes?["data"]?.name == "myapp_data")
        #expect(project.volumes?["named"]?.name == "custom")
    }

    // MARK: Merging, extends, include, profiles

    @Test func multipleFilesMergeWithSpecRules() throws {
        let fixture = try Fixture([
            "a.yaml": """
                services:
                  web:
                    image: nginx
                    command: [a, b]
                    ports: ["8080:80", "9090:90"]
                    volumes: ["./one:/data", "cache:/cache"]
                    environment: {A: "1", B: "1"}
                    dns: [1.1.1.1]
                volumes: {cache: {}}
                """,
            "b.yaml": """
                services:
                  web:
                    command: [c]
                    ports: ["8080:80", "7070:70"]
                    volumes: ["./two:/data"]
                    environment: {B: "2"}
                    dns: [1.1.1.1, 8.8.8.8]
                """,
        ])
        let web = try #require(try fixture.load(["a.yaml", "b.yaml"]).services["web"])
        #expect(web.command == ["c"])
        #expect(web.ports?.map { $0.published ?? "" } == ["8080", "9090", "7070"])
        #expect(web.volumes?.map { $0.source ?? "" } == [fixture.directory + "/two", "cache"])
        #expect(web.environment == KeyedMap([("A", "1"), ("B", "2")]))
        #expect(web.dns == ["1.1.1.1", "8.8.8.8"])
    }

    @Test func resetAndOverrideTags() throws {
        let fixture = try Fixture([
            "a.yaml": "services:\n  web:\n    image: nginx\n    ports: [\"80:80\"]\n    environment: {A: \"1\", B: \"1\"}\n",
            "b.yaml": "services:\n  web:\n    ports: !reset []\n    environment: !override {C: \"3\"}\n",
        ])
        let web = try #require(try fixture.load(["a.yaml", "b.yaml"]).services["web"])
        #expect(web.ports == nil)
        #expect(web.environment == KeyedMap([("C", "3")]))
    }

    @Test func extendsSameFileAndOtherFile() throws {
        let fixture = try Fixture([
            "compose.yaml": """
                services:
                  base:
                    image: busybox
                    environment: {A: "1"}
                  web:
                    extends: base
                    environment: {B: "2"}
                  remote:
                    extends: {file: common/common.yaml, service: shared}
                """,
            "common/common.yaml": "services:\n  shared:\n    image: alpine\n    env_file: shared.env\n    build: .\n",
            "common/shared.env": "S=1\n",
        ])
        let project = try fixture.load()
        #expect(project.services["web"]?.image == "busybox")
        #expect(project.services["web"]?.environment == KeyedMap([("A", "1"), ("B", "2")]))
        #expect(project.services["web"]?.extends == nil)
        // Relative paths of the extended file are relative to that file.
        #expect(project.services["remote"]?.build?.context == fixture.directory + "/common")
        #expect(project.services["remote"]?.environment == KeyedMap([("S", "1")]))
    }

    @Test func extendsErrors() throws {
        let missing = try Fixture(["compose.yaml": "services:\n  web:\n    extends: bse\n  base:\n    image: x\n"])
        #expect(missing.error() == "compose.yaml:3:14: cannot extend service \"web\" in compose.yaml: service \"bse\" not found — did you mean 'base'?")
        let loop = try Fixture(["compose.yaml": "services:\n  a:\n    extends: b\n  b:\n    extends: a\n"])
        #expect(loop.error() == "compose.yaml:3:14: circular reference with extends: a -> b -> a")
    }

    @Test func includeLoadsAnotherProjectWithItsOwnDirectory() throws {
        let fixture = try Fixture([
            "compose.yaml": "include:\n  - sub/compose.yaml\nservices:\n  web:\n    image: nginx\n    depends_on: [db]\n",
            "sub/compose.yaml": "services:\n  db:\n    image: postgres:${PG}\n    build: ./ctx\n",
            "sub/.env": "PG=16\n",
        ])
        let project = try fixture.load()
        #expect(project.services.keys.sorted() == ["db", "web"])
        #expect(project.services["db"]?.image == "postgres:16")
        #expect(project.services["db"]?.build?.context == fixture.directory + "/sub/ctx")
        let conflict = try Fixture([
            "compose.yaml": "include: [sub/compose.yaml]\nservices:\n  db:\n    image: mine\n",
            "sub/compose.yaml": "services:\n  db:\n    image: theirs\n",
        ])
        #expect(conflict.error() == "compose.yaml:4:5: services.db conflicts with imported resource from sub/compose.yaml; rename one of them")
    }

    @Test func profiles() throws {
        let fixture = try Fixture([
            "compose.yaml": """
                services:
                  web: {image: nginx}
                  debug: {image: busybox, profiles: [debug]}
                  tools: {image: busybox, profiles: [tools, debug]}
                """
        ])
        #expect(try fixture.load().services.keys.sorted() == ["web"])
        #expect(try fixture.load { $0.profiles = ["debug"] }.services.keys.sorted() == ["debug", "tools", "web"])
        #expect(try fixture.load(environment: ["COMPOSE_PROFILES": "tools"]).services.keys.sorted() == ["tools", "web"])
        // Naming a service enables that service, not every service sharing its profiles.
        #expect(try fixture.load { $0.selectedServices = ["tools"] }.services.keys.sorted() == ["tools", "web"])
        #expect(try fixture.load { $0.profiles = ["*"] }.services.count == 3)
    }

    // MARK: Validation errors

    @Test func unknownKeyWithSuggestion() throws {
        let fixture = try Fixture(["compose.yaml": "services:\n  web:\n    imgae: nginx\n"])
        #expect(fixture.error() == "compose.yaml:3:5: services.web: unknown key 'imgae' — did you mean 'image'?")
    }

    @Test func wrongTypesBadDurationsAndSizes() throws {
        let type = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    privileged: maybe\n"])
        #expect(type.error() == "compose.yaml:4:17: services.web.privileged must be a boolean (true or false), not a string")
        let duration = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    stop_grace_period: 10 seconds\n"])
        #expect(
            duration.error()
                == "compose.yaml:4:24: services.web.stop_grace_period: invalid duration '10 seconds'; use a number with a unit: us, ms, s, m or h (for example '1m30s')")
        let size = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    mem_limit: 12zb\n"])
        #expect(
            size.error()
                == "compose.yaml:4:16: services.web.mem_limit: invalid size '12zb'; use a number of bytes or a number with a unit: b, k, m or g (for example '512m')")
    }

    @Test func referencesAndCycles() throws {
        let network = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    networks: [frnt]\nnetworks:\n  front: {}\n"])
        #expect(
            network.error()
                == "compose.yaml:4:16: service \"web\" refers to undefined network \"frnt\" — did you mean \"front\"?; declare it under the top-level 'networks:'")
        let volume = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    volumes: [data:/data]\n"])
        #expect(volume.error() == "compose.yaml:4:15: service \"web\" refers to undefined volume \"data\"; declare it under the top-level 'volumes:'")
        let secret = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    secrets: [token]\n"])
        #expect(secret.error() == "compose.yaml:4:15: service \"web\" refers to undefined secret \"token\"; declare it under the top-level 'secrets:'")
        let dependency = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    depends_on: [dbb]\n  db:\n    image: pg\n"])
        #expect(dependency.error() == "compose.yaml:4:18: service \"web\" depends on undefined service \"dbb\" — did you mean \"db\"?")
        let cycle = try Fixture(["compose.yaml": "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [a]\n"])
        #expect(cycle.error() == "compose.yaml:4:5: dependency cycle detected: a -> b -> a")
    }

    @Test func containerNameWithReplicas() throws {
        let fixture = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    container_name: web\n    deploy:\n      replicas: 3\n"])
        #expect(
            fixture.error()
                == "compose.yaml:4:5: services.deploy.replicas: can't set container_name and web as container name must be unique; remove container_name or set one replica")
    }

    @Test func stdinAndServiceWithoutImage() throws {
        let fixture = try Fixture()
        let project = try fixture.load(["-"]) { $0.readStandardInput = { Array("services:\n  web:\n    image: nginx\n".utf8) } }
        #expect(project.services["web"]?.image == "nginx")
        #expect(
            fixture.error(["-"]) { $0.readStandardInput = { Array("services:\n  web:\n    restart: always\n".utf8) } }
                == "(stdin):2:3: service \"web\" has neither an image nor a build context specified; add 'image:' or 'build:'")
    }
}
