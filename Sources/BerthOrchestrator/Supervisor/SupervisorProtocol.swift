import Foundation

/// Where a project's supervisor lives: `<run-root>/projects/<project>/` holds its socket
/// (0600), its lock (held for its whole life: one supervisor per project), the lock CLIs take
/// to start one, and its log. Under the run root: nothing of it survives a reboot, as
/// nothing it describes does.
public struct SupervisorPaths: Sendable {
    public let directory: String

    public init(runRoot: String, project: String) {
        directory = "\(runRoot)/projects/\(project)"
    }

    public var socket: String { directory + "/supervisor.sock" }
    public var lock: String { directory + "/supervisor.lock" }
    /// CLIs hold it while they connect or start a supervisor, so two never start one each.
    public var spawnLock: String { directory + "/spawn.lock" }
    public var log: String { directory + "/supervisor.log" }
}

/// The control protocol, version 1: one JSON object per line over the Unix socket; a
/// connection carries one request and its response. Every operation is idempotent (start
/// of a running container, stop of a stopped one succeed), so a client whose supervisor
/// died mid-request starts a new one and asks again.
public enum SupervisorProtocol {
    public static let version = 1

    public struct Request: Codable, Sendable, Equatable {
        public enum Operation: String, Codable, Sendable {
            /// Who are you: answers with the supervisor's pid.
            case hello
            /// Start the containers (networks, ports, DNS, then the process). With `attach`,
            /// the request carries the client's stdin, stdout and stderr (SCM_RIGHTS), which
            /// become the container's streams (`berth run`).
            case start
            /// Stop them: `signal` (default the container's stop signal), then SIGKILL after
            /// `timeout` seconds (default the container's grace period).
            case stop
            /// Stop if running (SIGKILL, or as `stop` does with `stopGracefully`), release the
            /// network, delete the container.
            case remove
            /// Send `signal` without waiting.
            case kill
            /// Freeze every process of the containers (the cgroup freezer), and thaw them.
            case pause, unpause
            /// Answer once each container has exited, with its exit code.
            case wait
            /// Answer once every container meets `condition` (default `healthy`), or as soon
            /// as one cannot (exited, unhealthy, no healthcheck: its result has the error,
            /// Compose's words; the undecided ones are left out), or after `waitMilliseconds`
            /// (the undecided ones come back with `timedOut`).
            case waitCondition
            /// Rename the (one) container to `name`.
            case rename
        }

        /// What `waitCondition` waits for.
        public enum WaitCondition: String, Codable, Sendable {
            /// Healthy (Compose's `service_healthy`): a container without a healthcheck fails.
            case healthy
            /// Healthy if it has a healthcheck, else running (`up --wait`).
            case runningOrHealthy = "running_or_healthy"
            /// Exited, with its exit code (`service_completed_successfully`).
            case exited
            /// No longer ready: exited, or unhealthy (watching a new replica of a rolling
            /// update for `monitor`: a time-out means it held).
            case unready
        }

        public var v: Int
        public var op: Operation
        public var containers: [String]
        public var timeout: Int?
        public var signal: Int32?
        public var condition: WaitCondition?
        /// How long `waitCondition` may wait; nil: as long as it takes.
        public var waitMilliseconds: Int?
        /// `rename`: the new name.
        public var name: String?
        /// `remove`: stop a running container with `signal` and `timeout` (the container's own
        /// by default) first, in the same request: one round trip, and the supervisor stays
        /// until the container is gone (it exits once nothing runs).
        public var stopGracefully: Bool?
        /// `start`: the client's stdio come with the request.
        public var attach: Bool?

        public init(
            op: Operation, containers: [String] = [], timeout: Int? = nil, signal: Int32? = nil, condition: WaitCondition? = nil,
            waitMilliseconds: Int? = nil, name: String? = nil, stopGracefully: Bool? = nil, attach: Bool? = nil
        ) {
            v = SupervisorProtocol.version
            self.op = op
            self.containers = containers
            self.timeout = timeout
            self.signal = signal
            self.condition = condition
            self.waitMilliseconds = waitMilliseconds
            self.name = name
            self.stopGracefully = stopGracefully
            self.attach = attach
        }
    }

    public struct Response: Codable, Sendable, Equatable {
        /// Per container: nil error means done.
        public struct Result: Codable, Sendable, Equatable {
            public var container: String
            public var error: String?
            public var exitCode: Int32?
            /// `waitCondition` gave up on it after `waitMilliseconds`.
            public var timedOut: Bool?

            public init(container: String, error: String? = nil, exitCode: Int32? = nil, timedOut: Bool? = nil) {
                self.container = container
                self.error = error
                self.exitCode = exitCode
                self.timedOut = timedOut
            }
        }

        public var v: Int
        /// Set when the request itself was refused (unknown version, unreadable).
        public var error: String?
        public var pid: Int32?
        public var results: [Result]

        public init(error: String? = nil, pid: Int32? = nil, results: [Result] = []) {
            v = SupervisorProtocol.version
            self.error = error
            self.pid = pid
            self.results = results
        }
    }

    static func encodeLine(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8)) + [0x0a]
    }
}
