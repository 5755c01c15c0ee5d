@testable import BerthOrchestrator
import ComposeSpec
import Testing

@Suite("launch config")
struct LaunchConfigTests {
    func launch(_ service: String) throws -> LaunchConfig {
        let project = try loadProject("name: p\nservices:\n  db:\n    image: x\n  web:\n" + service)
        return try LaunchConfig.of(project: project, service: "web", service: try #require(project.services["web"]), hostname: "h")
    }

    @Test func linkAliases() throws {
        #expect(try launch("    image: x\n    links: [db, \"db:database\"]\n    external_links: [\"other-c:cache\"]\n").links
            == ["database": "db", "cache": "other-c"])
        #expect(try launch("    image: x\n    links: [db]\n").links == nil)
    }

    @Test func errorsNameTheServiceAndTheKey() throws {
        #expect(throws: ServiceConfigError(service: "web", key: "networks.default.ipv6_address", message: "IPv6 is not supported: berth's networks are IPv4 only; remove it")) {
            try launch("    image: x\n    networks: {default: {ipv6_address: \"fd00::2\"}}\n")
        }
        #expect(throws: ServiceConfigError(service: "web", key: "networks.default.ipv4_address", message: "\"10.0.0.300\" is not an IPv4 address")) {
            try launch("    image: x\n    networks: {default: {ipv4_address: 10.0.0.300}}\n")
        }
    }
}
