#if canImport(Glibc)
import Glibc
#endif
import BerthSystem
import Foundation
import Synchronization

/// How berth talks to registries.
public struct RegistryOptions: Sendable {
    /// Registries (`host[:port]`) reached over plain HTTP besides loopback ones.
    public var insecureRegistries: [String] = []
    /// Directories with `<host[:port]>/ca.crt` (and `client.cert`/`client.key`), as Docker's
    /// `/etc/docker/certs.d`.
    public var certificateDirectories: [String] = ["/etc/berth/certs.d", "/etc/docker/certs.d"]
    public var credentials = CredentialStore()
    /// Attempts after the first on dropped connections, 429 and 5xx.
    public var retries = 4
    /// First back-off delay; doubles per attempt (a `Retry-After` header wins).
    public var backoffMilliseconds = 500
    public var timeoutSeconds = 30
    public var resolver = HostResolver.system

    public init() {}
}

/// A manifest or index as the registry sent it.
public struct FetchedManifest: Sendable {
    public var bytes: [UInt8]
    public var mediaType: String?
    public var digest: Digest
}

/// The OCI distribution API, pull side: `/v2/` probe, manifests by tag or digest with the
/// Accept list, blobs (streamed, resumed with `Range` after a dropped connection),
/// redirects without forwarding `Authorization` to another host, Bearer tokens from the
/// `WWW-Authenticate` challenge (anonymous or with credentials), Basic auth, retries with
/// back-off on 429/5xx and dropped connections, and registry errors in plain words.
public final class RegistryClient: Sendable {
    public let options: RegistryOptions
    let http: HTTPClient
    /// `Authorization` values by registry domain and scope.
    private let authorizations = Mutex<[String: String]>([:])
    /// Insecure or loopback registries found to speak TLS (they answered plain HTTP with 400).
    private let upgraded = Mutex<Set<String>>([])

    public init(options: RegistryOptions = RegistryOptions()) {
        self.options = options
        let directories = options.certificateDirectories
        let insecure = options.insecureRegistries
        http = HTTPClient(resolver: options.resolver, timeoutSeconds: options.timeoutSeconds) { url in
            var settings = RegistryClient.tlsSettings(for: url, directories: directories)
            // As Docker: an insecure registry's certificate is not checked, unless a CA for it
            // was given.
            if settings.caFile == nil, url.isLoopback || insecure.contains(url.authority) || insecure.contains(url.host) { settings.verify = false }
            return settings
        }
    }

    /// Whether `domain` is reached over plain HTTP first (loopback, or listed as insecure).
    func isInsecure(_ domain: String) -> Bool {
        options.insecureRegistries.contains(domain) || (HTTPURL("http://" + domain)?.isLoopback ?? false)
    }

    // MARK: endpoints

    /// The API base for a reference's domain: Docker Hub's API host for `docker.io`, plain
    /// HTTP for loopback and insecure registries, HTTPS otherwise.
    public func baseURL(for domain: String) -> HTTPURL {
        if domain == ImageReference.defaultDomain { return HTTPURL(scheme: "https", host: "registry-1.docker.io", target: "/") }
        let plain = isInsecure(domain) && !upgraded.withLock { $0.contains(domain) }
        return HTTPURL((plain ? "http://" : "https://") + domain) ?? HTTPURL(scheme: "https", host: domain, target: "/")
    }

    static func tlsSettings(for url: HTTPURL, directories: [String]) -> TLSSettings {
        var settings = TLSSettings()
        for directory in directories {
            for name in [url.authority, "\(url.host):\(url.port)", url.host] {
                let dir = directory + "/" + name
                if settings.caFile == nil, FS.exists(dir + "/ca.crt") { settings.caFile = dir + "/ca.crt" }
                if settings.certFile == nil, FS.exists(dir + "/client.cert"), FS.exists(dir + "/client.key") {
                    settings.certFile = dir + "/client.cert"
                    settings.keyFile = dir + "/client.key"
                }
            }
        }
        return settings
    }

    func url(_ reference: ImageReference, _ kind: String, _ item: String) -> HTTPURL {
        var url = baseURL(for: reference.domain)
        url.target = "/v2/\(reference.path)/\(kind)/\(item)"
        return url
    }

    // MARK: API

