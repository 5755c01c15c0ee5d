#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// What garbage collection removed.
public struct CollectedGarbage: Sendable, Equatable {
    public var blobs: [Digest] = []
    /// Chain IDs of the removed layer directories.
    public var layers: [Digest] = []
    public var reclaimedBytes: Int64 = 0
}

/// What `image rm` did, in Docker's words (`Untagged: …`, `Deleted: …`).
public enum RemovalEvent: Sendable, Equatable, CustomStringConvertible {
    case untagged(String)
    case deleted(Digest)
    public var description: String {
        switch self {
        case .untagged(let reference): return "Untagged: \(reference)"
        case .deleted(let digest): return "Deleted: \(digest)"
        }
    }
}

extension ImageStore {
    /// Removes blobs and layer directories no record needs. Waits until no session writes
    /// (the store lock, exclusive). `keepLayers` protects chain IDs still mounted by
    /// containers.
    @discardableResult
    public func collectGarbage(keepLayers: Set<Digest> = []) throws(ImageError) -> CollectedGarbage {
        let lock = try FileLock(directory + "/lock", exclusive: true)
        defer { withExtendedLifetime(lock) {} }
        StoreSession.removeStale(in: directory + "/tmp", except: nil)
        var blobs = Set<Digest>()
        var layers = keepLayers
        for record in try records() {
            blobs.formUnion([record.target, record.manifest, record.config])
            if let manifest = try? manifest(of: record) { blobs.formUnion(manifest.layers.map(\.digest)) }
            if let config = try? config(of: record) { layers.formUnion(config.chainIDs) }
        }
        var out = CollectedGarbage()
        let blobDirectory = directory + "/blobs/sha256"
        for name in (try? FS.listDirectory(blobDirectory)) ?? [] {
            guard let digest = try? Digest(parsing: "sha256:" + name), !blobs.contains(digest) else { continue }
            var st = stat()
            if lstat(blobDirectory + "/" + name, &st) == 0 { out.reclaimedBytes += Int64(st.st_size) }
            if unlink(blobDirectory + "/" + name) == 0 { out.blobs.append(digest) }
        }
        for name in (try? FS.listDirectory(directory + "/layers")) ?? [] {
            guard let chainID = try? Digest(parsing: "sha256:" + name), !layers.contains(chainID) else { continue }
            let size = (try? layerInfo(chainID))?.size ?? 0
            // Out of sight first (one rename), then removed: never a half layer under layers/.
            let aside = directory + "/tmp/gc-" + name
            guard rename(directory + "/layers/" + name, aside) == 0 else { continue }
            try? FS.removeTree(aside)
            out.layers.append(chainID)
            out.reclaimedBytes += size
        }
        for name in (try? FS.listDirectory(directory + "/locks")) ?? [] {
            if let held = FileLock.attempt(directory + "/locks/" + name) {
                unlink(held.path)
            }
        }
        out.blobs.sort()
        out.layers.sort()
        return out
    }

    /// `docker image rm`: a reference removes that name; an ID removes every name of the
    /// image (refused without `force` when several repositories share it). When no name is
    /// left, the image and the layers nobody else uses are deleted.
    public func remove(_ text: String, force: Bool = false, keepLayers: Set<Digest> = []) throws(ImageError) -> [RemovalEvent] {
        let record = try find(text)
        let byID = (try? ImageReference(parsing: text)).map { !record.answers(to: $0) } ?? true
        var events: [RemovalEvent] = []
        let imageGone: Bool = try updateRecords { (records: inout [ImageRecord]) throws(ImageError) -> Bool in
            let sameImage = records.filter { $0.config == record.config }
            let removing: [ImageRecord]
            if byID {
                let repositories = Set(sameImage.compactMap(\.repository))
                if repositories.count > 1 && !force {
                    throw .conflict("conflict: unable to delete \(record.config.short) (must be forced) - image is referenced in multiple repositories")
                }
                removing = sameImage
            } else {
                removing = [record]
            }
            records.removeAll { candidate in removing.contains(candidate) }
            for gone in removing where gone.repository != nil {
                events.append(.untagged(Self.familiar(gone)))
            }
            let remaining = records.contains { $0.config == record.config }
            if !remaining {
                // Pulled images also lose their repo digest (`busybox@sha256:…`), as Docker prints.
                for gone in removing where gone.pulled != nil {
                    if let digest = gone.repoDigest, !events.contains(.untagged(digest)) { events.append(.untagged(digest)) }
                }
            }
            return !remaining
        }
        guard imageGone else { return events }
        events.append(.deleted(record.config))
        let garbage = try collectGarbage(keepLayers: keepLayers)
        events += garbage.layers.map(RemovalEvent.deleted)
        return events
    }

    /// Removes dangling images (no name), or with `all` every image not in `inUse`
    /// (config digests), then collects garbage.
    public func prune(all: Bool, inUse: Set<Digest> = [], keepLayers: Set<Digest> = []) throws(ImageError) -> (events: [RemovalEvent], reclaimed: Int64) {
        var events: [RemovalEvent] = []
        try updateRecords { (records: inout [ImageRecord]) throws(ImageError) in
            let doomed = records.filter { ($0.repository == nil || all) && !inUse.contains($0.config) }
            records.removeAll { doomed.contains($0) }
            for record in doomed where record.repository != nil { events.append(.untagged(Self.familiar(record))) }
            var seen = Set<Digest>()
            for record in doomed where !records.contains(where: { $0.config == record.config }) && seen.insert(record.config).inserted {
                events.append(.deleted(record.config))
            }
        }
        let garbage = try collectGarbage(keepLayers: keepLayers)
        events += garbage.layers.map(RemovalEvent.deleted)
        return (events, garbage.reclaimedBytes)
    }

    /// `busybox:latest` / `localhost:5000/app@sha256:…`.
    static func familiar(_ record: ImageRecord) -> String {
        guard let repository = record.familiarRepository else { return record.config.description }
        return record.tag.map { "\(repository):\($0)" } ?? "\(repository)@\(record.target)"
    }
}
