import BerthRuntime

extension HealthConfig {
    /// berth's own checks (`HTTP-GET`, `TCP-SOCKET`: Kubernetes' httpGet and tcpSocket
    /// probes), run from the container's network namespace without a command in the image.
    public var isNative: Bool { test.first == NativeProbe.httpKind || test.first == NativeProbe.tcpKind }

    /// The `berth-runtime` command line of one probe of container `name`: an exec of the
    /// check's command in the container, or a native probe. nil when nothing runs.
    func probeArguments(runtime: String, project: String, runRoot: String, container name: String) -> [String]? {
        if isNative { return [runtime, "probe", "--project", project, "--run-root", runRoot, name, "--"] + test }
        guard let command = probeCommand else { return nil }
        return [runtime, "exec", "--project", project, "--run-root", runRoot, name, "--"] + command
    }
}
