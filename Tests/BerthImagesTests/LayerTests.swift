import BerthSystem
import CBerthSys
import Foundation
import Testing
@testable import BerthImages

@Suite("layer unpacking", .enabled(if: isRoot, rootReason))
struct LayerTests {
    /// security.capability v2 with cap_net_bind_service in permitted + effective.
    static let capability: [UInt8] = [0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00] + [UInt8](repeating: 0, count: 12)

    @Test func attributesSurvive() throws {
        let scratch = try Scratch("attrs")
        let layer = try scratch.directory("layer")
        let tar = TarBuilder()
            .directory("./", mode: 0o755)
            .directory("usr/bin", mode: 0o750, uid: 1000, gid: 1001, mtime: 1_600_000_000)
            .file("usr/bin/su", "su", mode: 0o4755, uid: 0, gid: 0)
            .file("usr/bin/ping", "ping", mode: 0o755, xattrs: [("security.capability", Self.capability), ("user.note", Array("hi".utf8))])
            .file("usr/bin/owned", "x", mode: 0o2711, uid: 1000, gid: 1001, mtime: 1_500_000_000)
            .hardlink("usr/bin/su-again", to: "usr/bin/su")
            .symlink("usr/bin/sh", to: "/bin/busybox", uid: 1000)
            .device("dev/null", character: true, major: 1, minor: 3)
            .device("dev/loop9", character: false, major: 7, minor: 9, mode: 0o660)
            .fifo("run/fifo")
            .file("implicit/parents/file", "deep")
            .file("shared", "w", mode: 0o666)
            .directory("drop", mode: 0o1777)
            .directory("group", mode: 0o2775)
            .build()
        let result = try unpack(tar, into: layer)
        #expect(result.diffID == Digest.of(tar))
        #expect(result.digest == Digest.of(tar))
        #expect(result.compressedSize == Int64(tar.count))
        #expect(result.contentSize == 2 + 4 + 1 + 4 + 1)
        // Modes the umask would have cut, and bits mkdir does not set.
        #expect(lstatOf(layer + "/shared")?.st_mode == S_IFREG | 0o666)
        #expect(lstatOf(layer + "/drop")?.st_mode == S_IFDIR | 0o1777)
        #expect(lstatOf(layer + "/group")?.st_mode == S_IFDIR | 0o2775)

        let su = try #require(lstatOf(layer + "/usr/bin/su"))
        #expect(su.st_mode == S_IFREG | 0o4755)
        #expect(su.st_nlink == 2)
        #expect(lstatOf(layer + "/usr/bin/su-again")?.st_ino == su.st_ino)
        let owned = try #require(lstatOf(layer + "/usr/bin/owned"))
        #expect(owned.st_mode == S_IFREG | 0o2711)
        #expect(owned.st_uid == 1000 && owned.st_gid == 1001)
        #expect(owned.st_mtim.tv_sec == 1_500_000_000 && owned.st_mtim.tv_nsec == 500)
        #expect(xattr(layer + "/usr/bin/ping", "security.capability") == Self.capability)
        #expect(xattr(layer + "/usr/bin/ping", "user.note") == Array("hi".utf8))
        let bin = try #require(lstatOf(layer + "/usr/bin"))
        #expect(bin.st_mode == S_IFDIR | 0o750)
        #expect(bin.st_uid == 1000 && bin.st_gid == 1001)
        #expect(bin.st_mtim.tv_sec == 1_600_000_000)
        let link = try #require(lstatOf(layer + "/usr/bin/sh"))
        #expect(link.st_mode & S_IFMT == S_IFLNK)
        #expect(link.st_uid == 1000)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: layer + "/usr/bin/sh") == "/bin/busybox")
        let null = try #require(lstatOf(layer + "/dev/null"))
        #expect(null.st_mode == S_IFCHR | 0o666)
        #expect(berth_major(UInt64(null.st_rdev)) == 1 && berth_minor(UInt64(null.st_rdev)) == 3)
        let loop = try #require(lstatOf(layer + "/dev/loop9"))
        #expect(loop.st_mode == S_IFBLK | 0o660)
        #expect(lstatOf(layer + "/run/fifo")?.st_mode == S_IFIFO | 0o600)
        #expect(contents(layer + "/implicit/parents/file") == "deep")
        #expect(lstatOf(layer + "/implicit/parents")?.st_mode == S_IFDIR | 0o755)
    }

