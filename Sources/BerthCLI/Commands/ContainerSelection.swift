import BerthOrchestrator

extension StackContext {
    /// Compose's `getContainers`: the project's containers of `services` (every service when
    /// empty), one-off containers only when `oneOff`, stopped ones only when `all`; sorted by
    /// name.
    func containers(services: [String], oneOff: Bool, all: Bool) -> [ContainerRecord] {
        let selected = stack.containers().filter { record in
            (services.isEmpty || services.contains(record.service)) && (oneOff || !record.oneOff)
        }
        return all ? selected : selected.filter { (try? stack.engine.observe($0.id))?.status == .running }
    }

    /// Without `--remove-orphans`, containers of services the Compose file no longer has
    /// are left out (a project known only by name has no orphans).
    func withoutOrphans(_ records: [ContainerRecord]) -> [ContainerRecord] {
        guard let project else { return records }
        let known = Set(project.services.keys).union(project.disabledServices.keys)
        return records.filter { known.contains($0.service) }
    }
}
