/// One image the store knows by name: a repository and tag (or a digest), pointing at the
/// manifest (or index) it was pulled as, the platform manifest chosen from it, and the
/// config — whose digest is the image ID.
///
/// A pull by digest has no tag (`busybox <none>` in `images`); an image whose tag moved to a
/// newer pull keeps a record without repository (`<none> <none>`, "dangling") until pruned,
/// so containers still running from it keep their layers.
public struct ImageRecord: Codable, Sendable, Equatable {
    /// `docker.io/library/busybox`; nil for a dangling image.
    public var repository: String?
    public var tag: String?
    /// What the reference resolved to in the registry (index or manifest digest).
    public var target: Digest
    /// The platform manifest.
    public var manifest: Digest
    /// The config digest: the image ID.
    public var config: Digest
    /// When the image was last pulled (Unix seconds), for `pull_policy: daily` and friends.
    public var pulled: Int64?
    /// Unpacked size of the layers in bytes.
    public var size: Int64
    /// `created` from the config (RFC 3339).
    public var created: String?

    public init(repository: String?, tag: String?, target: Digest, manifest: Digest, config: Digest, pulled: Int64?, size: Int64, created: String?) {
        self.repository = repository
        self.tag = tag
        self.target = target
        self.manifest = manifest
        self.config = config
        self.pulled = pulled
        self.size = size
        self.created = created
    }

    public var id: Digest { config }

    /// The reference this record answers to: `repo:tag`, `repo@digest`, or the ID.
    public var reference: String {
        guard let repository else { return config.description }
        return tag.map { "\(repository):\($0)" } ?? "\(repository)@\(target)"
    }

    /// `busybox` for Hub names, as `docker images` prints REPOSITORY.
    public var familiarRepository: String? {
        repository.flatMap { try? ImageReference(parsing: $0, defaultTag: false).familiarName }
    }

    /// `busybox@sha256:…` as Docker's RepoDigests.
    public var repoDigest: String? {
        familiarRepository.map { "\($0)@\(target)" }
    }

    func answers(to reference: ImageReference) -> Bool {
        guard repository == reference.name else { return false }
        if let digest = reference.digest { return target == digest || manifest == digest }
        return tag == (reference.tag ?? ImageReference.defaultTag)
    }
}

/// The records file, `images/images.json`.
struct RecordsFile: Codable {
    var version = 1
    var images: [ImageRecord] = []
}

/// `layers/<chain hex>/layer.json`: what a committed layer directory holds.
public struct LayerInfo: Codable, Sendable, Equatable {
    public var chainID: Digest
    public var diffID: Digest
    /// The compressed blob it came from, when the store keeps it.
    public var blob: Digest?
    /// Bytes of file content.
    public var size: Int64
}
