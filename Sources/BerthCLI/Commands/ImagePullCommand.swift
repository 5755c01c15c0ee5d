import BerthImages
import Foundation

/// `berth image pull`, as `docker pull`.
enum ImagePullCommand {
    static let spec = CommandSpec(
        name: "pull", arguments: "NAME[:TAG|@DIGEST]",
        abstract: "Download an image from a registry.",
        discussion: """
            Resolves the name (busybox is docker.io/library/busybox:latest), picks the manifest for this machine's platform from an index, and streams the missing layers: download, decompression, digest check and unpacking in one pass, three layers at a time. Layers the store already has are not fetched again. The image becomes visible only once all of it is stored and verified.

            Credentials come from Docker's client configuration ($DOCKER_CONFIG/config.json or ~/.docker/config.json, "auths"). Registries on this machine (localhost, 127.0.0.0/8, ::1) are reached over plain HTTP, or over TLS without checking the certificate when they speak TLS; a CA for a registry goes in /etc/berth/certs.d/HOST:PORT/ca.crt (or Docker's /etc/docker/certs.d).
            """,
        options: [
            ImageContext.platformOption,
            OptionSpec("quiet", short: "q", help: "Print only the image name."),
            ImageContext.insecureOption,
        ],
        examples: [
            ("berth image pull busybox", "Pull docker.io/library/busybox:latest."),
            ("berth image pull --platform linux/arm64 127.0.0.1:5000/app:1.2", "Pull the arm64 image of a local registry."),
        ]
    ) { invocation in
        guard invocation.arguments.count == 1, let text = invocation.arguments.first else {
            throw UsageError(message: "\"berth image pull\" requires exactly 1 argument", command: "image pull")
        }
        let context = try ImageContext(invocation)
        let console = invocation.console
        let mode: PullPrinter.Mode = invocation.options.flag("quiet") ? .quiet : console.stdoutIsTerminal ? .terminal : .plain
        try pull(text, context: context, printer: PullPrinter(console: console, mode: mode))
        return 0
    }

    /// One pull with Docker's messages around it; returns the result.
    @discardableResult
    static func pull(_ text: String, context: ImageContext, printer: PullPrinter) throws -> PullResult {
        let typed = try ImageReference(parsing: text, defaultTag: false)
        let reference = try ImageReference(parsing: text)
        if typed.tag == nil && typed.digest == nil { printer.say("Using default tag: \(ImageReference.defaultTag)") }
        printer.say("\(reference.digest?.description ?? reference.tag ?? ImageReference.defaultTag): Pulling from \(reference.path)")
        let result = try context.puller().pull(reference) { event in printer.handle(event) }
        printer.finish()
        printer.say("Digest: \(result.digest)")
        let shown = reference.familiarString
        printer.say(result.upToDate ? "Status: Image is up to date for \(shown)" : "Status: Downloaded newer image for \(shown)")
        context.invocation.console.out(reference.description + "\n")
        return result
    }
}
