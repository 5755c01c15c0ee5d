import BerthKube
import ComposeSpec
import Testing

/// `kube generate`: Compose → Kubernetes objects, exact text.
struct KubeGenerateTests {
    static let shop = """
        name: shop
        services:
          web:
            image: nginx:1.25
            entrypoint: [/docker-entrypoint.sh]
            command: [nginx, -g, "daemon off;"]
            environment:
              MODE: production
              GREETING: "hello $$(whoami)"
            ports: ["127.0.0.1:8080:80", "443:443"]
            expose: ["9000"]
            healthcheck:
              test: ["HTTP-GET", "http://127.0.0.1:80/healthz", "X-Probe: 1"]
              interval: 5s
              timeout: 2s
              retries: 5
            deploy:
              replicas: 3
              resources:
                limits: {cpus: "0.5", memory: 256M}
                reservations: {memory: 64M}
            user: "101:101"
            cap_drop: [ALL]
            cap_add: [NET_BIND_SERVICE]
            read_only: true
            volumes:
              - static:/usr/share/nginx/html:ro
              - type: tmpfs
                target: /var/cache/nginx
                tmpfs: {size: 64m}
            configs:
              - source: nginx_conf
                target: /etc/nginx/conf.d/default.conf
            secrets: [api_key]
            labels:
              tier: frontend
              com.example.description: "Shop front"
            networks:
              default:
                aliases: [shop-front]
            depends_on: [api]
            x-berth: {on-unhealthy: restart}
          api:
            image: busybox
            command: sh -c 'exec httpd -f -p 8000'
            expose: ["8000"]
            restart: on-failure
            stop_grace_period: 3s
            healthcheck:
              test: ["CMD-SHELL", "wget -q -O- http://127.0.0.1:8000/ || exit 1"]
              start_period: 10s
              start_interval: 2s
            volumes:
              - data:/data
              - ./local:/local
            logging: {driver: none}
            extra_hosts: ["db.local=10.0.0.5"]
            sysctls: {net.core.somaxconn: "1024"}
        volumes:
          static: {}
          data:
            labels: {backup: daily}
        configs:
          nginx_conf:
            content: |
              server { listen 80; }
        secrets:
          api_key:
            environment: API_KEY
        """

