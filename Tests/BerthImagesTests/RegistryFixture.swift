import BerthSystem
import Foundation
import Synchronization
import Testing
@testable import BerthImages

let haveRegistryTools = FileManager.default.isExecutableFile(atPath: "/usr/bin/docker-registry")
    && FileManager.default.isExecutableFile(atPath: "/usr/bin/skopeo")
let registryReason: Comment = "needs Debian's docker-registry and skopeo (make deps)"

/// Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with a private storage
/// directory, started by the test and killed by PID when the fixture goes away.
final class RegistryFixture: @unchecked Sendable {
    enum Auth {
        case none
        case htpasswd(user: String, password: String)
        case token(realm: String, service: String, issuer: String, certificate: String)
        case tls(certificate: String, key: String)
    }

    let scratch: Scratch
    let auth: Auth
    private(set) var port = 0
    private var process: Process?
    private let log = LogBox()

    init(auth: Auth = .none, port: Int = 0) throws {
        scratch = try Scratch("registry")
        self.auth = auth
        try start(port: port)
    }

    deinit { kill() }

    var domain: String { "127.0.0.1:\(port)" }
    var logText: String { log.text.withLock { $0 } }

    /// Starts the registry and returns once it logged that it listens (its port then known).
    func start(port requested: Int = 0) throws {
        var httpSection = "http:\n  addr: 127.0.0.1:\(requested)\n  secret: berth-test\n"
        var authSection = ""
        switch auth {
        case .none:
            break
        case .htpasswd(let user, let password):
            let file = scratch.path + "/htpasswd"
            let made = try run(["/usr/bin/htpasswd", "-Bbc", file, user, password])
            guard made.code == 0 else { throw FixtureError("htpasswd: \(made.stderr)") }
            authSection = "auth:\n  htpasswd:\n    realm: berth-test\n    path: \(file)\n"
        case .token(let realm, let service, let issuer, let certificate):
            authSection = "auth:\n  token:\n    realm: \(realm)\n    service: \(service)\n    issuer: \(issuer)\n    rootcertbundle: \(certificate)\n"
        case .tls(let certificate, let key):
            httpSection += "  tls:\n    certificate: \(certificate)\n    key: \(key)\n"
        }
        let config = """
            version: 0.1
            log:
              level: info
              formatter: text
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: \(scratch.path)/data
              delete:
                enabled: true
            \(httpSection)\(authSection)
            """
        try config.write(toFile: scratch.path + "/config.yml", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/docker-registry")
        process.arguments = ["serve", scratch.path + "/config.yml"]
        let pipe = Foundation.Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        self.process = process
        // Read the log until "listening on 127.0.0.1:PORT" (or the process ends), then keep
        // draining it on a thread so the registry never blocks on a full pipe.
        let fd = pipe.fileHandleForReading.fileDescriptor
        var text = ""
        let deadline = Clock.monotonicNanoseconds() + 30_000_000_000
        while Self.listeningPort(text) == nil {
            var waiter = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(0, (deadline - Clock.monotonicNanoseconds()) / 1_000_000))
            guard left > 0, poll(&waiter, 1, left) > 0 else { break }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            text += String(decoding: chunk[0..<n], as: UTF8.self)
        }
        log.text.withLock { $0 += text }
        guard let port = Self.listeningPort(text) else {
            kill()
            throw FixtureError("docker-registry did not start:\n\(text)")
        }
        self.port = port
        let handle = pipe.fileHandleForReading
        let log = self.log
        Thread {
            while true {
                let data = handle.availableData
                if data.isEmpty { return }
                log.text.withLock { $0 += String(decoding: data, as: UTF8.self) }
            }
        }.start()
    }

    /// The port of a complete `listening on 127.0.0.1:PORT` log line.
    static func listeningPort(_ text: String) -> Int? {
        guard let range = text.range(of: "listening on 127.0.0.1:") else { return nil }
        let rest = text[range.upperBound...]
        guard rest.contains("\n") else { return nil }
        return Int(rest.prefix(while: { $0.isNumber }))
    }

