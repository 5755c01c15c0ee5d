@testable import BerthKube
import Testing

struct ManifestValueTests {
    @Test func quantities() {
        #expect(Quantity.parse("500m") == 0.5)
        #expect(Quantity.parse("2") == 2)
        #expect(Quantity.parse("1.5") == 1.5)
        #expect(Quantity.parse("128Mi") == 134_217_728)
        #expect(Quantity.parse("1G") == 1e9)
        #expect(Quantity.parse("1e3") == 1000)
        #expect(Quantity.parse("12x") == nil)
        #expect(Quantity.parse("") == nil)
        #expect(Quantity.cpuText(0.5) == "500m")
        #expect(Quantity.cpuText(2) == "2")
        #expect(Quantity.cpuText(1.25) == "1250m")
        #expect(Quantity.bytesText(64 << 20) == "64Mi")
        #expect(Quantity.bytesText(3 << 30) == "3Gi")
        #expect(Quantity.bytesText(1000) == "1000")
    }

    @Test func variableReferences() {
        let values = ["A": "x", "B": "y"]
        #expect(VariableExpansion.expand("$(A)-$(B)-$(C)", { values[$0] }) == "x-y-$(C)")
        #expect(VariableExpansion.expand("$$(A) $$ $x $", { values[$0] }) == "$(A) $ $x $")
        #expect(VariableExpansion.expand("$(A", { values[$0] }) == "$(A")
        for text in ["echo $(date) $$HOME $HOME", "$$(A)", "$", "a$$", "$(A)"] {
            #expect(VariableExpansion.expand(VariableExpansion.escape(text), { values[$0] }) == text)
        }
        #expect(VariableExpansion.escape("echo $(date) $HOME") == "echo $$(date) $HOME")
    }

    @Test func kubernetesNames() {
        #expect(KubeNames.label("Front_End.v2") == "front-end-v2")
        #expect(KubeNames.label("9lives") == "x-9lives")
        #expect(KubeNames.label("--a--") == "a")
        #expect(KubeNames.label(String(repeating: "a", count: 70)).count == 63)
        #expect(KubeNames.subdomain("nginx_conf.d") == "nginx-conf.d")
        #expect(KubeNames.subdomain("9.x") == "9.x")
        #expect(KubeNames.dataKey("app config/1") == "app-config-1")
        #expect(KubeNames.isLabelValue("frontend") && KubeNames.isLabelValue("") && !KubeNames.isLabelValue("two words"))
        #expect(KubeNames.isLabelKey("app.kubernetes.io/name") && KubeNames.isLabelKey("tier") && !KubeNames.isLabelKey("a/b/c"))
    }
}
