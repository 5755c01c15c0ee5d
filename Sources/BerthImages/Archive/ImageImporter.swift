#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CArchive
import Foundation

/// `docker import`: a root filesystem — a tarball (plain or compressed) or a directory —
/// becomes a one-layer image, its config set by `--change` instructions.
public enum ImageImporter {
    public enum Source {
        case tarball(any ByteSource)
        case directory(String)
    }

    public struct Options: Sendable {
        public var changes: [String] = []
        public var message: String?
        public var platform: Platform = .host
        public init() {}
    }

    public static func importImage(_ source: Source, into store: ImageStore, as reference: ImageReference?, options: Options, what: String) throws(ImageError) -> ImageRecord {
        var config = ImageConfig.Config()
        for change in options.changes { try ConfigChanges.apply(change, to: &config) }
        let session = try store.session()
        defer { session.end() }
        let layerPath = session.uniqueName("import.tar")
        let fd = open(layerPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .store(SystemError("create", path: layerPath, errno: errno).description) }
        let layerResult = Result { () throws(ImageError) in
            switch source {
            case .tarball(let bytes): try decompress(bytes, to: fd, what: what)
            case .directory(let path): try tarDirectory(path, to: fd, what: what)
            }
        }
        close(fd)
        try layerResult.get()
        let (diffID, size, _) = try ArchiveLoader.describeLayer(layerPath, what: what)
        let now = UnixTime.rfc3339(UnixTime.now())
        let platform = options.platform.normalized
        let imageConfig = ImageConfig(
            architecture: platform.architecture, os: platform.os, variant: platform.variant, config: config, diffIDs: [diffID], created: now,
            history: [ImageConfig.History(created: now, createdBy: "berth import", comment: options.message ?? "Imported from \(what)")])
        let configBytes = try ArchiveLoader.encode(imageConfig)
        let manifest = Manifest(
            mediaType: MediaType.ociManifest,
            config: Descriptor(mediaType: MediaType.ociConfig, digest: Digest.of(configBytes), size: Int64(configBytes.count)),
            layers: [Descriptor(mediaType: MediaType.ociLayer, digest: diffID, size: size)])
        var record = try session.storeImage(ImageParts(manifestBytes: try ArchiveLoader.encode(manifest), configBytes: configBytes, what: what)) {
            (_: Int, _: Descriptor) throws(ImageError) -> any ByteSource in try FileSource(path: layerPath)
        }
        if let reference {
            record.repository = reference.name
            record.tag = reference.tag ?? ImageReference.defaultTag
        }
        try session.publish(record)
        return record
    }

    /// The uncompressed tar of a (possibly compressed) tarball.
    static func decompress(_ source: any ByteSource, to fd: Int32, what: String) throws(ImageError) {
        try ArchiveLibrary.require()
        guard let archive = archive_read_new() else { throw .store("libarchive: out of memory") }
        defer { archive_read_free(archive) }
        for filter in [archive_read_support_filter_none, archive_read_support_filter_gzip, archive_read_support_filter_xz,
                       archive_read_support_filter_bzip2, archive_read_support_filter_zstd] { _ = filter(archive) }
        archive_read_support_format_raw(archive)
        let raw = RawStage(source: source, blobFD: -1)
        var entry: OpaquePointer?
        guard archive_read_open(archive, Unmanaged.passUnretained(raw).toOpaque(), nil, rawStageRead, nil) == ARCHIVE_OK,
              archive_read_next_header(archive, &entry) == ARCHIVE_OK else {
            if let error = raw.error { throw (error as? ImageError) ?? .store("\(what): \(error)") }
            throw .invalidManifest(what, ArchiveFailure.current(archive, while: "reading the tarball").why)
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = archive_read_data(archive, buffer.baseAddress, buffer.count)
            if n == 0 { break }
            guard n > 0 else {
                if let error = raw.error { throw (error as? ImageError) ?? .store("\(what): \(error)") }
                throw .invalidManifest(what, ArchiveFailure.current(archive, while: "decompressing").why)
            }
            do { try FS.writeAll(fd: fd, Array(buffer[0..<n]), path: what) } catch { throw .store("\(error)") }
        }
    }

    /// A tar of `directory` (owners, modes, xattrs, hardlinks, devices; not crossing mounts,
    /// symlinks not followed), entries relative to it.
    static func tarDirectory(_ directory: String, to fd: Int32, what: String) throws(ImageError) {
        try ArchiveLibrary.require()
        guard FS.isDirectory(directory) else { throw .store("\(directory) is not a directory") }
        guard let disk = archive_read_disk_new() else { throw .store("libarchive: out of memory") }
        defer { archive_read_free(disk) }
        archive_read_disk_set_symlink_physical(disk)
        archive_read_disk_set_behavior(disk, ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS)
        guard archive_read_disk_open(disk, directory) == ARCHIVE_OK else {
            throw .store("\(directory): \(ArchiveFailure.current(disk, while: "opening").why)")
        }
        let writer = try TarWriter(fd: fd, what: what)
        guard let resolver = archive_entry_linkresolver_new() else { throw .store("libarchive: out of memory") }
        defer { archive_entry_linkresolver_free(resolver) }
        archive_entry_linkresolver_set_strategy(resolver, ARCHIVE_FORMAT_TAR | 3)
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            guard let entry = archive_entry_new() else { throw .store("libarchive: out of memory") }
            defer { archive_entry_free(entry) }
            let status = archive_read_next_header2(disk, entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN else { throw .store("\(directory): \(ArchiveFailure.current(disk, while: "reading").why)") }
            archive_read_disk_descend(disk)
            let full = String(decoding: LayerWriter.pathname(entry), as: UTF8.self)
            let relative = full == directory || full + "/" == prefix ? "./" : (full.hasPrefix(prefix) ? String(full.dropFirst(prefix.count)) : full)
            archive_entry_copy_pathname(entry, relative)
            if archive_entry_filetype(entry) == FileType.socket { continue }
            var linked: OpaquePointer? = entry
            var spare: OpaquePointer?
            archive_entry_linkify(resolver, &linked, &spare)
            let hasData = archive_entry_filetype(entry) == FileType.regular && archive_entry_hardlink(entry) == nil
            try writer.write(entry, data: hasData ? { () -> Int in archive_read_data(disk, buffer.baseAddress, buffer.count) } : nil, buffer: buffer)
        }
        try writer.finish()
    }
}
