#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// Reads a file (a stored blob, an archive member extracted to disk).
public final class FileSource: ByteSource {
    let fd: Int32
    let path: String

    public init(path: String) throws(ImageError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .store(SystemError("open", path: path, errno: errno).description) }
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try Sys.check("read", path: path) { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }
}

extension StoreSession {
    /// Stores one layer — its blob and its unpacked directory — verified against the
    /// manifest's descriptor (digest and size of the bytes as they come) and the config's
    /// DiffID (digest of the tar). Reuses what the store already has: nothing is read when
    /// both exist, the stored blob when only the directory is missing. `open` is called
    /// only when the bytes are needed. Returns the layer and whether it was already there.
    public func ingestLayer(
        _ descriptor: Descriptor, diffID: Digest, chainID: Digest, what: String,
        open: () throws(ImageError) -> any ByteSource
    ) throws(ImageError) -> (info: LayerInfo, reused: Bool) {
        let lock = try self.lock(chainID)
        defer { withExtendedLifetime(lock) {} }
        if store.hasLayer(chainID), store.hasBlob(descriptor.digest) {
            return (try store.layerInfo(chainID), true)
        }
        let haveBlob = store.hasBlob(descriptor.digest)
        let source: any ByteSource = haveBlob ? try FileSource(path: store.blobPath(descriptor.digest)) : try open()
        let temp = try tempLayerDirectory()
        var blob: (path: String, fd: Int32)?
        do throws(ImageError) {
            if !haveBlob { blob = try tempFile() }
            let unpacked = Result { () throws(ImageError) in
                try LayerUnpacker.unpack(from: source, into: temp + "/diff", blobFD: blob?.fd ?? -1, layer: what)
            }
            if let fd = blob?.fd { close(fd) }
            let result = try unpacked.get()
            if result.digest != descriptor.digest { throw ImageError.digestMismatch(what, descriptor.digest, result.digest) }
            if descriptor.size >= 0, result.compressedSize != descriptor.size {
                throw ImageError.sizeMismatch(what, expected: descriptor.size, actual: result.compressedSize)
            }
            if result.diffID != diffID { throw ImageError.digestMismatch("\(what) (uncompressed, against the config's diff_ids)", diffID, result.diffID) }
            if let blob { try commitBlob(blob.path, digest: result.digest) }
            let info = LayerInfo(chainID: chainID, diffID: diffID, blob: descriptor.digest, size: result.contentSize)
            try commitLayer(temp, info: info)
            return (info, false)
        } catch {
            if let blob { unlink(blob.path) }
            try? FS.removeTree(temp)
            throw error
        }
    }
}

/// Bytes already in memory (standard input read whole, a test's archive).
public final class BytesSource: ByteSource {
    private let bytes: [UInt8]
    private var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            buffer.baseAddress?.copyMemory(from: base + offset, byteCount: n)
        }
        offset += n
        return n
    }
}
