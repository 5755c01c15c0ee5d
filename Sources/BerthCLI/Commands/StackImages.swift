import BerthImages
import BerthOrchestrator
import ComposeSpec
import Foundation
import Synchronization

/// The images `up`/`create` need: each service's image found in the store, or pulled as its
/// `pull_policy` (or `--pull`) says, then turned into what the orchestrator needs (layers
/// top-first, the config's runtime defaults, the image id for `com.docker.compose.image`).
enum StackImages {
    static func resolve(
        _ project: Project, services: [String], invocation: Invocation, pullOverride: String?, quiet: Bool
    ) throws -> [String: ResolvedImage] {
        let context = try ImageContext(invocation)
        var images = try ServiceImage.of(project, services: services)
        for name in services where project.services[name]?.image == nil {
            if project.services[name]?.build != nil {
                throw CLIError("service \"\(name)\" has only a build section: berth does not build images yet; give it an image:")
            }
            throw CLIError("service \"\(name)\" has neither an image nor a build section")
        }
        if let pullOverride {
            let policy: PullPolicy
            do { policy = try PullPolicy(parsing: pullOverride) } catch { throw UsageError(message: "invalid --pull \"\(pullOverride)\": use always, missing, never or build", command: "up") }
            for index in images.indices { images[index].policy = policy }
        }
        let store = context.store
        let now = Int64(Date().timeIntervalSince1970)
        var toPull: [ServiceImage] = []
        for image in images {
            let record = try? store.find(image.reference.description)
            switch image.policy.decide(present: record != nil, lastPulled: record?.pulled, now: now) {
            case .useLocal: continue
            case .pull: if !toPull.contains(where: { $0.key == image.key }) { toPull.append(image) }
            case .build:
                if record == nil { throw CLIError("service \"\(image.service)\": pull_policy build needs a build, which berth does not do yet") }
            case .missingLocally:
                throw CLIError("service \"\(image.service)\": image \(project.services[image.service]?.image ?? image.reference.description) is not present locally and pull_policy is never: pull it (berth pull \(image.service)) or change pull_policy")
            }
        }
        if !toPull.isEmpty {
            try pull(toPull, context: context, console: invocation.console, quiet: quiet)
        }

        var out: [String: ResolvedImage] = [:]
        for image in images {
            let record: ImageRecord
            do { record = try store.find(image.reference.description) } catch {
                throw CLIError("service \"\(image.service)\": image \(image.reference): \(error)")
            }
            do {
                let config = try store.config(of: record)
                out[image.service] = ResolvedImage(
                    reference: project.services[image.service]?.image ?? image.reference.description,
                    digest: record.config.description, layers: try store.lowerDirs(for: record), config: runtimeConfig(config),
                    volumes: config.config?.Volumes?.keys.sorted() ?? [],
                    healthcheck: config.config?.Healthcheck.map(healthConfig), shell: config.config?.Shell,
                    exposedPorts: config.config?.ExposedPorts?.keys.sorted() ?? [], labels: config.config?.Labels ?? [:])
            } catch {
                throw CLIError("service \"\(image.service)\": image \(image.reference): \(error)")
            }
        }
        return out
    }

    /// The parts of the OCI config that shape a container's defaults.
    static func runtimeConfig(_ image: BerthImages.ImageConfig) -> RuntimeImageConfig {
        let config = image.config
        return RuntimeImageConfig(
            entrypoint: config?.Entrypoint, cmd: config?.Cmd, env: config?.Env ?? [], workingDir: config?.WorkingDir,
            user: config?.User, stopSignal: config?.StopSignal)
    }

    /// The image's `HEALTHCHECK` as the engine holds it (absent values are 0: defaults).
    static func healthConfig(_ check: BerthImages.ImageConfig.Healthcheck) -> HealthConfig {
        HealthConfig(
            test: check.Test ?? [], interval: check.Interval ?? 0, timeout: check.Timeout ?? 0, startPeriod: check.StartPeriod ?? 0,
            startInterval: check.StartInterval ?? 0, retries: check.Retries ?? 0)
    }

    /// Pulls the images (several at a time), with Compose's per-service progress.
    static func pull(_ images: [ServiceImage], context: ImageContext, console: any Console, quiet: Bool) throws {
        let board = PullBoard(console: console, terminal: console.stdoutIsTerminal && !quiet, quiet: quiet, services: images.map(\.service))
        let client = RegistryClient(options: try context.registryOptions())
        let platform = try context.platform()
        let errors = Mutex<[String]>([])
        try Parallel.forEach(images.count, limit: 4) { (index: Int) throws(ImageError) in
            let image = images[index]
            board.update(image.service, .pulling)
            do throws(ImageError) {
                _ = try ImagePuller(store: context.store, client: client, platform: image.platform ?? platform).pull(image.reference) { event in
                    if case .layer(let id, let progress) = event { board.layer(id, progress) }
                }
                board.update(image.service, .pulled)
            } catch {
                board.update(image.service, .failed(error.description))
                errors.withLock { $0.append("service \"\(image.service)\": \(error)") }
            }
        }
        board.finish()
        let failures = errors.withLock { $0 }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
    }
}
