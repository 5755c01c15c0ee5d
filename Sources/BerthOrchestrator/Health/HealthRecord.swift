import BerthSystem

/// `<root>/containers/<id>/health.json`: the health of one run of the container, written by
/// the supervisor's prober alone. It has a file of its own because the CLI rewrites
/// `state.json` too (observing an exit): a read-modify-write there would lose one or the
/// other. `run` is the container's `startedAt`, so a record left by an earlier run never
/// passes for the current one.
public struct HealthRecord: Codable, Sendable, Equatable {
    public var run: String
    public var health: ContainerHealth

    public init(run: String, health: ContainerHealth) {
        self.run = run
        self.health = health
    }

    static let fileName = "health.json"
}

extension ContainerStore {
    /// The health of the run that started at `startedAt`, nil if it has none (no
    /// healthcheck, or not checked yet by this run's supervisor).
    public func health(_ id: String, startedAt: String?) -> ContainerHealth? {
        guard let startedAt, let record = try? Self.decode(HealthRecord.self, from: path(id) + "/" + HealthRecord.fileName),
              record.run == startedAt else { return nil }
        return record.health
    }

    /// Atomic, without fsync: it changes every few seconds, and a lost update is redone by
    /// the next probe.
    public func saveHealth(_ health: ContainerHealth, startedAt: String, for id: String) throws {
        try FS.writeAtomically(path(id) + "/" + HealthRecord.fileName, sync: false, Self.encode(HealthRecord(run: startedAt, health: health)), mode: 0o600)
    }
}
