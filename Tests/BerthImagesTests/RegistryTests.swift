import BerthSystem
import Foundation
import Synchronization
import Testing
@testable import BerthImages

/// Images the registry tests push: a busybox rootfs (Debian's busybox-static), a
/// two-layer image with whiteouts, and a three-platform index.
enum Seeds {
    static let busyboxApplets = ["sh", "ls", "cat", "echo", "true", "sleep"]

    static func busybox() throws -> TestImage {
        let busybox = try FS.read("/bin/busybox", limit: 1 << 24)
        let tar = TarBuilder().directory("bin").file("bin/busybox", bytes: busybox)
        for applet in busyboxApplets { tar.symlink("bin/\(applet)", to: "busybox") }
        tar.directory("etc").file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n").directory("tmp", mode: 0o1777)
        return try TestImage(layers: [tar], cmd: ["sh"])
    }

    static func layered() throws -> TestImage {
        try TestImage(layers: [
            TarBuilder().directory("etc").file("etc/motd", "hello\n").file("etc/remove-me", "x").directory("var/cache").file("var/cache/a", "a"),
            TarBuilder().file("etc/.wh.remove-me").file("var/cache/.wh..wh..opq").file("var/cache/b", "b").file("etc/motd", "upper\n"),
        ], compression: .zstd)
    }

    static func platform(_ name: String) throws -> TestImage {
        let parts = name.split(separator: "/").map(String.init)
        return try TestImage(layers: [TarBuilder().file("arch", name + "\n")], architecture: parts[1])
    }

    /// A registry holding `busybox:latest` (and the layout it came from).
    static func registry(auth: RegistryFixture.Auth = .none, name: String = "busybox:latest", credentials: String? = nil) throws -> (RegistryFixture, TestImage) {
        let registry = try RegistryFixture(auth: auth)
        let image = try busybox()
        let layout = try registry.scratch.directory("layout")
        try OCILayout.write(image, to: layout, tag: "latest")
        try registry.push(layout: layout, tag: "latest", as: name, credentials: credentials)
        return (registry, image)
    }
}

/// Everything a pull test needs: a private store and a client with quick back-off.
struct PullSetup {
    let scratch: Scratch
    let store: ImageStore
    let client: RegistryClient

    init(options: RegistryOptions = RegistryOptions()) throws {
        scratch = try Scratch("pull")
        store = try ImageStore(root: scratch.path)
        var options = options
        options.backoffMilliseconds = 5
        options.retries = options.retries == RegistryOptions().retries ? 2 : options.retries
        client = RegistryClient(options: options)
    }

    func puller(platform: Platform = Platform(os: "linux", architecture: "amd64"), parallel: Int = 3) -> ImagePuller {
        ImagePuller(store: store, client: client, platform: platform, parallel: parallel)
    }

    func pull(_ text: String, platform: Platform = Platform(os: "linux", architecture: "amd64"), parallel: Int = 3) throws -> PullResult {
        try puller(platform: platform, parallel: parallel).pull(try ImageReference(parsing: text))
    }

    /// Nothing of a failed pull may remain: no record, no work directories.
    func expectNothingStored() throws {
        #expect(try store.records() == [])
        #expect(listing(store.directory + "/tmp") == [])
    }
}

