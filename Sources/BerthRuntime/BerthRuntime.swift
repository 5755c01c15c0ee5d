/// The embedded container runtime (issue 3). See ARCHITECTURE.md, "Process model", and
/// `ContainerRunner` for the start path.
public enum BerthRuntime {
    public static let version = "0.1.0"
}
