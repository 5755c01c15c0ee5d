import BerthImages
import BerthSystem
import Foundation

/// `berth image load`, `save` and `import`.
enum ImageLoadCommand {
    static let spec = CommandSpec(
        name: "load",
        abstract: "Load images from a tar archive or standard input.",
        discussion: "Reads what docker save writes (manifest.json with the config and layer tars) and OCI image layout archives (index.json and blobs/, as skopeo's oci-archive and Docker 25+ write them), plain or compressed with gzip, xz, bzip2 or zstd. Each image keeps the names the archive gives it.",
        options: [
            OptionSpec("input", short: "i", value: "FILE", help: "Read from FILE instead of standard input."),
            OptionSpec("platform", value: "OS/ARCH[/VARIANT]", help: "The platform to take from an archive that holds several.", environment: "DOCKER_DEFAULT_PLATFORM"),
            OptionSpec("quiet", short: "q", help: "Print nothing."),
        ],
        examples: [("berth image load -i busybox.tar", "Load the images of busybox.tar."), ("zcat app.tar.gz | berth image load", "Load from standard input.")]
    ) { invocation in
        let context = try ImageContext(invocation)
        let source: any ByteSource
        let what: String
        if let input = invocation.options.value("input") {
            source = try FileSource(path: context.path(input))
            what = input
        } else {
            let bytes = invocation.readStandardInput()
            guard !bytes.isEmpty else { throw CLIError("requested load from stdin, but stdin is empty") }
            source = BytesSource(bytes)
            what = "standard input"
        }
        let loaded = try ArchiveLoader.load(from: source, into: context.store, platform: try context.platform(), what: what)
        guard !invocation.options.flag("quiet") else { return 0 }
        for image in loaded {
            if image.names.isEmpty {
                invocation.console.out("Loaded image ID: \(image.record.config)\n")
            }
            for name in image.names { invocation.console.out("Loaded image: \(name.familiarString)\n") }
        }
        return 0
    }
}

enum ImageSaveCommand {
    static let spec = CommandSpec(
        name: "save", arguments: "IMAGE [IMAGE...]",
        abstract: "Save images to a tar archive (OCI image layout).",
        discussion: "Writes an OCI image layout (oci-layout, index.json, blobs/sha256/...) as a tar, with a manifest.json that docker load also reads. Layers are written as the store holds them (compressed as pulled). The archive replaces FILE only once complete.",
        options: [OptionSpec("output", short: "o", value: "FILE", help: "Write to FILE instead of standard output.")],
        examples: [("berth image save -o busybox.tar busybox", "Save busybox:latest."), ("skopeo inspect oci-archive:busybox.tar", "Read it with skopeo.")]
    ) { invocation in
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "\"berth image save\" requires at least 1 argument", command: "image save")
        }
        let context = try ImageContext(invocation)
        let records = try invocation.arguments.map { try context.store.find($0) }
        guard let output = invocation.options.value("output") else {
            guard !invocation.console.stdoutIsTerminal else {
                throw CLIError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
            }
            try ArchiveWriter.save(records, from: context.store, to: 1, what: "standard output")
            return 0
        }
        let path = context.path(output)
        let temp = path + ".berth-tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CLIError("can't write \(path): \(SystemError.strerror(errno)); check that the directory exists and is writable") }
        do {
            try ArchiveWriter.save(records, from: context.store, to: fd, what: output)
            close(fd)
        } catch {
            close(fd)
            unlink(temp)
            throw error
        }
        guard rename(temp, path) == 0 else { throw CLIError("can't rename \(temp) to \(path): \(SystemError.strerror(errno))") }
        return 0
    }
}

enum ImageImportCommand {
    static let spec = CommandSpec(
        name: "import", arguments: "FILE|DIRECTORY|- [REPOSITORY[:TAG]]",
        abstract: "Create an image from a root file system.",
        discussion: "A tarball (plain or compressed; - reads standard input) or a directory becomes a one-layer image. Owners, modes, extended attributes, hardlinks and device nodes are kept; a directory is read without crossing mount points. Prints the new image's ID.",
        options: [
            OptionSpec("change", short: "c", value: "INSTRUCTION", help: "Apply a Dockerfile instruction to the image config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME or WORKDIR; repeatable.", repeatable: true),
            OptionSpec("message", short: "m", value: "TEXT", help: "Commit message recorded in the image history."),
            OptionSpec("platform", value: "OS/ARCH[/VARIANT]", help: "Platform written into the image config (default: this machine's)."),
        ],
        examples: [
            ("berth image import rootfs.tar.gz shop/base:1", "Import a tarball."),
            ("berth image import --change 'CMD [\"/bin/sh\"]' ./rootfs tools:dev", "Import a directory with a default command."),
        ]
    ) { invocation in
        guard (1...2).contains(invocation.arguments.count) else {
            throw UsageError(message: "\"berth image import\" requires 1 or 2 arguments", command: "image import")
        }
        let context = try ImageContext(invocation)
        let input = invocation.arguments[0]
        let reference = try invocation.arguments.count == 2 ? ImageReference(parsing: invocation.arguments[1]) : nil
        let source: ImageImporter.Source
        if input == "-" {
            source = .tarball(BytesSource(invocation.readStandardInput()))
        } else if FS.isDirectory(context.path(input)) {
            source = .directory(context.path(input))
        } else {
            source = .tarball(try FileSource(path: context.path(input)))
        }
        var options = ImageImporter.Options()
        options.changes = invocation.options.all("change")
        options.message = invocation.options.value("message")
        if let platform = invocation.options.value("platform") { options.platform = try Platform(parsing: platform) }
        let record = try ImageImporter.importImage(source, into: context.store, as: reference, options: options, what: input == "-" ? "standard input" : input)
        invocation.console.out(record.config.description + "\n")
        return 0
    }
}

/// `berth image ...`: the store's commands.
enum ImageCommand {
    static let spec = CommandSpec(
        name: "image",
        abstract: "Manage images: pull, list, inspect, remove, load, save, import and tag.",
        discussion: "Images live in the store under --root (default /var/lib/berth/images): content-addressed blobs, one unpacked directory per layer shared by every image that has it, and the names.",
        subcommands: [
            ImagePullCommand.spec, ImageListCommand.spec, ImageInspectCommand.spec, ImageRemoveCommand.spec, ImagePruneCommand.spec,
            ImageLoadCommand.spec, ImageSaveCommand.spec, ImageImportCommand.spec, ImageTagCommand.spec,
        ])
}
