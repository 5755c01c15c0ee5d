import BerthKube
import BerthOrchestrator
import BerthSystem
import ComposeSpec
import Foundation

/// `berth kube generate|play|down`: the bridge between Compose projects and Kubernetes
/// manifests (podman's `kube` commands).
enum KubeCommand {
    static let spec = CommandSpec(
        name: "kube",
        abstract: "Run Kubernetes manifests, or write Kubernetes manifests for the project.",
        discussion: "kube play runs Pods, Deployments, ReplicaSets, Services, ConfigMaps, Secrets and PersistentVolumeClaims as a berth project on this machine; kube down removes it; kube generate writes the Compose project as Kubernetes YAML. Whatever a translation cannot carry over is listed on stderr, one line each.",
        subcommands: [KubeGenerateCommand.spec, KubePlayCommand.spec, KubeDownCommand.spec])

    /// The manifest files of the command line (`-` reads standard input).
    static func files(_ invocation: Invocation) throws -> [KubePlay.File] {
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "give at least one manifest file (or - for standard input)", command: invocation.command.name)
        }
        var files: [KubePlay.File] = []
        for argument in invocation.arguments {
            if argument == "-" {
                files.append(KubePlay.File(name: "(stdin)", bytes: invocation.readStandardInput()))
                continue
            }
            let path = argument.hasPrefix("/") ? argument : invocation.workingDirectory + "/" + argument
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIError("cannot read \(argument): \(FS.exists(path) ? "permission denied or a directory" : "no such file")")
            }
            files.append(KubePlay.File(name: argument, bytes: Array(data)))
        }
        return files
    }

    /// The translated project; the warnings go to stderr when `report` is set.
    static func translate(_ invocation: Invocation, report: Bool) throws -> KubePlay.Result {
        let result = try KubePlay.translate(
            files(invocation), projectName: invocation.globals.value("project-name"), workingDirectory: invocation.workingDirectory)
        if report {
            for warning in result.warnings { invocation.console.err("WARN[0000] \(warning)\n") }
        }
        return result
    }
}

enum KubeGenerateCommand {
    static let spec = CommandSpec(
        name: "generate", arguments: "[SERVICE...]",
        abstract: "Write Kubernetes YAML for the Compose project.",
        discussion: """
            Writes the project (or the named services and what they depend on) as Kubernetes objects on stdout: a Deployment per service with its replicas (per berth pod: one Deployment of the pod's name whose template holds its members as containers and its init members as init containers, with a Service per member name), a Service named after it for the ports it publishes or exposes (and one per network alias), a PersistentVolumeClaim per named volume (1Gi: Compose gives no size), a ConfigMap per config and a Secret per secret, mounted where the service has them. The container keeps the image, entrypoint (command) and command (args), environment, working directory, numeric user (securityContext), capabilities, privileges, read-only root, resources (limits and reservations), published ports (hostPort), labels (those that are not valid Kubernetes labels become annotations) and annotations. The health check becomes the readiness probe (and the liveness probe with x-berth: {on-unhealthy: restart}); a start period becomes a startup probe. Every pod is labelled app.kubernetes.io/name=SERVICE and app.kubernetes.io/part-of=PROJECT, which berth kube play reads back as the project name.

            Keys are sorted as kubectl prints them and objects come in a fixed order, so the same project gives the same text. Whatever has no Kubernetes counterpart (depends_on, a restart policy other than always, bind mounts read from the node, ...) is listed on stderr, one line each.
            """,
        examples: [
            ("berth kube generate > app.yaml", "Write the whole project as Kubernetes YAML."),
            ("berth kube generate web", "Only web and the services it depends on."),
        ]
    ) { invocation in
        let context = try StackContext(invocation, needsFile: true, selectedServices: invocation.arguments)
        guard let project = context.project else { return 1 }
        try context.checkServices(invocation.arguments)
        let result = KubeGenerate.generate(project, services: invocation.arguments, environment: context.environment)
        for warning in result.warnings { invocation.console.err("WARN[0000] \(warning)\n") }
        invocation.console.out(result.yaml)
        return 0
    }
}

