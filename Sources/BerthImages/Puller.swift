import Synchronization

/// What a pull reports as it goes, for `docker pull`-style progress.
public enum PullEvent: Sendable, Equatable {
    /// The manifest was resolved: the layers to fetch (short IDs as Docker prints them).
    case resolved(layers: [String])
    case layer(String, LayerProgress)
    case warning(String)
}

public enum LayerProgress: Sendable, Equatable {
    case waiting
    case alreadyExists
    case downloading(Int64, of: Int64)
    case complete
}

/// The outcome of a pull.
public struct PullResult: Sendable, Equatable {
    public var record: ImageRecord
    /// The store already had exactly this image for the reference.
    public var upToDate: Bool
    /// The digest the reference resolved to in the registry.
    public var digest: Digest
}

/// Pulls images from registries into the store: resolve the reference, choose the
/// platform's manifest from an index, fetch the config, then stream every missing layer
/// (download, decompress, verify, unpack) in parallel, and name the image last.
public final class ImagePuller: Sendable {
    public let store: ImageStore
    public let client: RegistryClient
    public let platform: Platform
    public let parallel: Int

    public init(store: ImageStore, client: RegistryClient, platform: Platform = .host, parallel: Int = 3) {
        self.store = store
        self.client = client
        self.platform = platform
        self.parallel = parallel
    }

    public func pull(_ reference: ImageReference, progress: @escaping @Sendable (PullEvent) -> Void = { _ in }) throws(ImageError) -> PullResult {
        let top = try client.manifest(reference)
        var manifestBytes = top.bytes
        var manifestDigest = top.digest
        var indexBytes: [UInt8]?
        var document = try ManifestDocument.parse(top.bytes, contentType: top.mediaType, source: reference.familiarString)
        var depth = 0
        while case .index(let index) = document {
            depth += 1
            guard depth <= 4 else { throw .invalidManifest(reference.familiarString, "indexes nested more than 4 deep") }
            if indexBytes == nil { indexBytes = top.bytes }
            let matcher = PlatformMatcher(platform)
            guard let chosen = matcher.select(index.manifests) else {
                let available = index.manifests.filter { !$0.isAttestation }.compactMap { $0.platform?.normalized.description }
                throw .noMatchingPlatform(reference.familiarString, platform.description, available)
            }
            let child = try client.manifest(reference, digest: chosen.digest)
            if Int64(child.bytes.count) != chosen.size {
                throw .sizeMismatch("manifest \(chosen.digest)", expected: chosen.size, actual: Int64(child.bytes.count))
            }
            manifestBytes = child.bytes
            manifestDigest = child.digest
            document = try ManifestDocument.parse(child.bytes, contentType: child.mediaType ?? chosen.mediaType, source: "\(reference.familiarName)@\(chosen.digest)")
        }
        guard case .manifest(let manifest) = document else { throw .invalidManifest(reference.familiarString, "no image manifest") }

        if let existing = try? store.find(reference.description), existing.target == top.digest, existing.manifest == manifestDigest,
           (try? store.lowerDirs(for: existing)) != nil, store.hasBlob(manifestDigest) {
            var refreshed = Self.named(existing, reference)
            refreshed.pulled = UnixTime.now()
            let session = try store.session()
            defer { session.end() }
            try session.publish(refreshed)
            return PullResult(record: refreshed, upToDate: true, digest: top.digest)
        }

        let configBytes = store.hasBlob(manifest.config.digest)
            ? try store.readBlob(manifest.config.digest) : try client.blob(reference, manifest.config)
        let config = try ImageConfig.decode(configBytes, source: reference.familiarString)
        if indexBytes == nil, config.platform.normalized.architecture != platform.architecture || config.os != platform.os {
            progress(.warning("The requested image's platform (\(config.platform.normalized)) does not match the detected host platform (\(platform))"))
        }
        let ids = manifest.layers.map { $0.digest.short }
        progress(.resolved(layers: ids))
        for id in ids { progress(.layer(id, .waiting)) }

        let session = try store.session()
        defer { session.end() }
        let client = self.client
        var record = try session.storeImage(
            ImageParts(manifestBytes: manifestBytes, indexBytes: indexBytes, configBytes: configBytes, what: reference.familiarString),
            parallel: parallel,
            layerDone: { index, reused in progress(.layer(ids[index], reused ? .alreadyExists : .complete)) }
        ) { (index: Int, descriptor: Descriptor) throws(ImageError) -> any ByteSource in
            let stream = try client.openBlob(reference, descriptor)
            let id = ids[index]
            let total = descriptor.size
            let last = Mutex<Int64>(0)
            stream.onProgress = { received in
                // About every 512 KiB: enough for a live bar, cheap for the caller.
                let due = last.withLock { value -> Bool in
                    guard received - value >= 1 << 19 || received == total else { return false }
                    value = received
                    return true
                }
                if due { progress(.layer(id, .downloading(received, of: total))) }
            }
            return stream
        }
        record.pulled = UnixTime.now()
        try session.publish(Self.named(record, reference))
        return PullResult(record: Self.named(record, reference), upToDate: false, digest: top.digest)
    }

    static func named(_ record: ImageRecord, _ reference: ImageReference) -> ImageRecord {
        var named = record
        named.repository = reference.name
        named.tag = reference.digest == nil ? (reference.tag ?? ImageReference.defaultTag) : nil
        return named
    }
}
