/// The embedded container runtime (issue 3): a `ContainerSpec` in, a running, isolated,
/// limited process out — no runc, crun or daemon underneath.
///
/// Public surface:
/// - `ContainerSpec` (+ `ImageConfig`, `mergeArguments`, `mergeEnvironment`, the
///   `berth-spec` text codec `encoded` / `init(decoding:)`): what to run.
/// - `ContainerRunner.run(_:options:)`: run one container in the foreground from a
///   **single-threaded** process and return its `ContainerResult` (exit code, signal,
///   OOMKilled, start/finish times). See its doc comment for the process model.
/// - `ContainerExec.run(_:)`: a new process in a running container (`berth runtime exec`).
/// - `RuntimeCommand.run(arguments:)`, `.usage`, `.options`, `.execOptions`: the
///   `berth runtime run|exec` command line for the CLI registry.
/// - Building blocks with their own tests: `Capabilities`, `UserResolver`, `CgroupLayout` /
///   `Cgroup` (v1, hybrid, v2; takes a root so tests use a temp dir), `SeccompProfile`,
///   `JSONLogWriter`.
///
/// Setup order, mounts, security defaults and their sources are documented where they are
/// implemented (`ContainerInit`, `RootfsSetup`, `FinalizeRootfs`); the user-facing reference
/// is `man/berth-runtime.8`.
public enum BerthRuntime {
    public static let version = "0.1.0"
}