@Suite("registry pulls", .serialized, .enabled(if: isRoot && haveRegistryTools, registryReason))
struct RegistryPullTests {
    @Test func pullByTagThenByDigest() throws {
        let (registry, image) = try Seeds.registry()
        defer { registry.kill() }
        let setup = try PullSetup()
        let events = Mutex<[PullEvent]>([])
        let result = try setup.puller().pull(try ImageReference(parsing: "\(registry.domain)/busybox")) { event in events.withLock { $0.append(event) } }
        #expect(!result.upToDate)
        #expect(result.digest == image.manifestDigest)
        #expect(result.record.reference == "\(registry.domain)/busybox:latest")
        #expect(result.record.config == image.configDigest)
        #expect(result.record.size == Int64(try FS.read("/bin/busybox", limit: 1 << 24).count) + 30)
        let layerID = image.manifest.layers[0].digest.short
        let seen = events.withLock { $0 }
        #expect(seen.first == .resolved(layers: [layerID]))
        #expect(seen.last == .layer(layerID, .complete))
        #expect(seen.contains(.layer(layerID, .downloading(image.manifest.layers[0].size, of: image.manifest.layers[0].size))))

        let lower = try setup.store.lowerDirs(for: try setup.store.find("\(registry.domain)/busybox"))
        #expect(lower == [setup.store.layerPath(image.chainIDs[0])])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: lower[0] + "/bin/sh") == "busybox")
        #expect(try setup.store.config(of: result.record).config?.Cmd == ["sh"])

        // Again: up to date, nothing fetched.
        #expect(try setup.pull("\(registry.domain)/busybox:latest").upToDate)

        // By digest: a record without tag, the same image.
        let byDigest = try setup.pull("\(registry.domain)/busybox@\(image.manifestDigest)")
        #expect(byDigest.record.tag == nil)
        #expect(byDigest.record.reference == "\(registry.domain)/busybox@\(image.manifestDigest)")
        #expect(byDigest.record.config == image.configDigest)
        #expect(try setup.store.records().count == 2)
        #expect(listing(setup.store.directory + "/layers").count == 1)
    }

    @Test func layersWithWhiteoutsGiveTheRightMergedView() throws {
        let registry = try RegistryFixture()
        defer { registry.kill() }
        let image = try Seeds.layered()
        let layout = try registry.scratch.directory("layout")
        try OCILayout.write(image, to: layout, tag: "latest")
        try registry.push(layout: layout, tag: "latest", as: "layered:zstd")
        let setup = try PullSetup()
        let result = try setup.pull("\(registry.domain)/layered:zstd")
        let lower = try setup.store.lowerDirs(for: result.record)
        let merged = try setup.scratch.directory("merged")
        try Mounts.mount(source: "overlay", target: merged, type: "overlay", flags: MountFlags.readOnly, data: "lowerdir=" + lower.joined(separator: ":"))
        defer { try? Mounts.unmount(merged) }
        #expect(listing(merged + "/etc") == ["motd"])
        #expect(contents(merged + "/etc/motd") == "upper\n")
        #expect(listing(merged + "/var/cache") == ["b"])
    }

    @Test func platformSelectionFromAnIndex() throws {
        let registry = try RegistryFixture()
        defer { registry.kill() }
        let layout = try registry.scratch.directory("layout")
        let amd64 = try Seeds.platform("linux/amd64"), arm64 = try Seeds.platform("linux/arm64"), arm = try Seeds.platform("linux/arm")
        let attestation = Descriptor(
            mediaType: MediaType.ociManifest, digest: amd64.manifestDigest, size: Int64(amd64.manifestBytes.count),
            annotations: ["vnd.docker.reference.type": "attestation-manifest"], platform: Platform(os: "unknown", architecture: "unknown"))
        let index = try OCILayout.write(index: [
            (arm64, Platform(os: "linux", architecture: "arm64", variant: "v8")),
            (amd64, Platform(os: "linux", architecture: "amd64")),
            (arm, Platform(os: "linux", architecture: "arm", variant: "v7")),
        ], to: layout, tag: "multi", extra: [attestation])
        try registry.push(layout: layout, tag: "multi", as: "multi:1", all: true)
        let setup = try PullSetup()
        let reference = "\(registry.domain)/multi:1"
        for (platform, expected) in [("linux/arm64", arm64), ("linux/amd64", amd64), ("linux/arm/v7", arm), ("linux/arm/v8", arm)] {
            let result = try setup.pull(reference, platform: try Platform(parsing: platform))
            #expect(result.digest == index.digest, "\(platform)")
            #expect(result.record.manifest == expected.manifestDigest, "\(platform)")
            let lower = try setup.store.lowerDirs(for: result.record)
            #expect(contents(lower[0] + "/arch") == (expected.configBytes == arm.configBytes ? "linux/arm\n" : platform + "\n"))
        }
        #expect(throws: ImageError.noMatchingPlatform(reference, "linux/s390x", ["linux/arm64/v8", "linux/amd64", "linux/arm/v7"])) {
            try setup.pull(reference, platform: try Platform(parsing: "linux/s390x"))
        }
    }
}

