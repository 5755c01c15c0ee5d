// swift-tools-version:6.0
// berth — a single-host container orchestrator with its own embedded runtime.
// No Swift package dependencies: Foundation, Glibc and system C libraries only.
import PackageDescription

let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug))]

let package = Package(
    name: "berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
    ],
    targets: [
        // System C libraries (Debian: libyaml-dev).
        .systemLibrary(name: "CYaml", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        // Our own C shim: what Swift cannot call (variadic syscall, clone, prctl, W* macros, …).
        .target(name: "CBerthSys"),
        .target(name: "BerthSystem", dependencies: ["CBerthSys"]),
        .target(name: "BerthDigest"),
        .target(name: "ComposeSpec", dependencies: ["CYaml", "BerthDigest"]),
        .target(name: "BerthRuntime", dependencies: ["BerthSystem"]),
        .target(name: "BerthCLI", dependencies: ["ComposeSpec", "BerthRuntime", "BerthSystem"]),
        .executableTarget(name: "berth", dependencies: ["BerthCLI"]),
        .testTarget(
            name: "ComposeSpecTests", dependencies: ["ComposeSpec", "BerthDigest"],
            exclude: ["conformance-known-differences.tsv", "conformance-rejected.tsv"]),
        .testTarget(name: "BerthRuntimeTests", dependencies: ["BerthRuntime", "BerthSystem"]),
        .testTarget(name: "BerthCLITests", dependencies: ["BerthCLI", "ComposeSpec"]),
    ],
    swiftLanguageModes: [.v6]
)
