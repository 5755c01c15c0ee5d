import BerthSystem
import CBerthSys
import Foundation

extension ContainerLifecycle {
    public typealias WaitCondition = SupervisorProtocol.Request.WaitCondition

    /// Where one container stands against a condition.
    enum Verdict: Equatable {
        case met(exitCode: Int32?)
        case waiting
        case failed(String)
    }

    /// Blocks until every container meets `condition`, or one cannot (its error in Compose's
    /// words: `container X exited (N)`, `container X is unhealthy`, `container X has no
    /// healthcheck configured`), or `milliseconds` pass, or the client hangs up (then the
    /// answer goes nowhere). Event-driven: woken by starts, exits and health changes.
    public func waitFor(_ ids: [String], condition: WaitCondition, milliseconds: Int?, client: Int32) -> [SupervisorProtocol.Response.Result] {
        let wake: BerthSystem.Pipe
        do { wake = try changes.subscribe() } catch {
            return ids.map { .init(container: $0, error: "cannot wait: \(error)") }
        }
        defer { changes.unsubscribe(wake) }
        let deadline = milliseconds.map { Clock.monotonicNanoseconds() + Int64(max(0, $0)) * 1_000_000 }
        var decided: [String: SupervisorProtocol.Response.Result] = [:]
        func answer() -> [SupervisorProtocol.Response.Result] { ids.compactMap { decided[$0] } }
        while true {
            for id in ids where decided[id] == nil {
                switch verdict(id, condition) {
                case .met(let code): decided[id] = .init(container: id, exitCode: code)
                case .failed(let message):
                    decided[id] = .init(container: id, error: message)
                    return answer()
                case .waiting: break
                }
            }
            if decided.count == ids.count { return answer() }
            var fds = [pollfd(fd: wake.read, events: Int16(POLLIN), revents: 0)]
            if client >= 0 { fds.append(pollfd(fd: client, events: Int16(POLLIN), revents: 0)) }
            var timeout: Int32 = -1
            if let deadline {
                timeout = Int32(clamping: max(0, (deadline - Clock.monotonicNanoseconds() + 999_999) / 1_000_000))
            }
            let n = poll(&fds, nfds_t(fds.count), timeout)
            if n < 0 && errno != EINTR { return ids.map { .init(container: $0, error: "cannot wait: poll: \(SystemError.errnoName(errno))") } }
            if n == 0, let deadline, Clock.monotonicNanoseconds() >= deadline {
                for id in ids where decided[id] == nil { decided[id] = .init(container: id, timedOut: true) }
                return answer()
            }
            if fds.count > 1 && fds[1].revents != 0 && Self.hungUp(client) { return [] }
            ChangeSignal.drain(wake)
        }
    }

    /// A client that closed its end (it sends nothing after its request).
    static func hungUp(_ fd: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)
    }

    /// Compose's `isServiceHealthy` (with `fallbackRunning` for `runningOrHealthy`) and
    /// `isServiceCompleted`, for one container — except that a created container that has not
    /// started yet is waited for.
    func verdict(_ id: String, _ condition: WaitCondition) -> Verdict {
        guard let record = try? engine.store.record(id), let state = try? engine.observe(id) else {
            return .failed("no such container: \(id)")
        }
        if condition == .exited {
            return state.status == .exited ? .met(exitCode: state.exitCode ?? 0) : .waiting
        }
        if condition == .unready {
            switch state.status {
            case .exited: return .met(exitCode: state.exitCode ?? 0)
            case .created: return .waiting
            case .running:
                let unhealthy = (prober.status(id) ?? engine.store.health(id, startedAt: state.startedAt)?.status) == .unhealthy
                return unhealthy ? .met(exitCode: nil) : .waiting
            }
        }
        switch state.status {
        case .exited: return .failed("container \(record.name) exited (\(state.exitCode ?? 0))")
        case .created: return .waiting
        case .running: break
        }
        guard (try? LaunchConfig.load(directory: engine.store.path(id)))?.healthcheck != nil else {
            return condition == .runningOrHealthy ? .met(exitCode: nil) : .failed("container \(record.name) has no healthcheck configured")
        }
        switch prober.status(id) ?? engine.store.health(id, startedAt: state.startedAt)?.status ?? .starting {
        case .healthy: return .met(exitCode: nil)
        case .unhealthy: return .failed("container \(record.name) is unhealthy")
        case .starting: return .waiting
        }
    }
}
