import ComposeSpec
import Testing

/// `x-berth: {pod: NAME, init: BOOL}`: the pods of a project and what their members must
/// agree on, with the place of the offending value.
@Suite struct PodTests {
    @Test func podsOfAProject() throws {
        let f = try Fixture(["compose.yaml": """
            services:
              web: {image: busybox, deploy: {replicas: 2}, x-berth: {pod: app}}
              setup: {image: busybox, x-berth: {pod: app, init: true}}
              side: {image: busybox, hostname: shared, x-berth: {pod: app}}
              other: {image: busybox}
            """])
        let project = try f.load()
        #expect(project.pods == [Pod(name: "app", initMembers: ["setup"], members: ["web", "side"], replicas: 2, hostname: "shared")])
        #expect(project.pod(of: "side")?.name == "app")
        #expect(project.pod(of: "other") == nil)
    }

    @Test func membersMustAgree() throws {
        func error(_ services: String) throws -> String? {
            try Fixture(["compose.yaml": "services:\n" + services]).error()
        }
        #expect(try error("""
              a: {image: busybox, deploy: {replicas: 2}, x-berth: {pod: p}}
              b:
                image: busybox
                scale: 3
                x-berth: {pod: p}
            """) == "compose.yaml:5:5: services.b.scale: pod \"p\" runs 2 replicas (a, at compose.yaml:2:32) but b asks for 3; the members of a pod agree on its replica count: set it on one member, or the same on all")
        #expect(try error("""
              a: {image: busybox, x-berth: {pod: p}}
              b: {image: busybox, network_mode: host, x-berth: {pod: p}}
            """) == "compose.yaml:3:23: services.b.network_mode: b is a member of pod \"p\", whose members share the network, IPC and UTS namespaces of the pod; remove network_mode")
        #expect(try error("""
              a: {image: busybox, ports: ["8080:80"], x-berth: {pod: p}}
              b: {image: busybox, ports: ["9090:80"], x-berth: {pod: p}}
            """) == "compose.yaml:3:23: services.b.ports: a publishes 80/tcp already, and the members of pod \"p\" share one network namespace; publish it once")
        #expect(try error("""
              a: {image: busybox, ports: ["8080:80"], x-berth: {pod: p}}
              b: {image: busybox, scale: 2, x-berth: {pod: p}}
            """) == "compose.yaml:2:23: services.a.ports: pod \"p\" runs 2 replicas, each publishing host port 8080: they will clash; publish a range with a host port per replica (\"8080-8081:80\") or leave the host port out (\"80\")")
        #expect(try error("""
              a: {image: busybox, hostname: one, x-berth: {pod: p}}
              b: {image: busybox, hostname: two, x-berth: {pod: p}}
            """) == "compose.yaml:3:23: services.b.hostname: the members of pod \"p\" share one host name, and a sets \"one\"; set the same or remove one")
        #expect(try error("""
              a: {image: busybox, x-berth: {pod: p, init: true}}
            """) == "compose.yaml:2:41: pod \"p\" has only init members (a); add a member without init: true")
        #expect(try error("""
              a: {image: busybox, x-berth: {init: true}}
            """) == "compose.yaml:2:33: services.a.x-berth.init: only a pod member can be an init container; add pod: NAME next to it")
        #expect(try error("""
              a: {image: busybox, x-berth: {pod: [x]}}
            """) == "compose.yaml:2:33: services.a.x-berth.pod: must be a pod name, such as pod: web")
        #expect(try error("""
              a: {image: busybox, x-berth: {pod: p}}
              p-infra: {image: busybox}
            """) == "compose.yaml:2:33: services.a.x-berth.pod: the infra of pod \"p\" is named like service \"p-infra\"; rename the pod or that service")
        #expect(try error("""
              a: {image: busybox, container_name: fixed, x-berth: {pod: p}}
              b: {image: busybox, scale: 2, x-berth: {pod: p}}
            """) == "compose.yaml:2:23: services.a.container_name: pod \"p\" runs 2 replicas and container names must be unique; remove container_name")
    }
}
