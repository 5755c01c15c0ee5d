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

    /// Compose's `getSpecifiedContainer`: the service's running container number `index`, or
    /// its first one (lowest number first, one-off containers last).
    func specifiedContainer(_ service: String, index: Int?) throws -> ContainerRecord {
        let running = containers(services: [service], oneOff: true, all: false)
            .sorted { ($0.oneOff ? 1 : 0, $0.number) < ($1.oneOff ? 1 : 0, $1.number) }
        if let index {
            guard let chosen = running.first(where: { $0.number == index && !$0.oneOff }) else {
                throw CLIError("service \"\(service)\" is not running container #\(index)")
            }
            return chosen
        }
        guard let first = running.first else { throw CLIError("service \"\(service)\" is not running") }
        return first
    }

    /// `--index N`: nil when absent or 0 (the first container).
    static func index(_ invocation: Invocation) throws -> Int? {
        guard let text = invocation.options.value("index") else { return nil }
        guard let n = Int(text), n >= 0 else {
            throw UsageError(message: "invalid --index \"\(text)\": give 1 or more", command: invocation.command.name)
        }
        return n > 0 ? n : nil
    }
}
