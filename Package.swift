// swift-tools-version:6.0
// berth — a single-host container orchestrator with its own embedded runtime.
// No Swift package dependencies: Foundation, Glibc and system C libraries only.
import PackageDescription

/// Warnings are errors in debug builds (the ones CI and developers run). Type metadata is
/// reached through its accessor functions, not by mangled name: resolving a name at run time
/// looks up every protocol conformance its generic arguments need, and in binaries this
/// large each first lookup scans thousands of conformance records (`berth config` 12%,
/// a container start 4% faster).
let strict: [SwiftSetting] = [
    .unsafeFlags(["-warnings-as-errors"], .when(configuration: .debug)),
    .unsafeFlags(["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"]),
]

let package = Package(
    name: "berth",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "berth", targets: ["berth"]),
        .executable(name: "berth-runtime", targets: ["berth-runtime"]),
    ],
    targets: [
        // System C libraries (Debian: libyaml-dev, libseccomp-dev, libarchive-dev).
        .systemLibrary(name: "CYaml", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CArchive", providers: [.apt(["libarchive-dev"])]),  // headers only: loaded at run time by CBerthSys
        .systemLibrary(name: "CSeccomp", pkgConfig: "libseccomp", providers: [.apt(["libseccomp-dev"])]),
        // Our own C shim: what Swift cannot call (variadic syscall, clone, prctl, W* macros, …).
        .target(name: "CBerthSys"),
        .target(name: "BerthSystem", dependencies: ["CBerthSys"], swiftSettings: strict),
        .target(name: "BerthDigest", dependencies: ["CBerthSys"], swiftSettings: strict),
        .target(name: "ComposeSpec", dependencies: ["CYaml", "BerthDigest"], swiftSettings: strict),
        .target(name: "BerthImages", dependencies: ["BerthSystem", "BerthDigest", "CBerthSys", "CArchive"], swiftSettings: strict),
        .target(name: "BerthRuntime", dependencies: ["BerthSystem", "CBerthSys", "CSeccomp"], swiftSettings: strict),
        // Networking engine: netlink, IPAM, nftables, published ports, embedded DNS. Takes its own
        // types (the orchestrator maps Compose onto them), so it never imports ComposeSpec.
        .target(name: "BerthNetwork", dependencies: ["BerthSystem", "CBerthSys", "BerthDigest"], swiftSettings: strict),
        .target(name: "BerthOrchestrator", dependencies: ["ComposeSpec", "BerthRuntime", "BerthSystem", "BerthDigest", "BerthNetwork", "CBerthSys"], swiftSettings: strict),
        // Kubernetes manifests ⇄ Compose projects (`kube play`, `kube generate`): pure translation.
        .target(name: "BerthKube", dependencies: ["ComposeSpec"], swiftSettings: strict),
        .target(name: "BerthCLI", dependencies: ["ComposeSpec", "BerthRuntime", "BerthSystem", "BerthOrchestrator", "BerthImages", "BerthNetwork", "BerthKube"], swiftSettings: strict),
        // Packed relative relocations (DT_RELR, glibc ≥ 2.36): the ~80,000 of this position-
        // independent binary are applied at each start; packed, `berth --version` is ~5% faster.
        .executableTarget(name: "berth", dependencies: ["BerthCLI", "BerthRuntime"], swiftSettings: strict,
                         linkerSettings: [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])]),
        // The per-container monitor (`berth-runtime run|exec`): BerthRuntime only, no Foundation.
        // Linked as a fully static executable: no dynamic loader, no relocations of libstdc++
        // and friends at every start — 0.7 ms instead of 1.5 ms for an empty Swift program
        // here, ~1.5 ms less per container start for this 15 MB binary. lld, because gold
        // crashes on glibc's static-dlopen warnings in debug objects.
        .executableTarget(
            name: "berth-runtime", dependencies: ["BerthRuntime"], swiftSettings: strict,
            linkerSettings: [.unsafeFlags(["-static-executable", "-use-ld=lld"])]),
        .testTarget(
            name: "ComposeSpecTests", dependencies: ["ComposeSpec", "BerthDigest"],
            exclude: ["conformance-known-differences.tsv", "conformance-rejected.tsv"], swiftSettings: strict),
        // Shared by the test targets that run the built binary and busybox containers.
        .target(
            name: "BerthTestSupport", dependencies: ["BerthSystem", "BerthOrchestrator", "BerthRuntime", "ComposeSpec"], path: "Tests/BerthTestSupport",
            swiftSettings: strict),
        .testTarget(name: "BerthRuntimeTests", dependencies: ["BerthRuntime", "BerthSystem", "CBerthSys", "BerthTestSupport"], swiftSettings: strict),
        .testTarget(name: "BerthOrchestratorTests", dependencies: ["BerthOrchestrator", "ComposeSpec", "BerthRuntime", "BerthSystem", "BerthNetwork", "BerthTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "BerthNetworkTests", dependencies: ["BerthNetwork", "BerthRuntime", "BerthSystem", "CBerthSys", "BerthTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "BerthImagesTests", dependencies: ["BerthImages", "BerthSystem", "CBerthSys", "CArchive", "BerthCLI", "BerthRuntime"], swiftSettings: strict),
        .testTarget(name: "BerthKubeTests", dependencies: ["BerthKube", "ComposeSpec"], swiftSettings: strict),
        .testTarget(
            name: "BerthCLITests", dependencies: ["BerthCLI", "ComposeSpec", "BerthImages", "BerthNetwork", "BerthOrchestrator", "BerthSystem", "BerthTestSupport", "BerthKube"],
            swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6]
)
