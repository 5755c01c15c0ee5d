import BerthSystem
import Foundation

/// What a load put in the store: per image, its names (empty for an unnamed image).
public struct LoadedImage: Sendable, Equatable {
    public var record: ImageRecord
    public var names: [ImageReference]
}

/// `docker load`: reads an OCI image layout archive (`oci-layout`, `index.json`, `blobs/`)
/// or a `docker save` archive (`manifest.json` with `Config`, `RepoTags`, `Layers`),
/// possibly compressed, and stores every image in it, named as the archive says.
public enum ArchiveLoader {
    public static func load(from source: any ByteSource, into store: ImageStore, platform: Platform = .host, what: String) throws(ImageError) -> [LoadedImage] {
        let session = try store.session()
        defer { session.end() }
        let directory = session.uniqueName("archive")
        do { try FS.makeDirectories(directory, mode: 0o700) } catch { throw .store("\(error)") }
        try ArchiveExtractor.extract(from: source, into: directory, what: what)
        let images: [(ImageParts, [String], [ImageReference])]
        // An OCI layout keeps the manifests' digests; manifest.json (also written by Docker
        // 25+ next to index.json) only lists files.
        if FS.exists(directory + "/index.json") && FS.exists(directory + "/oci-layout") {
            images = try ociArchive(directory, platform: platform, what: what)
        } else if FS.exists(directory + "/manifest.json") {
            images = try dockerArchive(directory, what: what)
        } else {
            throw .invalidManifest(what, "neither a docker save archive (manifest.json) nor an OCI image layout (index.json)")
        }
        var loaded: [LoadedImage] = []
        for (parts, layerFiles, names) in images {
            let files = layerFiles.map { directory + "/" + $0 }
            var record = try session.storeImage(parts) { (index: Int, _: Descriptor) throws(ImageError) -> any ByteSource in
                try FileSource(path: files[index])
            }
            if names.isEmpty {
                try session.publish(record)
            }
            for name in names {
                record.repository = name.name
                record.tag = name.tag ?? ImageReference.defaultTag
                try session.publish(record)
            }
            loaded.append(LoadedImage(record: record, names: names))
        }
        return loaded
    }

    // MARK: docker save

    private struct DockerManifestEntry: Decodable {
        var Config: String
        var RepoTags: [String]?
        var Layers: [String]
    }

    /// A docker archive lists files; berth turns each image into an OCI manifest over them.
    static func dockerArchive(_ directory: String, what: String) throws(ImageError) -> [(ImageParts, [String], [ImageReference])] {
        let entries: [DockerManifestEntry]
        do {
            entries = try JSONDecoder().decode([DockerManifestEntry].self, from: Data(try FS.read(directory + "/manifest.json")))
        } catch {
            throw .invalidManifest(what, "manifest.json: \(JSONErrorText.describe(error))")
        }
        var out: [(ImageParts, [String], [ImageReference])] = []
        for entry in entries {
            let configPath = try member(entry.Config, in: directory, what: what)
            let configBytes = try read(configPath, what: what)
            var layers: [Descriptor] = []
            for layer in entry.Layers {
                let path = try member(layer, in: directory, what: what)
                let (digest, size, type) = try describeLayer(path, what: what)
                layers.append(Descriptor(mediaType: type, digest: digest, size: size))
            }
            let manifest = Manifest(
                mediaType: MediaType.ociManifest,
                config: Descriptor(mediaType: MediaType.ociConfig, digest: Digest.of(configBytes), size: Int64(configBytes.count)),
                layers: layers)
            let names = try (entry.RepoTags ?? []).map { (tag: String) throws(ImageError) -> ImageReference in try ImageReference(parsing: tag) }
            out.append((ImageParts(manifestBytes: try encode(manifest), configBytes: configBytes, what: what), entry.Layers, names))
        }
        return out
    }

    // MARK: OCI layout

