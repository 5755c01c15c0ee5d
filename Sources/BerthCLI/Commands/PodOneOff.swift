import BerthOrchestrator
import ComposeSpec

/// `berth run` of a pod member (podman's `run --pod`): the one-off joins the network, IPC
/// and UTS namespaces of the pod's replica 1 — it reaches the members on localhost and has
/// the pod's host name. Without --no-deps the pod is started first (as `up MEMBER` starts it);
/// with it, the pod must already run.
enum PodOneOff {
    /// What a pod member's one-off cannot do, as errors before anything starts.
    static func check(_ pod: Pod, service: String, oneOff: OneOffOptions, noDeps: Bool, project: Project, stack: Stack) throws {
        if !oneOff.ports.isEmpty || oneOff.servicePorts {
            throw CLIError(
                "service \"\(service)\" is a member of pod \"\(pod.name)\": its one-off shares the pod's network and cannot publish ports (-p, --service-ports); the pod publishes its members' ports")
        }
        guard noDeps else { return }
        let infra = Pod.infraService(pod.name)
        let running = stack.containers().contains { record in
            !record.oneOff && record.service == infra && record.number == 1 && (try? stack.engine.observe(record.id))?.status == .running
        }
        if !running {
            throw CLIError(
                "service \"\(service)\" is a member of pod \"\(pod.name)\", whose replica 1 is not running: its one-off joins it; start the pod with berth up \(service), or drop --no-deps")
        }
    }
}
