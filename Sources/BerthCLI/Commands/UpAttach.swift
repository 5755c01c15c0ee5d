import BerthOrchestrator
import ComposeSpec

/// The flags of a foreground `up` (Compose's `upOptions`): which services to attach to,
/// when to stop the stack, whose exit code to return, and how lines look.
struct AttachOptions {
    var onExit = ExitCascade.OnExit.ignore
    var exitCodeFrom: String?
    var attach: [String] = []
    var noAttach: [String] = []
    var attachDependencies = false
    var prefixes = true
    var noColor = false
    var timestamps = false

    static let options: [OptionSpec] = [
        OptionSpec("abort-on-container-exit", help: "Stop all containers if any container stops. Incompatible with -d."),
        OptionSpec("abort-on-container-failure", help: "Stop all containers if any container exits with a failure (non-zero code). Incompatible with -d."),
        OptionSpec("exit-code-from", value: "SERVICE", help: "Return the exit code of SERVICE's container (implies --abort-on-container-exit)."),
        OptionSpec("attach", value: "SERVICE", help: "Show the output of SERVICE only; repeatable.", repeatable: true),
        OptionSpec("no-attach", value: "SERVICE", help: "Do not show the output of SERVICE; repeatable.", repeatable: true),
        OptionSpec("attach-dependencies", help: "Also show the output of the services' dependencies."),
        OptionSpec("no-log-prefix", help: "Don't print the container name before each line."),
        OptionSpec("no-color", help: "Produce monochrome output."),
        OptionSpec("timestamps", help: "Show the time of each line."),
    ]

    /// Reads the flags and checks their combinations as Compose's `validateFlags` does.
    /// `detach` is -d; `wait` is --wait (which implies -d).
    static func parse(_ options: ParsedOptions, detach: Bool, wait: Bool, command: String) throws -> AttachOptions {
        var parsed = AttachOptions()
        parsed.exitCodeFrom = options.value("exit-code-from").flatMap { $0.isEmpty ? nil : $0 }
        var cascadeStop = options.flag("abort-on-container-exit")
        let cascadeFail = options.flag("abort-on-container-failure")
        if parsed.exitCodeFrom != nil && !cascadeFail { cascadeStop = true }
        if cascadeStop && cascadeFail {
            throw UsageError(message: "--abort-on-container-failure cannot be combined with --abort-on-container-exit", command: command)
        }
        parsed.onExit = cascadeStop ? .stop : cascadeFail ? .fail : .ignore
        parsed.attach = options.all("attach")
        parsed.noAttach = options.all("no-attach")
        parsed.attachDependencies = options.flag("attach-dependencies")
        if wait && (parsed.attachDependencies || cascadeStop || !parsed.attach.isEmpty) {
            throw UsageError(message: "--wait cannot be combined with --abort-on-container-exit, --attach or --attach-dependencies", command: command)
        }
        if (detach || wait) && (parsed.attachDependencies || cascadeStop || cascadeFail || !parsed.attach.isEmpty) {
            throw UsageError(
                message: wait
                    ? "--wait cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach or --attach-dependencies"
                    : "--detach cannot be combined with --abort-on-container-exit, --abort-on-container-failure, --attach or --attach-dependencies",
                command: command)
        }
        parsed.prefixes = !options.flag("no-log-prefix")
        parsed.noColor = options.flag("no-color")
        parsed.timestamps = options.flag("timestamps")
        return parsed
    }
}

/// Which services a foreground `up` shows and waits for (Compose's `runUp` and the
/// monitor of `runInteractiveUp`).
struct AttachPlan: Equatable {
    /// Services whose containers' output is shown.
    var attached: Set<String>
    /// Services whose containers' exits are reported, stop the stack under --abort-*, give
    /// --exit-code-from its code, and end `up` once all have exited for good: the services
    /// named on the command line, else the attached ones.
    var watched: Set<String>

    /// `named`: the services on the command line; `included`: every service `up` brings up
    /// (named ones and, without --no-deps, their dependencies; all when none is named).
    static func make(project: Project, named: [String], included: [String], options: AttachOptions) throws -> AttachPlan {
        var attached: Set<String>
        if !options.attach.isEmpty {
            // Given explicitly: taken as they are, but only among the services brought up.
            let unexpected = Set(options.attach).subtracting(included).sorted()
            if !unexpected.isEmpty {
                throw CLIError("cannot attach to services not included in up: \(unexpected.joined(separator: ", "))")
            }
            attached = Set(options.attach)
        } else {
            // The services being launched (with their dependencies under --attach-dependencies)
            // that did not opt out with `attach: false`.
            let launched = named.isEmpty ? included : options.attachDependencies ? DependencyGraph(project: project).withDependencies(named) : named
            attached = Set(launched.filter { project.services[$0]?.attach ?? true })
        }
        attached.subtract(options.noAttach)
        return AttachPlan(attached: attached, watched: named.isEmpty ? attached : Set(named))
    }
}

/// Compose's rules for the end of a foreground `up` (`stopOnFirstExit`,
/// `captureExitCodeFrom`): under --abort-on-container-exit the first container to exit
/// stops the stack and gives its exit code; under --abort-on-container-failure, the first to
/// exit non-zero; --exit-code-from SERVICE then takes the code of that service's first exit
/// (a container the abort stopped gives 137 or 143). Otherwise `up` exits 0.
struct ExitCascade: Equatable {
    enum OnExit: Equatable {
        case ignore
        /// `--abort-on-container-exit`.
        case stop
        /// `--abort-on-container-failure`.
        case fail
    }

    let onExit: OnExit
    let exitCodeFrom: String?
    private(set) var exitCode: Int32 = 0
    private var aborted = false
    private var captured = false

    init(onExit: OnExit, exitCodeFrom: String?) {
        self.onExit = onExit
        self.exitCodeFrom = exitCodeFrom
    }

    /// A watched container of `service` exited for good with `code`. Returns true when this
    /// exit is the one that stops the stack.
    mutating func exited(service: String, code: Int32) -> Bool {
        var abort = false
        if onExit != .ignore && !aborted && !(onExit == .fail && code == 0) {
            aborted = true
            abort = true
            exitCode = code
        }
        if !captured, service == exitCodeFrom {
            captured = true
            exitCode = code
        }
        return abort
    }
}