    @Test func richProjectExactText() throws {
        let (yaml, warnings) = try generate(Self.shop, environment: ["API_KEY": "abc123"])
        #expect(yaml == """
            apiVersion: v1
            data:
              nginx_conf: |
                server { listen 80; }
            kind: ConfigMap
            metadata:
              name: nginx-conf
            ---
            apiVersion: v1
            data:
              api_key: YWJjMTIz
            kind: Secret
            metadata:
              name: api-key
            type: Opaque
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              labels:
                backup: daily
              name: data
            spec:
              accessModes:
                - ReadWriteOnce
              resources:
                requests:
                  storage: 1Gi
            ---
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata:
              name: static
            spec:
              accessModes:
                - ReadWriteOnce
              resources:
                requests:
                  storage: 1Gi
            ---
            apiVersion: v1
            kind: Service
            metadata:
              labels:
                app.kubernetes.io/name: api
                app.kubernetes.io/part-of: shop
              name: api
            spec:
              ports:
                - name: tcp-8000
                  port: 8000
                  protocol: TCP
                  targetPort: 8000
              selector:
                app.kubernetes.io/name: api
                app.kubernetes.io/part-of: shop
            ---
            apiVersion: v1
            kind: Service
            metadata:
              labels:
                app.kubernetes.io/name: web
                app.kubernetes.io/part-of: shop
              name: shop-front
            spec:
              ports:
                - name: tcp-80
                  port: 80
                  protocol: TCP
                  targetPort: 80
                - name: tcp-443
                  port: 443
                  protocol: TCP
                  targetPort: 443
                - name: tcp-9000
                  port: 9000
                  protocol: TCP
                  targetPort: 9000
              selector:
                app.kubernetes.io/name: web
                app.kubernetes.io/part-of: shop
            ---
            apiVersion: v1
            kind: Service
            metadata:
              labels:
                app.kubernetes.io/name: web
                app.kubernetes.io/part-of: shop
              name: web
            spec:
              ports:
                - name: tcp-80
                  port: 80
                  protocol: TCP
                  targetPort: 80
                - name: tcp-443
                  port: 443
                  protocol: TCP
                  targetPort: 443
                - name: tcp-9000
                  port: 9000
                  protocol: TCP
                  targetPort: 9000
              selector:
                app.kubernetes.io/name: web
                app.kubernetes.io/part-of: shop
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              labels:
                app.kubernetes.io/name: api
                app.kubernetes.io/part-of: shop
              name: api
            spec:
              replicas: 1
              selector:
                matchLabels:
                  app.kubernetes.io/name: api
                  app.kubernetes.io/part-of: shop
              template:
                metadata:
                  labels:
                    app.kubernetes.io/name: api
                    app.kubernetes.io/part-of: shop
                spec:
                  containers:
                    - args:
                        - sh
                        - -c
                        - exec httpd -f -p 8000
                      image: busybox
                      imagePullPolicy: IfNotPresent
                      name: api
                      ports:
                        - containerPort: 8000
                          protocol: TCP
                      readinessProbe:
                        exec:
                          command:
                            - /bin/sh
                            - -c
                            - wget -q -O- http://127.0.0.1:8000/ || exit 1
                        failureThreshold: 3
                        periodSeconds: 30
                        timeoutSeconds: 30
                      startupProbe:
                        exec:
                          command:
                            - /bin/sh
                            - -c
                            - wget -q -O- http://127.0.0.1:8000/ || exit 1
                        failureThreshold: 5
                        periodSeconds: 2
                        timeoutSeconds: 30
                      volumeMounts:
                        - mountPath: /data
                          name: data
                        - mountPath: /local
                          name: local
                  hostAliases:
                    - hostnames:
                        - db.local
                      ip: 10.0.0.5
                  securityContext:
                    sysctls:
                      - name: net.core.somaxconn
                        value: "1024"
                  terminationGracePeriodSeconds: 3
                  volumes:
                    - name: data
                      persistentVolumeClaim:
                        claimName: data
                    - hostPath:
                        path: /P/local
                        type: DirectoryOrCreate
                      name: local
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              labels:
                app.kubernetes.io/name: web
                app.kubernetes.io/part-of: shop
              name: web
            spec:
              replicas: 3
              selector:
                matchLabels:
                  app.kubernetes.io/name: web
                  app.kubernetes.io/part-of: shop
              template:
                metadata:
                  annotations:
                    com.example.description: Shop front
                  labels:
                    app.kubernetes.io/name: web
                    app.kubernetes.io/part-of: shop
                    tier: frontend
                spec:
                  containers:
                    - args:
                        - nginx
                        - -g
                        - daemon off;
                      command:
                        - /docker-entrypoint.sh
                      env:
                        - name: GREETING
                          value: hello $$(whoami)
                        - name: MODE
                          value: production
                      image: nginx:1.25
                      imagePullPolicy: IfNotPresent
                      livenessProbe:
                        failureThreshold: 5
                        httpGet:
                          httpHeaders:
                            - name: X-Probe
                              value: "1"
                          path: /healthz
                          port: 80
                        periodSeconds: 5
                        timeoutSeconds: 2
                      name: web
                      ports:
                        - containerPort: 80
                          hostIP: 127.0.0.1
                          hostPort: 8080
                          protocol: TCP
                        - containerPort: 443
                          hostPort: 443
                          protocol: TCP
                        - containerPort: 9000
                          protocol: TCP
                      readinessProbe:
                        failureThreshold: 5
                        httpGet:
                          httpHeaders:
                            - name: X-Probe
                              value: "1"
                          path: /healthz
                          port: 80
                        periodSeconds: 5
                        timeoutSeconds: 2
                      resources:
                        limits:
                          cpu: 500m
                          memory: 256Mi
                        requests:
                          memory: 64Mi
                      securityContext:
                        capabilities:
                          add:
                            - NET_BIND_SERVICE
                          drop:
                            - ALL
                        readOnlyRootFilesystem: true
                        runAsGroup: 101
                        runAsUser: 101
                      volumeMounts:
                        - mountPath: /usr/share/nginx/html
                          name: static
                          readOnly: true
                        - mountPath: /var/cache/nginx
                          name: var-cache-nginx
                        - mountPath: /etc/nginx/conf.d/default.conf
                          name: config-nginx-conf
                          readOnly: true
                          subPath: nginx_conf
                        - mountPath: /run/secrets/api_key
                          name: secret-api-key
                          readOnly: true
                          subPath: api_key
                  terminationGracePeriodSeconds: 10
                  volumes:
                    - name: static
                      persistentVolumeClaim:
                        claimName: static
                    - emptyDir:
                        medium: Memory
                        sizeLimit: 64Mi
                      name: var-cache-nginx
                    - configMap:
                        name: nginx-conf
                      name: config-nginx-conf
                    - name: secret-api-key
                      secret:
                        secretName: api-key

            """)
        #expect(warnings == [
            "volume \"static\": Compose gives a volume no size: the claim asks for 1Gi",
            "service \"web\": labels.com.example.description: not a valid Kubernetes label: written as an annotation",
            "service \"web\": depends_on: not translated: Kubernetes starts pods in no order; readiness probes gate traffic instead",
            "volume \"data\": Compose gives a volume no size: the claim asks for 1Gi",
            "service \"api\": volumes[1]: bind mount of /P/local: a hostPath volume, which reads the node's /P/local",
            "service \"api\": logging: not translated",
            "service \"api\": restart: on-failure: a Deployment's pods always restart (restartPolicy Always)",
        ])
    }

    /// Named services come with what they depend on; names become DNS labels (reported).
    @Test func selectionAndNames() throws {
        let compose = """
            name: my_app
            services:
              Front_End:
                image: busybox
                depends_on: [db]
              db:
                image: busybox
                expose: ["5432"]
              other:
                image: busybox
            """
        let (yaml, warnings) = try generate(compose, services: ["Front_End"])
        #expect(yaml.components(separatedBy: "\n").filter { $0.hasPrefix("  name: ") } == ["  name: db", "  name: db", "  name: front-end"])
        #expect(yaml.contains("app.kubernetes.io/part-of: my_app"))
        #expect(warnings == [
            "service \"Front_End\": named front-end in Kubernetes (names there are lowercase DNS labels)",
            "service \"Front_End\": depends_on: not translated: Kubernetes starts pods in no order; readiness probes gate traffic instead",
        ])
    }

    @Test func untranslatableKeysAreListedOneLineEach() throws {
        let (_, warnings) = try generate("""
            services:
              app:
                image: busybox
                user: nobody
                container_name: fixed
                ulimits: {nofile: 1024}
                network_mode: none
                pull_policy: daily
                extra_hosts: ["host.docker.internal=host-gateway"]
                ports: ["8000-8001:80"]
                deploy:
                  mode: replicated
                  restart_policy: {condition: on-failure}
                  resources: {limits: {pids: 10}}
                x-other: 1
            """)
        #expect(warnings == [
            "service \"app\": pull_policy: daily has no Kubernetes equivalent: IfNotPresent is used",
            "service \"app\": ports[0]: the host port range 8000-8001 is not translated: use one port",
            "service \"app\": deploy.resources.limits.pids: not translated",
            "service \"app\": user: nobody: Kubernetes takes numeric ids (runAsUser, runAsGroup): not translated",
            "service \"app\": container_name: not translated",
            "service \"app\": ulimits: not translated",
            "service \"app\": x-other: not translated",
            "service \"app\": network_mode: none is not translated: the pod gets its own network",
            "service \"app\": deploy.mode: not translated",
            "service \"app\": deploy.restart_policy: not translated",
            "service \"app\": extra_hosts.host.docker.internal: host-gateway has no Kubernetes equivalent: not translated",
        ])
    }

    @Test func configsFromFilesAndBinaryContent() throws {
        let (yaml, _) = try generate("""
            services:
              app:
                image: busybox
                configs: [{source: text, target: /etc/app.conf, mode: 0440}, {source: blob}]
            configs:
              text: {file: ./app.conf}
              blob: {environment: BLOB}
            """, files: ["app.conf": "a = 1\n"], environment: ["BLOB": "caf\u{e9}\u{1}"])
        #expect(yaml.hasPrefix("""
            apiVersion: v1
            data:
              blob: "caf\u{e9}\\x01"
            kind: ConfigMap
            metadata:
              name: blob
            ---
            apiVersion: v1
            data:
              text: |
                a = 1
            kind: ConfigMap
            metadata:
              name: text
            ---
            """))
        #expect(yaml.contains("""
                        - mountPath: /etc/app.conf
                          name: config-text
                          readOnly: true
                          subPath: text
                        - mountPath: /blob
                          name: config-blob
                          readOnly: true
                          subPath: blob
            """))
        #expect(yaml.contains("""
                    - configMap:
                        defaultMode: 288
                        name: text
                      name: config-text
            """))
    }

    /// `kube play` of what `kube generate` wrote gives the same services, ports, volumes and
    /// health checks back (and the project name, from app.kubernetes.io/part-of).
    @Test func roundTripThroughKubePlay() throws {
        try withProject(KubeGenerateTests.shop, environment: ["API_KEY": "abc123"]) { original, _ in
            let generated = KubeGenerate.generate(original, services: [], environment: ["API_KEY": "abc123"])
            let played = try KubePlay.translate([KubePlay.File(name: "k.yaml", bytes: Array(generated.yaml.utf8))], projectName: nil, workingDirectory: "/")
            let project = played.project
            #expect(project.name == "shop")
            #expect(project.services.keys.sorted() == ["api", "web"])
            let web = try #require(project.services["web"])
            let originalWeb = try #require(original.services["web"])
            #expect(web.image == originalWeb.image)
            #expect(web.entrypoint == originalWeb.entrypoint)
            #expect(web.command == originalWeb.command)
            #expect(web.environment?["GREETING"] == .some("hello $(whoami)"))
            #expect(web.replicas == 3)
            // Three replicas cannot share host ports on one machine: kube play reports it.
            #expect(web.ports == nil)
            #expect(web.expose == ["80", "443", "9000"])
            #expect(played.warnings.filter { $0.path.hasSuffix("hostPort") }.count == 2)
            #expect(web.healthcheck?.test == originalWeb.healthcheck?.test)
            #expect(web.healthcheck?.interval == .seconds(5))
            #expect(web.extensions == originalWeb.extensions)
            #expect(web.volumes?.map { "\($0.type):\($0.source ?? ""):\($0.target ?? "")" } == ["volume:static:/usr/share/nginx/html", "tmpfs::/var/cache/nginx"])
            #expect(web.configs?.first?.target == "/etc/nginx/conf.d/default.conf")
            #expect(project.configs?.values.first?.content == "server { listen 80; }\n")
            #expect(web.networks?["default"]??.aliases == ["shop-front"])
            #expect(web.deploy?.resources == originalWeb.deploy?.resources)
            #expect(web.user == "101:101")
            let api = try #require(project.services["api"])
            #expect(api.healthcheck?.start_period == .seconds(10))
            #expect(api.healthcheck?.start_interval == .seconds(2))
            #expect(api.stop_grace_period == .seconds(3))
            #expect(Set(project.volumes?.keys ?? []) == ["data", "static"])
        }
    }

    /// A berth pod is one multi-container pod template: its members are the containers, its
    /// init members the init containers (no probes there), its replicas the Deployment's,
    /// and its members' names the Services that reach it.
    @Test func podIsOneTemplate() throws {
        let (yaml, warnings) = try generate("""
            name: shop
            services:
              web:
                image: busybox
                command: [httpd, -f, -p, "80"]
                expose: ["80"]
                deploy: {replicas: 2}
                x-berth: {pod: front}
              migrate:
                image: busybox
                command: [sh, -c, "echo migrated"]
                healthcheck: {test: [CMD, "true"]}
                x-berth: {pod: front, init: true}
              cache:
                image: busybox
                command: [sleep, "1000"]
                expose: ["6379"]
                x-berth: {pod: front}
            """)
        #expect(yaml == """
            apiVersion: v1
            kind: Service
            metadata:
              labels:
                app.kubernetes.io/name: front
                app.kubernetes.io/part-of: shop
              name: cache
            spec:
              ports:
                - name: tcp-80
                  port: 80
                  protocol: TCP
                  targetPort: 80
                - name: tcp-6379
                  port: 6379
                  protocol: TCP
                  targetPort: 6379
              selector:
                app.kubernetes.io/name: front
                app.kubernetes.io/part-of: shop
            ---
            apiVersion: v1
            kind: Service
            metadata:
              labels:
                app.kubernetes.io/name: front
                app.kubernetes.io/part-of: shop
              name: web
            spec:
              ports:
                - name: tcp-80
                  port: 80
                  protocol: TCP
                  targetPort: 80
                - name: tcp-6379
                  port: 6379
                  protocol: TCP
                  targetPort: 6379
              selector:
                app.kubernetes.io/name: front
                app.kubernetes.io/part-of: shop
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              labels:
                app.kubernetes.io/name: front
                app.kubernetes.io/part-of: shop
              name: front
            spec:
              replicas: 2
              selector:
                matchLabels:
                  app.kubernetes.io/name: front
                  app.kubernetes.io/part-of: shop
              template:
                metadata:
                  labels:
                    app.kubernetes.io/name: front
                    app.kubernetes.io/part-of: shop
                spec:
                  containers:
                    - args:
                        - httpd
                        - -f
                        - -p
                        - "80"
                      image: busybox
                      imagePullPolicy: IfNotPresent
                      name: web
                      ports:
                        - containerPort: 80
                          protocol: TCP
                    - args:
                        - sleep
                        - "1000"
                      image: busybox
                      imagePullPolicy: IfNotPresent
                      name: cache
                      ports:
                        - containerPort: 6379
                          protocol: TCP
                  initContainers:
                    - args:
                        - sh
                        - -c
                        - echo migrated
                      image: busybox
                      imagePullPolicy: IfNotPresent
                      name: migrate
                  terminationGracePeriodSeconds: 10

            """, "\(yaml)")
        #expect(warnings == ["service \"migrate\": healthcheck: not translated: an init container has no probes"])

        // kube play gives the pod back.
        let played = try KubePlay.translate([KubePlay.File(name: "k.yaml", bytes: Array(yaml.utf8))], projectName: nil, workingDirectory: "/")
        #expect(played.project.pods == [Pod(name: "front", initMembers: ["front-migrate"], members: ["front-cache", "front-web"], replicas: 2, hostname: "front")])
    }
}
