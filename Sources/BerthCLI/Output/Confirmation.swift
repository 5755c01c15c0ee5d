import Foundation

/// Docker's `[y/N]` prompt before a prune: the warning, the question, and true only for an
/// answer of y or yes on the first line of standard input.
enum Confirmation {
    static func ask(_ invocation: Invocation, warning: String) -> Bool {
        invocation.console.out("\(warning)\nAre you sure you want to continue? [y/N] ")
        let answer = String(decoding: invocation.readStandardInput(), as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