    /// `GET /v2/`: whether the registry speaks the API (authenticating if it asks).
    public func ping(_ domain: String) throws(ImageError) {
        var url = baseURL(for: domain)
        url.target = "/v2/"
        let response = try perform("GET", url, domain: domain, scope: nil)
        response.discard()
        guard response.status == 200 else { throw .registry("\(url) answered \(response.status) \(response.reason); is \(domain) a registry?") }
    }

    /// The manifest or index a tag or digest names, verified against the digest when there
    /// is one (the reference's, else the registry's `Docker-Content-Digest`).
    public func manifest(_ reference: ImageReference, digest: Digest? = nil) throws(ImageError) -> FetchedManifest {
        let item = digest?.description ?? reference.manifestReference
        let response = try perform(
            "GET", url(reference, "manifests", item), headers: [("Accept", MediaType.manifestAccept.joined(separator: ", "))],
            domain: reference.domain, scope: scope(reference))
        let what = "manifest for \(reference.familiarName)\(digest.map { "@\($0)" } ?? (reference.digest.map { "@\($0)" } ?? ":\(reference.tag ?? "latest")"))"
        guard response.status == 200 else { throw error(from: response, what: what, reference: reference) }
        let bytes = try response.readAll(limit: 4 << 20)
        let actual = Digest.of(bytes)
        if let expected = digest ?? reference.digest, expected != actual { throw .digestMismatch(what, expected, actual) }
        if let header = response.header("docker-content-digest"), let announced = try? Digest(parsing: header),
           announced.algorithm == "sha256", announced != actual {
            throw .digestMismatch(what, announced, actual)
        }
        return FetchedManifest(bytes: bytes, mediaType: response.header("content-type"), digest: actual)
    }

