import BerthImages
import Foundation

/// What the image commands share: the store under `--root`, registry settings from the
/// environment and options, the platform.
struct ImageContext {
    let invocation: Invocation
    let store: ImageStore

    init(_ invocation: Invocation) throws {
        self.invocation = invocation
        store = try ImageStore(root: invocation.root)
    }

    static let platformOption = OptionSpec(
        "platform", value: "OS/ARCH[/VARIANT]", help: "Pull the image for this platform instead of this machine's.", environment: "DOCKER_DEFAULT_PLATFORM")
    static let insecureOption = OptionSpec(
        "insecure-registry", value: "HOST[:PORT]",
        help: "Reach this registry over plain HTTP and accept any certificate (loopback registries always are); repeatable, or comma-separated in the environment.",
        repeatable: true, environment: "BERTH_INSECURE_REGISTRIES")

    func platform() throws -> Platform {
        if let text = invocation.options.value("platform") ?? invocation.environment["DOCKER_DEFAULT_PLATFORM"], !text.isEmpty {
            return try Platform(parsing: text)
        }
        return .host
    }

    func registryOptions() throws -> RegistryOptions {
        var options = RegistryOptions()
        options.credentials = try CredentialStore.load(environment: invocation.environment)
        let fromEnvironment = (invocation.environment["BERTH_INSECURE_REGISTRIES"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        options.insecureRegistries = fromEnvironment.filter { !$0.isEmpty } + invocation.options.all("insecure-registry")
        return options
    }

    func puller(parallel: Int = 3) throws -> ImagePuller {
        ImagePuller(store: store, client: RegistryClient(options: try registryOptions()), platform: try platform(), parallel: parallel)
    }

    /// A path from the command line, relative to the working directory.
    func path(_ text: String) -> String {
        text.hasPrefix("/") ? text : invocation.workingDirectory + "/" + text
    }
}
