#if canImport(Glibc)
import Glibc
#endif

/// An OCI platform: GOOS/GOARCH names plus the CPU variant.
public struct Platform: Codable, Hashable, Sendable, CustomStringConvertible {
    public var architecture: String
    public var os: String
    public var osVersion: String?
    public var osFeatures: [String]?
    public var variant: String?

    enum CodingKeys: String, CodingKey {
        case architecture, os, variant
        case osVersion = "os.version"
        case osFeatures = "os.features"
    }

    public init(os: String, architecture: String, variant: String? = nil) {
        self.os = os
        self.architecture = architecture
        self.variant = variant
    }

    /// `linux/arm64/v8`, `linux/amd64`.
    public var description: String {
        [os, architecture, variant].compactMap { $0?.isEmpty == false ? $0 : nil }.joined(separator: "/")
    }

    /// Parses `os/arch[/variant]` (or `arch[/variant]`, os linux) as `--platform` takes it.
    public init(parsing text: String) throws(ImageError) {
        let parts = text.lowercased().split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(""), (1...3).contains(parts.count) else {
            throw .invalidPlatform(text)
        }
        let knownOS = ["linux", "windows", "darwin", "freebsd"]
        if knownOS.contains(parts[0]) {
            guard parts.count >= 2 else { throw .invalidPlatform(text) }
            self.init(os: parts[0], architecture: parts[1], variant: parts.count == 3 ? parts[2] : nil)
        } else {
            guard parts.count <= 2 else { throw .invalidPlatform(text) }
            self.init(os: "linux", architecture: parts[0], variant: parts.count == 2 ? parts[1] : nil)
        }
        self = normalized
    }

    /// containerd's normalization: `x86_64` → `amd64`, `aarch64` → `arm64` (variant v8),
    /// `arm` without variant → v7, `amd64/v1` → `amd64`, `8` → `v8`.
    public var normalized: Platform {
        var out = self
        out.os = os.lowercased()
        var variant = (self.variant ?? "").lowercased()
        switch architecture.lowercased() {
        case "x86_64", "x86-64", "amd64":
            out.architecture = "amd64"
            if variant == "v1" { variant = "" }
        case "aarch64", "arm64":
            out.architecture = "arm64"
            if variant == "" || variant == "8" || variant == "v8.0" { variant = "v8" }
        case "armhf":
            out.architecture = "arm"
            variant = "v7"
        case "armel":
            out.architecture = "arm"
            variant = "v6"
        case "arm":
            out.architecture = "arm"
            if variant == "" || variant == "7" { variant = "v7" } else if ["5", "6", "8"].contains(variant) { variant = "v" + variant }
        case "i386", "i686", "386":
            out.architecture = "386"
        default:
            out.architecture = architecture.lowercased()
        }
        out.variant = variant.isEmpty ? nil : variant
        out.osVersion = nil
        out.osFeatures = nil
        return out
    }

    /// The machine berth runs on: linux and `uname -m` mapped to GOARCH.
    public static var host: Platform {
        var names = utsname()
        uname(&names)
        let machine = withUnsafePointer(to: &names.machine) {
            $0.withMemoryRebound(to: CChar.self, capacity: 65) { String(cString: $0) }
        }
        switch machine {
        case "armv7l": return Platform(os: "linux", architecture: "arm", variant: "v7").normalized
        case "armv6l": return Platform(os: "linux", architecture: "arm", variant: "v6").normalized
        default: return Platform(os: "linux", architecture: machine).normalized
        }
    }
}

/// Picks a manifest from an index the way containerd does (`platforms.Only`): the wanted
/// platform first, then the ones it can also run (`amd64/v3` → v2, v1, then `386`; `arm/v7`
/// → v6, v5; `arm64` → `arm/v8` … `arm/v5`). Within one candidate the first entry in index
/// order wins. Attestation manifests and `unknown` platforms are never chosen; entries
/// without a platform match anything (after every platform-specific match).
public struct PlatformMatcher: Sendable {
    public let wanted: Platform
    public let candidates: [Platform]

    public init(_ wanted: Platform) {
        let wanted = wanted.normalized
        self.wanted = wanted
        var list = [wanted]
        let number = wanted.variant.flatMap { Int($0.dropFirst()) }
        switch wanted.architecture {
        case "amd64":
            if let number, number > 1 {
                for v in stride(from: number - 1, through: 1, by: -1) {
                    list.append(Platform(os: wanted.os, architecture: "amd64", variant: v == 1 ? nil : "v\(v)"))
                }
            }
            list.append(Platform(os: wanted.os, architecture: "386"))
        case "arm":
            if let number, number > 5 {
                for v in stride(from: number - 1, through: 5, by: -1) {
                    list.append(Platform(os: wanted.os, architecture: "arm", variant: "v\(v)"))
                }
            }
        case "arm64":
            for v in stride(from: 8, through: 5, by: -1) {
                list.append(Platform(os: wanted.os, architecture: "arm", variant: "v\(v)"))
            }
        default:
            break
        }
        candidates = list
    }

    public func matches(_ platform: Platform, candidate: Platform) -> Bool {
        let p = platform.normalized
        return p.os == candidate.os && p.architecture == candidate.architecture && (p.variant ?? "") == (candidate.variant ?? "")
    }

    /// The best entry of `manifests`, or nil.
    public func select(_ manifests: [Descriptor]) -> Descriptor? {
        let usable = manifests.filter { !$0.isAttestation && $0.platform?.os != "unknown" && $0.platform?.architecture != "unknown" }
        for candidate in candidates {
            if let hit = usable.first(where: { $0.platform.map { matches($0, candidate: candidate) } ?? false }) { return hit }
        }
        return usable.first(where: { $0.platform == nil })
    }
}
