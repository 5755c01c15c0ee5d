import Foundation

extension ContainerLifecycle {
    /// Renames a container, running or not (Docker's `rename`; a rolling update gives the new
    /// container of a replica its final name once the old one is out of the way). A running
    /// container keeps its run name (`runName`) for its namespace, endpoints and runtime
    /// state; its DNS entry answers to the new name from now on.
    public func rename(_ id: String, to name: String) throws {
        let containerLock = containerLock(id)
        containerLock.lock()
        defer { containerLock.unlock() }
        let valid = !name.isEmpty && name.unicodeScalars.enumerated().allSatisfy { index, c in
            (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || (index > 0 && (c == "_" || c == "." || c == "-"))
        }
        guard valid else { throw EngineError("invalid container name \"\(name)\": use [a-zA-Z0-9][a-zA-Z0-9_.-]+") }
        var record = try engine.store.record(id)
        guard record.name != name else { return }
        if let other = engine.store.records().first(where: { $0.name == name && $0.id != id }) {
            throw EngineError("Conflict. The container name \"/\(name)\" is already in use by container \(other.id.prefix(12)): remove or rename that container first")
        }
        let old = record.name
        record.name = name
        try engine.store.update(record)
        if (try? engine.observe(id))?.status == .running, let run = runName(id) {
            for (network, endpoint) in (try? networks.endpoints(container: run)) ?? [] {
                dnsRecords.setNames(network: network.name, container: run, names: [name] + endpoint.aliases.filter { $0 != old })
            }
        }
        // A pod member's name is one of its pod replica's names; an infra's are its own and its members'.
        if record.label(Label.pod) != nil { refreshPodReadiness(of: record) }
        changes.notify()
    }
}