@Suite("registry authentication", .serialized, .enabled(if: isRoot && haveRegistryTools, registryReason))
struct RegistryAuthTests {
    static func credentials(_ domain: String, user: String, password: String) throws -> CredentialStore {
        let auth = Data("\(user):\(password)".utf8).base64EncodedString()
        return try CredentialStore.parse(Array("{\"auths\":{\"http://\(domain)/v1/\":{\"auth\":\"\(auth)\"}}}".utf8), source: "/test/config.json")
    }

    @Test func htpasswdBasicAuth() throws {
        let (registry, image) = try Seeds.registry(auth: .htpasswd(user: "alice", password: "s3cret"), credentials: "alice:s3cret")
        defer { registry.kill() }
        let reference = "\(registry.domain)/busybox:latest"

        let anonymous = try PullSetup()
        #expect(throws: ImageError.registry("unauthorized: \(registry.domain) requires a user name and password; add them to ~/.docker/config.json (\"auths\")")) {
            try anonymous.pull(reference)
        }
        try anonymous.expectNothingStored()

        var wrong = RegistryOptions()
        wrong.credentials = try Self.credentials(registry.domain, user: "alice", password: "nope")
        #expect(throws: ImageError.registry("pull access denied for \(registry.domain)/busybox: unauthorized: authentication required; the repository may not exist or may need credentials (/test/config.json)")) {
            try PullSetup(options: wrong).pull(reference)
        }

        var right = RegistryOptions()
        right.credentials = try Self.credentials(registry.domain, user: "alice", password: "s3cret")
        let setup = try PullSetup(options: right)
        #expect(try setup.pull(reference).record.config == image.configDigest)
    }

    @Test func bearerTokenFlowAnonymousAndWithCredentials() throws {
        let issuer = try TokenIssuer(user: "bob", password: "hunter2")
        let registry = try RegistryFixture(auth: .token(realm: issuer.realm, service: issuer.service, issuer: issuer.issuer, certificate: issuer.certificate))
        defer { registry.kill() }
        let image = try Seeds.busybox()
        let layout = try registry.scratch.directory("layout")
        try OCILayout.write(image, to: layout, tag: "latest")
        try registry.push(layout: layout, tag: "latest", as: "public/busybox:1", credentials: "bob:hunter2")
        try registry.push(layout: layout, tag: "latest", as: "private/busybox:1", credentials: "bob:hunter2")

        let anonymous = try PullSetup()
        #expect(try anonymous.pull("\(registry.domain)/public/busybox:1").record.config == image.configDigest)
        #expect(throws: ImageError.registry("unauthorized: the token service 127.0.0.1:\(issuer.server?.port ?? 0) refused anonymous access; check the credentials in ~/.docker/config.json")) {
            try anonymous.pull("\(registry.domain)/private/busybox:1")
        }

        var options = RegistryOptions()
        options.credentials = try Self.credentials(registry.domain, user: "bob", password: "hunter2")
        let authenticated = try PullSetup(options: options)
        #expect(try authenticated.pull("\(registry.domain)/private/busybox:1").record.config == image.configDigest)
        let tokenRequests = issuer.server?.requests.withLock { $0 } ?? []
        #expect(tokenRequests.contains { $0.target.contains("scope=repository%3Aprivate%2Fbusybox%3Apull") && $0.headers["authorization"] != nil })
    }

    @Test func credentialsFileParsing() throws {
        let store = try CredentialStore.parse(Array("""
            {"auths": {"https://index.docker.io/v1/": {"auth": "\(Data("hub:pw".utf8).base64EncodedString())"},
                       "registry.example:5000": {"username": "u", "password": "p"},
                       "empty.example": {}},
             "credsStore": "desktop"}
            """.utf8), source: "cfg")
        #expect(store.credential(for: "docker.io") == Credential(username: "hub", password: "pw"))
        #expect(store.credential(for: "registry.example:5000") == Credential(username: "u", password: "p"))
        #expect(store.credential(for: "empty.example") == nil)
        #expect(throws: ImageError.registry("cfg: the \"auth\" of x is not base64 of \"user:password\"")) {
            try CredentialStore.parse(Array("{\"auths\":{\"x\":{\"auth\":\"!!!\"}}}".utf8), source: "cfg")
        }
        #expect(CredentialStore.configPath(environment: ["DOCKER_CONFIG": "/etc/dc", "HOME": "/root"]) == "/etc/dc/config.json")
        #expect(CredentialStore.configPath(environment: ["HOME": "/home/a"]) == "/home/a/.docker/config.json")
    }

    @Test func challengeParsing() {
        let challenges = AuthChallenge.parse(#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:samalba/my-app:pull,push", Basic realm="x y""#)
        #expect(challenges == [
            AuthChallenge(scheme: "bearer", parameters: ["realm": "https://auth.example/token", "service": "registry.example", "scope": "repository:samalba/my-app:pull,push"]),
            AuthChallenge(scheme: "basic", parameters: ["realm": "x y"]),
        ])
        #expect(AuthChallenge.parse(#"Bearer realm="a\"b""#).first?.parameters["realm"] == "a\"b")
    }
}

