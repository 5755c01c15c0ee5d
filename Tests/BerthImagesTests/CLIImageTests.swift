import BerthSystem
import Foundation
import Synchronization
import Testing
@testable import BerthCLI
@testable import BerthImages
@testable import BerthRuntime

/// Captures what a command prints; `terminal` pretends stdout is a terminal.
final class CapturingConsole: Console {
    private let buffers = Mutex<(out: String, err: String)>(("", ""))
    let terminal: Bool
    init(terminal: Bool = false) { self.terminal = terminal }
    func out(_ text: String) { buffers.withLock { $0.out += text } }
    func err(_ text: String) { buffers.withLock { $0.err += text } }
    var stdoutIsTerminal: Bool { terminal }
    var stdout: String { buffers.withLock { $0.out } }
    var stderr: String { buffers.withLock { $0.err } }
}

struct CLIRun {
    var code: Int32
    var stdout: String
    var stderr: String
}

/// `berth --root ROOT ARGS…` in this process.
func berth(root: String, _ arguments: [String], in directory: String = "/", stdin: [UInt8] = [], terminal: Bool = false, environment: [String: String] = [:]) -> CLIRun {
    let console = CapturingConsole(terminal: terminal)
    let code = BerthCLI.run(
        arguments: ["--root", root] + arguments, environment: ["HOME": "/nonexistent"].merging(environment) { $1 }, workingDirectory: directory,
        console: console, readStandardInput: { stdin })
    return CLIRun(code: code, stdout: console.stdout, stderr: console.stderr)
}

