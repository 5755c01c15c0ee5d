#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys
import Foundation

/// berth's image store under `<root>/images`:
///
/// ```
/// blobs/sha256/<hex>        content-addressed: manifests, indexes, configs, layer blobs
/// layers/<chain hex>/diff/  one unpacked layer (an overlay lower dir), shared by chain ID
/// layers/<chain hex>/layer.json
/// images.json               the records (name → manifest → config)
/// lock                      shared while anything writes, exclusive for garbage collection
/// locks/<hex>.lock          one per blob or layer being fetched: concurrent pulls wait
/// tmp/<id>/, tmp/<id>.lock  in-flight work of one session; stale ones are removed
/// ```
/// Everything lands by rename after its digest was checked, and a record is written last
/// (after a syncfs), so a crash or Ctrl-C leaves either no image or a whole one; finished
/// blobs and layers of an interrupted pull are reused by the next one.
public final class ImageStore: Sendable {
    public let directory: String

    public init(root: String) throws(ImageError) {
        directory = (root.hasSuffix("/") ? String(root.dropLast()) : root) + "/images"
        for sub in ["", "/blobs/sha256", "/layers", "/locks", "/tmp"] {
            do { try FS.makeDirectories(directory + sub, mode: 0o700) } catch {
                throw .store("\(error); check --root (it needs root and a writable file system)")
            }
        }
    }

    // MARK: paths

    public func blobPath(_ digest: Digest) -> String { "\(directory)/blobs/\(digest.algorithm)/\(digest.encoded)" }
    func layerDirectory(_ chainID: Digest) -> String { "\(directory)/layers/\(chainID.encoded)" }
    /// The unpacked layer: an overlay lower dir.
    public func layerPath(_ chainID: Digest) -> String { layerDirectory(chainID) + "/diff" }
    var recordsPath: String { directory + "/images.json" }

    public func hasBlob(_ digest: Digest) -> Bool { FS.exists(blobPath(digest)) }
    public func hasLayer(_ chainID: Digest) -> Bool { FS.exists(layerDirectory(chainID) + "/layer.json") }

    public func readBlob(_ digest: Digest, limit: Int = 64 << 20) throws(ImageError) -> [UInt8] {
        do { return try FS.read(blobPath(digest), limit: limit) } catch let error as SystemError where error.errno == ENOENT {
            throw .store("blob \(digest) is missing; pull the image again")
        } catch {
            throw .store("\(error)")
        }
    }

    public func layerInfo(_ chainID: Digest) throws(ImageError) -> LayerInfo {
        let path = layerDirectory(chainID) + "/layer.json"
        do {
            return try JSONDecoder().decode(LayerInfo.self, from: Data(try FS.read(path)))
        } catch {
            throw .store("layer \(chainID) is damaged or missing (\(path)); pull the image again")
        }
    }

    // MARK: records

    public func records() throws(ImageError) -> [ImageRecord] {
        guard FS.exists(recordsPath) else { return [] }
        do {
            return try JSONDecoder().decode(RecordsFile.self, from: Data(try FS.read(recordsPath))).images
        } catch {
            throw .store("\(recordsPath) is damaged: \(JSONErrorText.describe(error))")
        }
    }

    /// Read-modify-write of the records under their lock.
    func updateRecords<T>(_ change: (inout [ImageRecord]) throws(ImageError) -> T) throws(ImageError) -> T {
        let lock = try FileLock(directory + "/images.lock", exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        var records = try self.records()
        let result = try change(&records)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        do {
            let data = try encoder.encode(RecordsFile(images: records))
            try FS.writeAtomically(recordsPath, Array(data) + [0x0A], mode: 0o600)
        } catch {
            throw .store("writing \(recordsPath): \(error)")
        }
        return result
    }

    /// The record for a reference (`busybox`, `busybox:1.36`, `name@sha256:…`), an image
    /// ID or ID prefix (`sha256:…`, at least 4 hex digits), as `docker image inspect` takes.
    public func find(_ text: String) throws(ImageError) -> ImageRecord {
        let all = try records()
        if let reference = try? ImageReference(parsing: text), let hit = all.first(where: { $0.answers(to: reference) }) {
            return hit
        }
        let hex = text.hasPrefix("sha256:") ? String(text.dropFirst(7)) : text
        if hex.count >= 4, hex.utf8.allSatisfy(Digest.isLowerHex) {
            let matches = all.filter { $0.config.encoded.hasPrefix(hex) }
            let ids = Set(matches.map(\.config))
            if ids.count > 1 { throw .conflict("image ID prefix \(text) is ambiguous; give more digits") }
            if let hit = matches.first { return hit }
        }
        throw .notFound(text)
    }

    /// The image config of a record.
    public func config(of record: ImageRecord) throws(ImageError) -> ImageConfig {
        try ImageConfig.decode(try readBlob(record.config), source: record.reference)
    }

    public func manifest(of record: ImageRecord) throws(ImageError) -> Manifest {
        guard case .manifest(let manifest) = try ManifestDocument.parse(try readBlob(record.manifest), contentType: nil, source: record.reference) else {
            throw .store("manifest \(record.manifest) of \(record.reference) is an index; pull the image again")
        }
        return manifest
    }

    /// The overlay lower dirs of an image, top layer first (as `lowerdir=` takes them).
    public func lowerDirs(for record: ImageRecord) throws(ImageError) -> [String] {
        let chain = try config(of: record).chainIDs
        for chainID in chain where !hasLayer(chainID) {
            throw .store("layer \(chainID) of \(record.reference) is missing; pull the image again")
        }
        return chain.reversed().map(layerPath)
    }

    /// Points `reference` at the image of `record` (`docker tag`). The record that had the
    /// reference before, if it was another image, becomes dangling.
    public func tag(_ record: ImageRecord, as reference: ImageReference, pulled: Int64? = nil) throws(ImageError) {
        try updateRecords { (records: inout [ImageRecord]) throws(ImageError) in
            var new = record
            new.repository = reference.name
            new.tag = reference.digest == nil ? (reference.tag ?? ImageReference.defaultTag) : nil
            if let digest = reference.digest, digest != record.target, digest != record.manifest {
                throw .conflict("\(reference) does not match the image's digest \(record.target)")
            }
            // A local name has no registry history (no repo digest, no pull time).
            new.pulled = pulled
            Self.insert(new, into: &records)
        }
    }

    /// Adds or replaces a record. A tag that moves leaves its old image dangling unless the
    /// image is still named by another record.
    static func insert(_ record: ImageRecord, into records: inout [ImageRecord]) {
        if let index = records.firstIndex(where: { $0.repository == record.repository && $0.tag == record.tag && ($0.tag != nil || $0.target == record.target) }) {
            let old = records[index]
            records[index] = record
            if old.config != record.config && !records.contains(where: { $0.config == old.config }) {
                var dangling = old
                dangling.repository = nil
                dangling.tag = nil
                records.append(dangling)
            }
        } else {
            records.removeAll { $0.repository == nil && $0.config == record.config }
            records.append(record)
        }
    }

    // MARK: sessions

    /// Starts writing: a shared hold on the store (garbage collection waits) and a private
    /// temp directory, both released when the session goes away.
    public func session() throws(ImageError) -> StoreSession {
        try StoreSession(store: self)
    }
}

/// Time helpers without Foundation's Date on the hot path.
enum UnixTime {
    static func now() -> Int64 { Int64(time(nil)) }

    /// RFC 3339 in UTC, seconds precision (what configs written here carry).
    static func rfc3339(_ seconds: Int64) -> String {
        Clock.rfc3339Nano(seconds: seconds, nanoseconds: 0)
    }
}
