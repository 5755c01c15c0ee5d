import BerthSystem
import CBerthSys
import Foundation
import Testing
@testable import BerthImages

let isRoot = getuid() == 0
let rootReason: Comment = "needs root (chown, mknod, trusted.* xattrs, overlay mounts)"

/// A private scratch directory removed at the end of the test (also on failure).
final class Scratch {
    let path: String
    init(_ label: String = "t") throws {
        path = NSTemporaryDirectory() + "berth-images-\(label)-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        try FS.makeDirectories(path)
    }
    deinit { Scratch.remove(path) }

    /// `rm -rf` that copes with names that are not UTF-8 (some tests make them).
    static func remove(_ path: String) {
        guard let slash = path.lastIndex(of: "/") else { return }
        let parent = open(String(path[..<slash]), O_DIRECTORY | O_RDONLY | O_CLOEXEC)
        guard parent >= 0 else { return }
        defer { close(parent) }
        try? TreeRemoval.remove(parent: parent, name: Array(String(path[path.index(after: slash)...]).utf8CString), shown: path)
    }

    func directory(_ name: String) throws -> String {
        let dir = path + "/" + name
        try FS.makeDirectories(dir)
        return dir
    }
}

func lstatOf(_ path: String) -> stat? {
    var st = stat()
    return lstat(path, &st) == 0 ? st : nil
}

func xattr(_ path: String, _ name: String) -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = buffer.withUnsafeMutableBytes { berth_lgetxattr(path, name, $0.baseAddress, 256) }
    return n < 0 ? nil : Array(buffer[0..<n])
}

func contents(_ path: String) -> String? {
    (try? FS.readString(path))
}

func listing(_ path: String) -> [String] {
    ((try? FS.listDirectory(path)) ?? []).sorted()
}

/// Every path below `root`, relative, sorted (for "nothing landed outside" checks).
func tree(_ root: String) -> [String] {
    var out: [String] = []
    func walk(_ relative: String) {
        for name in listing(root + relative) {
            let child = relative + "/" + name
            out.append(child)
            if let st = lstatOf(root + child), (st.st_mode & S_IFMT) == S_IFDIR { walk(child) }
        }
    }
    walk("")
    return out
}

func unpack(_ tar: [UInt8], into directory: String, layer: String = "test") throws -> UnpackedLayer {
    try LayerUnpacker.unpack(from: MemorySource(tar), into: directory, layer: layer)
}