enum KubePlayCommand {
    static let spec = CommandSpec(
        name: "play", arguments: "FILE...",
        abstract: "Run Kubernetes manifests as a berth project.",
        discussion: """
            Reads the manifests (several documents per file; - reads standard input) and runs them as berth runs a Compose project with up -d: each container of a Pod, Deployment or ReplicaSet becomes a service (named after the workload when it has one container, <workload>-<container> otherwise) with the workload's replicas; a workload with several containers or with init containers becomes a berth pod of its name (x-berth: {pod: NAME}, see berth-pod(1)) whose members share the network, IPC and UTS namespaces and one address per replica, unless it uses the host's network or IPC (hostNetwork, hostIPC); a Service's name resolves to the pods it selects (berth's DNS answers with the healthy ones' addresses, as a headless Service); NodePort publishes the node port on the host, LoadBalancer the Service port, hostPort its port; ConfigMaps and Secrets become the variables and files the pods take from them; a PersistentVolumeClaim is the named volume of its name; emptyDir an anonymous volume (a tmpfs with medium Memory), hostPath a bind mount.

            Probes become the container's health check: the readiness probe (else the liveness, else the startup probe) gates DNS, a liveness probe restarts the container when it fails (x-berth: {on-unhealthy: restart}), a startup probe gives the start period. exec runs in the container; httpGet and tcpSocket are berth's own HTTP-GET and TCP-SOCKET checks, made from the container's network namespace to 127.0.0.1 unless host is given (Kubernetes uses the pod's address: a server listening on all addresses answers both). Init containers run once per pod replica, in order, before the pod's containers (as the pod's init members; a sidecar, restartPolicy Always, starts before them and keeps running); restartPolicy becomes the restart policy, resources the limits and reservations, securityContext the user, capabilities, privileges and seccomp profile, imagePullPolicy the pull policy (without one, an image is pulled when the store does not have it).

            The project is named by -p, else by the first workload's app.kubernetes.io/part-of label (berth kube generate writes it), else by its name. Run it again after changing the manifests to update the project, as berth up does. Whatever is not supported is listed on stderr with its field path, one line each.
            """,
        options: [
            OptionSpec("wait", help: "Wait until the containers are running, or healthy where they have a probe."),
            OptionSpec("wait-timeout", value: "SECONDS", help: "With --wait: give up after this many seconds (default: no limit)."),
            OptionSpec("quiet-pull", help: "Pull without printing progress."),
            OptionSpec("remove-orphans", help: "Remove containers of the project whose workloads are no longer in the manifests."),
        ],
        examples: [
            ("berth kube play app.yaml", "Run the objects of app.yaml."),
            ("berth kube generate | berth -p copy kube play -", "Run a copy of the Compose project from its Kubernetes translation."),
        ]
    ) { invocation in
        let result = try KubeCommand.translate(invocation, report: true)
        let project = result.project
        let context = StackContext(invocation, project: project, environment: result.environment)
        var waitTimeout: Int?
        if let text = invocation.options.value("wait-timeout") {
            guard let seconds = Int(text), seconds >= 0 else {
                throw UsageError(message: "invalid --wait-timeout \"\(text)\": give a number of seconds", command: invocation.command.name)
            }
            waitTimeout = seconds > 0 ? seconds : nil
        }
        let services = project.services.keys.sorted()
        let wanted = services.filter { (project.services[$0]?.replicas ?? 1) > 0 }
        let lock = try context.lock()
        defer { lock.release() }
        let images = try StackImages.resolve(project, services: wanted, invocation: invocation, pullOverride: nil, quiet: invocation.options.flag("quiet-pull"))
        let board = try context.board(title: "Running")
        defer { board.finish() }
        var options = UpOptions()
        options.removeOrphans = invocation.options.flag("remove-orphans")
        try context.stack.up(project, options: options, images: images, environment: result.environment, progress: board.progress, warn: context.warner)
        if invocation.options.flag("wait") {
            try context.stack.waitUntilReady(project, services: wanted, timeoutSeconds: waitTimeout, progress: board.progress)
        }
        return 0
    }
}

enum KubeDownCommand {
    static let spec = CommandSpec(
        name: "down", arguments: "FILE...",
        abstract: "Remove what berth kube play ran from the manifests.",
        discussion: "Stops and removes the containers of the project the manifests make (named as kube play names it), its networks and the anonymous volumes of its emptyDirs, as podman kube down does. The volumes of PersistentVolumeClaims keep their data unless --force is given. Once nothing of the project runs, its supervisor exits; down waits for that.",
        options: [
            OptionSpec("force", help: "Also remove the volumes of the PersistentVolumeClaims."),
            StackContext.timeoutOption,
        ],
        examples: [("berth kube down app.yaml", "Take down what berth kube play app.yaml runs."), ("berth kube down --force app.yaml", "The same, with the claims' volumes.")]
    ) { invocation in
        let result = try KubeCommand.translate(invocation, report: false)
        let context = StackContext(invocation, project: result.project, environment: result.environment)
        let force = invocation.options.flag("force")
        let lock = try context.lock()
        defer { lock.release() }
        let board = try context.board(title: "Running")
        // emptyDir volumes live as long as their pod: they go even without --force.
        let specs = context.stack.containers().compactMap { try? context.stack.engine.store.spec($0.id) }
        try context.stack.down(
            result.project, timeout: try context.timeout(), removeOrphans: true, removeVolumes: force, progress: board.progress, warn: context.warn)
        if !force {
            for spec in specs {
                for removal in context.stack.volumes.removeAnonymousVolumes(of: spec) where removal.outcome == .removed {
                    board.record(.init(.volume, "\"\(removal.name)\"", "Removed", .done))
                }
            }
        }
        board.finish()
        context.awaitSupervisorExit()
        return 0
    }
}

extension StackContext {
    /// A context over a project made in code (`kube play`), not loaded from a Compose file.
    init(_ invocation: Invocation, project: Project, environment: [String: String]) {
        self.invocation = invocation
        self.project = project
        self.environment = environment
        name = project.name
        stack = Stack(
            projectName: project.name, root: invocation.root, runRoot: invocation.runRoot,
            berthBinary: Self.berthBinary(invocation), runtimeBinary: Self.runtimeBinary(invocation),
            firewallTable: invocation.firewallTable)
    }
}
