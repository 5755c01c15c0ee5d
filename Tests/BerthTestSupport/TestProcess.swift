import BerthSystem
import Foundation

/// Helpers shared by the test targets that run the built `berth` binary and busybox
/// containers (BerthRuntimeTests, BerthNetworkTests).

/// The built `berth` binary: $BERTH_BINARY, else next to the test bundle (.build/<config>/).
public let berthBinary: String = {
    if let path = ProcessInfo.processInfo.environment["BERTH_BINARY"], !path.isEmpty { return path }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // The xctest bundle may be a directory (…/berthPackageTests.xctest/…) on some setups.
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("berth").path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("berth").path
}()

public struct RunOutput: Sendable {
    public var code: Int32
    public var stdout: String
    public var stderr: String
}

public enum TestProcess {
    /// Runs `argv` to completion with `stdin` (or /dev/null) and returns its exit code (128 +
    /// signal when killed) and output.
    public static func spawn(_ argv: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> RunOutput {
        let process = Process()
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let out = Foundation.Pipe(), err = Foundation.Pipe()
        process.standardOutput = out
        process.standardError = err
        if let stdin {
            let input = Foundation.Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        // Read both pipes to EOF (stderr on a helper thread so that neither can fill up).
        let errBox = DataBox()
        let errThread = Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); errBox.done.signal() }
        errThread.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        errBox.done.wait()
        process.waitUntilExit()
        let code = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return RunOutput(code: code, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// A busybox-static rootfs at `rootfs`: the given directories, /bin/busybox and its applet
    /// links (installed from inside, so the links are not host paths).
    public static func makeBusyboxRootfs(_ rootfs: String, directories: [String]) throws {
        let fm = FileManager.default
        for dir in ["bin"] + directories {
            try fm.createDirectory(atPath: rootfs + "/" + dir, withIntermediateDirectories: true)
        }
        // Written through a close-on-exec fd: a writable fd inherited by a process another test
        // spawns at that moment would make exec of the copy fail with ETXTBSY. The fork of
        // such a spawn can still hold it for an instant, hence the retries.
        try FS.write(rootfs + "/bin/busybox", try FS.read("/bin/busybox", limit: 64 << 20), mode: 0o755)
        var install = try spawn(["/usr/sbin/chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin"])
        for _ in 0..<20 where install.code != 0 && install.stderr.contains("Text file busy") {
            install = try spawn(["/usr/sbin/chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin"])
        }
        guard install.code == 0 else { throw TestSupportError("busybox --install failed: \(install.stderr)") }
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

final class DataBox: @unchecked Sendable {
    var data = Data()
    let done = DispatchSemaphore(value: 0)
}
