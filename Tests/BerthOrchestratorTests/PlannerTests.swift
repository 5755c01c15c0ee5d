import Foundation
import Testing
import BerthTestSupport
import ComposeSpec
@testable import BerthOrchestrator

/// Loads `yaml` as the project "demo" from a scratch directory.
func loadProject(_ yaml: String, profiles: [String] = []) throws -> Project {
    let dir = NSTemporaryDirectory() + "berth-plan-\(UUID().uuidString)/demo"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
    try yaml.write(toFile: dir + "/compose.yaml", atomically: true, encoding: .utf8)
    var options = LoadOptions()
    options.workingDirectory = dir
    options.profiles = profiles
    return try ProjectLoader().load(options).project
}

func hashes(_ p: Project) -> [String: String] {
    Dictionary(uniqueKeysWithValues: p.services.map { ($0.key, CanonicalOutput.configHash($0.value)) })
}

@Suite("planner") struct PlannerTests {
    let stack = """
        services:
          db:
            image: busybox
          cache:
            image: busybox
          api:
            image: busybox
            depends_on:
              db: {condition: service_healthy}
            links: [cache]
          web:
            image: busybox
            network_mode: service:api
            scale: 2
        """

    @Test func freshProjectCreatesEverythingInDependencyLevels() throws {
        let p = try loadProject(stack)
        let plan = try Planner.planUp(project: p, observed: [], options: UpOptions(), configHashes: hashes(p))
        #expect(plan.levels.map { $0.map(\.service) } == [["db", "cache"], ["api"], ["web"]])
        #expect(plan.step("web")?.actions == [.create(name: "demo-web-1", number: 1), .create(name: "demo-web-2", number: 2)])
        #expect(plan.step("api")?.waitFor == [
            Dependency(service: "db", condition: .healthy), Dependency(service: "cache", condition: .started),
        ])
        #expect(plan.step("web")?.waitFor == [Dependency(service: "api")])
        #expect(plan.orphans == [] && plan.warnings == [])
    }

    @Test func upToDateRunningContainersAreKeptAndStoppedOnesStarted() throws {
        let p = try loadProject(stack)
        let h = hashes(p)
        let observed = [
            ObservedContainer(name: "demo-db-1", service: "db", number: 1, configHash: h["db"]!, state: .running),
            ObservedContainer(name: "demo-cache-1", service: "cache", number: 1, configHash: h["cache"]!, state: .exited(0)),
            ObservedContainer(name: "demo-api-1", service: "api", number: 1, configHash: "stale", state: .running),
        ]
        let plan = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: h)
        #expect(plan.step("db")?.actions == [.keep(name: "demo-db-1")])
        #expect(plan.step("cache")?.actions == [.start(name: "demo-cache-1")])
        #expect(plan.step("api")?.actions == [.recreate(old: "demo-api-1", name: "demo-api-1", number: 1)])

        var noRecreate = UpOptions()
        noRecreate.noRecreate = true
        #expect(try Planner.planUp(project: p, observed: observed, options: noRecreate, configHashes: h).step("api")?.actions == [.keep(name: "demo-api-1")])
        var force = UpOptions()
        force.forceRecreate = true
        #expect(try Planner.planUp(project: p, observed: observed, options: force, configHashes: h).step("db")?.actions == [.recreate(old: "demo-db-1", name: "demo-db-1", number: 1)])
    }

    @Test func aNewImageDigestRecreates() throws {
        let p = try loadProject(stack)
        let h = hashes(p)
        let observed = [ObservedContainer(name: "demo-db-1", service: "db", number: 1, configHash: h["db"]!, imageDigest: "sha256:aa", state: .running)]
        let same = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: h, imageDigests: ["db": "sha256:aa"])
        #expect(same.step("db")?.actions == [.keep(name: "demo-db-1")])
        let newer = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: h, imageDigests: ["db": "sha256:bb"])
        #expect(newer.step("db")?.actions == [.recreate(old: "demo-db-1", name: "demo-db-1", number: 1)])
    }

    /// Compose keeps up-to-date containers with low numbers; obsolete ones go first, then
    /// the highest numbers; new ones are numbered after the highest existing one.
    @Test func scaleDownKeepsLowNumbersAndScaleUpNumbersAfterTheHighest() throws {
        let p = try loadProject(stack)
        let h = hashes(p)
        func web(_ n: Int, _ hash: String? = nil) -> ObservedContainer {
            ObservedContainer(name: "demo-web-\(n)", service: "web", number: n, configHash: hash ?? h["web"]!, state: .running)
        }
        var options = UpOptions()
        options.scale = ["web": 2]
        let down = try Planner.planUp(project: p, observed: [web(4), web(1, "old"), web(2), web(3)], options: options, configHashes: h)
        #expect(down.step("web")?.actions == [.keep(name: "demo-web-2"), .keep(name: "demo-web-3"), .remove(name: "demo-web-4"), .remove(name: "demo-web-1")])

        options.scale = ["web": 4]
        let up = try Planner.planUp(project: p, observed: [web(1), web(3)], options: options, configHashes: h)
        #expect(up.step("web")?.actions == [.keep(name: "demo-web-1"), .keep(name: "demo-web-3"), .create(name: "demo-web-4", number: 4), .create(name: "demo-web-5", number: 5)])

        options.scale = ["web": 0]
        let zero = try Planner.planUp(project: p, observed: [web(1)], options: options, configHashes: h)
        #expect(zero.step("web")?.actions == [.remove(name: "demo-web-1")])
        #expect(zero.levels.flatMap { $0 }.allSatisfy { step in !step.waitFor.contains { $0.service == "web" } })
    }

    /// With deploy.update_config, running obsolete containers are updated by the rolling
    /// update; stopped ones are recreated as without it; an invalid update_config fails the plan.
    @Test func updateConfigRollsRunningContainers() throws {
        let p = try loadProject("""
            services:
              web:
                image: busybox
                deploy: {replicas: 3, update_config: {order: start-first, parallelism: 2}, rollback_config: {parallelism: 0, monitor: 1s}}
            """)
        let observed = [
            ObservedContainer(name: "demo-web-1", service: "web", number: 1, configHash: "old", state: .running),
            ObservedContainer(name: "demo-web-2", service: "web", number: 2, configHash: "old", state: .exited(0)),
            ObservedContainer(name: "demo-web-3", service: "web", number: 3, configHash: hashes(p)["web"]!, state: .running),
        ]
        let plan = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: hashes(p))
        #expect(plan.step("web")?.actions == [
            .keep(name: "demo-web-3"), .update(old: "demo-web-1", name: "demo-web-1", number: 1),
            .recreate(old: "demo-web-2", name: "demo-web-2", number: 2),
        ])
        #expect(plan.step("web")?.updatePolicy == RolloutPolicy(
            update: UpdatePolicy(parallelism: 2, order: .startFirst), rollback: UpdatePolicy(parallelism: 0, monitorNanoseconds: 1_000_000_000)))
        let same = try Planner.planUp(project: p, observed: [observed[2]], options: UpOptions(), configHashes: hashes(p))
        #expect(same.step("web")?.updatePolicy == nil, "nothing to update")

        let bad = try loadProject("services:\n  web:\n    image: busybox\n    deploy: {update_config: {order: sideways}}\n")
        #expect(throws: PlanError.updateConfig(ServiceConfigError(service: "web", key: "deploy.update_config.order", message: "\"sideways\" is not an order; use stop-first or start-first"))) {
            try Planner.planUp(project: bad, observed: [], options: UpOptions(), configHashes: hashes(bad))
        }
        let badRollback = try loadProject(
            "services:\n  web:\n    image: busybox\n    deploy: {update_config: {}, rollback_config: {failure_action: rollback}}\n")
        #expect(throws: PlanError.updateConfig(ServiceConfigError(
            service: "web", key: "deploy.rollback_config.failure_action", message: "\"rollback\" is not a failure action of a rollback; use pause or continue"))) {
            try Planner.planUp(project: badRollback, observed: [], options: UpOptions(), configHashes: hashes(badRollback))
        }
    }

    /// An update cut short (its CLI killed) leaves two containers for a number, one under its
    /// temporary name: the up-to-date one stays and gets the replica's name, the other goes.
    @Test func anUpdateCutShortIsConverged() throws {
        let p = try loadProject("services:\n  web:\n    image: busybox\n    deploy: {replicas: 2, update_config: {order: start-first}}\n")
        let h = hashes(p)["web"]!
        let observed = [
            ObservedContainer(name: "demo-web-1", service: "web", number: 1, configHash: "old", state: .running),
            ObservedContainer(name: "0123456789ab_demo-web-1", service: "web", number: 1, configHash: h, state: .running),
            ObservedContainer(name: "demo-web-2", service: "web", number: 2, configHash: "old", state: .running),
        ]
        let plan = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: hashes(p))
        #expect(plan.step("web")?.actions == [
            .keep(name: "0123456789ab_demo-web-1"), .rename(old: "0123456789ab_demo-web-1", name: "demo-web-1"),
            .update(old: "demo-web-2", name: "demo-web-2", number: 2),
            .remove(name: "demo-web-1"),
        ])
        // Committed but not cleaned up: the old one under its temporary name, stopped.
        let committed = [
            ObservedContainer(name: "fedcba987654_demo-web-1", service: "web", number: 1, configHash: "old", state: .exited(0)),
            ObservedContainer(name: "demo-web-1", service: "web", number: 1, configHash: h, state: .running),
            ObservedContainer(name: "demo-web-2", service: "web", number: 2, configHash: h, state: .running),
        ]
        #expect(try Planner.planUp(project: p, observed: committed, options: UpOptions(), configHashes: hashes(p)).step("web")?.actions == [
            .keep(name: "demo-web-1"), .keep(name: "demo-web-2"), .remove(name: "fedcba987654_demo-web-1"),
        ])
    }

    @Test func selectedServicesBringTheirDependenciesUnlessNoDeps() throws {
        let p = try loadProject(stack)
        var options = UpOptions()
        options.services = ["api"]
        let plan = try Planner.planUp(project: p, observed: [], options: options, configHashes: hashes(p))
        #expect(plan.levels.map { $0.map(\.service) } == [["db", "cache"], ["api"]])
        options.noDeps = true
        let alone = try Planner.planUp(project: p, observed: [], options: options, configHashes: hashes(p))
        #expect(alone.levels.map { $0.map(\.service) } == [["api"]])
        #expect(alone.step("api")?.waitFor == [], "--no-deps services are not waited on")
        options.services = ["nope"]
        #expect(throws: PlanError.noSuchService("nope")) { try Planner.planUp(project: p, observed: [], options: options, configHashes: hashes(p)) }
    }

    @Test func orphansAreWarnedAboutOrRemoved() throws {
        let p = try loadProject("services:\n  web:\n    image: busybox\n  tools:\n    image: busybox\n    profiles: [debug]\n")
        let observed = [
            ObservedContainer(name: "demo-old-1", service: "old", number: 1, configHash: "x", state: .running),
            ObservedContainer(name: "demo-tools-1", service: "tools", number: 1, configHash: "x", state: .running),
            ObservedContainer(name: "demo-web-run-0123456789ab", service: "web", number: 1, configHash: "x", oneOff: true, state: .running),
        ]
        let plan = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: hashes(p))
        #expect(plan.orphans == ["demo-old-1"], "a disabled profile's service is not an orphan; one-off containers are not the service's")
        #expect(plan.warnings == ["Found orphan containers (demo-old-1) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up."])
        #expect(plan.step("web")?.actions == [.create(name: "demo-web-1", number: 1)])
        var options = UpOptions()
        options.removeOrphans = true
        let removing = try Planner.planUp(project: p, observed: observed, options: options, configHashes: hashes(p))
        #expect(removing.removeOrphans && removing.warnings == [])
    }

    @Test func recreatingADependencyRestartsDependentsThatAskForIt() throws {
        let p = try loadProject("""
            services:
              db: {image: busybox}
              api: {image: busybox, depends_on: {db: {condition: service_started, restart: true}}}
              web: {image: busybox, depends_on: [db]}
            """)
        let h = hashes(p)
        let observed = [
            ObservedContainer(name: "demo-db-1", service: "db", number: 1, configHash: "old", state: .running),
            ObservedContainer(name: "demo-api-1", service: "api", number: 1, configHash: h["api"]!, state: .running),
            ObservedContainer(name: "demo-web-1", service: "web", number: 1, configHash: h["web"]!, state: .running),
        ]
        let plan = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: h)
        #expect(plan.step("api")?.actions == [.restart(name: "demo-api-1")])
        #expect(plan.step("web")?.actions == [.keep(name: "demo-web-1")])
    }

    @Test func containerNameAndScaleConflict() throws {
        let p = try loadProject("services:\n  web:\n    image: busybox\n    container_name: front\n")
        #expect(try Planner.planUp(project: p, observed: [], options: UpOptions(), configHashes: hashes(p)).step("web")?.actions == [.create(name: "front", number: 1)])
        var options = UpOptions()
        options.scale = ["web": 2]
        #expect(throws: PlanError.containerNameWithScale(service: "web", name: "front", scale: 2)) {
            try Planner.planUp(project: p, observed: [], options: options, configHashes: hashes(p))
        }
        #expect(PlanError.containerNameWithScale(service: "web", name: "front", scale: 2).description
            == "The \"web\" service is using the custom container name \"front\". berth requires each container to have a unique name. Remove the custom name to scale the service")
    }

    /// One host port per replica: a fixed port, or a range with fewer ports than replicas,
    /// fails the plan (before anything starts); a range that fits or no host port plans.
    @Test func hostPortsMustFitTheReplicas() throws {
        func plan(_ ports: String, scale: Int) throws -> Plan {
            let p = try loadProject("services:\n  web:\n    image: busybox\n    ports: \(ports)\n")
            var options = UpOptions()
            options.scale = ["web": scale]
            return try Planner.planUp(project: p, observed: [], options: options, configHashes: hashes(p))
        }
        #expect(try plan(#"["8080:80"]"#, scale: 1).step("web")?.actions.count == 1)
        #expect(try plan(#"["8000-8002:80", "9000-9009:81"]"#, scale: 3).step("web")?.actions.count == 3)
        #expect(try plan(#"["80", "127.0.0.1::81"]"#, scale: 5).step("web")?.actions.count == 5)
        do {
            _ = try plan(#"["8080:80"]"#, scale: 3)
            Issue.record("a fixed host port with 3 replicas planned")
        } catch {
            #expect("\(error)" == #"The "web" service specifies a port on the host (8080:80) and runs 3 containers: the port will clash. Publish a range with a host port per replica ("8080-8082:80") or leave the host port out ("80")"#)
        }
        do {
            _ = try plan(#"["127.0.0.1:8000-8001:53/udp"]"#, scale: 3)
            Issue.record("a range of 2 ports with 3 replicas planned")
        } catch {
            #expect("\(error)" == #"The "web" service specifies a port on the host (127.0.0.1:8000-8001:53/udp) and runs 3 containers: the port will clash. Publish a range with a host port per replica ("127.0.0.1:8000-8002:53/udp") or leave the host port out ("53/udp")"#)
        }
    }
}

@Suite("dependency graph") struct DependencyGraphTests {
    @Test func cyclesAreReportedWithTheirPath() throws {
        // The loader refuses depends_on cycles; the graph also guards the implied edges.
        let p = try loadProject("""
            services:
              a: {image: busybox, links: [b]}
              b: {image: busybox, volumes_from: [c]}
              c: {image: busybox, network_mode: "service:a"}
            """)
        let graph = DependencyGraph(project: p)
        #expect(throws: DependencyCycle(path: ["a", "b", "c", "a"])) { try graph.levels(["a", "b", "c"]) }
        #expect(DependencyCycle(path: ["a", "b", "a"]).description == "dependency cycle between services: a → b → a; remove one of these depends_on, links, network_mode or volumes_from references")
    }

    @Test func dependentsAndClosures() throws {
        let p = try loadProject("""
            services:
              db: {image: busybox}
              api: {image: busybox, depends_on: [db]}
              web: {image: busybox, depends_on: [api]}
              admin: {image: busybox, ipc: "service:db"}
            """)
        let graph = DependencyGraph(project: p)
        #expect(graph.dependents(of: "db") == ["api", "admin"])
        #expect(graph.withDependents(["db"]) == ["db", "api", "web", "admin"])
        #expect(graph.withDependencies(["web"]) == ["db", "api", "web"])
        #expect(try graph.levels(graph.services) == [["db"], ["api", "admin"], ["web"]])
    }
}

@Suite("pods and namespace sharing in plans") struct PodPlanTests {
    static let pod = """
        services:
          web:
            image: busybox
            ports: ["8080-8081:80"]
            networks: {default: {aliases: [www]}}
            deploy: {replicas: 2, update_config: {order: start-first}}
            x-berth: {pod: app}
          setup: {image: busybox, x-berth: {pod: app, init: true}}
          side: {image: busybox, dns: [10.0.0.2], x-berth: {pod: app}}
        """

    /// The infra service holds what the members declared about the network; members join
    /// it, follow the pod's replicas, and wait for the init member.
    @Test func expansion() throws {
        let p = PodExpansion.expand(try loadProject(Self.pod))
        #expect(p.services.keys == ["app-infra", "web", "setup", "side"])
        #expect(throws: ComposeError.self) { try loadProject(Self.pod.replacingOccurrences(of: "8080-8081:80", with: "8080:80")) }
        let infra = try #require(p.services["app-infra"])
        #expect(infra.scale == 2 && infra.restart == "always" && infra.ipc == "shareable" && infra.hostname == "app")
        #expect(infra.networks?["default"]??.aliases == ["web", "www", "setup", "side"])
        #expect(infra.ports?.first?.published == "8080-8081")
        #expect(infra.ports?.map(\.target) == [80])
        #expect(infra.dns == ["10.0.0.2"])
        let side = try #require(p.services["side"])
        #expect(side.network_mode == "service:app-infra" && side.ipc == "service:app-infra" && side.uts == "service:app-infra")
        #expect(side.networks == nil && side.scale == 2)
        #expect(side.depends_on?.keys == ["setup"])
        #expect(p.services["web"]?.ports == nil)
        #expect(try DependencyGraph(project: p).levels(DependencyGraph(project: p).services) == [["app-infra"], ["setup"], ["web", "side"]])
    }

    /// A running pod replica with anything to replace rolls as a whole: its containers are
    /// kept by the steps and listed in a pod update; a stopped replica is recreated.
    @Test func podReplicasRollWhole() throws {
        let p = PodExpansion.expand(try loadProject(Self.pod))
        let h = hashes(p)
        func c(_ service: String, _ n: Int, hash: String? = nil, _ state: ObservedContainer.State = .running) -> ObservedContainer {
            ObservedContainer(name: "demo-\(service)-\(n)", service: service, number: n, configHash: hash ?? h[service]!, state: state)
        }
        let observed = [
            c("app-infra", 1), c("setup", 1, .exited(0)), c("web", 1, hash: "old"), c("side", 1),
            c("app-infra", 2, .exited(0)), c("setup", 2, .exited(0)), c("web", 2, hash: "old", .exited(0)), c("side", 2, .exited(0)),
        ]
        let plan = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: h)
        #expect(plan.podUpdates == [Plan.PodUpdate(pod: "app", policy: RolloutPolicy(update: UpdatePolicy(order: .startFirst)), replicas: [1])])
        #expect(plan.step("web")?.actions == [.keep(name: "demo-web-1"), .recreate(old: "demo-web-2", name: "demo-web-2", number: 2)])
        #expect(plan.step("side")?.actions == [.keep(name: "demo-side-1"), .start(name: "demo-side-2")])
        // A completed init member stays completed.
        #expect(plan.step("setup")?.actions == [.keep(name: "demo-setup-1"), .keep(name: "demo-setup-2")])
    }

    /// Compose's joiners: recreating `a` recreates what joins its namespaces.
    @Test func joinersAreRecreatedWithTheirTarget() throws {
        let p = try loadProject("""
            services:
              a: {image: busybox, ipc: shareable}
              b: {image: busybox, network_mode: "service:a", ipc: "service:a"}
              c: {image: busybox, pid: "service:b"}
            """)
        let h = hashes(p)
        let observed = [
            ObservedContainer(name: "demo-a-1", service: "a", number: 1, configHash: "old", state: .running),
            ObservedContainer(name: "demo-b-1", service: "b", number: 1, configHash: h["b"]!, state: .running),
            ObservedContainer(name: "demo-c-1", service: "c", number: 1, configHash: h["c"]!, state: .running),
        ]
        let plan = try Planner.planUp(project: p, observed: observed, options: UpOptions(), configHashes: h)
        #expect(plan.step("b")?.actions == [.recreate(old: "demo-b-1", name: "demo-b-1", number: 1)])
        #expect(plan.step("c")?.actions == [.recreate(old: "demo-c-1", name: "demo-c-1", number: 1)])
    }
}

