import Foundation

/// The image configuration blob (OCI `config.md`; Docker's config carries the same fields
/// plus `Healthcheck`). Decoded for use only: the stored blob keeps the registry's exact
/// bytes, so digests never depend on how this type encodes.
public struct ImageConfig: Codable, Hashable, Sendable {
    public var created: String?
    public var author: String?
    public var architecture: String
    public var os: String
    public var variant: String?
    public var config: Config?
    public var rootfs: RootFS
    public var history: [History]?

    public init(architecture: String, os: String, variant: String? = nil, config: Config?, diffIDs: [Digest], created: String? = nil, history: [History]? = nil) {
        self.architecture = architecture
        self.os = os
        self.variant = variant
        self.config = config
        self.rootfs = RootFS(type: "layers", diffIDs: diffIDs)
        self.created = created
        self.history = history
    }

    /// What a container started from the image gets by default.
    public struct Config: Codable, Hashable, Sendable {
        public var User: String?
        public var ExposedPorts: [String: Empty]?
        public var Env: [String]?
        public var Entrypoint: [String]?
        public var Cmd: [String]?
        public var Volumes: [String: Empty]?
        public var WorkingDir: String?
        public var Labels: [String: String]?
        public var StopSignal: String?
        public var Healthcheck: Healthcheck?
        public var ArgsEscaped: Bool?
        public var OnBuild: [String]?
        public var Shell: [String]?

        public init() {}
    }

    /// Docker's health check: `Test` (`["NONE"]`, `["CMD", …]`, `["CMD-SHELL", "…"]`) and
    /// durations in nanoseconds.
    public struct Healthcheck: Codable, Hashable, Sendable {
        public var Test: [String]?
        public var Interval: Int64?
        public var Timeout: Int64?
        public var StartPeriod: Int64?
        public var StartInterval: Int64?
        public var Retries: Int?
        public init() {}
    }

    public struct RootFS: Codable, Hashable, Sendable {
        public var type: String
        public var diffIDs: [Digest]
        enum CodingKeys: String, CodingKey {
            case type
            case diffIDs = "diff_ids"
        }
    }

    public struct History: Codable, Hashable, Sendable {
        public var created: String?
        public var createdBy: String?
        public var author: String?
        public var comment: String?
        public var emptyLayer: Bool?
        enum CodingKeys: String, CodingKey {
            case created, author, comment
            case createdBy = "created_by"
            case emptyLayer = "empty_layer"
        }
        public init(created: String?, createdBy: String?, comment: String? = nil, emptyLayer: Bool? = nil) {
            self.created = created
            self.createdBy = createdBy
            self.comment = comment
            self.emptyLayer = emptyLayer
        }
    }

    /// `{}` in `ExposedPorts` and `Volumes`.
    public struct Empty: Codable, Hashable, Sendable {
        public init() {}
    }

    public var platform: Platform { Platform(os: os, architecture: architecture, variant: variant) }

    /// Chain IDs of the layers, base first (SEMANTICS §2f): `ChainID(L0) = DiffID(L0)`,
    /// `ChainID(L0…Ln) = sha256(ChainID(L0…Ln-1) + " " + DiffID(Ln))`.
    public var chainIDs: [Digest] { ChainID.chain(rootfs.diffIDs) }

    public static func decode(_ bytes: [UInt8], source: String) throws(ImageError) -> ImageConfig {
        let config: ImageConfig
        do { config = try JSONDecoder().decode(ImageConfig.self, from: Data(bytes)) } catch {
            throw .invalidManifest(source, "image config: \(JSONErrorText.describe(error))")
        }
        guard config.rootfs.type == "layers" else {
            throw .invalidManifest(source, "image config: rootfs.type is \"\(config.rootfs.type)\", expected \"layers\"")
        }
        return config
    }
}

public enum ChainID {
    public static func chain(_ diffIDs: [Digest]) -> [Digest] {
        var out: [Digest] = []
        for diffID in diffIDs {
            guard let parent = out.last else {
                out.append(diffID)
                continue
            }
            out.append(Digest.of(Array("\(parent) \(diffID)".utf8)))
        }
        return out
    }
}
