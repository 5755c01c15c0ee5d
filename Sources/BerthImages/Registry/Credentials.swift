import BerthSystem
import Foundation

/// A user name and password (or token) for one registry.
public struct Credential: Equatable, Sendable {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `Basic <base64(user:password)>`.
    public var basicAuthorization: String {
        "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
    }
}

/// Credentials from Docker's client config, `$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`: `{"auths": {"<registry>": {"auth": base64("user:password")}}}`
/// (or `username`/`password` fields). Keys may carry a scheme and a path
/// (`https://index.docker.io/v1/` is Docker Hub). Credential helpers (`credsStore`,
/// `credHelpers`) are not run.
public struct CredentialStore: Sendable {
    public var entries: [String: Credential]
    /// Where they came from, for messages.
    public var source: String?

    public init(entries: [String: Credential] = [:], source: String? = nil) {
        self.entries = entries
        self.source = source
    }

    /// The config file for `environment` (DOCKER_CONFIG, else HOME).
    public static func configPath(environment: [String: String]) -> String? {
        if let directory = environment["DOCKER_CONFIG"], !directory.isEmpty { return directory + "/config.json" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.docker/config.json" }
        return nil
    }

    /// Loads the Docker config; a missing file means no credentials, a damaged one is an error.
    public static func load(environment: [String: String]) throws(ImageError) -> CredentialStore {
        guard let path = configPath(environment: environment), FS.exists(path) else { return CredentialStore() }
        let bytes: [UInt8]
        do { bytes = try FS.read(path) } catch { throw .registry("reading credentials: \(error)") }
        return try parse(bytes, source: path)
    }

    public static func parse(_ bytes: [UInt8], source: String) throws(ImageError) -> CredentialStore {
        struct File: Decodable {
            struct Entry: Decodable {
                var auth: String?
                var username: String?
                var password: String?
            }
            var auths: [String: Entry]?
        }
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: Data(bytes)) } catch {
            throw .registry("\(source) is not valid JSON (\(JSONErrorText.describe(error))); fix or remove it")
        }
        var entries: [String: Credential] = [:]
        for (key, entry) in file.auths ?? [:] {
            var credential: Credential?
            if let auth = entry.auth, !auth.isEmpty {
                guard let data = Data(base64Encoded: auth), let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else {
                    throw .registry("\(source): the \"auth\" of \(key) is not base64 of \"user:password\"")
                }
                credential = Credential(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            } else if let username = entry.username, let password = entry.password {
                credential = Credential(username: username, password: password)
            }
            if let credential { entries[normalize(key)] = credential }
        }
        return CredentialStore(entries: entries, source: source)
    }

    /// The credential for a registry domain as references name it (`docker.io`,
    /// `127.0.0.1:5000`).
    public func credential(for domain: String) -> Credential? {
        entries[Self.normalize(domain)]
    }

    /// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/x` → `host:5000`.
    static func normalize(_ key: String) -> String {
        var text = Substring(key.lowercased())
        if let range = text.range(of: "://") { text = text[range.upperBound...] }
        if let slash = text.firstIndex(of: "/") { text = text[..<slash] }
        let host = String(text)
        return ["index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"].contains(host) ? ImageReference.defaultDomain : host
    }
}
