import Foundation
import Testing

/// `berth kube …` arguments, errors and warnings (no containers run).
@Suite("kube commands")
struct KubeCommandTests {
    @Test func playNeedsReadableManifests() throws {
        let missing = berth(["kube", "play"])
        #expect(missing.code == 64)
        #expect(missing.stderr == "Error: give at least one manifest file (or - for standard input)\nRun 'berth kube play --help' for usage.\n")
        let directory = try scratch(["bad.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c}]\n"])
        defer { removeScratch(directory) }
        let noFile = berth(["kube", "play", "nope.yaml"], in: directory)
        #expect(noFile.code == 1 && noFile.stderr == "Error: cannot read nope.yaml: no such file\n")
        let bad = berth(["kube", "down", "bad.yaml"], in: directory)
        #expect(bad.code == 1)
        #expect(bad.stderr == "Error: bad.yaml:5:16: Pod/p: spec.containers[0].image: is required\n")
        let stdin = berth(["kube", "down", "-"], in: directory, stdin: "kind: Pod\n")
        #expect(stdin.stderr == "Error: (stdin):1:1: Pod object without apiVersion\n")
        let empty = berth(["kube", "play", "-"], in: directory, stdin: "---\n")
        #expect(empty.stderr == "Error: no Kubernetes objects in (stdin)\n")
    }

    @Test func generateWritesYAMLOnStdoutAndWarningsOnStderr() throws {
        let directory = try scratch(["compose.yaml": """
            services:
              app:
                image: busybox
                restart: "no"
                ports: ["8080:80"]
            """])
        defer { removeScratch(directory) }
        let generated = berth(["kube", "generate"], in: directory)
        #expect(generated.code == 0)
        #expect(generated.stderr == "WARN[0000] service \"app\": restart: no: a Deployment's pods always restart (restartPolicy Always)\n")
        #expect(generated.stdout.hasPrefix("apiVersion: v1\nkind: Service\nmetadata:\n  labels:\n    app.kubernetes.io/name: app\n    app.kubernetes.io/part-of: demo\n  name: app\n"))
        #expect(generated.stdout.contains("---\napiVersion: apps/v1\nkind: Deployment\n"))
        let unknown = berth(["kube", "generate", "nosuch"], in: directory)
        #expect(unknown.code == 1 && unknown.stderr == "Error: no such service: nosuch\n")
    }
}
