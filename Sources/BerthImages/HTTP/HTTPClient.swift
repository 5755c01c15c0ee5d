#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// One HTTP/1.1 request.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: HTTPURL
    public var headers: [(name: String, value: String)]

    public init(_ method: String = "GET", _ url: HTTPURL, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.url = url
        self.headers = headers
    }

    public func header(_ name: String) -> String? {
        headers.first(where: { $0.name.lowercased() == name.lowercased() })?.value
    }
}

/// A response whose body is read as it arrives (a `ByteSource`). Reading it to the end
/// hands the connection back for reuse.
public final class HTTPResponse: ByteSource, @unchecked Sendable {
    public let status: Int
    public let reason: String
    public let headers: [(name: String, value: String)]
    public let url: HTTPURL
    private let body: BodyReader

    init(status: Int, reason: String, headers: [(name: String, value: String)], url: HTTPURL, body: BodyReader) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.url = url
        self.body = body
    }

    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first(where: { $0.name == lower })?.value
    }

    public func headers(_ name: String) -> [String] {
        let lower = name.lowercased()
        return headers.filter { $0.name == lower }.map(\.value)
    }

    public var contentLength: Int64? { header("content-length").flatMap { Int64($0) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try body.read(into: buffer)
    }

    public func readBody(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        try body.read(into: buffer)
    }

    /// The whole body, refused when longer than `limit`.
    public func readAll(limit: Int) throws(ImageError) -> [UInt8] {
        var out: [UInt8] = []
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)
        defer { chunk.deallocate() }
        while true {
            let n = try body.read(into: chunk)
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw .registry("response from \(url.authority) for \(url.target) is larger than \(limit) bytes") }
        }
    }

    /// Reads and drops a small rest of the body so the connection can be reused; a large
    /// one is cut off instead.
    public func discard() {
        if let length = contentLength, length > 1 << 20 { body.abandon(); return }
        _ = try? readAll(limit: 1 << 20)
    }
}

/// A small HTTP/1.1 client over our own sockets (plain or TLS), with keep-alive reuse.
/// Redirects, retries and authentication belong to the caller (the registry client), which
/// must decide per hop what to send.
public final class HTTPClient: Sendable {
    public let resolver: HostResolver
    public let timeoutSeconds: Int
    /// TLS settings for an https URL's host (CA, client certificate, verification).
    let tlsSettings: @Sendable (HTTPURL) -> TLSSettings
    private let idle = Mutex<[String: [Connection]]>([:])
    public static let userAgent = "berth/0.1"

    public init(resolver: HostResolver = .system, timeoutSeconds: Int = 30, tls: @escaping @Sendable (HTTPURL) -> TLSSettings = { _ in TLSSettings() }) {
        self.resolver = resolver
        self.timeoutSeconds = timeoutSeconds
        self.tlsSettings = tls
    }

    /// Sends `request` and returns once the status line and headers arrived.
    public func send(_ request: HTTPRequest) throws(ImageError) -> HTTPResponse {
        let key = "\(request.url.scheme)://\(request.url.authority):\(request.url.port)"
        var head = "\(request.method) \(request.url.target) HTTP/1.1\r\nHost: \(request.url.authority)\r\n"
        if request.header("user-agent") == nil { head += "User-Agent: \(Self.userAgent)\r\n" }
        for (name, value) in request.headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        let bytes = Array(head.utf8)
        // A kept-alive connection may have been closed by the server meanwhile: one retry on
        // a fresh connection.
        for attempt in 0..<2 {
            let pooled = attempt == 0 ? takeIdle(key) : nil
            let connection: Connection
            if let pooled {
                connection = pooled
            } else {
                connection = try Connection(
                    url: request.url, resolver: resolver, tls: request.url.scheme == "https" ? tlsSettings(request.url) : nil,
                    timeoutSeconds: timeoutSeconds)
            }
            do throws(ImageError) {
                try connection.write(bytes)
                let stream = BufferedStream(connection)
                return try readResponse(stream, request: request, key: key)
            } catch {
                if pooled != nil { continue }
                throw error
            }
        }
        throw .network("\(request.method) \(request.url): the connection was closed twice")
    }

    private func takeIdle(_ key: String) -> Connection? {
        idle.withLock { $0[key]?.popLast() }
    }

    func giveBack(_ connection: Connection, key: String) {
        idle.withLock { pool in
            var list = pool[key] ?? []
            if list.count < 8 { list.append(connection) }
            pool[key] = list
        }
    }

    private func readResponse(_ stream: BufferedStream, request: HTTPRequest, key: String) throws(ImageError) -> HTTPResponse {
        var lines = try stream.readHead(limit: 65_536, peer: request.url.authority)
        guard !lines.isEmpty else { throw .network("\(request.method) \(request.url): empty response") }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...599).contains(status) else {
            throw .network("\(request.method) \(request.url): not an HTTP response (\"\(statusLine.prefix(60))\")")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingSpaces.lowercased()
            let value = line[line.index(after: colon)...].trimmingSpaces
            headers.append((name, value))
        }
        let lookup = { (name: String) in headers.first(where: { $0.name == name })?.value }
        let keepAlive = !(lookup("connection")?.lowercased().contains("close") ?? false) && parts[0] != "HTTP/1.0"
        let framing: BodyReader.Framing
        if request.method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status) {
            framing = .length(0)
        } else if lookup("transfer-encoding")?.lowercased().contains("chunked") == true {
            framing = .chunked
        } else if let text = lookup("content-length") {
            guard let length = Int64(text), length >= 0 else { throw .network("\(request.url): bad Content-Length \(text)") }
            framing = .length(length)
        } else {
            framing = .untilClose
        }
        let body = BodyReader(stream: stream, framing: framing, peer: request.url.authority) { [weak self] connection in
            if keepAlive, framing != .untilClose { self?.giveBack(connection, key: key) }
        }
        return HTTPResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers, url: request.url, body: body)
    }
}

