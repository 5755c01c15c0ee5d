import ComposeSpec
import Foundation
import Testing

@Suite("Canonical output and config hash")
struct OutputTests {
    static let sample = """
        name: shop
        services:
          web:
            image: "nginx:${TAG:-1.25}"
            ports: ["8080:80"]
            environment: {GREETING: "hello $$USER", EMPTY: ""}
            depends_on:
              db: {condition: service_healthy}
            healthcheck: {test: "curl -f http://localhost", interval: 30s}
            deploy: {replicas: 2}
            x-owner: team
          db:
            image: postgres
            volumes: [data:/var/lib/postgresql/data]
            command: postgres -c 'max_connections=200'
        volumes:
          data:
        """

    @Test func yamlIsExactAndStable() throws {
        let fixture = try Fixture(["compose.yaml": Self.sample])
        let expected = """
            name: shop
            services:
              db:
                command:
                  - postgres
                  - -c
                  - max_connections=200
                image: postgres
                networks:
                  default: null
                volumes:
                  - type: volume
                    source: data
                    target: /var/lib/postgresql/data
              web:
                depends_on:
                  db:
                    condition: service_healthy
                    required: true
                deploy:
                  replicas: 2
                environment:
                  EMPTY: ""
                  GREETING: hello $$USER
                healthcheck:
                  test:
                    - CMD-SHELL
                    - curl -f http://localhost
                  interval: 30s
                image: nginx:1.25
                networks:
                  default: null
                ports:
                  - mode: ingress
                    target: 80
                    published: "8080"
                    protocol: tcp
                x-owner: team
            networks:
              default:
                name: shop_default
            volumes:
              data:
                name: shop_data

            """
        #expect(try fixture.yaml() == expected)
        #expect(try fixture.yaml() == fixture.yaml())
    }

    @Test func outputRoundTrips() throws {
        let fixture = try Fixture(["compose.yaml": Self.sample])
        let first = CanonicalOutput.yaml(try fixture.load())
        try fixture.write("again.yaml", first)
        let second = CanonicalOutput.yaml(try fixture.load(["again.yaml"]))
        #expect(first == second)
        let json = CanonicalOutput.json(try fixture.load())
        try fixture.write("again.json", json)  // JSON is YAML: it must load back the same too
        #expect(CanonicalOutput.yaml(try fixture.load(["again.json"])) == first)
    }

    @Test func jsonIsValidJSON() throws {
        let fixture = try Fixture(["compose.yaml": Self.sample])
        let json = CanonicalOutput.json(try fixture.load())
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        let services = object?["services"] as? [String: Any]
        let web = services?["web"] as? [String: Any]
        #expect(web?["image"] as? String == "nginx:1.25")
        #expect((web?["ports"] as? [[String: Any]])?.first?["target"] as? Int == 80)
    }

    @Test func configHashChangesOnlyWithTheEffectiveConfiguration() throws {
        let base = try Fixture(["compose.yaml": Self.sample])
        let hash = CanonicalOutput.configHash(try #require(try base.load().services["web"]))
        #expect(hash.count == 64)
        #expect(CanonicalOutput.configHash(try #require(try base.load().services["web"])) == hash)
        // Same service written differently: key order, list vs map environment.
        let reordered = try Fixture([
            "compose.yaml": Self.sample.replacingOccurrences(of: "environment: {GREETING: \"hello $$USER\", EMPTY: \"\"}", with: "environment: [EMPTY=, GREETING=hello $$USER]")
        ])
        #expect(CanonicalOutput.configHash(try #require(try reordered.load().services["web"])) == hash)
        // Replicas and dependencies don't make a container out of date; the image does.
        let scaled = try Fixture(["compose.yaml": Self.sample.replacingOccurrences(of: "replicas: 2", with: "replicas: 5")])
        #expect(CanonicalOutput.configHash(try #require(try scaled.load().services["web"])) == hash)
        // How updates roll is not the container either; an empty deploy is no deploy.
        let rolled = try Fixture(["compose.yaml": Self.sample.replacingOccurrences(
            of: "replicas: 2", with: "replicas: 2, update_config: {order: start-first}, rollback_config: {parallelism: 0}")])
        #expect(CanonicalOutput.configHash(try #require(try rolled.load().services["web"])) == hash)
        let bare = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n"])
        let deployed = try Fixture(["compose.yaml": "services:\n  web:\n    image: nginx\n    deploy: {replicas: 3, update_config: {delay: 2s}}\n"])
        #expect(CanonicalOutput.configHash(try #require(try bare.load().services["web"])) == CanonicalOutput.configHash(try #require(try deployed.load().services["web"])))
        let retagged = try Fixture(["compose.yaml": Self.sample.replacingOccurrences(of: "1.25", with: "1.27")])
        #expect(CanonicalOutput.configHash(try #require(try retagged.load().services["web"])) != hash)
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256Check.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256Check.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            SHA256Check.hex(String(repeating: "a", count: 1000))
                == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}

import BerthDigest

enum SHA256Check {
    static func hex(_ text: String) -> String { SHA256.hex(text) }
}
