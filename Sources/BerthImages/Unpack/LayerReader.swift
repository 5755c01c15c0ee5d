#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CArchive
import CBerthSys

/// Where a layer's bytes come from: an HTTP body, a file, a pipe.
public protocol ByteSource: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// What unpacking a layer measured.
public struct UnpackedLayer: Sendable, Equatable {
    /// Digest and size of the bytes as they came (compressed).
    public var digest: Digest
    public var compressedSize: Int64
    /// Digest of the uncompressed tar: the layer's DiffID.
    public var diffID: Digest
    /// Bytes of file content in the layer.
    public var contentSize: Int64
}

/// Download, decompression, digests and unpacking in one pass over a layer's bytes:
///
/// ```
/// source ──▶ stage 1: libarchive filters (gzip/zstd/xz/bzip2/none) + format "raw"
///   │ hash compressed (the blob digest), copy to the blob file
///   ▼
/// stage 2: libarchive tar reader fed from stage 1's data
///   │ hash uncompressed (the DiffID)
///   ▼
/// LayerWriter (entries → directory, overlay whiteouts)
/// ```
/// After the tar's end marker both stages are drained so the digests cover every byte.
/// The caller checks the digests against the manifest and config and throws the directory
/// away when they differ.
public enum LayerUnpacker {
    public static let bufferSize = 1 << 20

    /// Unpacks `source` into the empty directory `directory`; copies the raw bytes to
    /// `blobFD` when it is >= 0.
    public static func unpack(from source: any ByteSource, into directory: String, blobFD: Int32 = -1, layer: String) throws(ImageError) -> UnpackedLayer {
        try ArchiveLibrary.require()
        let raw = RawStage(source: source, blobFD: blobFD)
        guard let decompressor = archive_read_new() else { throw .layer(layer, "libarchive: out of memory") }
        defer { archive_read_free(decompressor) }
        archive_read_support_filter_none(decompressor)
        archive_read_support_filter_gzip(decompressor)
        archive_read_support_filter_zstd(decompressor)
        archive_read_support_filter_xz(decompressor)
        archive_read_support_filter_bzip2(decompressor)
        archive_read_support_format_raw(decompressor)
        archive_read_support_format_empty(decompressor)
        let rawContext = Unmanaged.passUnretained(raw).toOpaque()
        func failure(_ archive: OpaquePointer, _ what: String) -> ImageError {
            if let error = raw.error { return (error as? ImageError) ?? .layer(layer, "\(what): \(error)") }
            return .layer(layer, ArchiveFailure.current(archive, while: what).why)
        }
        guard archive_read_open(decompressor, rawContext, nil, rawStageRead, nil) == ARCHIVE_OK else {
            throw failure(decompressor, "reading the compressed stream")
        }
        var header: OpaquePointer?
        let first = archive_read_next_header(decompressor, &header)
        guard first == ARCHIVE_OK || first == ARCHIVE_EOF else { throw failure(decompressor, "detecting the compression") }

        let tar = TarStage(decompressor: decompressor, hasData: first == ARCHIVE_OK)
        guard let reader = archive_read_new() else { throw .layer(layer, "libarchive: out of memory") }
        defer { archive_read_free(reader) }
        archive_read_support_filter_none(reader)
        archive_read_support_format_tar(reader)
        archive_read_support_format_empty(reader)
        let tarContext = Unmanaged.passUnretained(tar).toOpaque()
        let writer: LayerWriter
        do { writer = try LayerWriter(directory: directory) } catch { throw .layer(layer, error.why) }
        func tarFailure(_ what: String) -> ImageError {
            if let error = raw.error { return (error as? ImageError) ?? .layer(layer, "\(what): \(error)") }
            if let why = tar.failure { return .layer(layer, why) }
            return .layer(layer, ArchiveFailure.current(reader, while: what).why)
        }
        guard archive_read_open(reader, tarContext, nil, tarStageRead, nil) == ARCHIVE_OK else { throw tarFailure("reading the tar stream") }
        var entry: OpaquePointer?
        while true {
            let status = archive_read_next_header(reader, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else { throw tarFailure("reading the next tar header") }
            do { try writer.apply(entry, archive: reader) } catch {
                if raw.error != nil || tar.failure != nil { throw tarFailure("reading the tar stream") }
                let name = String(decoding: LayerWriter.pathname(entry), as: UTF8.self)
                throw .layerRejected(layer: layer, entry: name, why: error.why)
            }
        }
        do { try writer.finish() } catch { throw .layer(layer, error.why) }
        // Drain both stages: tar padding after the end marker, then the compressed tail.
        guard tar.drain() else { throw tarFailure("reading the end of the layer") }
        do { try raw.drain() } catch { throw (error as? ImageError) ?? .layer(layer, "reading the end of the layer: \(error)") }
        return UnpackedLayer(digest: raw.hasher.finalize(), compressedSize: raw.count, diffID: tar.hasher.finalize(), contentSize: writer.contentSize)
    }
}

/// Stage 1's state: reads the source, hashes and copies the raw bytes.
final class RawStage {
    let source: any ByteSource
    let blobFD: Int32
    var hasher = Hasher256()
    var count: Int64 = 0
    var error: (any Error)?
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LayerUnpacker.bufferSize, alignment: 16)

