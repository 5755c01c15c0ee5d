#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CArchive

/// Unpacks an image archive (`docker save` output or an OCI archive, possibly gzip, xz,
/// bzip2 or zstd compressed) into a directory: regular files and directories only, paths
/// cleaned (`..` refused). Archives need random access (the manifest may come last), so
/// they are laid out on disk before anything is stored.
enum ArchiveExtractor {
    static func extract(from source: any ByteSource, into directory: String, what: String) throws(ImageError) {
        try ArchiveLibrary.require()
        guard let archive = archive_read_new() else { throw .store("libarchive: out of memory") }
        defer { archive_read_free(archive) }
        for filter in [archive_read_support_filter_none, archive_read_support_filter_gzip, archive_read_support_filter_xz,
                       archive_read_support_filter_bzip2, archive_read_support_filter_zstd] { _ = filter(archive) }
        archive_read_support_format_tar(archive)
        let raw = RawStage(source: source, blobFD: -1)
        func failure(_ doing: String) -> ImageError {
            if let error = raw.error { return (error as? ImageError) ?? .store("\(what): \(error)") }
            return .invalidManifest(what, ArchiveFailure.current(archive, while: doing).why)
        }
        guard archive_read_open(archive, Unmanaged.passUnretained(raw).toOpaque(), nil, rawStageRead, nil) == ARCHIVE_OK else {
            throw failure("opening the archive")
        }
        let root: ConfinedRoot
        do { root = try ConfinedRoot(path: directory) } catch { throw .store(error.why) }
        var entry: OpaquePointer?
        var entries = 0
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status >= ARCHIVE_WARN, let entry else { throw failure("reading the archive") }
            entries += 1
            let type = archive_entry_filetype(entry)
            guard type == FileType.regular || type == FileType.directory else { continue }
            let path: EntryPath
            do { path = try EntryPath(LayerWriter.pathname(entry)) } catch {
                throw .invalidManifest(what, "entry \(String(decoding: LayerWriter.pathname(entry), as: UTF8.self)): \(error.why)")
            }
            if path.isRoot { continue }
            do throws(EntryRefusal) {
                if type == FileType.directory {
                    close(try root.openDirectory(path.components[...], create: true))
                    continue
                }
                let parent = try root.openDirectory(path.parent, create: true)
                defer { close(parent) }
                let fd = openat(parent, LayerWriter.cName(path.name), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw EntryRefusal(SystemError("create", path: path.display, errno: errno).description) }
                defer { close(fd) }
                var buffer: UnsafeRawPointer?
                var size = 0
                var offset: la_int64_t = 0
                while true {
                    let read = archive_read_data_block(archive, &buffer, &size, &offset)
                    if read == ARCHIVE_EOF { break }
                    guard read >= ARCHIVE_WARN else { throw ArchiveFailure.current(archive, while: "reading \(path.display)") }
                    var written = 0
                    while written < size, let base = buffer {
                        let n = pwrite(fd, base + written, size - written, off_t(offset) + off_t(written))
                        if n < 0 {
                            if errno == EINTR { continue }
                            throw EntryRefusal(SystemError("write", path: path.display, errno: errno).description)
                        }
                        written += n
                    }
                }
                _ = ftruncate(fd, off_t(archive_entry_size(entry)))
            } catch {
                if raw.error != nil { throw failure("reading the archive") }
                throw .store("\(what): \(error.why)")
            }
        }
        if entries == 0 { throw .invalidManifest(what, "the archive is empty") }
    }
}
