import BerthNetwork
import Foundation

/// Kubernetes' pod readiness for berth's pods: a pod replica's address (its infra's endpoint)
/// answers to its names in DNS and gets the traffic of shared host ports only while every
/// member that is not an init member runs and, when it has a health check, is healthy. The
/// supervisor asks again whenever a member starts, ends, changes health, is renamed or removed.
///
/// Its names: the infra's container name, its members' service names and aliases (the
/// infra's endpoint aliases), and its members' container names (`demo-web-1`), as Docker's
/// DNS answers to a container's name — a member has no endpoint of its own.
extension ContainerLifecycle {
    /// Whether the pod replica whose infra is `infra` is ready.
    func podIsReady(_ infra: ContainerRecord) -> Bool {
        PodReplica.of(infra, among: engine.store.records())?.isReady(engine: engine) ?? false
    }

    /// Brings the readiness of the pod replica of `record` (a member or an infra) up to date.
    func refreshPodReadiness(of record: ContainerRecord) {
        guard let replica = PodReplica.of(record, among: engine.store.records()), let infra = replica.infra,
              let run = runName(infra.id), (try? engine.observe(infra.id))?.status == .running else { return }
        let ready = replica.isReady(engine: engine)
        for (network, endpoint) in (try? networks.endpoints(container: run)) ?? [] {
            dnsRecords.setNames(network: network.name, container: run, names: [infra.name] + endpoint.aliases + replica.members.map(\.name))
        }
        dnsRecords.setReady(container: run, ready: ready)
        try? networks.setReady(container: run, ready: ready)
    }
}
