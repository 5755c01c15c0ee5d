import BerthOrchestrator
import BerthSystem

extension StackContext {
    /// After a `down`: once nothing of the project is left, waits for its supervisor to exit
    /// and removes its run directory, so that nothing of the project remains when the
    /// command returns.
    func awaitSupervisorExit() {
        guard stack.containers().isEmpty else { return }
        stack.waitForSupervisorExit()
        try? FS.removeTree(SupervisorPaths(runRoot: invocation.runRoot, project: name).directory)
    }
}
