/// Linux capabilities by name, Docker's default set, and cap_add/cap_drop handling
/// (moby `caps.TweakCapabilities`).
public enum Capabilities {
    /// Index = capability number (linux/capability.h), up to CAP_CHECKPOINT_RESTORE (40).
    public static let names: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
        "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
        "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
        "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
        "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
        "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
        "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// moby `DefaultCapabilities()` (SEMANTICS.md §2a): 14 capabilities.
    public static let dockerDefault: [String] = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
        "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]

    /// `chown`, `CHOWN`, `cap_chown` → `CAP_CHOWN`; `ALL` stays `ALL`.
    public static func normalize(_ name: String) -> String {
        let upper = name.uppercased()
        if upper == "ALL" { return upper }
        return upper.hasPrefix("CAP_") ? upper : "CAP_" + upper
    }

    public static func number(_ name: String) -> Int? {
        names.firstIndex(of: normalize(name))
    }

    public static func mask(_ set: [String]) -> UInt64 {
        var mask: UInt64 = 0
        for name in set {
            if let n = number(name) { mask |= 1 << UInt64(n) }
        }
        return mask
    }

    public static func namesOf(mask: UInt64) -> [String] {
        names.enumerated().filter { mask & (1 << UInt64($0.offset)) != 0 }.map(\.element)
    }

    public struct UnknownCapability: Error, CustomStringConvertible, Equatable {
        public var name: String
        public var description: String {
            "unknown capability \"\(name)\": use a name such as CAP_NET_ADMIN or NET_ADMIN (see capabilities(7)), or ALL"
        }
    }

    /// The effective set for a container, exactly moby `TweakCapabilities`: privileged →
    /// all; `cap_add: [ALL]` → all minus `cap_drop`; `cap_drop: [ALL]` → only `cap_add`;
    /// otherwise (defaults − `cap_drop`) + `cap_add`. `lastCap` bounds "all" to what the
    /// kernel knows.
    public static func effective(
        add: [String], drop: [String], privileged: Bool, lastCap: Int = 40
    ) throws(UnknownCapability) -> UInt64 {
        let all: UInt64 = lastCap >= 63 ? ~0 : (UInt64(1) << UInt64(lastCap + 1)) - 1
        if privileged { return all }
        let add = add.map(normalize)
        let drop = drop.map(normalize)
        for name in add + drop where name != "ALL" && number(name) == nil {
            throw UnknownCapability(name: name)
        }
        if add.contains("ALL") { return all & ~mask(drop) }
        if drop.contains("ALL") { return mask(add) & all }
        return ((mask(dockerDefault) & ~mask(drop)) | mask(add)) & all
    }
}
