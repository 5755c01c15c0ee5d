#if canImport(Glibc)
import Glibc
#endif
import CBerthSys

/// mount(2) flags as `UInt` (Glibc imports `MS_*` as `Int`).
public enum MountFlags {
    public static let readOnly = UInt(MS_RDONLY)
    public static let noSuid = UInt(MS_NOSUID)
    public static let noDev = UInt(MS_NODEV)
    public static let noExec = UInt(MS_NOEXEC)
    public static let remount = UInt(MS_REMOUNT)
    public static let bind = UInt(MS_BIND)
    public static let recursive = UInt(MS_REC)
    public static let privatePropagation = UInt(MS_PRIVATE)
    public static let slave = UInt(MS_SLAVE)
    public static let shared = UInt(MS_SHARED)
    public static let strictAtime = UInt(MS_STRICTATIME)
    public static let relatime = UInt(MS_RELATIME)
    public static let noAtime = UInt(MS_NOATIME)
}

public enum Mounts {
    /// mount(2) with an error that names source, target, type and data.
    public static func mount(
        source: String, target: String, type: String?, flags: UInt, data: String? = nil,
        displayTarget: String? = nil
    ) throws {
        let (_, code) = Sys.attempt { () -> Int32 in
            if let data {
                return data.withCString { dataPointer in
                    Glibc.mount(source, target, type, flags, UnsafeRawPointer(dataPointer))
                }
            }
            return Glibc.mount(source, target, type, flags, nil)
        }
        if code != 0 {
            var what = "mount \(source)"
            if let type, type != source { what += " (type \(type))" }
            let shown = displayTarget ?? target
            var path = "on \(shown)"
            if let data, !data.isEmpty { path += " with \(data)" }
            throw SystemError(what, path: path, errno: code)
        }
    }

    /// mount(8)-style options (moby/sys/mount `parseOptions`): the words that are mount
    /// flags set or clear bits of `flags`, everything else is the file system's data, in
    /// order.
    public static func parseOptions(_ options: String, flags initial: UInt = 0) -> (flags: UInt, data: String) {
        var flags = initial
        var data: [String] = []
        let set: [String: UInt] = [
            "ro": MountFlags.readOnly, "bind": MountFlags.bind, "rbind": MountFlags.bind | MountFlags.recursive,
            "nosuid": MountFlags.noSuid, "nodev": MountFlags.noDev, "noexec": MountFlags.noExec,
            "noatime": MountFlags.noAtime, "relatime": MountFlags.relatime, "strictatime": MountFlags.strictAtime,
            "sync": UInt(MS_SYNCHRONOUS), "dirsync": UInt(MS_DIRSYNC), "nodiratime": UInt(MS_NODIRATIME),
        ]
        let clear: [String: UInt] = [
            "rw": MountFlags.readOnly, "suid": MountFlags.noSuid, "dev": MountFlags.noDev, "exec": MountFlags.noExec,
        ]
        for option in options.split(separator: ",").map(String.init) where !option.isEmpty {
            if let bits = set[option] {
                flags |= bits
            } else if let bits = clear[option] {
                flags &= ~bits
            } else if !["defaults", "async", "atime", "diratime", "auto", "noauto"].contains(option) {
                data.append(option)
            }
        }
        return (flags, data.joined(separator: ","))
    }

    public static func unmount(_ target: String, detach: Bool = true) throws {
        _ = try Sys.check("umount", path: target) { umount2(target, detach ? Int32(MNT_DETACH) : 0) }
    }

    /// `statfs` flags of the mount holding `path`, mapped to `MS_*` bits that a bind
    /// remount must keep (nosuid, nodev, noexec, noatime, ...), as runc does.
    public static func lockedFlags(of path: String) -> UInt {
        let flags = berth_statfs_flags(path)
        if flags < 0 { return 0 }
        var out: UInt = 0
        let st = UInt(flags)
        // ST_* values from <sys/statvfs.h> (the GNU ones are not imported without _GNU_SOURCE).
        if st & 2 != 0 { out |= MountFlags.noSuid }
        if st & 4 != 0 { out |= MountFlags.noDev }
        if st & 8 != 0 { out |= MountFlags.noExec }
        if st & 1024 != 0 { out |= MountFlags.noAtime }
        if st & 4096 != 0 { out |= MountFlags.relatime }
        if st & 1 != 0 { out |= MountFlags.readOnly }
        return out
    }

    /// Mount points from /proc/self/mountinfo (field 5), for leak checks and cgroup discovery.
    public static func mountInfo(path: String = "/proc/self/mountinfo") throws -> [MountInfo] {
        let text = try FS.readString(path)
        return MountInfo.parse(text)
    }
}

/// One line of /proc/self/mountinfo.
public struct MountInfo: Sendable, Equatable {
    public var root: String
    public var mountPoint: String
    public var fsType: String
    public var source: String
    public var superOptions: [String]

    public init(root: String, mountPoint: String, fsType: String, source: String, superOptions: [String]) {
        self.root = root
        self.mountPoint = mountPoint
        self.fsType = fsType
        self.source = source
        self.superOptions = superOptions
    }

    public static func parse(_ text: String) -> [MountInfo] {
        var out: [MountInfo] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard let dash = fields.firstIndex(of: "-"), dash >= 6, fields.count > dash + 3 else { continue }
            out.append(MountInfo(
                root: unescape(fields[3]), mountPoint: unescape(fields[4]),
                fsType: String(fields[dash + 1]), source: String(fields[dash + 2]),
                superOptions: fields[dash + 3].split(separator: ",").map(String.init)))
        }
        return out
    }

    /// mountinfo escapes space, tab, newline and backslash as `\ooo`.
    static func unescape(_ field: Substring) -> String {
        guard field.contains("\\") else { return String(field) }
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "\\"), i + 4 <= utf8.count {
                let digits = utf8[(i + 1)..<(i + 4)]
                if let value = UInt8(String(decoding: digits, as: UTF8.self), radix: 8) {
                    bytes.append(value)
                    i += 4
                    continue
                }
            }
            bytes.append(utf8[i])
            i += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
