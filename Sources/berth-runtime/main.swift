import BerthRuntime
#if canImport(Glibc)
import Glibc
#endif

// `berth-runtime run|exec …` — the same plumbing as `berth runtime …`, in a binary that
// links neither BerthCLI nor Foundation: CoreFoundation's start-up (its constructors run
// whether or not anything uses it) costs ~2 ms per process, and the orchestrator starts
// one of these per container and per exec. Single-threaded by construction.
exit(RuntimeCommand.run(arguments: Array(CommandLine.arguments.dropFirst())))