extension Substring {
    var trimmingSpaces: String {
        var slice = self
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice = slice.dropLast() }
        return String(slice)
    }
}

/// A connection with a read-ahead buffer for the response head and chunk headers; body
/// bytes beyond it are read straight into the caller's buffer.
final class BufferedStream {
    let connection: Connection
    private var buffer: [UInt8] = []
    private var start = 0

    init(_ connection: Connection) { self.connection = connection }

    var buffered: Int { buffer.count - start }

    /// Lines up to the empty line that ends the head (without CRLFs).
    func readHead(limit: Int, peer: String) throws(ImageError) -> [Substring] {
        while true {
            if let end = findHeadEnd() {
                let text = String(decoding: buffer[start..<end], as: UTF8.self)
                start = end + 4
                return text.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0 }
            }
            if buffered > limit { throw .network("response head from \(peer) is longer than \(limit) bytes") }
            guard try fill() > 0 else {
                throw .network("\(peer) closed the connection before answering")
            }
        }
    }

    /// One line (chunk size, trailer), without CRLF.
    func readLine(peer: String) throws(ImageError) -> String {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                return line
            }
            if buffered > 4096 { throw .network("bad chunked encoding from \(peer)") }
            guard try fill() > 0 else { throw .network("\(peer) closed the connection in the middle of a chunked body") }
        }
    }

    /// Body bytes: first from the buffer, then directly from the socket.
    func read(into target: UnsafeMutableRawBufferPointer, max: Int) throws(ImageError) -> Int {
        let wanted = Swift.min(max, target.count)
        guard wanted > 0 else { return 0 }
        if buffered > 0 {
            let n = Swift.min(wanted, buffered)
            buffer.withUnsafeBytes { raw in
                guard let source = raw.baseAddress else { return }
                target.baseAddress?.copyMemory(from: source + start, byteCount: n)
            }
            start += n
            return n
        }
        return try connection.read(into: UnsafeMutableRawBufferPointer(rebasing: target[0..<wanted]))
    }

    private func fill() throws(ImageError) -> Int {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 16_384, alignment: 8)
        defer { chunk.deallocate() }
        let n = try connection.read(into: chunk)
        buffer.append(contentsOf: chunk[0..<n])
        return n
    }

    private func findHeadEnd() -> Int? {
        guard buffered >= 4 else { return nil }
        var i = start
        while i + 3 < buffer.count {
            if buffer[i] == 0x0D && buffer[i + 1] == 0x0A && buffer[i + 2] == 0x0D && buffer[i + 3] == 0x0A { return i }
            i += 1
        }
        return nil
    }
}

/// Body framing: Content-Length, chunked, or until the server closes.
final class BodyReader {
    enum Framing: Equatable {
        case length(Int64)
        case chunked
        case untilClose
    }

    private var stream: BufferedStream?
    private let framing: Framing
    private let peer: String
    private var remaining: Int64
    private var chunkRemaining: Int64 = 0
    private var finished = false
    private let onComplete: (Connection) -> Void
    private var received: Int64 = 0

    init(stream: BufferedStream, framing: Framing, peer: String, onComplete: @escaping (Connection) -> Void) {
        self.stream = stream
        self.framing = framing
        self.peer = peer
        self.onComplete = onComplete
        if case .length(let length) = framing { remaining = length } else { remaining = -1 }
        if framing == .length(0) { complete() }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(ImageError) -> Int {
        guard !finished, let stream else { return 0 }
        switch framing {
        case .length(let total):
            let n = try stream.read(into: buffer, max: Int(Swift.min(remaining, Int64(Int.max))))
            if n == 0 {
                abandon()
                throw .network("connection to \(peer) closed after \(total - remaining) of \(total) bytes")
            }
            remaining -= Int64(n)
            received += Int64(n)
            if remaining == 0 { complete() }
            return n
        case .untilClose:
            let n = try stream.read(into: buffer, max: buffer.count)
            if n == 0 { abandon() }
            return n
        case .chunked:
            if chunkRemaining == 0 {
                let line = try stream.readLine(peer: peer)
                let sizeText = line.split(separator: ";").first.map(String.init)?.trimmingCharacters(in: " ") ?? ""
                guard let size = Int64(sizeText, radix: 16), size >= 0 else { throw .network("bad chunk size \"\(line)\" from \(peer)") }
                if size == 0 {
                    while try !stream.readLine(peer: peer).isEmpty {}  // trailers
                    complete()
                    return 0
                }
                chunkRemaining = size
            }
            let n = try stream.read(into: buffer, max: Int(Swift.min(chunkRemaining, Int64(Int.max))))
            if n == 0 {
                abandon()
                throw .network("connection to \(peer) closed in the middle of a chunk after \(received) bytes")
            }
            chunkRemaining -= Int64(n)
            received += Int64(n)
            if chunkRemaining == 0 { _ = try stream.readLine(peer: peer) }
            return n
        }
    }

    private func complete() {
        finished = true
        if let stream { onComplete(stream.connection) }
        stream = nil
    }

    /// Drops the connection (not reusable).
    func abandon() {
        finished = true
        stream = nil
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        Substring(self).trimmingSpaces
    }
}