    @Test(arguments: [TarBuilder.Compression.gzip, .zstd, .none])
    func compressedStreamsGiveTheSameTreeAndDiffID(_ compression: TarBuilder.Compression) throws {
        let scratch = try Scratch("z")
        let builder = TarBuilder().directory("etc").file("etc/hostname", "box\n").file("big", String(repeating: "0123456789", count: 300_000))
        let plain = builder.build()
        let packed = builder.build(compression)
        let result = try unpack(packed, into: try scratch.directory("layer"))
        #expect(result.diffID == Digest.of(plain))
        #expect(result.digest == Digest.of(packed))
        #expect(compression == .none || packed.count < plain.count / 10)
        #expect(contents(scratch.path + "/layer/etc/hostname") == "box\n")
        #expect(lstatOf(scratch.path + "/layer/big")?.st_size == 3_000_000)
    }

    @Test func whiteoutsAndOpaqueDirectoriesInTheMergedView() throws {
        let scratch = try Scratch("wh")
        let lower = try scratch.directory("lower")
        let upper = try scratch.directory("upper")
        let merged = try scratch.directory("merged")
        _ = try unpack(TarBuilder()
            .directory("a").file("a/x", "x").file("a/y", "y")
            .directory("b").file("b/old1", "1").directory("b/sub").file("b/sub/old2", "2")
            .file("c", "c").directory("d").file("d/keep", "k")
            .build(), into: lower)
        _ = try unpack(TarBuilder()
            .file("a/.wh.x", uid: 7, gid: 8)
            .file("b/new", "n")
            .file("b/.wh..wh..opq")           // after a sibling: still applies to the whole dir
            .file(".wh.c")
            .file("d/.wh..wh.plnk")           // other meta files are ignored
            .build(), into: upper)
        // The overlay form on disk.
        let whiteout = try #require(lstatOf(upper + "/a/x"))
        #expect(whiteout.st_mode & S_IFMT == S_IFCHR && whiteout.st_rdev == 0)
        #expect(whiteout.st_uid == 7 && whiteout.st_gid == 8)
        #expect(lstatOf(upper + "/a/.wh.x") == nil)
        #expect(xattr(upper + "/b", "trusted.overlay.opaque") == [UInt8(ascii: "y")])
        #expect(lstatOf(upper + "/b/.wh..wh..opq") == nil)
        #expect(listing(upper + "/d") == [])

        try Mounts.mount(source: "overlay", target: merged, type: "overlay", flags: MountFlags.readOnly, data: "lowerdir=\(upper):\(lower)")
        defer { try? Mounts.unmount(merged) }
        #expect(listing(merged) == ["a", "b", "d"])
        #expect(listing(merged + "/a") == ["y"])
        #expect(listing(merged + "/b") == ["new"])
        #expect(listing(merged + "/d") == ["keep"])
        #expect(contents(merged + "/b/new") == "n")
    }

    @Test func aFileOverADirectoryReplacesItAndADirectoryOverADirectoryKeepsIt() throws {
        let scratch = try Scratch("over")
        let layer = try scratch.directory("layer")
        _ = try unpack(TarBuilder()
            .directory("d", mode: 0o700).file("d/child", "c")
            .directory("d", mode: 0o751)
            .directory("e").file("e/child", "c")
            .file("e", "now a file")
            .file("f", "first").file("f", "second")
            .build(), into: layer)
        #expect(lstatOf(layer + "/d")?.st_mode == S_IFDIR | 0o751)
        #expect(contents(layer + "/d/child") == "c")
        #expect(contents(layer + "/e") == "now a file")
        #expect(contents(layer + "/f") == "second")
    }

    @Test func namesNeedNotBeUTF8() throws {
        let scratch = try Scratch("utf")
        let layer = try scratch.directory("layer")
        let name: [UInt8] = Array("caf".utf8) + [0xE9] + Array(".txt".utf8)
        _ = try unpack(TarBuilder().rawFile(name, "latin-1").build(), into: layer)
        let path = Array(layer.utf8) + [UInt8(ascii: "/")] + name + [0]
        var st = stat()
        let found = path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { lstat($0.baseAddress!, &st) } }
        #expect(found == 0 && st.st_size == 7)
    }

    @Test func corruptStreamsAreClearErrors() throws {
        let scratch = try Scratch("bad")
        var gz = TarBuilder().file("a", String(repeating: "a", count: 100_000)).build(.gzip)
        gz[gz.count / 2] ^= 0xFF
        #expect {
            try unpack(gz, into: try scratch.directory("l1"), layer: "sha256:abc")
        } throws: { error in
            "\(error)".hasPrefix("layer sha256:abc: ")
        }
        let truncated = Array(TarBuilder().file("a", String(repeating: "a", count: 100_000)).build().prefix(5000))
        #expect(throws: ImageError.self) { try unpack(truncated, into: try scratch.directory("l2")) }
    }
}