@Suite("registry failures", .serialized, .enabled(if: isRoot && haveRegistryTools, registryReason))
struct RegistryFailureTests {
    /// An uncompressed two-layer image: a flipped byte in a layer stays a valid tar, so only
    /// the digest can catch it.
    static func plainImage() throws -> TestImage {
        try TestImage(layers: [
            TarBuilder().directory("bin").file("bin/tool", String(repeating: "t", count: 10_000)),
            TarBuilder().file("data", String(repeating: "d", count: 300_000)),
        ], compression: .none)
    }

    static func seeded(_ image: TestImage, name: String = "app:1") throws -> RegistryFixture {
        let registry = try RegistryFixture()
        let layout = try registry.scratch.directory("layout")
        try OCILayout.write(image, to: layout, tag: "latest")
        try registry.push(layout: layout, tag: "latest", as: name)
        return registry
    }

    @Test func aTamperingProxyFailsThePullAndNothingIsStored() throws {
        let image = try Self.plainImage()
        let registry = try Self.seeded(image)
        defer { registry.kill() }
        let victim = image.manifest.layers[1].digest
        let proxy = try TestServer { request in
            let answer = forward(request, to: registry.domain)
            guard request.target.hasSuffix("/blobs/\(victim)"), case .full(let status, let headers, var body) = answer else { return answer }
            body[body.count / 2] ^= 0x01
            return .full(status: status, headers: headers, body: body)
        }
        defer { proxy.stop() }
        let setup = try PullSetup()
        var tampered = image.layers[1]
        tampered[tampered.count / 2] ^= 0x01
        #expect(throws: ImageError.digestMismatch("\(victim) of 127.0.0.1:\(proxy.port)/app:1", victim, Digest.of(tampered))) {
            try setup.pull("127.0.0.1:\(proxy.port)/app:1")
        }
        try setup.expectNothingStored()
        #expect(!setup.store.hasBlob(Digest.of(tampered)) && !setup.store.hasBlob(victim))
        #expect(!setup.store.hasLayer(image.chainIDs[1]))
        #expect(!setup.store.hasBlob(image.configDigest) && !setup.store.hasBlob(image.manifestDigest))

