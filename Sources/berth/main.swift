import BerthCLI
import BerthRuntime
#if canImport(Glibc)
import Glibc
#endif

// `berth runtime …` goes straight to the runtime, before BerthCLI (and Foundation) does any
// work: that path must stay single-threaded (see ContainerRunner). Folded into the command
// registry at merge time.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "runtime" {
    exit(RuntimeCommand.run(arguments: Array(CommandLine.arguments.dropFirst(2))))
}

BerthCLI.main()
