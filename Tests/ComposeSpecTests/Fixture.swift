import ComposeSpec
import Foundation

/// A scratch project directory with files, removed when the fixture is released.
final class Fixture {
    let directory: String

    init(_ files: [String: String] = [:]) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("berth-test-\(UUID().uuidString.prefix(8))")
        // A fixed, readable leaf so default project names are predictable: "myapp".
        directory = base.appendingPathComponent("myapp").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, text) in files { try write(name, text) }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: (directory as NSString).deletingLastPathComponent)
    }

    func write(_ name: String, _ text: String) throws {
        let path = directory + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func options(_ files: [String] = [], environment: [String: String] = [:], _ adjust: (inout LoadOptions) -> Void = { _ in }) -> LoadOptions {
        var options = LoadOptions()
        options.files = files
        options.workingDirectory = directory
        options.environment = environment
        adjust(&options)
        return options
    }

    func load(_ files: [String] = [], environment: [String: String] = [:], _ adjust: (inout LoadOptions) -> Void = { _ in }) throws -> Project {
        try ProjectLoader().load(options(files, environment: environment, adjust)).project
    }

    func result(_ files: [String] = [], environment: [String: String] = [:], _ adjust: (inout LoadOptions) -> Void = { _ in }) throws -> LoadResult {
        try ProjectLoader().load(options(files, environment: environment, adjust))
    }

    /// The error message (with location) loading fails with, or nil when it loads.
    func error(_ files: [String] = [], environment: [String: String] = [:], _ adjust: (inout LoadOptions) -> Void = { _ in }) -> String? {
        do {
            _ = try load(files, environment: environment, adjust)
            return nil
        } catch let error as ComposeError {
            return error.description.replacingOccurrences(of: directory + "/", with: "")
        } catch {
            return "unexpected: \(error)"
        }
    }

    func yaml(_ files: [String] = [], environment: [String: String] = [:]) throws -> String {
        CanonicalOutput.yaml(try load(files, environment: environment)).replacingOccurrences(of: directory, with: "/P")
    }
}
