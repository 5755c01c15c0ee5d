#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CArchive
import Foundation

/// `docker save`: writes images as an OCI image layout in a tar (what Docker 25+ writes),
/// with a `manifest.json` as well so that older `docker load` reads it too. Blobs are the
/// store's own (layers as they were pulled), each written once.
public enum ArchiveWriter {
    public static func save(_ records: [ImageRecord], from store: ImageStore, to fd: Int32, what: String) throws(ImageError) {
        let writer = try TarWriter(fd: fd, what: what)
        var written = Set<Digest>()
        var index: [Descriptor] = []
        var dockerManifest: [[String: Any]] = []
        try writer.add("oci-layout", Array("{\"imageLayoutVersion\":\"1.0.0\"}".utf8))
        try writer.directory("blobs")
        try writer.directory("blobs/sha256")
        for record in records {
            let manifest = try store.manifest(of: record)
            for digest in [record.config, record.manifest] + manifest.layers.map(\.digest) where written.insert(digest).inserted {
                try writer.addFile("blobs/sha256/\(digest.encoded)", path: store.blobPath(digest))
            }
            let manifestSize = Int64(try store.readBlob(record.manifest).count)
            var annotations: [String: String] = [:]
            if record.repository != nil {
                annotations["io.containerd.image.name"] = record.reference
                if let tag = record.tag { annotations["org.opencontainers.image.ref.name"] = tag }
            }
            index.append(Descriptor(mediaType: manifest.mediaType ?? MediaType.ociManifest, digest: record.manifest, size: manifestSize,
                                    annotations: annotations.isEmpty ? nil : annotations))
            dockerManifest.append([
                "Config": "blobs/sha256/\(record.config.encoded)",
                "RepoTags": record.tag != nil ? [ImageStore.familiar(record)] : [],
                "Layers": manifest.layers.map { "blobs/sha256/\($0.digest.encoded)" },
            ])
        }
        try writer.add("index.json", try ArchiveLoader.encode(ImageIndex(manifests: index)))
        let manifestJSON: Data
        do { manifestJSON = try JSONSerialization.data(withJSONObject: dockerManifest, options: [.sortedKeys, .withoutEscapingSlashes]) } catch {
            throw .store("encoding manifest.json: \(error)")
        }
        try writer.add("manifest.json", Array(manifestJSON))
        try writer.finish()
    }
}

/// A tar stream written by libarchive (pax format) to an fd.
final class TarWriter {
    private let archive: OpaquePointer
    private let sink: FDSink
    private let what: String
    private var finished = false

    init(fd: Int32, what: String) throws(ImageError) {
        try ArchiveLibrary.require()
        guard let archive = archive_write_new() else { throw .store("libarchive: out of memory") }
        self.archive = archive
        self.what = what
        sink = FDSink(fd: fd)
        archive_write_set_format_pax_restricted(archive)
        archive_write_add_filter_none(archive)
        archive_write_set_bytes_in_last_block(archive, 1)
        guard archive_write_open(archive, Unmanaged.passUnretained(sink).toOpaque(), nil, fdSinkWrite, nil) == ARCHIVE_OK else {
            throw failure("opening")
        }
    }

    deinit {
        if !finished { archive_write_close(archive) }
        archive_write_free(archive)
    }

    private func failure(_ doing: String) -> ImageError {
        if let error = sink.error { return .store("writing \(what): \(error)") }
        let text = archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
        return .store("writing \(what) (\(doing)): \(text)")
    }

    private func header(_ name: String, type: UInt32, mode: UInt32, size: Int64) throws(ImageError) {
        let entry = archive_entry_new()
        defer { archive_entry_free(entry) }
        archive_entry_copy_pathname(entry, name)
        archive_entry_set_filetype(entry, type)
        archive_entry_set_perm(entry, mode)
        archive_entry_set_size(entry, size)
        archive_entry_set_mtime(entry, 0, 0)
        guard archive_write_header(archive, entry) == ARCHIVE_OK else { throw failure(name) }
    }

    func directory(_ name: String) throws(ImageError) {
        try header(name, type: FileType.directory, mode: 0o755, size: 0)
    }

    func add(_ name: String, _ bytes: [UInt8]) throws(ImageError) {
        try header(name, type: FileType.regular, mode: 0o644, size: Int64(bytes.count))
        let written = bytes.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw failure(name) }
    }

    /// A file's content as `name`, streamed.
    func addFile(_ name: String, path: String) throws(ImageError) {
        let source = try FileSource(path: path)
        var st = stat()
        guard fstat(source.fd, &st) == 0 else { throw .store(SystemError("stat", path: path, errno: errno).description) }
        try header(name, type: FileType.regular, mode: 0o644, size: Int64(st.st_size))
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n: Int
            do { n = try source.read(into: buffer) } catch { throw .store("reading \(path): \(error)") }
            if n == 0 { break }
            guard archive_write_data(archive, buffer.baseAddress, n) == n else { throw failure(name) }
        }
    }

    /// A ready-made entry; `data` yields its content into `buffer` until it returns 0.
    func write(_ entry: OpaquePointer, data: (() -> Int)?, buffer: UnsafeMutableRawBufferPointer) throws(ImageError) {
        let name = String(decoding: LayerWriter.pathname(entry), as: UTF8.self)
        guard archive_write_header(archive, entry) >= ARCHIVE_WARN else { throw failure(name) }
        guard let data else { return }
        while true {
            let n = data()
            if n == 0 { break }
            guard n > 0 else { throw .store("reading \(name) for \(what)") }
            guard archive_write_data(archive, buffer.baseAddress, n) == n else { throw failure(name) }
        }
    }

    func finish() throws(ImageError) {
        finished = true
        guard archive_write_close(archive) == ARCHIVE_OK else { throw failure("closing") }
    }
}

/// Where TarWriter's bytes go.
final class FDSink {
    let fd: Int32
    var error: SystemError?
    init(fd: Int32) { self.fd = fd }
}

func fdSinkWrite(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ length: Int) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let sink = Unmanaged<FDSink>.fromOpaque(context).takeUnretainedValue()
    var offset = 0
    while offset < length {
        let n = write(sink.fd, buffer + offset, length - offset)
        if n < 0 {
            if errno == EINTR { continue }
            sink.error = SystemError("write", errno: errno)
            return -1
        }
        offset += n
    }
    return length
}
