import Foundation
import Testing
@testable import BerthNetwork

/// Root-tier gate: real links, namespaces and nftables need root (and `nft` for the firewall).
let isRoot: Bool = getuid() == 0
let rootGateReason: Comment = "needs root (creates bridges, veth pairs and network namespaces)"

/// A short random prefix for kernel object names (interface names are limited to 15 bytes).
func randomPrefix() -> String {
    "t" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
}

/// A scratch directory removed at the end of the test.
func scratchDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "berth-net-" + randomPrefix()
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
