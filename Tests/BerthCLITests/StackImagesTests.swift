import BerthImages
import BerthOrchestrator
import ComposeSpec
import Foundation
import Testing
@testable import BerthCLI

@Suite("stack images") struct StackImagesTests {
    /// An image config's HEALTHCHECK (nanoseconds, as Docker stores it) and SHELL reach the
    /// container's launch config, merged under the service's healthcheck.
    @Test func imageHealthcheckAndShellReachTheLaunchConfig() throws {
        let json = """
            {"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
             "config":{"Shell":["/bin/ash","-c"],"Healthcheck":{"Test":["CMD-SHELL","wget -q -O- localhost"],"Interval":15000000000,"Timeout":2000000000,"StartPeriod":1000000000,"Retries":4}}}
            """
        let config = try JSONDecoder().decode(BerthImages.ImageConfig.self, from: Data(json.utf8))
        let check = try #require(config.config?.Healthcheck.map(StackImages.healthConfig))
        #expect(check == HealthConfig(test: ["CMD-SHELL", "wget -q -O- localhost"], interval: 15_000_000_000, timeout: 2_000_000_000, startPeriod: 1_000_000_000, retries: 4))
        let image = ResolvedImage(
            reference: "web", digest: nil, layers: [], config: StackImages.runtimeConfig(config), healthcheck: check, shell: config.config?.Shell)
        let dir = NSTemporaryDirectory() + "berth-images-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "name: demo\nservices:\n  web:\n    image: web\n    healthcheck:\n      retries: 1\n".write(toFile: dir + "/compose.yaml", atomically: true, encoding: .utf8)
        var options = LoadOptions()
        options.workingDirectory = dir
        let project = try ProjectLoader().load(options).project
        let launch = try LaunchConfig.of(project: project, service: "web", service: try #require(project.services["web"]), hostname: "h", image: image)
        #expect(launch.healthcheck == HealthConfig(
            test: ["CMD-SHELL", "wget -q -O- localhost"], interval: 15_000_000_000, timeout: 2_000_000_000, startPeriod: 1_000_000_000, retries: 1,
            shell: ["/bin/ash", "-c"]))
        #expect(launch.healthcheck?.probeCommand == ["/bin/ash", "-c", "wget -q -O- localhost"])
    }
}
