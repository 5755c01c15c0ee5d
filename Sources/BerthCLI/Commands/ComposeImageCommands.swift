import BerthImages
import ComposeSpec
import Foundation
import Synchronization

/// The images of a project's services: what `berth pull` fetches and `berth images` lists.
struct ServiceImage {
    var service: String
    var reference: ImageReference
    /// The service can be built instead (it has a build section).
    var buildable: Bool
    var policy: PullPolicy
}

extension ServiceImage {
    /// Services with an image, in name order; build-only services are left out (their image
    /// is built, not pulled).
    static func of(_ project: Project, services selected: [String]) throws -> [ServiceImage] {
        var out: [ServiceImage] = []
        for (name, service) in project.services.entries.sorted(by: { $0.key < $1.key }) where selected.isEmpty || selected.contains(name) {
            guard let image = service.image else { continue }
            let reference: ImageReference
            do { reference = try ImageReference(parsing: image) } catch {
                throw CLIError("service \(name): \(error)")
            }
            let policy: PullPolicy
            do { policy = try PullPolicy(parsing: service.pull_policy ?? "missing") } catch { throw CLIError("service \(name): \(error)") }
            out.append(ServiceImage(service: name, reference: reference, buildable: service.build != nil, policy: policy))
        }
        for name in selected where project.services[name] == nil {
            throw CLIError("no such service: \(name)")
        }
        return out
    }
}

/// `berth pull`: Compose's pull of the services' images.
enum PullCommand {
    static let spec = CommandSpec(
        name: "pull", arguments: "[SERVICE...]",
        abstract: "Pull the images of the project's services.",
        discussion: """
            Pulls every service's image (or the named services'), several at a time; an image used by several services is pulled once. Services that only have a build section, and services with pull_policy build, are skipped. A service that has both an image and a build section only warns when its pull fails, since its image can be built.

            With --policy missing, images the store already has are not pulled again.
            """,
        options: [
            OptionSpec("ignore-pull-failures", help: "Pull what can be pulled and report the failures as warnings."),
            OptionSpec("policy", value: "POLICY", help: "always, or missing to pull only images the store lacks.", default: "always"),
            OptionSpec("quiet", short: "q", help: "Print nothing but errors."),
            ImageContext.insecureOption,
        ],
        examples: [("berth pull", "Pull the images of every service."), ("berth pull --policy missing web", "Pull web's image unless it is already there.")]
    ) { invocation in
        let policy = invocation.options.value("policy") ?? "always"
        guard policy == "always" || policy == "missing" else {
            throw UsageError(message: "invalid --policy \"\(policy)\": use always or missing", command: "pull")
        }
        let project = try invocation.loadProject(selectedServices: invocation.arguments)
        let images = try ServiceImage.of(project, services: invocation.arguments).filter { $0.policy != .build }
        let context = try ImageContext(invocation)
        let console = invocation.console
        let quiet = invocation.options.flag("quiet")
        let ignore = invocation.options.flag("ignore-pull-failures")
        let board = PullBoard(console: console, terminal: console.stdoutIsTerminal && !quiet, quiet: quiet, services: images.map(\.service))
        // One pull per distinct image; its services share the outcome.
        var unique: [ImageReference] = []
        for image in images where !unique.contains(image.reference) { unique.append(image.reference) }
        let distinct = unique
        let puller = try context.puller()
        let store = context.store
        let errors = Mutex<[String: ImageError]>([:])
        try Parallel.forEach(distinct.count, limit: 4) { (index: Int) throws(ImageError) in
            let reference = distinct[index]
            let users = images.filter { $0.reference == reference }.map(\.service)
            if policy == "missing", (try? store.find(reference.description)) != nil {
                for service in users { board.update(service, .skipped) }
                return
            }
            for service in users { board.update(service, .pulling) }
            do throws(ImageError) {
                _ = try puller.pull(reference) { event in
                    if case .layer(let id, let progress) = event { board.layer(id, progress) }
                }
                for service in users { board.update(service, .pulled) }
            } catch {
                errors.withLock { $0[reference.description] = error }
                for service in users { board.update(service, .failed(error.description)) }
            }
        }
        board.finish()
        var failures: [String] = []
        for image in images {
            guard let error = errors.withLock({ $0[image.reference.description] }) else { continue }
            if ignore || image.buildable {
                console.err("WARN[0000] \(image.service): \(error)\(image.buildable && !ignore ? " (the image can be built)" : "")\n")
            } else if !failures.contains(error.description) {
                failures.append(error.description)
            }
        }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
        return 0
    }
}

