import BerthOrchestrator
import BerthSystem
import Foundation

/// `berth attach`: a running service container's output, live, with signals passed on.
enum AttachCommand {
    static let spec = CommandSpec(
        name: "attach", arguments: "SERVICE",
        abstract: "Attach local standard input, output, and error streams to a service's running container.",
        discussion: """
            Prints what the service's container (the first one, or --index N) writes from now on (its standard output on berth's standard output, its standard error on standard error, as written) until it exits, then exits with its exit code. Signals berth receives (Ctrl-C) are passed on to the container's main process unless --sig-proxy=false.

            Standard input is not attached: a container that berth up started reads /dev/null, so --no-stdin is always in effect and there is nothing for --detach-keys to detach from (berth run attaches standard input to a one-off container).
            """,
        options: [
            OptionSpec("detach-keys", value: "KEYS", help: "Accepted for Compose's command line; without standard input there is nothing to detach with keys."),
            OptionSpec("index", value: "N", help: "Index of the container if the service has multiple replicas."),
            OptionSpec("no-stdin", help: "Do not attach STDIN (always the case: see above)."),
            OptionSpec("sig-proxy", help: "Proxy all received signals to the process (--sig-proxy=false: Ctrl-C ends berth only).", default: "true"),
        ],
        examples: [("berth attach worker", "Watch worker's output until it exits; Ctrl-C reaches worker.")]
    ) { invocation in
        guard invocation.arguments.count == 1, let service = invocation.arguments.first else {
            throw UsageError(message: "attach needs one service: berth attach SERVICE", command: "attach")
        }
        let index = try StackContext.index(invocation)
        let context = try StackContext(invocation, needsFile: false)
        try context.checkServices([service])
        let record = try context.specifiedContainer(service, index: index)
        return try AttachSession(stack: context.stack, record: record, console: invocation.console,
                                 proxySignals: invocation.options.flag("sig-proxy", default: true)).run()
    }
}

/// The output of one running container from now on, signals passed on, its exit code.
struct AttachSession {
    let stack: Stack
    let record: ContainerRecord
    let console: any Console
    let proxySignals: Bool

    func run() throws -> Int32 {
        let outcome = LockedCode()
        let ended = try BerthSystem.Pipe()
        defer { close(ended.read); close(ended.write) }
        let console = self.console
        let streamer = try LogStreamer(engine: stack.engine) { events in
            for event in events {
                switch event {
                case .line(let line): line.stream == .stderr ? console.err(line.text + "\n") : console.out(line.text + "\n")
                case .exited(_, _, let code): outcome.set(code)
                case .ended: break
                }
            }
        }
        do {
            try streamer.add(record, name: record.name, options: LogOptions(tail: 0), follow: .whileRunning)
        } catch {
            throw CLIError("cannot attach to \(record.name): \(error)")
        }
        let signals = proxySignals ? try SignalPipe(OneOffSession.forwarded.filter { $0 != SIGWINCH }) : nil
        defer { signals?.close() }
        let failure = LockedResult()
        let wakeFD = ended.write
        Thread {
            do { try streamer.run() } catch { failure.set(.failure(error)) }
            var byte: UInt8 = 1
            _ = Glibc.write(wakeFD, &byte, 1)
        }.start()
        while true {
            var fds = [pollfd(fd: ended.read, events: Int16(POLLIN), revents: 0)]
            if let signals { fds.append(pollfd(fd: signals.fd, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 && errno != EINTR { throw CLIError("poll: \(SystemError.errnoName(errno))") }
            if fds[0].revents != 0 {
                if case .failure(let error) = failure.value { throw CLIError("attach to \(record.name): \(error)") }
                return outcome.value
            }
            if fds.count > 1 && fds[1].revents != 0, let signals {
                for signal in signals.drain() {
                    _ = try? stack.client.send(.init(op: .kill, containers: [record.id], signal: signal))
                }
            }
        }
    }
}
