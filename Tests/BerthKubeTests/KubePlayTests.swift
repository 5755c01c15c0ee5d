import BerthKube
import ComposeSpec
import Testing

/// `kube play`'s translation: manifests → the Compose document and the loaded project.
struct KubePlayTests {
    static let webApp = """
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: site}
        data:
          index.html: "hello\\n"
          GREETING: hi
        ---
        apiVersion: v1
        kind: Secret
        metadata: {name: creds}
        data: {password: czNjcmV0}
        ---
        apiVersion: v1
        kind: PersistentVolumeClaim
        metadata: {name: data, labels: {tier: storage}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, labels: {app: web}}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}, annotations: {note: "two words"}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: httpd
                image: busybox
                command: [httpd, -f, -p, "$(PORT)", -h, /www]
                env:
                - {name: PORT, value: "8080"}
                - {name: URL, value: "http://localhost:$(PORT)/$$(PORT)"}
                - name: PASSWORD
                  valueFrom: {secretKeyRef: {name: creds, key: password}}
                envFrom: [{configMapRef: {name: site}, prefix: SITE_}]
                ports: [{containerPort: 8080, name: http}, {containerPort: 9000, hostPort: 19000, hostIP: 127.0.0.1}]
                readinessProbe:
                  httpGet: {path: /index.html, port: http}
                  periodSeconds: 2
                livenessProbe:
                  httpGet: {path: /index.html, port: http}
                  periodSeconds: 2
                resources: {limits: {cpu: 500m, memory: 64Mi}, requests: {memory: 32Mi}}
                securityContext: {runAsUser: 1000, runAsGroup: 1000, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
                volumeMounts:
                - {name: www, mountPath: /www}
                - {name: data, mountPath: /data, subPath: web}
                - {name: creds, mountPath: /etc/creds, readOnly: true}
                - {name: cache, mountPath: /cache}
              volumes:
              - name: www
                configMap: {name: site, items: [{key: index.html, path: index.html}]}
              - {name: data, persistentVolumeClaim: {claimName: data}}
              - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
              - {name: cache, emptyDir: {}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: frontend}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 8080, targetPort: http}]

        """

