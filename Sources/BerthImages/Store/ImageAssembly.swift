import Synchronization

/// A whole image about to be stored: the manifest (and the index it came from, if any),
/// the config, and a way to open each layer's bytes.
public struct ImageParts: Sendable {
    public var manifestBytes: [UInt8]
    public var indexBytes: [UInt8]?
    public var configBytes: [UInt8]
    /// For messages: `busybox:latest`, `archive.tar`.
    public var what: String

    public init(manifestBytes: [UInt8], indexBytes: [UInt8]? = nil, configBytes: [UInt8], what: String) {
        self.manifestBytes = manifestBytes
        self.indexBytes = indexBytes
        self.configBytes = configBytes
        self.what = what
    }
}

extension StoreSession {
    /// Stores an image's content (config, layers, manifest, index) and returns its record
    /// without a name; `publish` names it. Layers go `parallel` at a time.
    public func storeImage(
        _ parts: ImageParts, parallel: Int = 3,
        layerDone: @escaping @Sendable (Int, _ reused: Bool) -> Void = { _, _ in },
        open: @escaping @Sendable (Int, Descriptor) throws(ImageError) -> any ByteSource
    ) throws(ImageError) -> ImageRecord {
        guard case .manifest(let manifest) = try ManifestDocument.parse(parts.manifestBytes, contentType: nil, source: parts.what) else {
            throw .invalidManifest(parts.what, "expected an image manifest, found an index")
        }
        let config = try ImageConfig.decode(parts.configBytes, source: parts.what)
        let layers = try Self.checkedLayers(manifest, config, what: parts.what)
        let configDigest = Digest.of(parts.configBytes)
        if configDigest != manifest.config.digest { throw .digestMismatch("config of \(parts.what)", manifest.config.digest, configDigest) }
        let chainIDs = config.chainIDs
        let sizes = Mutex<[Int64]>(Array(repeating: 0, count: layers.count))
        try Parallel.forEach(layers.count, limit: parallel) { (index: Int) throws(ImageError) in
            let descriptor = layers[index]
            let (info, reused) = try self.ingestLayer(
                descriptor, diffID: config.rootfs.diffIDs[index], chainID: chainIDs[index],
                what: "\(descriptor.digest) of \(parts.what)"
            ) { () throws(ImageError) in try open(index, descriptor) }
            sizes.withLock { $0[index] = info.size }
            layerDone(index, reused)
        }
        try putBlob(parts.configBytes, what: "config of \(parts.what)")
        let manifestDigest = try putBlob(parts.manifestBytes, what: "manifest of \(parts.what)")
        var target = manifestDigest
        if let index = parts.indexBytes { target = try putBlob(index, what: "index of \(parts.what)") }
        try sync()
        return ImageRecord(
            repository: nil, tag: nil, target: target, manifest: manifestDigest, config: manifest.config.digest,
            pulled: nil, size: sizes.withLock { $0.reduce(0, +) }, created: config.created)
    }

    /// The manifest's layers, checked against the config: one DiffID per layer and only
    /// filesystem layer types.
    static func checkedLayers(_ manifest: Manifest, _ config: ImageConfig, what: String) throws(ImageError) -> [Descriptor] {
        guard manifest.layers.count == config.rootfs.diffIDs.count else {
            throw .invalidManifest(what, "the manifest has \(manifest.layers.count) layers but the config lists \(config.rootfs.diffIDs.count) diff_ids")
        }
        for layer in manifest.layers where !MediaType.isFilesystemLayer(layer.mediaType) {
            throw .unsupported("\(what): layer \(layer.digest) has media type \(layer.mediaType), which is not a filesystem layer berth can unpack")
        }
        return manifest.layers
    }
}

