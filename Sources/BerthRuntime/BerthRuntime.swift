import BerthSystem

/// The embedded container runtime (issue 3). See ARCHITECTURE.md, "Process model".
public enum BerthRuntime {
    public static let version = "0.1.0"
}
