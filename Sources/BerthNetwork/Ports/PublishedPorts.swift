#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// The host ports one supervisor holds for its containers' published ports (see
/// `PortReservation` for why they are held). A port belongs to a *slot* — a service's replica
/// number — not to one container: during a rolling update the new container of a replica
/// publishes the very ports of the old one (the same port of a range, the same random port),
/// and nftables sends the traffic to whichever of them is ready. A port is given back when
/// its last holder releases it.
public final class PublishedPorts: @unchecked Sendable {
    struct Key: Hashable {
        var hostIP: UInt32
        var port: UInt16
        var proto: PortBinding.Proto
    }

    final class Entry {
        let fd: Int32
        let slot: String
        let containerPort: UInt16
        /// Taken by the kernel for a request without a host port.
        let ephemeral: Bool
        var holders: Set<String> = []

        init(fd: Int32, slot: String, containerPort: UInt16, ephemeral: Bool) {
            self.fd = fd
            self.slot = slot
            self.containerPort = containerPort
            self.ephemeral = ephemeral
        }
    }

    private let lock = NSLock()
    private var entries: [Key: Entry] = [:]
    private var held: [String: [Key]] = [:]

    public init() {}

    deinit {
        for entry in entries.values { close(entry.fd) }
    }

    /// Reserves every request for `holder` (a container id) or none. `slot` names the
    /// replica (`service#number`): a port its slot already holds is shared. A range tries
    /// its port number `preferredOffset` first (replica N: the N-th port), then the others
    /// in order. `owner` names the container in errors.
    public func reserve(_ requests: [PortRequest], holder: String, slot: String, preferredOffset: Int = 0, owner: String) throws -> [PortBinding] {
        try lock.withLock {
            var bindings: [PortBinding] = []
            var taken: [Key] = []
            do {
                for request in requests {
                    let (key, binding) = try reserveOne(request, holder: holder, slot: slot, preferredOffset: preferredOffset, owner: owner)
                    taken.append(key)
                    bindings.append(binding)
                }
            } catch {
                for key in taken { drop(key, holder: holder) }
                throw error
            }
            held[holder, default: []] += taken
            return bindings
        }
    }

    /// Gives back what `holder` holds; a port with no holder left is closed.
    public func release(holder: String) {
        lock.withLock {
            for key in held.removeValue(forKey: holder) ?? [] { drop(key, holder: holder) }
        }
    }

    /// Does another container hold one of `holder`'s ports too?
    public func isShared(holder: String) -> Bool {
        lock.withLock {
            (held[holder] ?? []).contains { (entries[$0]?.holders.count ?? 0) > 1 }
        }
    }

    /// How many host ports are held (for tests).
    public var count: Int { lock.withLock { entries.count } }

    private func drop(_ key: Key, holder: String) {
        guard let entry = entries[key] else { return }
        entry.holders.remove(holder)
        if entry.holders.isEmpty {
            close(entry.fd)
            entries[key] = nil
        }
    }

    private func reserveOne(_ request: PortRequest, holder: String, slot: String, preferredOffset: Int, owner: String) throws -> (Key, PortBinding) {
        let ip = request.hostIP?.value ?? 0
        func share(_ key: Key, _ entry: Entry) -> (Key, PortBinding) {
            entry.holders.insert(holder)
            return (key, PortBinding(hostIP: request.hostIP, hostPort: key.port, containerPort: request.containerPort, proto: request.proto))
        }
        func bind(_ port: UInt16) throws -> (Key, PortBinding) {
            let (fd, actual) = try PortReservation.bind(request, port: port, owner: owner)
            let key = Key(hostIP: ip, port: actual, proto: request.proto)
            let entry = Entry(fd: fd, slot: slot, containerPort: request.containerPort, ephemeral: port == 0)
            entries[key] = entry
            return share(key, entry)
        }
        guard let range = request.hostPorts else {
            if let (key, entry) = entries.first(where: { key, entry in
                entry.slot == slot && entry.ephemeral && key.hostIP == ip && key.proto == request.proto && entry.containerPort == request.containerPort
                    && !entry.holders.contains(holder)
            }) {
                return share(key, entry)
            }
            return try bind(0)
        }
        let ports = Array(range)
        let first = ports.count > 1 ? preferredOffset % ports.count : 0
        let ordered = ports[first...] + ports[..<first]
        var lastError: (any Error)?
        for port in ordered {
            let key = Key(hostIP: ip, port: port, proto: request.proto)
            if let entry = entries[key] {
                if entry.slot == slot && !entry.holders.contains(holder) { return share(key, entry) }
                if ports.count == 1 {
                    throw NetworkError(.portInUse, "\(owner): host port \(request.hostIP?.description ?? "0.0.0.0"):\(port)/\(request.proto.rawValue) is already published by another container of this project: publish on another port")
                }
                continue
            }
            do {
                return try bind(port)
            } catch let error as NetworkError where error.code == .portInUse {
                lastError = error
            }
        }
        if ports.count > 1 {
            throw NetworkError(.portInUse, "\(owner): every host port of \(range.lowerBound)-\(range.upperBound)/\(request.proto.rawValue) on \(request.hostIP?.description ?? "0.0.0.0") is already in use: free one or choose another range")
        }
        throw lastError ?? NetworkError(.portInUse, "\(owner): no host port available")
    }
}