/// Compose-style pull progress: per service `Pulling`/`Pulled`, layer lines in plain mode,
/// a live `[+] Pulling n/m` block on a terminal.
final class PullBoard: Sendable {
    enum State: Equatable { case waiting, pulling, pulled, skipped, failed(String) }
    private let console: any Console
    private let terminal: Bool
    private let quiet: Bool
    private struct Board {
        var order: [String]
        var states: [String: State] = [:]
        var started: [String: Date] = [:]
        var ended: [String: Date] = [:]
        var drawn = 0
    }
    private let board: Mutex<Board>

    init(console: any Console, terminal: Bool, quiet: Bool, services: [String]) {
        self.console = console
        self.terminal = terminal
        self.quiet = quiet
        board = Mutex(Board(order: services))
    }

    func update(_ service: String, _ state: State) {
        guard !quiet else { return }
        let output: String = board.withLock { b in
            b.states[service] = state
            if state == .pulling { b.started[service] = Date() } else { b.ended[service] = Date() }
            if terminal { return redraw(&b) }
            switch state {
            case .waiting: return ""
            case .pulling: return " \(service) Pulling \n"
            case .pulled: return " \(service) Pulled \n"
            case .skipped: return " \(service) Skipped - Image is already present locally \n"
            case .failed(let why): return " \(service) Error \(why)\n"
            }
        }
        console.out(output)
    }

    func layer(_ id: String, _ progress: LayerProgress) {
        guard !quiet, !terminal else { return }
        switch progress {
        case .waiting: console.out(" \(id) Pulling fs layer \n")
        case .alreadyExists: console.out(" \(id) Already exists \n")
        case .complete: console.out(" \(id) Pull complete \n")
        case .downloading: break
        }
    }

    func finish() {
        guard terminal, !quiet else { return }
        let output = board.withLock { redraw(&$0) }
        console.out(output)
    }

    private func redraw(_ b: inout Board) -> String {
        let done = b.order.filter { [.pulled, .skipped].contains(b.states[$0] ?? .waiting) }.count
        var out = b.drawn > 0 ? "\u{1B}[\(b.drawn)A" : ""
        out += "\u{1B}[2K\r[+] Pulling \(done)/\(b.order.count)\n"
        let now = Date()
        for service in b.order {
            let state = b.states[service] ?? .waiting
            let (mark, word): (String, String)
            switch state {
            case .waiting: (mark, word) = ("⠿", "Waiting")
            case .pulling: (mark, word) = ("⠿", "Pulling")
            case .pulled: (mark, word) = ("✔", "Pulled")
            case .skipped: (mark, word) = ("✔", "Skipped")
            case .failed: (mark, word) = ("✘", "Error")
            }
            let seconds = b.started[service].map { (b.ended[service] ?? now).timeIntervalSince($0) } ?? 0
            out += "\u{1B}[2K\r \(mark) \(service) \(word)".padding(toLength: 40, withPad: " ", startingAt: 0) + String(format: "%.1fs", seconds) + "\n"
        }
        b.drawn = b.order.count + 1
        return out
    }
}

/// `berth images`: the project's images.
enum ImagesCommand {
    static let spec = CommandSpec(
        name: "images", arguments: "[SERVICE...]",
        abstract: "List the images of the project's services.",
        discussion: "Lists, for each service with an image, the image the store holds for it (services whose image is missing are left out). Until berth creates containers, the first column is the service rather than Compose's container name.",
        options: [
            OptionSpec("format", value: "FORMAT", help: "Format the output: table or json.", default: "table"),
            OptionSpec("quiet", short: "q", help: "Print only image IDs."),
        ]
    ) { invocation in
        let format = invocation.options.value("format") ?? "table"
        guard format == "table" || format == "json" else {
            throw UsageError(message: "invalid value \"\(format)\" for --format: use table or json", command: "images")
        }
        let project = try invocation.loadProject(selectedServices: invocation.arguments)
        let images = try ServiceImage.of(project, services: invocation.arguments)
        let store = try ImageContext(invocation).store
        let found = images.compactMap { image in (try? store.find(image.reference.description)).map { (image, $0) } }
        if invocation.options.flag("quiet") {
            var seen = Set<String>()
            invocation.console.out(found.map { $0.1.config.encoded }.filter { seen.insert($0).inserted }.map { $0 + "\n" }.joined())
            return 0
        }
        if format == "json" {
            let items: [OrderedJSON] = found.map { image, record in
                .object([("Service", .string(image.service)), ("Repository", .string(record.familiarRepository ?? "<none>")),
                         ("Tag", .string(record.tag ?? "<none>")), ("ID", .string(record.config.description)), ("Size", .number(record.size))])
            }
            invocation.console.out(OrderedJSON.array(items).render() + "\n")
            return 0
        }
        let rows = found.map { image, record in
            [image.service, record.familiarRepository ?? "<none>", record.tag ?? "<none>", record.config.short, Human.size(record.size)]
        }
        invocation.console.out(Table.render(["SERVICE", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"], rows))
        return 0
    }
}