    /// SIGKILL by PID and reap.
    func kill() {
        guard let process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    var pid: Int32? { process?.processIdentifier }

    /// `skopeo copy` of an OCI layout's tag into this registry (digests preserved).
    func push(layout: String, tag: String, as name: String, all: Bool = false, credentials: String? = nil) throws {
        var arguments = ["/usr/bin/skopeo", "--insecure-policy", "copy", "-q", "--preserve-digests", "--dest-tls-verify=false"]
        if all { arguments.append("--all") }
        if let credentials { arguments += ["--dest-creds", credentials] }
        if case .tls = auth { arguments += ["--dest-cert-dir", scratch.path + "/none"] }
        arguments += ["oci:\(layout):\(tag)", "docker://\(domain)/\(name)"]
        let result = try run(arguments)
        guard result.code == 0 else { throw FixtureError("skopeo copy failed: \(result.stderr)") }
    }
}

final class LogBox: Sendable {
    let text = Mutex<String>("")
}

/// Writes OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`) for skopeo.
enum OCILayout {
    static func write(_ image: TestImage, to directory: String, tag: String) throws {
        try writeBlobs(image, to: directory)
        try writeIndex(directory, entries: [(MediaType.ociManifest, image.manifestDigest, image.manifestBytes.count, tag)])
    }

    /// Several platform images behind one image index tagged `tag`.
    static func write(index images: [(TestImage, Platform)], to directory: String, tag: String, extra: [Descriptor] = []) throws -> (bytes: [UInt8], digest: Digest) {
        for (image, _) in images { try writeBlobs(image, to: directory) }
        var descriptors = images.map { image, platform in
            Descriptor(mediaType: MediaType.ociManifest, digest: image.manifestDigest, size: Int64(image.manifestBytes.count), platform: platform)
        }
        descriptors += extra
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let bytes = Array(try encoder.encode(ImageIndex(manifests: descriptors)))
        try blob(bytes, in: directory)
        try writeIndex(directory, entries: [(MediaType.ociIndex, Digest.of(bytes), bytes.count, tag)])
        return (bytes, Digest.of(bytes))
    }

    static func writeBlobs(_ image: TestImage, to directory: String) throws {
        for bytes in image.layers + [image.configBytes, image.manifestBytes] { try blob(bytes, in: directory) }
    }

    static func blob(_ bytes: [UInt8], in directory: String) throws {
        try FS.makeDirectories(directory + "/blobs/sha256")
        try FS.write(directory + "/blobs/sha256/" + Digest.of(bytes).encoded, bytes)
    }

    static func writeIndex(_ directory: String, entries: [(String, Digest, Int, String)]) throws {
        try FS.write(directory + "/oci-layout", Array("{\"imageLayoutVersion\":\"1.0.0\"}".utf8))
        let manifests = entries.map { type, digest, size, tag in
            "{\"mediaType\":\"\(type)\",\"digest\":\"\(digest)\",\"size\":\(size),\"annotations\":{\"org.opencontainers.image.ref.name\":\"\(tag)\"}}"
        }
        try FS.write(directory + "/index.json", Array("{\"schemaVersion\":2,\"manifests\":[\(manifests.joined(separator: ","))]}".utf8))
    }
}

struct ProcessOutput {
    var code: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to the end, capturing its output.
func run(_ argv: [String], environment: [String: String]? = nil, stdin: [UInt8]? = nil) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: argv[0])
    process.arguments = Array(argv.dropFirst())
    if let environment { process.environment = environment }
    let out = Foundation.Pipe(), err = Foundation.Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Foundation.Pipe()
    process.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try process.run()
    if let stdin {
        let writer = input.fileHandleForWriting
        Thread { writer.write(Data(stdin)); try? writer.close() }.start()
    }
    let errData = Mutex<Data>(Data())
    let done = DispatchSemaphore(value: 0)
    let errHandle = err.fileHandleForReading
    Thread { let data = errHandle.readDataToEndOfFile(); errData.withLock { $0 = data }; done.signal() }.start()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    process.waitUntilExit()
    return ProcessOutput(code: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: errData.withLock { $0 }, as: UTF8.self))
}
