import BerthImages
import Foundation

/// `berth image rm`, `berth image prune`, `berth image tag`.
enum ImageRemoveCommand {
    static let spec = CommandSpec(
        name: "rm", arguments: "IMAGE [IMAGE...]",
        abstract: "Remove images.",
        discussion: "A name removes that name; the image goes when no name is left, with the layers no other image uses. An image ID removes every name of the image; when several repositories name it, --force is needed.",
        options: [OptionSpec("force", short: "f", help: "Remove an image named by several repositories.")],
        examples: [("berth image rm busybox", "Remove busybox:latest.")]
    ) { invocation in
        guard !invocation.arguments.isEmpty else {
            throw UsageError(message: "\"berth image rm\" requires at least 1 argument", command: "image rm")
        }
        let context = try ImageContext(invocation)
        var failed = false
        for name in invocation.arguments {
            do {
                let events = try context.store.remove(name, force: invocation.options.flag("force"))
                invocation.console.out(events.map { $0.description + "\n" }.joined())
            } catch let error as ImageError {
                invocation.console.err("Error: \(error)\n")
                failed = true
            }
        }
        return failed ? 1 : 0
    }
}

enum ImagePruneCommand {
    static let spec = CommandSpec(
        name: "prune",
        abstract: "Remove unused images.",
        discussion: "Removes dangling images (those without a name, left behind when a tag moved to a newer pull), or with --all every image. Asks for confirmation unless --force is given.",
        options: [
            OptionSpec("all", short: "a", help: "Remove all images, not only dangling ones."),
            OptionSpec("force", short: "f", help: "Do not ask for confirmation."),
        ]
    ) { invocation in
        let context = try ImageContext(invocation)
        let all = invocation.options.flag("all")
        if !invocation.options.flag("force") {
            let warning = all ? "WARNING! This will remove all images without at least one container associated to them." : "WARNING! This will remove all dangling images."
            guard Confirmation.ask(invocation, warning: warning) else { return 0 }
        }
        let (events, reclaimed) = try context.store.prune(all: all)
        if !events.isEmpty {
            let lines = events.map { event -> String in
                switch event {
                case .untagged(let name): return "untagged: \(name)\n"
                case .deleted(let digest): return "deleted: \(digest)\n"
                }
            }
            invocation.console.out("Deleted Images:\n" + lines.joined() + "\n")
        }
        invocation.console.out("Total reclaimed space: \(Human.size(reclaimed))\n")
        return 0
    }
}

enum ImageTagCommand {
    static let spec = CommandSpec(
        name: "tag", arguments: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
        abstract: "Give an image another name.",
        examples: [("berth image tag busybox 127.0.0.1:5000/tools/busybox:1", "Name busybox for a local registry.")]
    ) { invocation in
        guard invocation.arguments.count == 2 else {
            throw UsageError(message: "\"berth image tag\" requires exactly 2 arguments", command: "image tag")
        }
        let context = try ImageContext(invocation)
        let source = try context.store.find(invocation.arguments[0])
        try context.store.tag(source, as: try ImageReference(parsing: invocation.arguments[1]))
        return 0
    }
}
