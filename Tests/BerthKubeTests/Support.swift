import BerthKube
import ComposeSpec
import Foundation

/// `kube play`'s translation of manifest text, as one file `app.yaml`.
func play(_ manifests: String, project: String? = "demo") throws -> KubePlay.Result {
    try KubePlay.translate([KubePlay.File(name: "app.yaml", bytes: Array(manifests.utf8))], projectName: project, workingDirectory: "/work")
}

/// The warnings as the CLI prints them, one string each.
func lines(_ warnings: [KubeWarning]) -> [String] { warnings.map(\.description) }

/// A Compose project loaded from `compose` in a scratch directory (with `files` beside it),
/// as `berth -f compose.yaml` loads it, handed to `body` with the directory.
func withProject<T>(
    _ compose: String, files: [String: String] = [:], environment: [String: String] = [:], _ body: (Project, String) throws -> T
) throws -> T {
    let directory = NSTemporaryDirectory() + "berth-kube-\(UInt32.random(in: 0...UInt32.max))"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    for (name, text) in files { try text.write(toFile: directory + "/" + name, atomically: true, encoding: .utf8) }
    try compose.write(toFile: directory + "/compose.yaml", atomically: true, encoding: .utf8)
    var options = LoadOptions()
    options.files = [directory + "/compose.yaml"]
    options.workingDirectory = directory
    options.environment = environment
    return try body(try ProjectLoader().load(options).project, directory)
}

/// `kube generate` of a Compose file: the YAML and the warnings, the scratch directory
/// written as /P.
func generate(_ compose: String, services: [String] = [], files: [String: String] = [:], environment: [String: String] = [:]) throws -> (yaml: String, warnings: [String]) {
    try withProject(compose, files: files, environment: environment) { project, directory in
        let result = KubeGenerate.generate(project, services: services, environment: environment)
        return (result.yaml.replacingOccurrences(of: directory, with: "/P"), lines(result.warnings).map { $0.replacingOccurrences(of: directory, with: "/P") })
    }
}