    static func ociArchive(_ directory: String, platform: Platform, what: String) throws(ImageError) -> [(ImageParts, [String], [ImageReference])] {
        let indexBytes = try read(directory + "/index.json", what: what)
        guard case .index(let index) = try ManifestDocument.parse(indexBytes, contentType: MediaType.ociIndex, source: "\(what): index.json") else {
            throw .invalidManifest(what, "index.json is not an image index")
        }
        // Entries naming the same manifest (several tags) become one image with several names.
        var grouped: [(Descriptor, [ImageReference])] = []
        for descriptor in index.manifests {
            let name = imageName(descriptor.annotations)
            if let at = grouped.firstIndex(where: { $0.0.digest == descriptor.digest }) {
                if let name { grouped[at].1.append(name) }
            } else {
                grouped.append((descriptor, name.map { [$0] } ?? []))
            }
        }
        var out: [(ImageParts, [String], [ImageReference])] = []
        for (descriptor, names) in grouped {
            var manifestBytes = try blob(descriptor.digest, in: directory, what: what)
            var indexBlob: [UInt8]?
            var document = try ManifestDocument.parse(manifestBytes, contentType: descriptor.mediaType, source: "\(what): \(descriptor.digest)")
            while case .index(let nested) = document {
                guard let chosen = PlatformMatcher(platform).select(nested.manifests) else {
                    throw .noMatchingPlatform(what, platform.description, nested.manifests.compactMap { $0.platform?.normalized.description })
                }
                if indexBlob == nil { indexBlob = manifestBytes }
                manifestBytes = try blob(chosen.digest, in: directory, what: what)
                document = try ManifestDocument.parse(manifestBytes, contentType: chosen.mediaType, source: "\(what): \(chosen.digest)")
            }
            guard case .manifest(let manifest) = document else { continue }
            let configBytes = try blob(manifest.config.digest, in: directory, what: what)
            let layerFiles = manifest.layers.map { "blobs/\($0.digest.algorithm)/\($0.digest.encoded)" }
            out.append((ImageParts(manifestBytes: manifestBytes, indexBytes: indexBlob, configBytes: configBytes, what: what), layerFiles, names))
        }
        return out
    }

    /// A full image name from the annotations: containerd's `io.containerd.image.name`, or
    /// `org.opencontainers.image.ref.name` when it is a whole reference (not only a tag).
    static func imageName(_ annotations: [String: String]?) -> ImageReference? {
        if let full = annotations?["io.containerd.image.name"], let reference = try? ImageReference(parsing: full) { return reference }
        if let name = annotations?["org.opencontainers.image.ref.name"], name.contains("/") || name.contains(":"),
           let reference = try? ImageReference(parsing: name) {
            return reference
        }
        return nil
    }

    // MARK: helpers

    static func member(_ name: String, in directory: String, what: String) throws(ImageError) -> String {
        do {
            let path = try EntryPath(Array(name.utf8))
            return directory + "/" + path.display
        } catch {
            throw .invalidManifest(what, "manifest.json names \(name), which is outside the archive")
        }
    }

    static func read(_ path: String, what: String) throws(ImageError) -> [UInt8] {
        do { return try FS.read(path, limit: 64 << 20) } catch {
            throw .invalidManifest(what, "\(path.split(separator: "/").suffix(3).joined(separator: "/")) is missing from the archive")
        }
    }

    static func blob(_ digest: Digest, in directory: String, what: String) throws(ImageError) -> [UInt8] {
        let bytes = try read(directory + "/blobs/\(digest.algorithm)/\(digest.encoded)", what: what)
        let actual = Digest.of(bytes)
        if actual != digest { throw .digestMismatch("\(what): blob \(digest)", digest, actual) }
        return bytes
    }

    /// Digest, size and media type (from the first bytes) of a layer file.
    static func describeLayer(_ path: String, what: String) throws(ImageError) -> (Digest, Int64, String) {
        let source = try FileSource(path: path)
        var hasher = Hasher256()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var magic: [UInt8] = []
        while true {
            let n: Int
            do { n = try source.read(into: buffer) } catch { throw .store("\(what): \(error)") }
            if n == 0 { break }
            if magic.count < 4 { magic += buffer.prefix(min(n, 4 - magic.count)) }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        let type = magic.starts(with: [0x1F, 0x8B]) ? MediaType.ociLayerGzip
            : magic.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) ? MediaType.ociLayerZstd : MediaType.ociLayer
        return (hasher.finalize(), hasher.count, type)
    }

    static func encode<T: Encodable>(_ value: T) throws(ImageError) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do { return Array(try encoder.encode(value)) } catch { throw .store("encoding JSON: \(error)") }
    }
}
