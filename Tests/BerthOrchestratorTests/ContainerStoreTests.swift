import Foundation
import Testing
import CBerthSys
@testable import BerthOrchestrator

@Suite("container store") struct ContainerStoreTests {
    /// `<root>/containers` spreads its subdirectories over ext4's block groups (`chattr +T`):
    /// see `FS.makeSpreadDirectory`. Only ext2/3/4 have the flag.
    @Test func theContainersDirectoryIsMarkedAsATopDirectory() throws {
        let r = try VolumeRoot()
        let ext4Magic: Int64 = 0xEF53
        try #require(berth_statfs_type(r.root) == ext4Magic, "the temporary directory \(r.root) is not on ext2/3/4")
        try r.container("a1", using: [])
        let lsattr = Process()
        lsattr.executableURL = URL(fileURLWithPath: "/usr/bin/lsattr")
        lsattr.arguments = ["-d", r.root + "/containers"]
        let pipe = Pipe()
        lsattr.standardOutput = pipe
        try lsattr.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        lsattr.waitUntilExit()
        let flags = output.split(separator: " ").first.map(String.init) ?? ""
        #expect(lsattr.terminationStatus == 0 && flags.contains("T"), "lsattr: \(output)")
        // The container itself was created as before.
        #expect(try ContainerStore(root: r.root).record("a1").name == "c-a1")
    }
}
