#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import CBerthSys

/// Docker's copy-up: when a container mounts an empty volume, the image's content at the
/// mount point is copied into it first (with owner, modes, xattrs, symlinks, hard links), and
/// the volume's root takes the owner and mode of that directory (moby `copyExistingContents`
/// + `copyOwnership`: an empty `/var/lib/postgresql/data` owned by postgres makes the
/// volume postgres's). A volume with anything in it is never touched.
///
/// ## Where the image's content is read
/// In the container's own mount phase, from its rootfs overlay as mounted at that moment
/// (after the rootfs, before the user mounts are bound on top of it): the kernel's overlayfs
/// has already applied the layers' whiteouts and opaque directories, so the copy sees
/// exactly what the container would see at that path — as Docker reads it from the
/// container's mounted rootfs. Reading the layer directories by hand would mean
/// re-implementing whiteouts (`c 0:0` devices, `trusted.overlay.opaque`), and a temporary
/// read-only overlay elsewhere would cost a mount and a mount point per start. The path is
/// resolved inside the rootfs (`RESOLVE_IN_ROOT`) and the walk never follows a symlink, so
/// an image cannot make the copy read host files.
///
/// ## Concurrency and crashes
/// The copy runs under an exclusive `flock` of the volume's data directory: two containers
/// starting at once on one empty volume copy once. A marker file `<volume>/copy-up` is made
/// durable before the first byte is copied and removed after the last: a copy cut short
/// (an error here, or SIGKILL / power loss) is recognised at the next start by its marker,
/// and the half-filled volume is emptied and copied again instead of being taken for the
/// user's data.
struct VolumeCopyUp {
    let volume: ContainerSpec.Volume
    /// The volume's `_data`, open for reading.
    let data: Int32

    var marker: String { volume.directory + "/copy-up" }

    func run(from root: RootfsFD, destination: String) throws {
        _ = try Sys.check("flock", path: volume.data) { flock(data, LOCK_EX) }
        defer { _ = flock(data, LOCK_UN) }
        let interrupted = FS.exists(marker)
        if !interrupted {
            guard try TreeCopy.isEmpty(directory: data) else { return }
        }
        guard let source = try root.openDirectory(destination) else {
            if interrupted { try clear() }
            return
        }
        defer { _ = close(source) }
        if interrupted { try clear() }
        try writeMarker()
        do {
            try TreeCopy.copyContents(from: source, to: data, display: "copy-up of \(destination) into volume \(volume.name)")
        } catch {
            // Leave the volume as empty as it was, so that the next start copies again.
            try? clear()
            throw RuntimeError("volume \(volume.name): \(error); set volume.nocopy: true to mount it without copying the image's \(destination)")
        }
        // The copy must be on disk before the marker's removal is: otherwise a power cut
        // could keep a half copy and lose the marker that says so. Once per volume.
        _ = berth_syncfs(data)
        _ = unlink(marker)
        syncVolumeDirectory()
    }

    private func writeMarker() throws {
        try FS.writeAtomically(marker, Array("copy-up in progress: an unfinished copy is redone at the next start\n".utf8), mode: 0o600)
        syncVolumeDirectory()
    }

    private func syncVolumeDirectory() {
        let directory = open(volume.directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            _ = fsync(directory)
            _ = close(directory)
        }
    }

    /// Removes everything in the volume's data directory (which was empty when the copy
    /// began), then the marker.
    private func clear() throws {
        try TreeCopy.removeContents(of: data, display: volume.data)
        _ = unlink(marker)
    }
}
