#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// The first process of a pod's infra (`ContainerSpec.infra`; Kubernetes' pause container):
/// it holds the namespaces it was cloned or set into — network, IPC, UTS for the pod's
/// members to join — and nothing else. It pivots into an empty tmpfs (so that it pins none
/// of the host's mounts), sits in its cgroup, names its UTS namespace, drops every
/// capability and closes every inherited descriptor, reports success as an exec would (EOF
/// on the error pipe), then sleeps until SIGTERM or SIGINT and exits 0.
enum InfraInit {
    static func run(_ c: InitContext, cgroupRoots: [Int32]) throws -> Never {
        let spec = c.spec
        retitle(spec.process.args.first ?? "pause")
        try Mounts.mount(source: "none", target: "/", type: nil, flags: MountFlags.slave | MountFlags.recursive, displayTarget: "/ (make rslave)")
        try Mounts.mount(
            source: "infra", target: c.rootfs, type: "tmpfs", flags: MountFlags.noSuid | MountFlags.noDev | MountFlags.noExec | MountFlags.readOnly,
            data: "mode=555,size=4k")
        try FinalizeRootfs.pivot(into: c.rootfs)

        _ = try ContainerInit.receiveGo(c.syncRead)  // no seccomp program: it runs nothing
        if !c.bornInCgroup { try c.cgroup.attachSelf(rootFDs: cgroupRoots) }
        cgroupRoots.forEach { close($0) }
        try ContainerInit.nameAndLoopback(spec)
        _ = try Sys.check("capset") { berth_capset(0, 0, 0) }

        // The monitor blocked these before clone, so none is lost; they end the sleep.
        let signals: [Int32] = [SIGTERM, SIGINT]
        let signalFD = try Sys.check("signalfd") { signals.withUnsafeBufferPointer { berth_signalfd($0.baseAddress, Int32($0.count)) } }
        for fd in Int32(3)..<Int32(max(3, signalFD)) where fd != c.errorWrite { close(fd) }
        _ = berth_close_range(UInt32(signalFD) + 1)
        close(c.errorWrite)  // "exec succeeded"
        while true {
            var entry = pollfd(fd: signalFD, events: Int16(POLLIN), revents: 0)
            if poll(&entry, 1, -1) < 0 && errno != EINTR { _exit(1) }
            let received = berth_signalfd_read(signalFD)
            if received == SIGTERM || received == SIGINT { _exit(0) }
        }
    }

    /// Its command line reads `title` (`top`, `ps`), not the monitor's it was cloned from: the
    /// argument area is overwritten as setproctitle(3) does — the title, NULs, and a last byte
    /// that is not NUL, which makes the kernel show the area up to the first NUL.
    static func retitle(_ title: String) {
        let argc = Int(CommandLine.argc)
        guard argc > 0, let first = CommandLine.unsafeArgv[0], let last = CommandLine.unsafeArgv[argc - 1] else { return }
        let end = last + strlen(last)  // the last argument's NUL: the area's last byte
        let size = end - first
        let bytes = Array(title.utf8)
        guard size > bytes.count + 1 else { return }
        memset(first, 0, size)
        bytes.withUnsafeBufferPointer { buffer in
            for (index, byte) in buffer.enumerated() { first[index] = CChar(bitPattern: byte) }
        }
        end.pointee = 0x20
    }
}