        // A manifest altered on the way is caught by the registry's Docker-Content-Digest.
        let manifestProxy = try TestServer { request in
            let answer = forward(request, to: registry.domain)
            guard request.target.contains("/manifests/"), case .full(let status, let headers, let body) = answer else { return answer }
            return .full(status: status, headers: headers, body: body + Array(" ".utf8))
        }
        defer { manifestProxy.stop() }
        #expect(throws: ImageError.digestMismatch("manifest for 127.0.0.1:\(manifestProxy.port)/app:1", image.manifestDigest, Digest.of(image.manifestBytes + Array(" ".utf8)))) {
            try setup.pull("127.0.0.1:\(manifestProxy.port)/app:1")
        }
        try setup.expectNothingStored()
    }

    @Test func aRegistryThatDiesMidBlobGivesAClearErrorAndALaterPullSucceeds() throws {
        let image = try Self.plainImage()
        let registry = try Self.seeded(image)
        defer { registry.kill() }
        let registryPort = registry.port
        let victim = image.manifest.layers[1]
        let sent = 100_000
        let dying = WeakServer()
        let proxy = try TestServer { request in
            let answer = forward(request, to: registry.domain)
            guard request.target.hasSuffix("/blobs/\(victim.digest)"), case .full(_, let headers, let body) = answer else { return answer }
            return .stream { fd in
                var head = "HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n"
                for (name, value) in headers { head += "\(name): \(value)\r\n" }
                TestServer.write(fd, Array((head + "\r\n").utf8) + Array(body[0..<sent]))
                // The registry dies: its process is killed and nothing listens on the port.
                registry.kill()
                dying.server?.closeListener()
            }
        }
        dying.server = proxy
        let port = proxy.port
        let setup = try PullSetup()
        let reference = "127.0.0.1:\(port)/app:1"
        // One layer at a time, so the first layer is whole when the registry dies.
        #expect(throws: ImageError.network("blob \(victim.digest) of 127.0.0.1:\(port)/app: connection to 127.0.0.1:\(port) closed after \(sent) of \(victim.size) bytes; resuming failed: connect to 127.0.0.1:\(port) (127.0.0.1): connection refused")) {
            try setup.pull(reference, parallel: 1)
        }
        #expect(try setup.store.records() == [])
        #expect(listing(setup.store.directory + "/tmp") == [])
        proxy.stop()

        // The registry comes back (same storage, same ports): the next pull completes, reusing
        // the layer that had arrived whole.
        try registry.start(port: registryPort)
        let again = try TestServer(port: port) { request in forward(request, to: registry.domain) }
        defer { again.stop() }
        let result = try setup.pull(reference)
        #expect(result.record.config == image.configDigest)
        #expect(try setup.store.lowerDirs(for: result.record).count == 2)
        let blobRequests = again.requests.withLock { $0 }.filter { $0.target.contains("/blobs/") }.map(\.target)
        #expect(blobRequests.count == 2)  // the config and the broken layer; the first layer was kept
    }

    @Test func aDroppedConnectionIsResumedWithRange() throws {
        let image = try Self.plainImage()
        let registry = try Self.seeded(image)
        defer { registry.kill() }
        let victim = image.manifest.layers[1]
        let dropped = Atomic<Bool>(false)
        let proxy = try TestServer { request in
            let answer = forward(request, to: registry.domain)
            guard request.target.hasSuffix("/blobs/\(victim.digest)"), !dropped.exchange(true, ordering: .relaxed),
                  case .full(_, _, let body) = answer else { return answer }
            return .stream { fd in
                TestServer.write(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + Array(body[0..<50_000]))
            }
        }
        defer { proxy.stop() }
        let setup = try PullSetup()
        let result = try setup.pull("127.0.0.1:\(proxy.port)/app:1")
        #expect(try setup.store.lowerDirs(for: result.record).count == 2)
        let ranges = proxy.requests.withLock { $0 }.compactMap { $0.headers["range"] }
        #expect(ranges == ["bytes=50000-"])
    }

    @Test func redirectsDoNotCarryCredentialsToAnotherHost() throws {
        let image = try Self.plainImage()
        let registry = try Self.seeded(image)
        defer { registry.kill() }
        let blobHost = try TestServer { request in
            forward(request, to: registry.domain, target: request.target.replacingOccurrences(of: "/cdn/", with: "/v2/app/blobs/"))
        }
        defer { blobHost.stop() }
        let basic = Credential(username: "carol", password: "pw").basicAuthorization
        let front = try TestServer { request in
            guard request.headers["authorization"] == basic else {
                return .json(401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}", headers: [("WWW-Authenticate", "Basic realm=\"front\"")])
            }
            if let range = request.target.range(of: "/blobs/") {
                return .full(status: 307, headers: [("Location", "http://127.0.0.1:\(blobHost.port)/cdn/\(request.target[range.upperBound...])")], body: [])
            }
            return forward(request, to: registry.domain)
        }
        defer { front.stop() }
        var options = RegistryOptions()
        options.credentials = CredentialStore(entries: ["127.0.0.1:\(front.port)": Credential(username: "carol", password: "pw")])
        let setup = try PullSetup(options: options)
        #expect(try setup.pull("127.0.0.1:\(front.port)/app:1").record.config == image.configDigest)
        let atBlobHost = blobHost.requests.withLock { $0 }
        #expect(atBlobHost.count == 3)
        #expect(atBlobHost.allSatisfy { $0.headers["authorization"] == nil })
        #expect(front.requests.withLock { $0 }.filter { $0.headers["authorization"] == basic }.count == 4)
    }

    @Test func retriesOn503And429ThenGivesUpWithTheRegistrysWords() throws {
        let image = try Self.plainImage()
        let registry = try Self.seeded(image)
        defer { registry.kill() }
        let failures = Atomic<Int>(0)
        let flaky = try TestServer { request in
            switch failures.add(1, ordering: .relaxed).oldValue {
            case 0: return .json(503, "{}")
            case 2: return .json(429, "{}", headers: [("Retry-After", "0")])
            default: return forward(request, to: registry.domain)
            }
        }
        defer { flaky.stop() }
        let setup = try PullSetup()
        #expect(try setup.pull("127.0.0.1:\(flaky.port)/app:1").record.config == image.configDigest)

        let limited = try TestServer { _ in
            .json(429, "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"You have reached your pull rate limit.\"}]}", headers: [("Retry-After", "0")])
        }
        defer { limited.stop() }
        #expect(throws: ImageError.registry("toomanyrequests: You have reached your pull rate limit. (gave up after 3 attempts)")) {
            try PullSetup().pull("127.0.0.1:\(limited.port)/app:1")
        }
        #expect(limited.requests.withLock { $0.count } == 3)
    }

    @Test func unknownManifestsAndRepositoriesAreNamed() throws {
        let image = try Self.plainImage()
        let registry = try Self.seeded(image)
        defer { registry.kill() }
        let setup = try PullSetup()
        #expect(throws: ImageError.registry("manifest for \(registry.domain)/app:nope not found: manifest unknown: manifest unknown")) {
            try setup.pull("\(registry.domain)/app:nope")
        }
        #expect(throws: ImageError.registry("manifest for \(registry.domain)/ghost:latest not found: manifest unknown: manifest unknown")) {
            try setup.pull("\(registry.domain)/ghost")
        }
        let unnamed = try TestServer { _ in .json(404, "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"repository name not known to registry\"}]}") }
        defer { unnamed.stop() }
        #expect(throws: ImageError.registry("repository 127.0.0.1:\(unnamed.port)/ghost not found: name unknown: repository name not known to registry")) {
            try setup.pull("127.0.0.1:\(unnamed.port)/ghost")
        }
        let denied = try TestServer { _ in .json(403, "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\"}]}") }
        defer { denied.stop() }
        #expect(throws: ImageError.registry("pull access denied for 127.0.0.1:\(denied.port)/app: denied: requested access to the resource is denied")) {
            try setup.pull("127.0.0.1:\(denied.port)/app:1")
        }
        try setup.expectNothingStored()
    }

    @Test func lookupFailuresSayWhichName() throws {
        var options = RegistryOptions()
        options.resolver = HostResolver { (host: String, _: Int) throws(ImageError) -> [ResolvedAddress] in
            throw .network("lookup \(host): Name or service not known (check the registry name and this machine's DNS)")
        }
        options.retries = 0
        #expect(throws: ImageError.network("lookup registry.invalid: Name or service not known (check the registry name and this machine's DNS)")) {
            try PullSetup(options: options).pull("registry.invalid/app:1")
        }
    }
}

