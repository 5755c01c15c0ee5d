#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys
import Foundation
import Synchronization

/// One writer of the store (a pull, a load, an import): holds the store lock shared and owns
/// `tmp/<id>/`. Blobs and layers are built there and renamed into place once verified; what
/// is left when the session ends (an error, Ctrl-C) is removed, and a crashed session's
/// directory is removed by the next one (its lock is free then).
public final class StoreSession: Sendable {
    public let store: ImageStore
    private let storeLock: FileLock
    private let tmpLock: FileLock
    let tmp: String
    private let counter = Atomic<Int>(0)

    init(store: ImageStore) throws(ImageError) {
        self.store = store
        storeLock = try FileLock(store.directory + "/lock", exclusive: false)
        let id = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        tmp = store.directory + "/tmp/" + id
        tmpLock = try FileLock(tmp + ".lock", exclusive: true)
        do { try FS.makeDirectories(tmp, mode: 0o700) } catch { throw .store("\(error)") }
        StoreSession.removeStale(in: store.directory + "/tmp", except: id)
    }

    deinit { end() }

    private let ended = Atomic<Bool>(false)

    /// Removes the work directory and releases the locks (also done when the session goes
    /// away; call it to be sure it happened before the next step).
    public func end() {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        try? FS.removeTree(tmp)
        unlink(tmp + ".lock")
        tmpLock.release()
        storeLock.release()
    }

    /// Removes work directories of sessions that no longer run.
    static func removeStale(in directory: String, except current: String?) {
        for name in (try? FS.listDirectory(directory)) ?? [] where name.hasSuffix(".lock") {
            let id = String(name.dropLast(5))
            if id == current { continue }
            guard let lock = FileLock.attempt(directory + "/" + name) else { continue }
            try? FS.removeTree(directory + "/" + id)
            unlink(directory + "/" + name)
            withExtendedLifetime(lock) {}
        }
        // Layer directories moved aside by garbage collection.
        for name in (try? FS.listDirectory(directory)) ?? [] where name.hasPrefix("gc-") {
            try? FS.removeTree(directory + "/" + name)
        }
    }

    func uniqueName(_ prefix: String) -> String {
        "\(tmp)/\(prefix)-\(counter.add(1, ordering: .relaxed).newValue)"
    }

    /// Waits for exclusive use of one blob or layer across processes and threads.
    public func lock(_ digest: Digest) throws(ImageError) -> FileLock {
        try FileLock(store.directory + "/locks/" + digest.encoded + ".lock", exclusive: true)
    }

    // MARK: blobs

    /// Stores `bytes` (a manifest, index or config) after checking them against `expected`.
    @discardableResult
    public func putBlob(_ bytes: [UInt8], expected: Digest? = nil, what: String) throws(ImageError) -> Digest {
        let digest = Digest.of(bytes)
        if let expected, expected != digest { throw .digestMismatch(what, expected, digest) }
        if store.hasBlob(digest) { return digest }
        let temp = uniqueName("blob")
        do { try FS.write(temp, bytes, mode: 0o600) } catch { throw .store("\(error)") }
        try commitBlob(temp, digest: digest)
        return digest
    }

    /// A new temp file for a streamed blob: its path and an fd open for writing.
    public func tempFile() throws(ImageError) -> (path: String, fd: Int32) {
        let path = uniqueName("blob")
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .store(SystemError("create", path: path, errno: errno).description) }
        return (path, fd)
    }

    /// Moves a verified temp file to its content address (or drops it when another writer
    /// got there first: same digest, same bytes).
    public func commitBlob(_ temp: String, digest: Digest) throws(ImageError) {
        let target = store.blobPath(digest)
        if FS.exists(target) {
            unlink(temp)
            return
        }
        guard rename(temp, target) == 0 else { throw .store(SystemError("rename", path: "\(temp) to \(target)", errno: errno).description) }
    }

    // MARK: layers

    /// A fresh directory `…/layer-N` with an empty `diff/` (mode 0755) to unpack into.
    public func tempLayerDirectory() throws(ImageError) -> String {
        let directory = uniqueName("layer")
        do {
            try FS.makeDirectories(directory + "/diff", mode: 0o755)
            _ = try Sys.check("chmod", path: directory + "/diff") { chmod(directory + "/diff", 0o755) }
        } catch { throw .store("\(error)") }
        return directory
    }

    /// Records `info` in the temp layer directory and renames it to `layers/<chain hex>`.
    public func commitLayer(_ temp: String, info: LayerInfo) throws(ImageError) {
        let target = store.layerDirectory(info.chainID)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try FS.write(temp + "/layer.json", Array(try encoder.encode(info)), mode: 0o600)
        } catch { throw .store("writing layer.json: \(error)") }
        if store.hasLayer(info.chainID) {
            try? FS.removeTree(temp)
            return
        }
        // A directory without layer.json is the remains of a crash in an older version of
        // this sequence; it holds nothing anyone uses.
        if FS.exists(target) { try? FS.removeTree(target) }
        guard rename(temp, target) == 0 else { throw .store(SystemError("rename", path: "\(temp) to \(target)", errno: errno).description) }
    }

    // MARK: finishing

    /// Flushes everything written so far to disk (one syncfs instead of an fsync per file),
    /// so that a record written afterwards never names content a power cut could lose.
    public func sync() throws(ImageError) {
        let fd = open(store.directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .store(SystemError("open", path: store.directory, errno: errno).description) }
        defer { close(fd) }
        guard berth_syncfs(fd) == 0 else { throw .store(SystemError("syncfs", path: store.directory, errno: errno).description) }
    }

    /// Makes an image visible under `reference` (after `sync`).
    public func publish(_ record: ImageRecord) throws(ImageError) {
        try store.updateRecords { (records: inout [ImageRecord]) throws(ImageError) in
            ImageStore.insert(record, into: &records)
        }
    }
}