    /// A small blob (a config) in memory, verified.
    public func blob(_ reference: ImageReference, _ descriptor: Descriptor, limit: Int = 16 << 20) throws(ImageError) -> [UInt8] {
        let stream = try openBlob(reference, descriptor)
        var bytes: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)
        defer { chunk.deallocate() }
        while true {
            let n = try stream.readChunk(into: chunk)
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > limit { throw .registry("blob \(descriptor.digest) is larger than \(limit) bytes") }
        }
        let actual = Digest.of(bytes)
        if actual != descriptor.digest { throw .digestMismatch("blob \(descriptor.digest)", descriptor.digest, actual) }
        return bytes
    }

    /// A blob as a stream; the caller verifies the digest as it reads.
    public func openBlob(_ reference: ImageReference, _ descriptor: Descriptor) throws(ImageError) -> BlobStream {
        let stream = BlobStream(client: self, reference: reference, descriptor: descriptor)
        try stream.open()
        return stream
    }

    func openBlobResponse(_ reference: ImageReference, _ digest: Digest, from offset: Int64) throws(ImageError) -> HTTPResponse {
        let headers: [(String, String)] = offset > 0 ? [("Range", "bytes=\(offset)-")] : []
        let response = try perform("GET", url(reference, "blobs", digest.description), headers: headers, domain: reference.domain, scope: scope(reference))
        guard response.status == 200 || response.status == 206 else {
            throw error(from: response, what: "blob \(digest) of \(reference.familiarName)", reference: reference)
        }
        return response
    }

    func scope(_ reference: ImageReference) -> String { "repository:\(reference.path):pull" }

    // MARK: requests

    /// Sends a request with retries (dropped connections, 429, 5xx), authentication and
    /// redirects.
    func perform(_ method: String, _ url: HTTPURL, headers: [(String, String)] = [], domain: String, scope: String?) throws(ImageError) -> HTTPResponse {
        var attempt = 0
        var url = url
        while true {
            do throws(ImageError) {
                let response = try performOnce(method, url, headers: headers, domain: domain, scope: scope)
                if response.status == 400, url.scheme == "http", isInsecure(domain) {
                    let body = (try? response.readAll(limit: 4096)) ?? []
                    if String(decoding: body, as: UTF8.self).contains("HTTP request to an HTTPS server") {
                        upgraded.withLock { _ = $0.insert(domain) }
                        let target = url.target
                        url = baseURL(for: domain)
                        url.target = target
                        continue
                    }
                    throw ImageError.registry("\(url) answered 400 Bad Request: \(String(decoding: body.prefix(200), as: UTF8.self))")
                }
                if (response.status == 429 || [500, 502, 503, 504].contains(response.status)) && attempt < options.retries {
                    let wait = Self.retryAfter(response.header("retry-after")) ?? backoff(attempt)
                    response.discard()
                    attempt += 1
                    Self.pause(milliseconds: wait)
                    continue
                }
                return response
            } catch {
                guard case .network = error, attempt < options.retries else { throw error }
                Self.pause(milliseconds: backoff(attempt))
                attempt += 1
            }
        }
    }

    private func performOnce(_ method: String, _ url: HTTPURL, headers: [(String, String)], domain: String, scope: String?) throws(ImageError) -> HTTPResponse {
        var current = url
        var authenticated = false
        let key = "\(domain) \(scope ?? "")"
        for _ in 0..<10 {
            var request = HTTPRequest(method, current, headers: headers.map { (name: $0.0, value: $0.1) })
            // Credentials go to the registry only, never to a host it redirects to.
            if current.authority == url.authority, current.scheme == url.scheme, let authorization = authorizations.withLock({ $0[key] }) {
                request.headers.append((name: "Authorization", value: authorization))
            }
            let response = try http.send(request)
            if response.status == 401, !authenticated, current.authority == url.authority {
                let challenges = response.headers("www-authenticate").flatMap(AuthChallenge.parse)
                response.discard()
                try authenticate(challenges, domain: domain, scope: scope, key: key)
                authenticated = true
                continue
            }
            if [301, 302, 303, 307, 308].contains(response.status), let location = response.header("location") {
                response.discard()
                guard let next = current.resolving(location) else { throw .registry("\(current) redirected to an invalid location \"\(location)\"") }
                current = next
                continue
            }
            return response
        }
        throw .registry("\(url): too many redirects")
    }

    private func authenticate(_ challenges: [AuthChallenge], domain: String, scope: String?, key: String) throws(ImageError) {
        let credential = options.credentials.credential(for: domain)
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }) {
            let token = try fetchToken(bearer, scope: scope, credential: credential, domain: domain)
            authorizations.withLock { $0[key] = "Bearer \(token)" }
        } else if challenges.contains(where: { $0.scheme == "basic" }) {
            guard let credential else {
                throw .registry("unauthorized: \(domain) requires a user name and password; add them to \(options.credentials.source ?? "~/.docker/config.json") (\"auths\")")
            }
            authorizations.withLock { $0[key] = credential.basicAuthorization }
        } else {
            throw .registry("unauthorized: \(domain) asked for authentication berth does not support (\(challenges.map(\.scheme).joined(separator: ", ")))")
        }
    }

    /// The token service flow: `GET realm?service=…&scope=…`, Basic credentials when we
    /// have them, `{"token"|"access_token": …}` back.
    private func fetchToken(_ challenge: AuthChallenge, scope: String?, credential: Credential?, domain: String) throws(ImageError) -> String {
        guard let realmText = challenge.parameters["realm"], let realm = HTTPURL(realmText) else {
            throw .registry("unauthorized: \(domain) sent a Bearer challenge without a usable realm")
        }
        var query: [String] = []
        if let service = challenge.parameters["service"] { query.append("service=" + HTTPURL.queryEscape(service)) }
        var scopes: [String] = []
        if let own = challenge.parameters["scope"] { scopes.append(own) }
        if let scope, !scopes.contains(scope) { scopes.append(scope) }
        query += scopes.map { "scope=" + HTTPURL.queryEscape($0) }
        var url = realm
        if !query.isEmpty { url.target += (url.target.contains("?") ? "&" : "?") + query.joined(separator: "&") }
        var request = HTTPRequest("GET", url)
        if let credential { request.headers.append((name: "Authorization", value: credential.basicAuthorization)) }
        let response = try http.send(request)
        guard response.status == 200 else {
            response.discard()
            if response.status == 401 || response.status == 403 {
                throw .registry("unauthorized: the token service \(realm.authority) refused \(credential == nil ? "anonymous access" : "the credentials for \(domain)"); check the credentials in \(options.credentials.source ?? "~/.docker/config.json")")
            }
            throw .registry("token service \(realm.authority) answered \(response.status) \(response.reason)")
        }
        struct TokenResponse: Decodable {
            var token: String?
            var access_token: String?
        }
        let body = try response.readAll(limit: 1 << 20)
        guard let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(body)), let token = decoded.token ?? decoded.access_token, !token.isEmpty else {
            throw .registry("token service \(realm.authority) sent no token")
        }
        return token
    }

    /// The registry's error in words (`{"errors":[{"code","message"}]}`).
    func error(from response: HTTPResponse, what: String, reference: ImageReference) -> ImageError {
        struct Body: Decodable {
            struct Item: Decodable {
                var code: String?
                var message: String?
            }
            var errors: [Item]?
        }
        let bytes = (try? response.readAll(limit: 1 << 16)) ?? []
        let item = (try? JSONDecoder().decode(Body.self, from: Data(bytes)))?.errors?.first
        let code = item?.code ?? ""
        let message = item?.message ?? response.reason.lowercased()
        let name = reference.familiarName
        switch code {
        case "MANIFEST_UNKNOWN":
            return .registry("\(what) not found: manifest unknown: \(message)")
        case "NAME_UNKNOWN":
            return .registry("repository \(name) not found: name unknown: \(message)")
        case "BLOB_UNKNOWN":
            return .registry("\(what) not found: blob unknown: \(message)")
        case "UNAUTHORIZED":
            return .registry("pull access denied for \(name): unauthorized: \(message); the repository may not exist or may need credentials (\(options.credentials.source ?? "~/.docker/config.json"))")
        case "DENIED":
            return .registry("pull access denied for \(name): denied: \(message)")
        case "TOOMANYREQUESTS":
            return .registry("toomanyrequests: \(message) (gave up after \(options.retries + 1) attempts)")
        default:
            if response.status == 404 { return .registry("\(what) not found (HTTP 404 from \(response.url.authority))") }
            if response.status == 401 || response.status == 403 {
                return .registry("pull access denied for \(name): HTTP \(response.status) from \(response.url.authority)")
            }
            let detail = code.isEmpty ? "" : ": \(code.lowercased()): \(message)"
            return .registry("\(what): \(response.url.authority) answered HTTP \(response.status) \(response.reason)\(detail)")
        }
    }

    func backoff(_ attempt: Int) -> Int { options.backoffMilliseconds << min(attempt, 6) }

    static func retryAfter(_ header: String?) -> Int? {
        guard let header, let seconds = Int(header.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return min(seconds, 60) * 1000
    }

    /// The back-off wait between attempts (the one deliberate wait of the client).
    static func pause(milliseconds: Int) {
        guard milliseconds > 0 else { return }
        _ = poll(nil, 0, Int32(milliseconds))
    }
}