@Suite("image commands", .serialized, .enabled(if: isRoot && haveRegistryTools, registryReason))
struct CLIImageTests {
    @Test func pullOutputPlainQuietAndTerminal() throws {
        let (registry, image) = try Seeds.registry()
        defer { registry.kill() }
        let scratch = try Scratch("cli")
        let name = "\(registry.domain)/busybox"
        let id = image.manifest.layers[0].digest.short
        let first = berth(root: scratch.path, ["image", "pull", name])
        #expect(first.code == 0)
        #expect(first.stderr == "")
        #expect(first.stdout == """
            Using default tag: latest
            latest: Pulling from busybox
            \(id): Pulling fs layer
            \(id): Pull complete
            Digest: \(image.manifestDigest)
            Status: Downloaded newer image for \(name):latest
            \(name):latest

            """)
        #expect(berth(root: scratch.path, ["image", "pull", "\(name):latest"]).stdout == """
            latest: Pulling from busybox
            Digest: \(image.manifestDigest)
            Status: Image is up to date for \(name):latest
            \(name):latest

            """)
        #expect(berth(root: scratch.path, ["image", "pull", "-q", "\(name)@\(image.manifestDigest)"]).stdout == "\(name)@\(image.manifestDigest)\n")

        let fresh = try Scratch("tty")
        let live = berth(root: fresh.path, ["image", "pull", name], terminal: true)
        #expect(live.code == 0)
        let size = Human.size(image.manifest.layers[0].size)
        #expect(live.stdout.contains("\u{1B}[2K\r\(id): Downloading [" + String(repeating: "=", count: 50) + ">] " + String(repeating: " ", count: max(0, 8 - size.count)) + size + "/" + size + "\n")
            || live.stdout.contains("\(id): Pull complete\n"))
        #expect(live.stdout.hasSuffix("\u{1B}[1A\u{1B}[2K\r\(id): Pull complete\nDigest: \(image.manifestDigest)\nStatus: Downloaded newer image for \(name):latest\n\(name):latest\n"))

        let missing = berth(root: scratch.path, ["image", "pull", "\(name):nope"])
        #expect(missing.code == 1)
        #expect(missing.stderr == "Error: manifest for \(name):nope not found: manifest unknown: manifest unknown\n")
        #expect(berth(root: scratch.path, ["image", "pull"]).code == 64)
    }

    @Test func listInspectTagRemoveAndPrune() throws {
        let (registry, image) = try Seeds.registry()
        defer { registry.kill() }
        let scratch = try Scratch("ls")
        let name = "\(registry.domain)/busybox"
        #expect(berth(root: scratch.path, ["image", "pull", "-q", name]).code == 0)
        #expect(berth(root: scratch.path, ["image", "tag", name, "tools/box:1"]).code == 0)
        let record = try ImageStore(root: scratch.path).find(name)
        let age = Human.age("2026-01-02T03:04:05Z")
        let size = Human.size(record.size)
        #expect(berth(root: scratch.path, ["image", "ls"]).stdout == Table.render(
            ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            [[name, "latest", image.configDigest.short, age, size], ["tools/box", "1", image.configDigest.short, age, size]]))
        #expect(berth(root: scratch.path, ["image", "ls", "-q"]).stdout == image.configDigest.short + "\n")
        #expect(berth(root: scratch.path, ["image", "ls", "--digests", "tools/box"]).stdout == Table.render(
            ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"],
            [["tools/box", "1", "<none>", image.configDigest.short, age, size]]))
        #expect(berth(root: scratch.path, ["image", "ls", "--format", "yaml"]).code == 64)

        let inspect = berth(root: scratch.path, ["image", "inspect", "tools/box:1"])
        #expect(inspect.code == 0)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [[String: Any]])
        #expect(parsed.count == 1)
        #expect(parsed[0]["Id"] as? String == image.configDigest.description)
        #expect(parsed[0]["RepoTags"] as? [String] == ["\(name):latest", "tools/box:1"])
        #expect(parsed[0]["RepoDigests"] as? [String] == ["\(name)@\(image.manifestDigest)"])
        #expect((parsed[0]["Config"] as? [String: Any])?["Cmd"] as? [String] == ["sh"])
        #expect((parsed[0]["RootFS"] as? [String: Any])?["Layers"] as? [String] == [image.diffIDs[0].description])
        #expect(inspect.stdout.hasPrefix("[\n    {\n        \"Id\": \"sha256:"))
        let none = berth(root: scratch.path, ["image", "inspect", "ghost"])
        #expect(none.code == 1 && none.stdout == "[]\n" && none.stderr == "Error: No such image: ghost\n")

        #expect(berth(root: scratch.path, ["image", "rm", "tools/box:1"]).stdout == "Untagged: tools/box:1\n")
        let conflict = berth(root: scratch.path, ["image", "tag", name, "again:1"])
        #expect(conflict.code == 0)
        let refused = berth(root: scratch.path, ["image", "rm", image.configDigest.short])
        #expect(refused.code == 1)
        #expect(refused.stderr == "Error: conflict: unable to delete \(image.configDigest.short) (must be forced) - image is referenced in multiple repositories\n")
        let removed = berth(root: scratch.path, ["image", "rm", "-f", image.configDigest.short])
        #expect(removed.stdout == """
            Untagged: \(name):latest
            Untagged: again:1
            Untagged: \(name)@\(image.manifestDigest)
            Deleted: \(image.configDigest)
            Deleted: \(image.chainIDs[0])

            """)
        #expect(berth(root: scratch.path, ["image", "ls"]).stdout == "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n")
        let unknown = berth(root: scratch.path, ["image", "rm", "ghost"])
        #expect(unknown.code == 1 && unknown.stderr == "Error: No such image: ghost\n")

        // prune: asks first, removes dangling images.
        let store = try ImageStore(root: scratch.path)
        let old = try TestImage(layers: [TarBuilder().file("v", "1")]), new = try TestImage(layers: [TarBuilder().file("v", "2")])
        try old.store(in: store, as: "app")
        try new.store(in: store, as: "app")
        #expect(berth(root: scratch.path, ["image", "prune"], stdin: Array("n\n".utf8)).stdout == "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ")
        #expect(try store.records().count == 2)
        let pruned = berth(root: scratch.path, ["image", "prune"], stdin: Array("y\n".utf8))
        let reclaimed = Human.size(Int64(old.layers[0].count + old.configBytes.count + old.manifestBytes.count + 1))
        #expect(pruned.stdout == "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] Deleted Images:\ndeleted: \(old.configDigest)\ndeleted: \(old.chainIDs[0])\n\nTotal reclaimed space: \(reclaimed)\n")
        #expect(berth(root: scratch.path, ["image", "prune", "-f"]).stdout == "Total reclaimed space: 0B\n")
    }

    @Test func loadDockerAndOCIArchivesMadeBySkopeoAndRunAContainer() throws {
        let scratch = try Scratch("load")
        let image = try Seeds.busybox()
        let layout = try scratch.directory("layout")
        try OCILayout.write(image, to: layout, tag: "latest")
        let dockerArchive = scratch.path + "/docker.tar", ociArchive = scratch.path + "/oci.tar", named = scratch.path + "/named.tar"
        for (destination, label) in [("docker-archive:\(dockerArchive):shop/busybox:1.0", "docker"), ("oci-archive:\(ociArchive):latest", "oci"),
                                     ("oci-archive:\(named):localhost/tools/busybox:2", "named")] {
            let copied = try run(["/usr/bin/skopeo", "--insecure-policy", "copy", "-q", "oci:\(layout):latest", destination])
            #expect(copied.code == 0, "\(label): \(copied.stderr)")
        }
        let root = try scratch.directory("root")
        let docker = berth(root: root, ["image", "load", "-i", dockerArchive])
        #expect(docker.code == 0 && docker.stderr == "")
        #expect(docker.stdout == "Loaded image: shop/busybox:1.0\n")
        let oci = berth(root: root, ["image", "load"], stdin: try FS.read(ociArchive, limit: 1 << 26))
        #expect(oci.stdout == "Loaded image ID: \(image.configDigest)\n")
        #expect(berth(root: root, ["image", "load", "-q", "-i", named]).stdout == "")
        let store = try ImageStore(root: root)
        #expect(try store.find("localhost/tools/busybox:2").config == image.configDigest)
        let loaded = try store.find("shop/busybox:1.0")
        #expect(loaded.config == image.configDigest)
        #expect(berth(root: root, ["image", "load", "-i", scratch.path + "/none.tar"]).stderr.hasPrefix("Error: image store: open \(scratch.path)/none.tar: ENOENT"))
        let junk = scratch.path + "/junk.tar"
        try FS.write(junk, Array(TarBuilder().file("hello", "world").build()))
        #expect(berth(root: root, ["image", "load", "-i", junk]).stderr == "Error: invalid manifest \(junk): neither a docker save archive (manifest.json) nor an OCI image layout (index.json)\n")

        // Run a container on the loaded image's layers with the embedded runtime.
        let output = try runContainer(lower: try store.lowerDirs(for: loaded), command: ["sh", "-c", "echo hello from $(cat /etc/passwd | cut -d: -f1)"], scratch: scratch)
        #expect(output.code == 0, "\(output.stderr)")
        #expect(output.stdout == "hello from root\n")
    }

    @Test func saveIsReadBySkopeoAndLoadsBack() throws {
        let scratch = try Scratch("save")
        let root = try scratch.directory("root")
        let store = try ImageStore(root: root)
        let image = try Seeds.layered()
        try image.store(in: store, as: "shop/layered:3")
        let archive = scratch.path + "/out.tar"
        let saved = berth(root: root, ["image", "save", "-o", archive, "shop/layered:3"])
        #expect(saved.code == 0 && saved.stdout == "" && saved.stderr == "")
        let inspected = try run(["/usr/bin/skopeo", "--insecure-policy", "inspect", "oci-archive:\(archive)"])
        #expect(inspected.code == 0, "\(inspected.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any])
        #expect(json["Digest"] as? String == image.manifestDigest.description)
        #expect(json["Layers"] as? [String] == image.manifest.layers.map(\.digest.description))
        #expect(json["Architecture"] as? String == "amd64")
        let copy = try run(["/usr/bin/skopeo", "--insecure-policy", "copy", "-q", "oci-archive:\(archive)", "oci:\(scratch.path)/copied:x"])
        #expect(copy.code == 0, "\(copy.stderr)")

        let other = try scratch.directory("other")
        #expect(berth(root: other, ["image", "load", "-i", archive]).stdout == "Loaded image: shop/layered:3\n")
        let again = try ImageStore(root: other).find("shop/layered:3")
        #expect(again.config == image.configDigest && again.manifest == image.manifestDigest)
        #expect(berth(root: root, ["image", "save", "ghost"]).stderr == "Error: No such image: ghost\n")
        #expect(berth(root: root, ["image", "save", "shop/layered:3"], terminal: true).stderr == "Error: cowardly refusing to save to a terminal. Use the -o flag or redirect\n")
        #expect(!FS.exists(archive + ".berth-tmp"))
    }

    @Test func importDirectoryAndTarballWithChanges() throws {
        let scratch = try Scratch("import")
        let root = try scratch.directory("root")
        let rootfs = try scratch.directory("rootfs")
        try FS.makeDirectories(rootfs + "/bin")
        try FS.write(rootfs + "/bin/hello", Array("#!/bin/sh\necho hi\n".utf8), mode: 0o755)
        _ = chown(rootfs + "/bin/hello", 1000, 1000)
        _ = link(rootfs + "/bin/hello", rootfs + "/bin/hello2")
        _ = symlink("hello", rootfs + "/bin/hi")
        let imported = berth(root: root, ["image", "import", "-c", "CMD [\"/bin/hello\"]", "-c", "ENV A=1 B=\"two words\"", "-c", "EXPOSE 80 53/udp",
                                          "-c", "WORKDIR /srv", "-c", "LABEL tier=web", "-m", "from a test", rootfs, "local/hello:1"])
        #expect(imported.code == 0, "\(imported.stderr)")
        let store = try ImageStore(root: root)
        let record = try store.find("local/hello:1")
        #expect(imported.stdout == record.config.description + "\n")
        let config = try store.config(of: record)
        #expect(config.config?.Cmd == ["/bin/hello"])
        #expect(config.config?.Env == ["A=1", "B=two words"])
        #expect(config.config?.ExposedPorts?.keys.sorted() == ["53/udp", "80/tcp"])
        #expect(config.config?.WorkingDir == "/srv")
        #expect(config.config?.Labels == ["tier": "web"])
        #expect(config.history?.first?.comment == "from a test")
        let layer = try store.lowerDirs(for: record)[0]
        let hello = try #require(lstatOf(layer + "/bin/hello"))
        #expect(hello.st_uid == 1000 && hello.st_mode == S_IFREG | 0o755 && hello.st_nlink == 2)
        #expect(lstatOf(layer + "/bin/hello2")?.st_ino == hello.st_ino)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: layer + "/bin/hi") == "hello")

        let tarball = scratch.path + "/rootfs.tar.gz"
        try FS.write(tarball, TarBuilder().directory("etc").file("etc/os-release", "ID=imported\n").build(.gzip))
        let fromTar = berth(root: root, ["image", "import", "--change", "ENTRYPOINT cat /etc/os-release", tarball])
        #expect(fromTar.code == 0, "\(fromTar.stderr)")
        let unnamed = try store.find(String(fromTar.stdout.dropLast()))
        #expect(unnamed.repository == nil)
        #expect(try store.config(of: unnamed).config?.Entrypoint == ["/bin/sh", "-c", "cat /etc/os-release"])
        #expect(contents(try store.lowerDirs(for: unnamed)[0] + "/etc/os-release") == "ID=imported\n")
        let bad = berth(root: root, ["image", "import", "-c", "RUN make", tarball])
        #expect(bad.stderr == "Error: invalid change \"RUN make\": RUN is not one of CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR\n")
    }

    @Test func composePullAndImages() throws {
        let (registry, image) = try Seeds.registry()
        defer { registry.kill() }
        let scratch = try Scratch("compose")
        let project = try scratch.directory("shop")
        try """
            services:
              web:
                image: \(registry.domain)/busybox
              worker:
                image: \(registry.domain)/busybox:latest
              broken:
                image: \(registry.domain)/missing:1
                build: .
              built:
                build: .
            """.write(toFile: project + "/compose.yaml", atomically: true, encoding: .utf8)
        let root = try scratch.directory("root")
        let id = image.manifest.layers[0].digest.short
        let pulled = berth(root: root, ["pull", "web", "worker"], in: project)
        #expect(pulled.code == 0, "\(pulled.stderr)")
        #expect(pulled.stdout == " web Pulling \n worker Pulling \n \(id) Pulling fs layer \n \(id) Pull complete \n web Pulled \n worker Pulled \n")
        #expect(berth(root: root, ["pull", "--policy", "missing", "web"], in: project).stdout == " web Skipped - Image is already present locally \n")
        #expect(berth(root: root, ["pull", "-q", "web"], in: project).stdout == "")
        let failing = berth(root: root, ["pull", "broken"], in: project)
        #expect(failing.code == 0)
        #expect(failing.stderr == "WARN[0000] broken: manifest for \(registry.domain)/missing:1 not found: manifest unknown: manifest unknown (the image can be built)\n")

        let store = try ImageStore(root: root)
        let record = try store.find("\(registry.domain)/busybox")
        #expect(berth(root: root, ["images"], in: project).stdout == Table.render(
            ["SERVICE", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"],
            [["web", "\(registry.domain)/busybox", "latest", image.configDigest.short, Human.size(record.size)],
             ["worker", "\(registry.domain)/busybox", "latest", image.configDigest.short, Human.size(record.size)]]))
        #expect(berth(root: root, ["images", "-q"], in: project).stdout == image.configDigest.encoded + "\n")
        #expect(berth(root: root, ["pull", "nope"], in: project).stderr == "Error: no such service: nope\n")
    }
}

/// Runs `command` in a container whose root is an overlay of `lower` (top first), through
/// `berth runtime run --spec`, and removes what the runtime left (cgroup parents).
func runContainer(lower: [String], command: [String], scratch: Scratch) throws -> ProcessOutput {
    let project = "img" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
    let spec = ContainerSpec(name: "c1", project: project, root: .overlay(lower: lower, writableDir: nil, readOnly: false), process: .init(args: command))
    let specFile = scratch.path + "/spec"
    try FS.write(specFile, Array(spec.encoded.utf8))
    let runRoot = try scratch.directory("run")
    defer {
        if let layout = try? CgroupLayout.detect() { Cgroup.removeParents(layout: layout, project: project) }
    }
    let output = try run([berthBinary, "runtime", "run", "--run-root", runRoot, "--spec", specFile])
    let mounts = (try? FS.readString("/proc/self/mountinfo")) ?? ""
    #expect(!mounts.contains(runRoot), "a mount of the container was left behind")
    return output
}

/// The built `berth` binary: $BERTH_BINARY, else next to the test bundle.
let berthBinary: String = {
    if let path = ProcessInfo.processInfo.environment["BERTH_BINARY"], !path.isEmpty { return path }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    while !FileManager.default.isExecutableFile(atPath: dir.appendingPathComponent("berth").path) && dir.path != "/" {
        dir = dir.deletingLastPathComponent()
    }
    return dir.appendingPathComponent("berth").path
}()