    @Test func deploymentServiceConfigMapSecretClaim() throws {
        let result = try play(Self.webApp)
        #expect(result.compose == """
            name: demo
            services:
              web:
                annotations:
                  note: two words
                cap_drop:
                  - ALL
                configs:
                  - source: site-index.html
                    target: /www/index.html
                    mode: 420
                deploy:
                  replicas: 2
                  resources:
                    limits:
                      cpus: 0.5
                      memory: "67108864"
                    reservations:
                      memory: "33554432"
                entrypoint:
                  - httpd
                  - -f
                  - -p
                  - "8080"
                  - -h
                  - /www
                environment:
                  PASSWORD: s3cret
                  PORT: "8080"
                  SITE_GREETING: hi
                  SITE_index.html: "hello\\n"
                  URL: http://localhost:8080/$(PORT)
                expose:
                  - "8080"
                  - "9000"
                healthcheck:
                  test:
                    - HTTP-GET
                    - http://127.0.0.1:8080/index.html
                  timeout: 1s
                  interval: 2s
                  retries: 3
                  start_period: 2s
                  start_interval: 1s
                image: busybox
                labels:
                  app: web
                networks:
                  default:
                    aliases:
                      - frontend
                read_only: true
                restart: always
                secrets:
                  - source: creds-password
                    target: /etc/creds/password
                    mode: 256
                stop_grace_period: 5s
                user: 1000:1000
                volumes:
                  - type: volume
                    source: data
                    target: /data
                    volume:
                      subpath: web
                  - type: volume
                    target: /cache
                x-berth:
                  on-unhealthy: restart
            volumes:
              data:
                labels:
                  tier: storage
            secrets:
              creds-password:
                environment: BERTH_KUBE_SECRET_CREDS_PASSWORD
            configs:
              site-index.html:
                content: "hello\\n"

            """)
        #expect(result.environment == ["BERTH_KUBE_SECRET_CREDS_PASSWORD": "s3cret"])
        #expect(lines(result.warnings) == [
            "PersistentVolumeClaim/data: spec.resources.requests.storage: 1Gi is not enforced: a berth volume is a directory without a size limit",
            "Deployment/web: spec.template.spec.containers[0].ports[1].hostPort: 19000 is not published: one host port reaches one container, and there are 2 replicas",
        ])
    }

    /// The document loads as a Compose file would: names, networks, the project's files.
    @Test func loadedProject() throws {
        let project = try play(Self.webApp).project
        #expect(project.name == "demo")
        #expect(project.configFiles == ["app.yaml"])
        #expect(project.services.keys == ["web"])
        let web = try #require(project.services["web"])
        #expect(web.replicas == 2)
        #expect(web.networks?["default"]??.aliases == ["frontend"])
        #expect(project.networks?["default"]?.name == "demo_default")
        #expect(project.volumes?["data"]?.name == "demo_data")
        #expect(project.secrets?["creds-password"]?.name == "demo_creds-password")
        #expect(web.healthcheck?.interval == .seconds(2))
        #expect(web.ports == nil)
    }

    @Test func projectNameFromPartOfLabelThenWorkloadName() throws {
        let pod = """
            apiVersion: v1
            kind: Pod
            metadata: {name: My_Pod, labels: {app.kubernetes.io/part-of: shop}}
            spec:
              containers: [{name: c, image: busybox}]
            """
        #expect(try play(pod, project: nil).project.name == "shop")
        #expect(try play(pod.replacingOccurrences(of: ", labels: {app.kubernetes.io/part-of: shop}", with: ""), project: nil).project.name == "my_pod")
        #expect(try play(pod, project: "given").project.name == "given")
    }

    /// Several containers: a berth pod of members `<pod>-<container>`; init containers are
    /// its init members, which run once per pod replica, in order, before the others.
    @Test func multiContainerPodWithInitContainers() throws {
        let result = try play("""
            apiVersion: v1
            kind: Pod
            metadata: {name: app, labels: {app: app}}
            spec:
              restartPolicy: OnFailure
              initContainers:
              - {name: migrate, image: busybox, command: [true]}
              - {name: seed, image: busybox, command: [true]}
              containers:
              - {name: main, image: busybox, ports: [{containerPort: 80}]}
              - {name: sidecar, image: busybox, ports: [{containerPort: 9090, protocol: UDP, hostPort: 19090, hostIP: 127.0.0.1}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: app-svc}
            spec:
              type: NodePort
              selector: {app: app}
              ports: [{port: 80, nodePort: 30080}]
            """)
        let services = result.project.services
        #expect(services.keys == ["app-main", "app-migrate", "app-seed", "app-sidecar"])
        #expect(services["app-migrate"]?.restart == "no")
        #expect(services["app-migrate"]?.depends_on == nil)
        #expect(services["app-seed"]?.depends_on == KeyedMap([("app-migrate", DependsOn(condition: DependsOn.completedSuccessfully))]))
        #expect(services["app-main"]?.depends_on == KeyedMap([("app-seed", DependsOn(condition: DependsOn.completedSuccessfully))]))
        #expect(services["app-main"]?.restart == "on-failure")
        #expect(services["app-main"]?.network_mode == nil)
        #expect(services["app-main"]?.expose == ["80"])
        #expect(services["app-main"]?.ports == [
            PortConfig(target: 9090, published: "19090", hostIP: "127.0.0.1", protocol: "udp"), PortConfig(target: 80, published: "30080"),
        ])
        #expect(services["app-main"]?.networks?["default"]??.aliases == ["app-svc"])
        // A berth pod: members share its namespaces; init containers are init members.
        #expect(services["app-sidecar"]?.network_mode == nil)
        #expect(services["app-sidecar"]?.expose == nil)
        #expect(result.project.pods == [Pod(name: "app", initMembers: ["app-migrate", "app-seed"], members: ["app-main", "app-sidecar"], replicas: 1, hostname: "app")])
        #expect(services["app-migrate"]?.isPodInit == true)
        #expect(services["app-main"]?.isPodInit == false)
        #expect(lines(result.warnings) == [])
    }

    @Test func probesChooseOneHealthCheck() throws {
        func check(_ probes: String, ports: String = "") throws -> (Service, [String]) {
            let result = try play("""
                apiVersion: v1
                kind: Pod
                metadata: {name: p}
                spec:
                  containers:
                  - name: c
                    image: busybox
                \(ports)
                \(probes)
                """)
            return (try #require(result.project.services["p"]), lines(result.warnings))
        }
        // Liveness alone: checked and restarted, and it gates DNS too (said on stderr).
        var (service, warnings) = try check("""
                livenessProbe: {exec: {command: [cat, /tmp/ok]}, periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 4, initialDelaySeconds: 3}
            """)
        #expect(service.healthcheck?.test == ["CMD", "cat", "/tmp/ok"])
        #expect(service.healthcheck?.interval == .seconds(5))
        #expect(service.healthcheck?.timeout == .seconds(2))
        #expect(service.healthcheck?.retries == 4)
        #expect(service.healthcheck?.start_period == .seconds(8))
        #expect(service.healthcheck?.start_interval == .seconds(1))
        #expect(service.extensions == Extensions([("x-berth", .map([("on-unhealthy", .string("restart"))]))]))
        #expect(warnings == ["Pod/p: spec.containers[0].livenessProbe: berth's health check also keeps the container out of DNS until it passes, as a readiness probe would"])

        // Readiness and a different liveness: readiness runs, liveness is reported.
        (service, warnings) = try check("""
                readinessProbe: {tcpSocket: {port: 6379}}
                livenessProbe: {exec: {command: ["true"]}}
                startupProbe: {tcpSocket: {port: 6379}, periodSeconds: 2, failureThreshold: 30}
            """)
        #expect(service.healthcheck?.test == ["TCP-SOCKET", "127.0.0.1:6379"])
        #expect(service.healthcheck?.start_period == .seconds(60))
        #expect(service.healthcheck?.start_interval == .seconds(2))
        #expect(service.extensions == nil)
        #expect(warnings == ["Pod/p: spec.containers[0].livenessProbe: differs from the readinessProbe and is not run: berth has one health check per container (the readiness probe)"])

        // HTTPS and gRPC: the port is checked; headers and a host travel with HTTP-GET.
        (service, warnings) = try check("""
                readinessProbe: {httpGet: {port: 8443, scheme: HTTPS}}
            """)
        #expect(service.healthcheck?.test == ["TCP-SOCKET", "127.0.0.1:8443"])
        #expect(warnings == ["Pod/p: spec.containers[0].readinessProbe.httpGet.scheme: berth's prober does not speak TLS: an HTTPS probe checks that the port accepts connections"])
        (service, _) = try check("""
                readinessProbe: {httpGet: {host: 10.0.0.5, port: web, path: healthz, httpHeaders: [{name: X-Probe, value: "1"}]}}
            """, ports: "    ports: [{containerPort: 8080, name: web}]")
        #expect(service.healthcheck?.test == ["HTTP-GET", "http://10.0.0.5:8080/healthz", "X-Probe: 1"])
    }

    @Test func unsupportedFieldsAreReportedOnceEach() throws {
        let result = try play("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: w, namespace: shop, uid: abc, creationTimestamp: null}
            spec:
              selector: {matchLabels: {a: b}}
              strategy: {type: Recreate}
              revisionHistoryLimit: 3
              template:
                metadata: {labels: {a: b}}
                spec:
                  nodeSelector: {disk: ssd}
                  containers:
                  - name: c
                    image: busybox
                    lifecycle: {preStop: {exec: {command: [sleep, "1"]}}}
                    terminationMessagePath: /dev/termination-log
                    env: [{name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
                  volumes: [{name: v, nfs: {server: nas, path: /x}}]
            status: {replicas: 1}
            ---
            apiVersion: batch/v1
            kind: Job
            metadata: {name: once}
            spec: {template: {spec: {containers: [{name: j, image: busybox}]}}}
            """)
        #expect(lines(result.warnings) == [
            "Deployment/w: metadata.namespace: berth runs the manifests as one project: namespace shop is ignored",
            "Deployment/w: spec.strategy: not supported: berth replaces changed containers as berth up does",
            "Deployment/w: spec.template.spec.volumes[0].nfs: nfs volumes are not supported: its mounts are left out",
            "Deployment/w: spec.template.spec.containers[0].env[0].valueFrom.fieldRef: not supported: NODE is not set",
            "Job/once: kind Job (batch/v1) is not supported: skipped",
            "Deployment/w: spec.revisionHistoryLimit: not supported, ignored",
            "Deployment/w: spec.template.spec.nodeSelector: not supported, ignored",
            "Deployment/w: spec.template.spec.containers[0].lifecycle: not supported, ignored",
        ])
        #expect(result.project.services["w"]?.environment == nil)
    }

    @Test func errorsSayWhatAndWhere() throws {
        func failure(_ manifests: String) -> String {
            do {
                _ = try play(manifests)
                return "no error"
            } catch {
                return "\(error)"
            }
        }
        #expect(failure("""
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: c
                image: busybox
                envFrom: [{configMapRef: {name: missing}}]
            """) == "app.yaml:8:37: Pod/p: spec.containers[0].envFrom[0].configMapRef.name: ConfigMap missing is not in the manifests: give its file to berth kube play too, or mark the reference optional: true")
        #expect(failure("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: d}
            spec:
              selector: {matchLabels: {app: x}}
              template:
                metadata: {labels: {app: y}}
                spec: {containers: [{name: c, image: busybox}]}
            """) == "app.yaml:5:27: Deployment/d: spec.selector.matchLabels: app=x does not match the pod template's labels; Kubernetes refuses such a Deployment")
        #expect(failure("""
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers: [{name: c, image: busybox, volumeMounts: [{name: nope, mountPath: /x}]}]
            """) == "app.yaml:5:64: Pod/p: spec.containers[0].volumeMounts[0].name: the pod declares no volume nope; add it under the pod's volumes")
        #expect(failure("kind: Pod\nmetadata: {name: p}\n") == "app.yaml:1:1: Pod object without apiVersion")
        // Values too large for berth are errors, not crashes.
        let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
        #expect(failure(pod + "    startupProbe: {tcpSocket: {port: 1}, periodSeconds: 99999999999}\n")
            == "app.yaml:8:57: Pod/p: spec.containers[0].startupProbe.periodSeconds: 99999999999 is more than a year (31536000 seconds)")
        #expect(failure(pod + "    resources: {limits: {memory: 1e30}}\n")
            == "app.yaml:8:25: Pod/p: spec.containers[0].resources.limits: 1e30 is not a size such as 64Mi")
        #expect(try play(pod + "    startupProbe: {tcpSocket: {port: 1}, periodSeconds: 31536000, failureThreshold: 1000000}\n")
            .project.services["p"]?.healthcheck?.start_period == .seconds(31_536_000))
        #expect(failure("""
            apiVersion: v1
            kind: Pod
            metadata: {name: a}
            spec: {containers: [{name: c, image: busybox}]}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: a}
            spec:
              selector: {matchLabels: {x: y}}
              template: {metadata: {labels: {x: y}}, spec: {containers: [{name: c, image: busybox}]}}
            """) == "app.yaml:11:62: Deployment/a: its container becomes service \"a\", which Pod/a already uses; rename one of them")
    }

    @Test func volumesOfEveryKind() throws {
        let result = try play("""
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - name: a
                image: busybox
                volumeMounts:
                - {name: shared, mountPath: /shared}
                - {name: mem, mountPath: /mem}
                - {name: host, mountPath: /host, mountPropagation: HostToContainer}
                - {name: claim, mountPath: /claim, readOnly: true}
              - name: b
                image: busybox
                volumeMounts: [{name: shared, mountPath: /in}]
              volumes:
              - {name: shared, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
              - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
              - {name: host, hostPath: {path: /srv/data, type: DirectoryOrCreate}}
              - {name: claim, persistentVolumeClaim: {claimName: unknown}}
            """)
        let a = try #require(result.project.services["p-a"])
        let b = try #require(result.project.services["p-b"])
        #expect(a.volumes?.map(\.type) == ["volume", "tmpfs", "bind", "volume"])
        #expect(a.volumes?[0].source == "p-shared")
        #expect(b.volumes?[0].source == "p-shared")
        #expect(b.volumes?[0].target == "/in")
        #expect(a.volumes?[1].tmpfs?.size == ByteSize(bytes: 8 << 20))
        #expect(a.volumes?[2].source == "/srv/data")
        #expect(a.volumes?[2].bind?.create_host_path == true)
        #expect(a.volumes?[2].bind?.propagation == "rslave")
        #expect(a.volumes?[3].read_only == true)
        #expect(result.project.volumes?["p-shared"]?.driver_opts == KeyedMap([("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=16777216")]))
        #expect(result.project.volumes?["unknown"] != nil)
        #expect(lines(result.warnings) == [
            "Pod/p: spec.containers[0].volumeMounts[3].name: PersistentVolumeClaim unknown is not in the manifests: the volume unknown is used (created if missing)",
        ])
    }

    /// `kubectl get -o yaml` output: a List with server-set fields, in JSON too.
    @Test func listsAndJSON() throws {
        let list = try play("""
            {"apiVersion": "v1", "kind": "List", "items": [
              {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "p", "uid": "1", "resourceVersion": "9", "namespace": "default"},
               "spec": {"containers": [{"name": "c", "image": "busybox", "terminationMessagePolicy": "File"}]},
               "status": {"phase": "Running"}}]}
            """)
        #expect(list.project.services.keys == ["p"])
        #expect(list.warnings == [])
    }
}