/// A blob download that survives dropped connections: it reconnects with
/// `Range: bytes=<offset>-` and carries on, so the digest and unpack pipeline reading it
/// never notices. Gives up with a clear error after the client's retries.
public final class BlobStream: ByteSource, @unchecked Sendable {
    let client: RegistryClient
    let reference: ImageReference
    let descriptor: Descriptor
    private var response: HTTPResponse?
    public private(set) var offset: Int64 = 0
    private var resumes = 0
    /// Called with the bytes received so far (progress).
    public var onProgress: ((Int64) -> Void)?

    init(client: RegistryClient, reference: ImageReference, descriptor: Descriptor) {
        self.client = client
        self.reference = reference
        self.descriptor = descriptor
    }

    func open() throws(ImageError) {
        let response = try client.openBlobResponse(reference, descriptor.digest, from: offset)
        if offset > 0 {
            let range = response.header("content-range") ?? ""
            guard response.status == 206, range.hasPrefix("bytes \(offset)-") else {
                response.discard()
                throw .network("blob \(descriptor.digest): the registry can't resume a download (no Range support)")
            }
        }
        self.response = response
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try readChunk(into: buffer)
    }

    func readChunk(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        while true {
            do throws(ImageError) {
                if response == nil { try open() }
                guard let response else { return 0 }
                let n = try response.readBody(into: buffer)
                if n == 0 {
                    if descriptor.size >= 0, offset < descriptor.size {
                        throw ImageError.network("connection to \(response.url.authority) closed after \(offset) of \(descriptor.size) bytes")
                    }
                    return 0
                }
                offset += Int64(n)
                onProgress?(offset)
                return n
            } catch {
                guard case .network(let why) = error else { throw error }
                response = nil
                guard resumes < client.options.retries else {
                    throw .network("blob \(descriptor.digest) of \(reference.familiarName): \(why); gave up after \(resumes) attempts to resume at byte \(offset)")
                }
                RegistryClient.pause(milliseconds: client.backoff(resumes))
                resumes += 1
                do throws(ImageError) { try open() } catch {
                    guard case .network(let reason) = error else { throw error }
                    throw .network("blob \(descriptor.digest) of \(reference.familiarName): \(why); resuming failed: \(reason)")
                }
            }
        }
    }
}
