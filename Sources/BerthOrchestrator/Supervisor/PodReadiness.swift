import BerthNetwork
import Foundation

/// Kubernetes' pod readiness for berth's pods: a pod replica's address (its infra's endpoint)
/// answers to its names in DNS and gets the traffic of shared host ports only while every
/// member that is not an init member runs and, when it has a health check, is healthy. The
/// supervisor asks again whenever a member starts, ends or changes health.
extension ContainerLifecycle {
    /// The infra of the pod replica `record` belongs to: itself when it is one.
    func podInfra(of record: ContainerRecord) -> ContainerRecord? {
        guard let pod = record.label(Label.pod) else { return nil }
        if record.label(Label.podInfra) == "True" { return record }
        return engine.store.records().first { other in
            other.project == record.project && other.number == record.number && other.label(Label.pod) == pod && other.label(Label.podInfra) == "True"
        }
    }

    /// The members (not the infra) of the pod replica whose infra is `infra`.
    func podMembers(of infra: ContainerRecord) -> [ContainerRecord] {
        let pod = infra.label(Label.pod)
        return engine.store.records().filter { other in
            other.project == infra.project && other.number == infra.number && !other.oneOff && other.label(Label.pod) == pod
                && other.label(Label.podInfra) != "True"
        }
    }

    /// Every member that is not an init member runs, healthy where it has a health check.
    func podIsReady(_ infra: ContainerRecord) -> Bool {
        let members = podMembers(of: infra).filter { $0.label(Label.podInit) != "True" }
        return !members.isEmpty && members.allSatisfy { member in
            guard let state = try? engine.observe(member.id), state.status == .running else { return false }
            guard (try? LaunchConfig.load(directory: engine.store.path(member.id)))?.healthcheck != nil else { return true }
            return engine.store.health(member.id, startedAt: state.startedAt)?.status == .healthy
        }
    }

    /// Brings the readiness of the pod replica of `record` (a member or an infra) up to date.
    func refreshPodReadiness(of record: ContainerRecord) {
        guard let infra = podInfra(of: record), let run = runName(infra.id), (try? engine.observe(infra.id))?.status == .running else { return }
        let ready = podIsReady(infra)
        dnsRecords.setReady(container: run, ready: ready)
        try? networks.setReady(container: run, ready: ready)
    }
}