@Suite("layer safety", .enabled(if: isRoot, rootReason))
struct LayerSafetyTests {
    /// Unpacks a hostile layer next to an `outside` directory and checks the refusal text and
    /// that nothing appeared outside the layer.
    func refuse(_ tar: TarBuilder, entry: String, why: String) throws {
        let scratch = try Scratch("evil")
        let outside = try scratch.directory("outside")
        try FS.write(outside + "/passwd", Array("root:x:0:0\n".utf8))
        let layer = try scratch.directory("base/layer")
        #expect(throws: ImageError.layerRejected(layer: "evil", entry: entry, why: why)) {
            try unpack(tar.build(), into: layer, layer: "evil")
        }
        #expect(tree(outside) == ["/passwd"])
        #expect(contents(outside + "/passwd") == "root:x:0:0\n")
        #expect(listing(scratch.path) == ["base", "outside"])
        #expect(listing(scratch.path + "/base") == ["layer"])
    }

    @Test func dotDotEntries() throws {
        try refuse(TarBuilder().file("../../outside/passwd", "pwned"), entry: "../../outside/passwd", why: "the path contains '..' and would reach outside the layer")
        try refuse(TarBuilder().file("a/../../x", "pwned"), entry: "a/../../x", why: "the path contains '..' and would reach outside the layer")
        try refuse(TarBuilder().directory("../sneaky"), entry: "../sneaky/", why: "the path contains '..' and would reach outside the layer")
    }

    @Test func writesThroughSymlinksThatLeave() throws {
        let scratch = try Scratch("abs")
        let outside = scratch.path  // the absolute target exists: a write through it would land there
        try refuse(TarBuilder().symlink("etc", to: outside).file("etc/passwd", "pwned"),
                   entry: "etc/passwd", why: "parent etc goes through a symlink that leaves the layer")
        try refuse(TarBuilder().symlink("up", to: "../../outside").file("up/passwd", "pwned"),
                   entry: "up/passwd", why: "parent up goes through a symlink that leaves the layer")
        try refuse(TarBuilder().symlink("root", to: "/").file("root/tmp/x", "pwned"),
                   entry: "root/tmp/x", why: "parent root/tmp goes through a symlink that leaves the layer")
        try refuse(TarBuilder().symlink("e", to: outside).file("e/.wh..wh..opq"),
                   entry: "e/.wh..wh..opq", why: "parent e goes through a symlink that leaves the layer")
        try refuse(TarBuilder().symlink("e", to: outside).file("e/.wh.passwd"),
                   entry: "e/.wh.passwd", why: "parent e goes through a symlink that leaves the layer")
    }

    @Test func hardlinksToOutside() throws {
        try refuse(TarBuilder().hardlink("h", to: "../outside/passwd"),
                   entry: "h", why: "hardlink target ../outside/passwd is outside the layer")
        try refuse(TarBuilder().hardlink("h", to: "/etc/passwd"),
                   entry: "h", why: "hardlink target etc/passwd: parent etc does not exist in the layer")
        try refuse(TarBuilder().file("x", "x").hardlink("h", to: "nothing"),
                   entry: "h", why: "hardlink target nothing does not exist in the layer")
        try refuse(TarBuilder().symlink("l", to: "/etc").hardlink("h", to: "l/passwd"),
                   entry: "h", why: "hardlink target l/passwd: parent l goes through a symlink that leaves the layer")
    }

    @Test func symlinksInsideTheLayerStayUsable() throws {
        // Relative links that stay beneath the root are followed for parents (as containerd).
        let scratch = try Scratch("rel")
        let layer = try scratch.directory("layer")
        _ = try unpack(TarBuilder().directory("usr/lib").symlink("lib", to: "usr/lib").file("lib/x.so", "elf").build(), into: layer)
        #expect(contents(layer + "/usr/lib/x.so") == "elf")
    }

    @Test func overlayXattrsFromTheTarAreDropped() throws {
        let scratch = try Scratch("xa")
        let layer = try scratch.directory("layer")
        _ = try unpack(TarBuilder().file("f", "x", xattrs: [("trusted.overlay.redirect", Array("/etc".utf8))]).build(), into: layer)
        #expect(xattr(layer + "/f", "trusted.overlay.redirect") == nil)
    }
}