@Suite("names and labels") struct NamingTests {
    @Test func composeNamesAndLabels() throws {
        let p = try loadProject("""
            services:
              web:
                image: busybox
                labels: {z.custom: "1", a.custom: "2"}
                depends_on: {db: {condition: service_healthy, restart: true}}
              db: {image: busybox}
            """)
        #expect(Naming.containerName(project: "demo", service: "web", number: 3) == "demo-web-3")
        let labels = Label.container(project: p, service: "web", service: p.services["web"]!, number: 1, configHash: "abc", imageDigest: "sha256:00")
        let dir = p.workingDirectory
        #expect(labels.map { "\($0.0)=\($0.1)" } == [
            "a.custom=2", "z.custom=1",
            "com.docker.compose.config-hash=abc",
            "com.docker.compose.container-number=1",
            "com.docker.compose.depends_on=db:service_healthy:true",
            "com.docker.compose.image=sha256:00",
            "com.docker.compose.oneoff=False",
            "com.docker.compose.project=demo",
            "com.docker.compose.project.config_files=\(dir)/compose.yaml",
            "com.docker.compose.project.working_dir=\(dir)",
            "com.docker.compose.service=web",
            "com.docker.compose.version=\(Label.composeVersion)",
        ])
        #expect(Label.network(project: "demo", key: "default").map { "\($0.0)=\($0.1)" } == [
            "com.docker.compose.network=default", "com.docker.compose.project=demo", "com.docker.compose.version=\(Label.composeVersion)",
        ])
    }
}