@Suite("registry over TLS", .serialized, .enabled(if: isRoot && haveRegistryTools, registryReason))
struct RegistryTLSTests {
    static func certificate(in directory: String, name: String) throws -> (certificate: String, key: String) {
        let certificate = directory + "/\(name).crt", key = directory + "/\(name).key"
        let made = try run(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate,
                            "-days", "2", "-subj", "/CN=\(name)", "-addext", "subjectAltName=IP:127.0.0.1"])
        guard made.code == 0 else { throw FixtureError("openssl req: \(made.stderr)") }
        return (certificate, key)
    }

    @Test func tlsRegistryWithAndWithoutItsCertificateAuthority() throws {
        let certificates = try Scratch("certs")
        let server = try Self.certificate(in: certificates.path, name: "registry")
        let registry = try RegistryFixture(auth: .tls(certificate: server.certificate, key: server.key))
        defer { registry.kill() }
        let image = try Seeds.busybox()
        let layout = try registry.scratch.directory("layout")
        try OCILayout.write(image, to: layout, tag: "latest")
        try registry.push(layout: layout, tag: "latest", as: "busybox:latest")
        let reference = "\(registry.domain)/busybox:latest"

        // Loopback is insecure by default (as Docker): plain HTTP is tried, the registry says
        // it speaks TLS, and the certificate is not checked.
        var none = RegistryOptions()
        none.certificateDirectories = []
        #expect(try PullSetup(options: none).pull(reference).record.config == image.configDigest)

        // With its CA under certs.d/<host:port>/ca.crt, the certificate is verified.
        let trusted = try certificates.directory("trusted/\(registry.domain)")
        try FS.write(trusted + "/ca.crt", try FS.read(server.certificate))
        var verified = RegistryOptions()
        verified.certificateDirectories = [certificates.path + "/trusted"]
        #expect(try PullSetup(options: verified).pull(reference).record.config == image.configDigest)

        // With another CA it fails, once, with OpenSSL's reason.
        let other = try Self.certificate(in: certificates.path, name: "other")
        let wrong = try certificates.directory("wrong/\(registry.domain)")
        try FS.write(wrong + "/ca.crt", try FS.read(other.certificate))
        var mistrusted = RegistryOptions()
        mistrusted.certificateDirectories = [certificates.path + "/wrong"]
        let setup = try PullSetup(options: mistrusted)
        #expect(throws: ImageError.tls("TLS with \(registry.domain): certificate verification failed: self-signed certificate")) {
            try setup.pull(reference)
        }
        try setup.expectNothingStored()
    }
}


/// A handler's reference to its own server without a retain cycle.
final class WeakServer: @unchecked Sendable {
    weak var server: TestServer?
}

@Suite("registry fixtures leave nothing behind", .serialized, .enabled(if: isRoot && haveRegistryTools, registryReason))
struct RegistryLeakTests {
    @Test func registryProxyAndStoreAreGoneAfterwards() throws {
        var pid: Int32 = 0
        var directories: [String] = []
        do {
            let image = try RegistryFailureTests.plainImage()
            let registry = try RegistryFailureTests.seeded(image)
            defer { registry.kill() }
            let proxy = try TestServer { request in forward(request, to: registry.domain) }
            defer { proxy.stop() }
            let setup = try PullSetup()
            _ = try setup.pull("127.0.0.1:\(proxy.port)/app:1")
            pid = registry.pid ?? 0
            directories = [registry.scratch.path, setup.scratch.path]
        }
        #expect(pid > 0 && kill(pid, 0) == -1 && errno == ESRCH)
        #expect(directories.count == 2 && directories.allSatisfy { !FS.exists($0) })
    }
}
