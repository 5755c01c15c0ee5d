#if canImport(Glibc)
import Glibc
#endif

extension FS {
    /// The bytes of the files under `path` as `du --apparent-size` counts them (Docker's
    /// `directory.Size`): the sizes of everything but directories, a hard-linked inode once,
    /// symbolic links not followed. A missing tree is 0; entries that vanish meanwhile are
    /// skipped.
    public static func apparentSize(ofTree path: String) -> Int64 {
        var total: Int64 = 0
        var seen = Set<UInt64>()
        var pending = [path]
        while let current = pending.popLast() {
            var info = stat()
            guard lstat(current, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                for name in (try? listDirectory(current)) ?? [] { pending.append(current + "/" + name) }
                continue
            }
            if info.st_nlink > 1 && !seen.insert(UInt64(info.st_ino)).inserted { continue }
            total += Int64(info.st_size)
        }
        return total
    }
}
