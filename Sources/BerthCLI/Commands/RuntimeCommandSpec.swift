import BerthRuntime

/// `berth runtime …`, the plumbing command of the embedded runtime (man/berth-runtime.8).
/// `main.swift` dispatches it before anything else so the container start path stays
/// single-threaded; this entry gives it help text and a place in the registry.
enum RuntimePlumbing {
    static let spec = CommandSpec(
        name: "runtime", arguments: "run [--rootfs DIR] [OPTIONS] [--] COMMAND [ARG...]",
        abstract: "Run one container in the foreground with the embedded runtime (plumbing, for tests and benchmarks).",
        discussion: "Exits with the container's code: 125 when berth fails, 126 when the command can't be executed, 127 when it isn't found, 128+n when a signal n killed it. berth runtime exec NAME -- COMMAND runs a command in a running container; berth runtime probe NAME -- HTTP-GET URL [HEADER...] or -- TCP-SOCKET HOST:PORT makes a health check from the container's network namespace (exit 0 when it passes, 1 when it fails, with the reason on stdout).",
        options: RuntimeCommand.options.map(optionSpec), hidden: true, passThrough: true
    ) { invocation in
        RuntimeCommand.run(arguments: invocation.arguments)
    }

    /// Maps the runtime's own option table (`--name`, `-x`) onto the registry's.
    static func optionSpec(_ option: RuntimeOption) -> OptionSpec {
        let long = option.names.first(where: { $0.hasPrefix("--") }).map { String($0.dropFirst(2)) } ?? ""
        let short = option.names.first(where: { !$0.hasPrefix("--") }).map { String($0.dropFirst()) }
        return OptionSpec(long, short: short, value: option.valueName, help: option.help, repeatable: option.repeatable)
    }
}
