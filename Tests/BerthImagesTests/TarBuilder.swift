import CArchive
import Foundation
@testable import BerthImages

/// Builds tar streams in memory with libarchive's writer, so layer tests control every
/// header field (including hostile names that no real tool would write).
final class TarBuilder {
    enum Compression { case none, gzip, zstd }

    struct Entry {
        var path: [UInt8]
        var type: UInt32
        var mode: UInt32 = 0o644
        var uid: Int64 = 0
        var gid: Int64 = 0
        var mtime: Int = 1_700_000_000
        var content: [UInt8] = []
        var symlink: String?
        var hardlink: String?
        var device: (UInt32, UInt32) = (0, 0)
        var xattrs: [(String, [UInt8])] = []
    }

    private(set) var entries: [Entry] = []

    @discardableResult
    func file(_ path: String, _ content: String = "", mode: UInt32 = 0o644, uid: Int64 = 0, gid: Int64 = 0, mtime: Int = 1_700_000_000, xattrs: [(String, [UInt8])] = []) -> TarBuilder {
        entries.append(Entry(path: Array(path.utf8), type: FileType.regular, mode: mode, uid: uid, gid: gid, mtime: mtime, content: Array(content.utf8), xattrs: xattrs))
        return self
    }

    @discardableResult
    func file(_ path: String, bytes: [UInt8], mode: UInt32 = 0o755) -> TarBuilder {
        entries.append(Entry(path: Array(path.utf8), type: FileType.regular, mode: mode, content: bytes))
        return self
    }

    @discardableResult
    func rawFile(_ path: [UInt8], _ content: String = "") -> TarBuilder {
        entries.append(Entry(path: path, type: FileType.regular, content: Array(content.utf8)))
        return self
    }

    @discardableResult
    func directory(_ path: String, mode: UInt32 = 0o755, uid: Int64 = 0, gid: Int64 = 0, mtime: Int = 1_700_000_000) -> TarBuilder {
        entries.append(Entry(path: Array(path.utf8), type: FileType.directory, mode: mode, uid: uid, gid: gid, mtime: mtime))
        return self
    }

    @discardableResult
    func symlink(_ path: String, to target: String, uid: Int64 = 0) -> TarBuilder {
        entries.append(Entry(path: Array(path.utf8), type: FileType.symlink, mode: 0o777, uid: uid, symlink: target))
        return self
    }

    @discardableResult
    func hardlink(_ path: String, to target: String) -> TarBuilder {
        entries.append(Entry(path: Array(path.utf8), type: FileType.regular, hardlink: target))
        return self
    }

    @discardableResult
    func device(_ path: String, character: Bool, major: UInt32, minor: UInt32, mode: UInt32 = 0o666) -> TarBuilder {
        entries.append(Entry(path: Array(path.utf8), type: character ? FileType.characterDevice : FileType.blockDevice, mode: mode, device: (major, minor)))
        return self
    }

    @discardableResult
    func fifo(_ path: String) -> TarBuilder {
        entries.append(Entry(path: Array(path.utf8), type: FileType.fifo, mode: 0o600))
        return self
    }

    /// The tar stream, optionally compressed.
    func build(_ compression: Compression = .none) -> [UInt8] {
        let sink = Sink()
        let archive = archive_write_new()
        archive_write_set_format_pax(archive)
        switch compression {
        case .none: archive_write_add_filter_none(archive)
        case .gzip: archive_write_add_filter_gzip(archive)
        case .zstd: archive_write_add_filter_zstd(archive)
        }
        archive_write_set_bytes_in_last_block(archive, 1)
        archive_write_open(archive, Unmanaged.passUnretained(sink).toOpaque(), nil, sinkWrite, nil)
        for item in entries {
            let entry = archive_entry_new()
            (item.path + [0]).withUnsafeBufferPointer { pointer in
                pointer.withMemoryRebound(to: CChar.self) { archive_entry_copy_pathname(entry, $0.baseAddress) }
            }
            archive_entry_set_filetype(entry, item.type)
            archive_entry_set_perm(entry, item.mode)
            archive_entry_set_uid(entry, item.uid)
            archive_entry_set_gid(entry, item.gid)
            archive_entry_set_mtime(entry, item.mtime, 500)
            if let target = item.symlink { archive_entry_copy_symlink(entry, target) }
            if let target = item.hardlink {
                archive_entry_copy_hardlink(entry, target)
                archive_entry_set_size(entry, 0)
            } else {
                archive_entry_set_size(entry, Int64(item.type == FileType.regular ? item.content.count : 0))
            }
            if item.type == FileType.characterDevice || item.type == FileType.blockDevice {
                archive_entry_set_rdevmajor(entry, dev_t(item.device.0))
                archive_entry_set_rdevminor(entry, dev_t(item.device.1))
            }
            for (name, value) in item.xattrs {
                value.withUnsafeBytes { archive_entry_xattr_add_entry(entry, name, $0.baseAddress, value.count) }
            }
            archive_write_header(archive, entry)
            if item.type == FileType.regular && item.hardlink == nil && !item.content.isEmpty {
                item.content.withUnsafeBytes { _ = archive_write_data(archive, $0.baseAddress, $0.count) }
            }
            archive_entry_free(entry)
        }
        archive_write_close(archive)
        archive_write_free(archive)
        return sink.bytes
    }

    final class Sink {
        var bytes: [UInt8] = []
    }
}

private func sinkWrite(_: OpaquePointer?, _ context: UnsafeMutableRawPointer?, _ buffer: UnsafeRawPointer?, _ length: Int) -> la_ssize_t {
    guard let context, let buffer else { return -1 }
    let sink = Unmanaged<TarBuilder.Sink>.fromOpaque(context).takeUnretainedValue()
    sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: length))
    return length
}

/// Feeds bytes to the unpacker in small uneven chunks (to cross every buffer boundary).
final class MemorySource: ByteSource {
    let bytes: [UInt8]
    var offset = 0
    var chunk = 1000
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = min(buffer.count, chunk, bytes.count - offset)
        guard n > 0 else { return 0 }
        bytes.withUnsafeBytes { raw in
            guard let source = raw.baseAddress else { return }
            buffer.baseAddress?.copyMemory(from: source + offset, byteCount: n)
        }
        offset += n
        chunk = chunk * 7 % 65_536 + 1
        return n
    }
}
