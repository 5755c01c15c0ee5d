import Foundation
@testable import BerthImages

/// An image made in the test: layer tars (optionally compressed), a config and a manifest,
/// with the exact bytes a registry or an archive would hold.
struct TestImage {
    var layers: [[UInt8]]
    var diffIDs: [Digest]
    var layerTypes: [String]
    var configBytes: [UInt8]
    var manifestBytes: [UInt8]
    var manifest: Manifest

    init(layers builders: [TarBuilder], compression: TarBuilder.Compression = .gzip, cmd: [String] = ["sh"], env: [String] = ["PATH=/bin"],
         architecture: String = "amd64", labels: [String: String]? = nil, created: String = "2026-01-02T03:04:05Z") throws {
        layers = builders.map { $0.build(compression) }
        diffIDs = builders.map { Digest.of($0.build()) }
        let type = compression == .gzip ? MediaType.ociLayerGzip : compression == .zstd ? MediaType.ociLayerZstd : MediaType.ociLayer
        layerTypes = Array(repeating: type, count: builders.count)
        var config = ImageConfig(architecture: architecture, os: "linux", config: ImageConfig.Config(), diffIDs: diffIDs, created: created)
        config.config?.Cmd = cmd
        config.config?.Env = env
        config.config?.Labels = labels
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        configBytes = Array(try encoder.encode(config))
        manifest = Manifest(
            mediaType: MediaType.ociManifest,
            config: Descriptor(mediaType: MediaType.ociConfig, digest: Digest.of(configBytes), size: Int64(configBytes.count)),
            layers: zip(layers, layerTypes).map { Descriptor(mediaType: $1, digest: Digest.of($0), size: Int64($0.count)) })
        manifestBytes = Array(try encoder.encode(manifest))
    }

    var manifestDigest: Digest { Digest.of(manifestBytes) }
    var configDigest: Digest { Digest.of(configBytes) }
    var chainIDs: [Digest] { ChainID.chain(diffIDs) }

    var parts: ImageParts { ImageParts(manifestBytes: manifestBytes, configBytes: configBytes, what: "test image") }

    /// Stores the image and names it `reference`.
    @discardableResult
    func store(in store: ImageStore, as reference: String?, pulled: Int64? = nil) throws -> ImageRecord {
        let session = try store.session()
        defer { session.end() }
        let layers = self.layers
        var record = try session.storeImage(parts) { index, _ in MemorySource(layers[index]) }
        record.pulled = pulled
        if let reference {
            let parsed = try ImageReference(parsing: reference)
            record.repository = parsed.name
            record.tag = parsed.tag
        }
        try session.publish(record)
        return record
    }
}