    init(source: any ByteSource, blobFD: Int32) {
        self.source = source
        self.blobFD = blobFD
    }

    deinit { buffer.deallocate() }

    /// One chunk from the source, hashed and copied; 0 at the end.
    func next() throws -> Int {
        let n = try source.read(into: buffer)
        guard n > 0 else { return 0 }
        let chunk = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        hasher.update(chunk)
        count += Int64(n)
        if blobFD >= 0 {
            var offset = 0
            while offset < n {
                let written = write(blobFD, chunk.baseAddress.map { $0 + offset }, n - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw SystemError("write", path: "blob file", errno: errno)
                }
                offset += written
            }
        }
        return n
    }

    func drain() throws {
        while try next() > 0 {}
    }
}

/// Stage 2's state: uncompressed bytes from stage 1, hashed for the DiffID.
final class TarStage {
    let decompressor: OpaquePointer
    var hasData: Bool
    var hasher = Hasher256()
    var failure: String?
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: LayerUnpacker.bufferSize, alignment: 16)

    init(decompressor: OpaquePointer, hasData: Bool) {
        self.decompressor = decompressor
        self.hasData = hasData
    }

    deinit { buffer.deallocate() }

    /// Uncompressed bytes, hashed; 0 at the end, -1 on failure.
    func next() -> Int {
        guard hasData else { return 0 }
        let n = archive_read_data(decompressor, buffer.baseAddress, buffer.count)
        if n < 0 {
            failure = ArchiveFailure.current(decompressor, while: "decompressing").why
            return -1
        }
        if n == 0 { hasData = false }
        hasher.update(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        return n
    }

    func drain() -> Bool {
        while true {
            let n = next()
            if n == 0 { return true }
            if n < 0 { return false }
        }
    }
}

func rawStageRead(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<UnsafeRawPointer?>?) -> la_ssize_t {
    guard let context, let out else { return -1 }
    let stage = Unmanaged<RawStage>.fromOpaque(context).takeUnretainedValue()
    do {
        let n = try stage.next()
        out.pointee = UnsafeRawPointer(stage.buffer.baseAddress)
        return n
    } catch {
        stage.error = error
        return -1
    }
}

func tarStageRead(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<UnsafeRawPointer?>?) -> la_ssize_t {
    guard let context, let out else { return -1 }
    let stage = Unmanaged<TarStage>.fromOpaque(context).takeUnretainedValue()
    let n = stage.next()
    out.pointee = UnsafeRawPointer(stage.buffer.baseAddress)
    return n
}

/// libarchive is loaded on first use (see CBerthSys/archive_loader.c); every entry point
/// that calls it checks first, so a missing library is an error, not a crash.
enum ArchiveLibrary {
    static func require() throws(ImageError) {
        guard berth_archive_available() == 1 else {
            throw .unsupported("berth needs libarchive (libarchive.so.13) for images and could not load it; install libarchive13")
        }
    }
}

/// libarchive's error text for the last failed call.
struct ArchiveFailure {
    static func current(_ archive: OpaquePointer, while what: String) -> EntryRefusal {
        let text = archive_error_string(archive).map { String(cString: $0) } ?? "unknown libarchive error"
        return EntryRefusal("\(what): \(text)")
    }
}
