import BerthKube
import ComposeSpec
import Foundation

/// `kube play`'s translation of manifest text, as one file `app.yaml`.
func play(_ manifests: String, project: String? = "demo") throws -> KubePlay.Result {
    try KubePlay.translate([KubePlay.File(name: "app.yaml", bytes: Array(manifests.utf8))], projectName: project, workingDirectory: "/work")
}

/// The warnings as the CLI prints them, one string each.
func lines(_ warnings: [KubeWarning]) -> [String] { warnings.map(\.description) }
