import Foundation

/// A content descriptor: what a manifest or index points at.
public struct Descriptor: Codable, Hashable, Sendable {
    public var mediaType: String
    public var digest: Digest
    public var size: Int64
    public var urls: [String]?
    public var annotations: [String: String]?
    public var platform: Platform?
    public var artifactType: String?

    public init(mediaType: String, digest: Digest, size: Int64, annotations: [String: String]? = nil, platform: Platform? = nil) {
        self.mediaType = mediaType
        self.digest = digest
        self.size = size
        self.annotations = annotations
        self.platform = platform
    }

    /// BuildKit attestation manifests sit in indexes as `unknown/unknown`; never run them.
    public var isAttestation: Bool {
        annotations?["vnd.docker.reference.type"] == "attestation-manifest"
    }
}

/// An image manifest (OCI or Docker schema 2): a config and layers, base first.
public struct Manifest: Codable, Hashable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var config: Descriptor
    public var layers: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String, config: Descriptor, layers: [Descriptor], annotations: [String: String]? = nil) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.config = config
        self.layers = layers
        self.annotations = annotations
    }
}

/// An image index (OCI) or manifest list (Docker): manifests per platform.
public struct ImageIndex: Codable, Hashable, Sendable {
    public var schemaVersion: Int
    public var mediaType: String?
    public var artifactType: String?
    public var manifests: [Descriptor]
    public var subject: Descriptor?
    public var annotations: [String: String]?

    public init(mediaType: String = MediaType.ociIndex, manifests: [Descriptor], annotations: [String: String]? = nil) {
        schemaVersion = 2
        self.mediaType = mediaType
        self.manifests = manifests
        self.annotations = annotations
    }
}

/// A manifest or an index, told apart by media type (the `Content-Type`, or the document's
/// own `mediaType`, or — for OCI documents without one — by which fields it has).
public enum ManifestDocument: Sendable {
    case manifest(Manifest)
    case index(ImageIndex)

    public static func parse(_ bytes: [UInt8], contentType: String?, source: String) throws(ImageError) -> ManifestDocument {
        struct Probe: Decodable {
            var schemaVersion: Int?
            var mediaType: String?
            var manifests: [AnyDecodable]?
            var config: AnyDecodable?
        }
        let data = Data(bytes)
        let probe: Probe
        do { probe = try JSONDecoder().decode(Probe.self, from: data) } catch {
            throw .invalidManifest(source, "not a JSON manifest: \(JSONErrorText.describe(error))")
        }
        let header = contentType.map { $0.split(separator: ";")[0].trimmingCharacters(in: .whitespaces) }
        var type = probe.mediaType
        if let header, !header.isEmpty, header != "application/json", header != "application/octet-stream" {
            if let own = probe.mediaType, own != header {
                throw .invalidManifest(source, "Content-Type \(header) does not match the document's mediaType \(own)")
            }
            type = header
        }
        if type == nil { type = probe.manifests != nil ? MediaType.ociIndex : probe.config != nil ? MediaType.ociManifest : nil }
        guard let type else { throw .invalidManifest(source, "neither a manifest nor an index (no mediaType, config or manifests)") }
        if type == MediaType.dockerSchema1 || type == MediaType.dockerSchema1Signed || probe.schemaVersion == 1 {
            throw .unsupported("\(source) is a Docker schema 1 manifest, which berth does not support; push the image again with a current client")
        }
        guard probe.schemaVersion == 2 else {
            throw .invalidManifest(source, "schemaVersion \(probe.schemaVersion.map(String.init) ?? "missing"), expected 2")
        }
        do {
            if MediaType.isIndex(type) { return .index(try JSONDecoder().decode(ImageIndex.self, from: data)) }
            if MediaType.isManifest(type) { return .manifest(try JSONDecoder().decode(Manifest.self, from: data)) }
        } catch {
            throw .invalidManifest(source, JSONErrorText.describe(error))
        }
        throw .unsupported("\(source) has media type \(type), which is not an image manifest or index")
    }
}

/// Skips any JSON value (for probing which fields a document has).
struct AnyDecodable: Decodable {
    init(from decoder: any Decoder) throws {}
}

/// Short text for a decoding error: the path of the bad value and why.
enum JSONErrorText {
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return keys.isEmpty ? "" : " at \(keys.hasPrefix(".") ? String(keys.dropFirst()) : keys)"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field \(key.stringValue)\(path(context))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context): return "wrong type\(path(context)): \(context.debugDescription)"
        case .dataCorrupted(let context): return "\(context.debugDescription)\(path(context))"
        @unknown default: return "\(error)"
        }
    }
}
