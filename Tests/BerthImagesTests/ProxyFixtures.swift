import BerthSystem
import Foundation
import Synchronization
@testable import BerthImages

/// Forwards one request to `upstream` (a registry) and returns its answer whole, with the
/// headers a registry client looks at.
func forward(_ request: ServedRequest, to upstream: String, target: String? = nil) -> ServedResponse {
    let client = HTTPClient()
    guard let url = HTTPURL("http://\(upstream)\(target ?? request.target)") else { return .json(500, "{}") }
    var headers: [(name: String, value: String)] = []
    for name in ["accept", "authorization", "range"] {
        if let value = request.headers[name] { headers.append((name, value)) }
    }
    do {
        let response = try client.send(HTTPRequest(request.method, url, headers: headers))
        let body = request.method == "HEAD" ? [] : try response.readAll(limit: 1 << 28)
        let kept = response.headers.filter { ["content-type", "docker-content-digest", "www-authenticate", "location", "content-range"].contains($0.name) }
        return .full(status: response.status, headers: kept.map { ($0.name, $0.value) }, body: body)
    } catch {
        return .json(502, "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"\(error)\"}]}")
    }
}

/// A token service as the distribution token spec describes: `GET /token?service=&scope=`,
/// Basic credentials optional, an RS256 JWT signed with a key whose self-signed certificate
/// the registry trusts (`rootcertbundle`), carried in the `x5c` header. Repositories under
/// `private/` need the credentials; the rest may be pulled anonymously.
final class TokenIssuer: @unchecked Sendable {
    let scratch: Scratch
    let service = "berth-test-registry"
    let issuer = "berth-test-issuer"
    let user: String
    let password: String
    private(set) var server: TestServer?
    private let certificateDER: String

    var certificate: String { scratch.path + "/cert.pem" }
    var key: String { scratch.path + "/key.pem" }
    var realm: String { "http://127.0.0.1:\(server?.port ?? 0)/token" }

    init(user: String, password: String) throws {
        scratch = try Scratch("issuer")
        self.user = user
        self.password = password
        let made = try run(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", scratch.path + "/key.pem",
                            "-out", scratch.path + "/cert.pem", "-days", "2", "-subj", "/CN=berth-test-issuer"])
        guard made.code == 0 else { throw FixtureError("openssl req: \(made.stderr)") }
        let der = try run(["/usr/bin/openssl", "x509", "-in", scratch.path + "/cert.pem", "-outform", "DER", "-out", scratch.path + "/cert.der"])
        guard der.code == 0 else { throw FixtureError("openssl x509: \(der.stderr)") }
        certificateDER = Data(try FS.read(scratch.path + "/cert.der")).base64EncodedString()
        server = try TestServer { [unowned self] request in self.answer(request) }
    }

    deinit { server?.stop() }

    private func answer(_ request: ServedRequest) -> ServedResponse {
        let query = request.target.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        var scopes: [String] = []
        var service = ""
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            if parts.count == 2, parts[0] == "scope" { scopes.append(parts[1]) }
            if parts.count == 2, parts[0] == "service" { service = parts[1] }
        }
        var subject = ""
        if let authorization = request.headers["authorization"] {
            guard authorization == Credential(username: user, password: password).basicAuthorization else {
                return .json(401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"bad credentials\"}]}")
            }
            subject = user
        }
        guard service == self.service else { return .json(400, "{\"details\":\"unknown service\"}") }
        var access: [String] = []
        for scope in scopes {
            let parts = scope.split(separator: ":").map(String.init)
            guard parts.count == 3, parts[0] == "repository" else { continue }
            if parts[1].hasPrefix("private/") && subject.isEmpty {
                return .json(401, "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}")
            }
            let actions = parts[2].split(separator: ",").filter { $0 == "pull" || !subject.isEmpty }
            access.append("{\"type\":\"repository\",\"name\":\"\(parts[1])\",\"actions\":[\(actions.map { "\"\($0)\"" }.joined(separator: ","))]}")
        }
        let now = Int(Date().timeIntervalSince1970)
        let header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"x5c\":[\"\(certificateDER)\"]}"
        let claims = "{\"iss\":\"\(issuer)\",\"sub\":\"\(subject)\",\"aud\":\"\(self.service)\",\"exp\":\(now + 600),\"nbf\":\(now - 60),\"iat\":\(now),\"jti\":\"\(UInt64.random(in: 1...UInt64.max))\",\"access\":[\(access.joined(separator: ","))]}"
        let input = Self.base64URL(Array(header.utf8)) + "." + Self.base64URL(Array(claims.utf8))
        guard let raw = try? Self.sign(input, key: key) else { return .json(500, "{}") }
        return .json(200, "{\"token\":\"\(input).\(Self.base64URL(raw))\",\"expires_in\":600}")
    }

    /// The raw RSA-SHA256 signature (openssl writes it to a file; stdout would be text).
    static func sign(_ input: String, key: String) throws -> [UInt8] {
        let directory = NSTemporaryDirectory() + "berth-sign-" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        try FS.makeDirectories(directory)
        defer { try? FS.removeTree(directory) }
        try FS.write(directory + "/in", Array(input.utf8))
        let result = try run(["/usr/bin/openssl", "dgst", "-sha256", "-sign", key, "-out", directory + "/sig", directory + "/in"])
        guard result.code == 0 else { throw FixtureError("openssl dgst: \(result.stderr)") }
        return try FS.read(directory + "/sig")
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
