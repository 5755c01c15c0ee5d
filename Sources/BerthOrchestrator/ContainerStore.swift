import BerthRuntime
import BerthSystem
import Foundation

/// What berth knows of one container, kept in `<root>/containers/<id>/config.json`: who it
/// is (names, labels, image) — written once at create.
public struct ContainerRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var project: String
    public var service: String
    public var number: Int
    public var oneOff: Bool
    /// Labels in the order they were stamped.
    public var labels: [[String]]
    public var image: String
    public var imageDigest: String?
    public var configHash: String
    /// The command line, for `ps`.
    public var command: [String]
    public var created: String
    /// Ports the container exposes without publishing them (the service's `expose` and the
    /// image's `EXPOSE`, as `80/tcp`): `ps` shows them for a running container. Published
    /// ports come from the network store's endpoints.
    public var exposedPorts: [String]? = nil
    /// What the container was asked to be, before the runtime spec merged it (for
    /// `inspect`); nil for containers created before berth kept it.
    public var createConfig: CreateConfig? = nil

    public init(
        id: String, name: String, project: String, service: String, number: Int, oneOff: Bool, labels: [[String]], image: String,
        imageDigest: String?, configHash: String, command: [String], created: String, exposedPorts: [String]? = nil,
        createConfig: CreateConfig? = nil
    ) {
        self.id = id
        self.name = name
        self.project = project
        self.service = service
        self.number = number
        self.oneOff = oneOff
        self.labels = labels
        self.image = image
        self.imageDigest = imageDigest
        self.configHash = configHash
        self.command = command
        self.created = created
        self.exposedPorts = exposedPorts
        self.createConfig = createConfig
    }

    public func label(_ key: String) -> String? { labels.last { $0.first == key }?.last }
}

/// How the container is doing, in `<root>/containers/<id>/state.json` — rewritten at each
/// transition, atomically.
public struct ContainerState: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        case created, running, exited
    }

    public var status: Status = .created
    /// The `berth-runtime` monitor: the container's parent, which records its exit in
    /// `exit.json` even when no supervisor runs.
    public var monitorPid: Int32?
    /// The monitor's start time (field 22 of /proc/PID/stat): a recycled pid does not pass.
    public var monitorStartTime: UInt64?
    public var pid: Int32?
    public var startedAt: String?
    public var finishedAt: String?
    public var exitCode: Int32?
    public var oomKilled = false
    /// Stopped by a command (`stop`, `down`), not by itself: restart policies leave it.
    public var stoppedByUser = false
    /// Why the last start failed (Docker's `State.Error`); cleared by a start.
    public var error: String?
    // The healthcheck's verdict is not here but in health.json (`ContainerStore.health`),
    // which only the supervisor writes.

    public init() {}
}

/// The exit report a monitor writes (`berth-runtime run --status-file`).
struct ExitReport: Codable {
    var ExitCode: Int32
    var OOMKilled: Bool
    var StartedAt: String
    var FinishedAt: String
}

/// The containers' directories under `<root>/containers`, one per container id, as Docker's
/// `/var/lib/docker/containers/<id>`: config.json, state.json, spec (the runtime's input),
/// exit.json (the monitor's report), monitor.log, `<id>-json.log`, `rw/` (writable layer).
public struct ContainerStore: Sendable {
    public let directory: String

    public init(root: String) {
        directory = root + "/containers"
    }

    public func path(_ id: String) -> String { directory + "/" + id }

    /// Writes the container's files; `config.json` last, since a directory without it is
    /// not a container (`records()` skips it).
    public func create(_ record: ContainerRecord, spec: String, files: [String: [UInt8]] = [:]) throws {
        let dir = path(record.id)
        try FS.makeSpreadDirectory(directory, mode: 0o700)
        _ = try Sys.check("mkdir", path: dir) { mkdir(dir, 0o700) }
        try FS.writeAtomically(dir + "/spec", Array(spec.utf8), mode: 0o600)
        for (name, bytes) in files.sorted(by: { $0.key < $1.key }) {
            try FS.writeAtomically(dir + "/" + name, bytes, mode: 0o600)
        }
        try FS.writeAtomically(dir + "/config.json", Self.encode(record), mode: 0o600)
        try save(ContainerState(), for: record.id)
    }

    public func records() -> [ContainerRecord] {
        let ids = (try? FS.listDirectory(directory)) ?? []
        return ids.compactMap { try? record($0) }.sorted { $0.name < $1.name }
    }

    /// Rewrites a container's record (a rename), atomically.
    public func update(_ record: ContainerRecord) throws {
        try FS.writeAtomically(path(record.id) + "/config.json", Self.encode(record), mode: 0o600)
    }

    public func record(_ id: String) throws -> ContainerRecord {
        try Self.decode(ContainerRecord.self, from: path(id) + "/config.json")
    }

    /// The runtime spec the container was created with.
    public func spec(_ id: String) throws -> ContainerSpec {
        try ContainerSpec(decoding: try FS.readString(path(id) + "/spec"))
    }

    public func state(_ id: String) -> ContainerState {
        (try? Self.decode(ContainerState.self, from: path(id) + "/state.json")) ?? ContainerState()
    }

    /// Not synced: a state describes processes of this boot, which a crash that loses the
    /// file takes along (the rename still makes it the old or the new state, never a mix).
    public func save(_ state: ContainerState, for id: String) throws {
        try withStateLock(id) { try FS.writeAtomically(path(id) + "/state.json", sync: false, Self.encode(state), mode: 0o600) }
    }

    /// Reads, changes and writes the state under the container's state lock: the supervisor
    /// and CLIs (which record an exit they observe) never undo each other's writes. `change`
    /// returns false to leave the file alone. Returns the state as it is afterwards.
    @discardableResult
    public func modifyState(_ id: String, _ change: (inout ContainerState) throws -> Bool) throws -> ContainerState {
        try withStateLock(id) {
            var state = self.state(id)
            if try change(&state) {
                try FS.writeAtomically(path(id) + "/state.json", sync: false, Self.encode(state), mode: 0o600)
            }
            return state
        }
    }

    /// An exclusive flock on the container's directory for the duration of `body`.
    private func withStateLock<T>(_ id: String, _ body: () throws -> T) throws -> T {
        let directory = path(id)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemError("open", path: directory, errno: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        return try body()
    }

    func exitReport(_ id: String) -> ExitReport? {
        try? Self.decode(ExitReport.self, from: path(id) + "/exit.json")
    }

    public func remove(_ id: String) throws {
        try FS.removeTree(path(id))
    }

    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value)) + [0x0a]
    }

    static func decode<T: Decodable>(_ type: T.Type, from file: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(try FS.read(file)))
    }
}
