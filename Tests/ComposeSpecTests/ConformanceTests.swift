import ComposeSpec
import Foundation
import Testing

/// Loads every file of ../shared/conformance (Compose files from the test suites of
/// docker/compose, compose-go and podman-compose) and compares berth's canonical form with
/// the reference output of `docker-compose config` (v1), key by key. v1's dialect (short
/// syntax, `$$`, durations as written, no implicit network) is absorbed by loading the
/// reference output through berth's own loader; real differences are listed, with their
/// reasons, in conformance-known-differences.tsv.
@Suite("Compose conformance corpus")
struct ConformanceTests {
    static let root: String? = {
        let here = URL(fileURLWithPath: #filePath)
        let candidates = [
            here.deletingLastPathComponent().appendingPathComponent("../../../shared/conformance").standardized.path,
            ProcessInfo.processInfo.environment["BERTH_CONFORMANCE"] ?? "",
        ]
        return candidates.first { !$0.isEmpty && FileManager.default.fileExists(atPath: $0 + "/corpus/INDEX.tsv") }
    }()

    static let knownDifferencesFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("conformance-known-differences.tsv").path
    static let rejectedDecisionsFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("conformance-rejected.tsv").path

    static func tsv(_ path: String) -> [[String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").dropFirst().filter { !$0.hasPrefix("#") }.map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    static let environment = ["HOME": "/CORPUS_HOME"]

    static func load(files: [String], directory: String, extra: (inout LoadOptions) -> Void = { _ in }) throws -> Project {
        var options = LoadOptions()
        options.files = files
        options.workingDirectory = directory
        options.environment = environment
        extra(&options)
        return try ProjectLoader().load(options).project
    }

    /// The reference output, read through berth's loader as if it were the original file.
    static func loadReference(_ path: String, corpus: String, like project: Project, directory: String) throws -> Project {
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "/CORPUS_ROOT", with: corpus)
        return try load(files: ["-"], directory: directory) { options in
            options.readStandardInput = { Array(text.utf8) }
            options.projectName = project.name
            options.projectDirectory = directory
            options.profiles = ["*"]
        }
    }

    /// Differences between two output trees, as "path: ours ≠ reference" lines.
    static func differences(_ ours: OutputValue, _ reference: OutputValue, path: String = "") -> [String] {
        switch (ours, reference) {
        case (.map(let a), .map(let b)):
            var out: [String] = []
            let keys = Set(a.map(\.0)).union(b.map(\.0)).sorted()
            for key in keys {
                let x = a.first(where: { $0.0 == key })?.1
                let y = b.first(where: { $0.0 == key })?.1
                let p = path.isEmpty ? key : "\(path).\(key)"
                switch (x, y) {
                case (let x?, let y?): out += differences(x, y, path: p)
                case (let x?, nil): out.append("\(p): berth has \(brief(x)), reference has nothing")
                case (nil, let y?): out.append("\(p): berth has nothing, reference has \(brief(y))")
                default: break
                }
            }
            return out
        case (.list(let a), .list(let b)) where a.count == b.count:
            return zip(a, b).enumerated().flatMap { differences($0.element.0, $0.element.1, path: "\(path)[\($0.offset)]") }
        default:
            return ours == reference ? [] : ["\(path): berth has \(brief(ours)), reference has \(brief(reference))"]
        }
    }

    static func brief(_ value: OutputValue) -> String {
        let text = OutputWriter.json(value, indent: 0).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.count > 120 ? String(text.prefix(117)) + "..." : text
    }

    /// What v1 never prints and berth always does; removed from berth's side before comparing.
    /// v1 folds env_file into environment and drops the key, drops top-level `x-*`
    /// extensions, and writes `volumes_from` entries as `service:NAME:rw`.
    static func withoutV1Gaps(_ project: Project, reference: Project) -> (Project, Project) {
        var ours = project
        var theirs = reference
        for (name, service) in ours.services {
            var copy = service
            if theirs.services[name]?.env_file == nil { copy.env_file = nil }
            ours.services[name] = copy
        }
        if theirs.extensions == nil || theirs.extensions?.isEmpty == true { ours.extensions = nil }
        for (name, service) in theirs.services {
            var copy = service
            copy.volumes_from = service.volumes_from?.map { entry in
                var e = entry
                if e.hasPrefix("service:") { e = String(e.dropFirst(8)) }
                if e.hasSuffix(":rw") { e = String(e.dropLast(3)) }
                return e
            }
            theirs.services[name] = copy
        }
        return (ours, theirs)
    }

    @Test(.enabled(if: root != nil, "../shared/conformance is not beside the project"))
    func acceptedFilesMatchTheReference() throws {
        guard let root = Self.root else { return }
        let corpus = root + "/corpus"
        let known = Dictionary(Self.tsv(Self.knownDifferencesFile).map { ($0[0], $0.count > 1 ? $0[1] : "") }, uniquingKeysWith: { a, _ in a })
        let divergent = Set(Self.tsv(root + "/expected-config/KNOWN_DIVERGENT.tsv").map { $0[0] })
        var matched = 0
        var total = 0
        var failures: [String] = []
        var stillKnown: Set<String> = []
        for row in Self.tsv(corpus + "/INDEX.tsv") where row.count >= 9 && row[8] == "ok" && !divergent.contains(row[0]) {
            let relative = row[0]
            total += 1
            let file = corpus + "/" + relative
            let directory = (file as NSString).deletingLastPathComponent
            var problems: [String] = []
            do {
                let ours = try Self.load(files: [file], directory: directory) { $0.profiles = ["*"] }
                let reference = try Self.loadReference(
                    root + "/expected-config/" + (relative as NSString).deletingPathExtension + ".yaml", corpus: corpus, like: ours,
                    directory: directory)
                let (a, b) = Self.withoutV1Gaps(ours, reference: reference)
                problems = Self.differences(CanonicalOutput.tree(a), CanonicalOutput.tree(b))
                // berth's own output must load back to the same output.
                let printed = CanonicalOutput.yaml(ours)
                let again = try Self.load(files: ["-"], directory: directory) { options in
                    options.readStandardInput = { Array(printed.utf8) }
                    options.profiles = ["*"]
                }
                if CanonicalOutput.yaml(again) != printed { problems.append("output does not round-trip") }
            } catch {
                problems = ["load failed: \(error)"]
            }
            if problems.isEmpty {
                matched += 1
                if known[relative] != nil { failures.append("\(relative): matches now; remove it from conformance-known-differences.tsv") }
            } else if known[relative] != nil {
                stillKnown.insert(relative)
            } else {
                failures.append("\(relative):\n    " + problems.prefix(6).joined(separator: "\n    "))
            }
        }
        print("conformance: \(matched) of \(total) accepted corpus files match the reference key by key; \(stillKnown.count) known differences")
        #expect(failures.isEmpty, "\(failures.count) files differ:\n\(failures.joined(separator: "\n"))")
    }

    /// Files the v1 reference refused: most use features newer than v1 and must load; the
    /// rest are invalid under Compose v2 too and must fail with a located error. The
    /// decision for each is in conformance-rejected.tsv ("load", or "error" and a
    /// fragment of the expected message).
    @Test(.enabled(if: root != nil, "../shared/conformance is not beside the project"))
    func rejectedFilesAreDecidedByComposeV2Semantics() throws {
        guard let root = Self.root else { return }
        let corpus = root + "/corpus"
        let decisions = Dictionary(
            Self.tsv(Self.rejectedDecisionsFile).map { ($0[0], Array($0.dropFirst())) }, uniquingKeysWith: { a, _ in a })
        let rows = Self.tsv(root + "/expected-config/REJECTED.tsv").map { $0[0] }
            + Self.tsv(root + "/expected-config/KNOWN_DIVERGENT.tsv").map { $0[0] }
        var failures: [String] = []
        var loaded = 0
        var refused = 0
        for relative in rows {
            let file = corpus + "/" + relative
            let directory = (file as NSString).deletingLastPathComponent
            var outcome: String
            do {
                _ = try Self.load(files: [file], directory: directory)
                outcome = "load"
                loaded += 1
            } catch let error as ComposeError {
                outcome = "error\t\(error.description.replacingOccurrences(of: corpus + "/", with: ""))"
                refused += 1
                if error.mark.line == 0 && !error.description.contains(".yaml") && !error.description.contains(".yml") && !error.description.contains("env file") {
                    failures.append("\(relative): error without a location: \(error)")
                }
            }
            guard let decision = decisions[relative] else {
                failures.append("\(relative): no decision recorded; berth says: \(outcome)")
                continue
            }
            let expected = decision.first ?? ""
            if expected == "load" && !outcome.hasPrefix("load") {
                failures.append("\(relative): should load (\(decision.dropFirst().joined(separator: " "))) but: \(outcome)")
            } else if expected == "error" {
                let fragment = decision.count > 1 ? decision[1] : ""
                if !outcome.hasPrefix("error") || !outcome.contains(fragment) {
                    failures.append("\(relative): should fail with \"\(fragment)\" but: \(outcome)")
                }
            }
        }
        print("conformance: of \(rows.count) files v1 refused, berth loads \(loaded) (newer Compose features) and rejects \(refused) with a located error, as Compose v2 does")
        #expect(failures.isEmpty, "\(failures.count) decisions differ:\n\(failures.joined(separator: "\n"))")
    }

    /// Multi-file, override auto-discovery and tag cases with their exact arguments. Those v1
    /// accepted must match its output; those it refused (`!reset`, `!override`) must load
    /// with Compose v2's meaning, checked on the values the tags change.
    @Test(.enabled(if: root != nil, "../shared/conformance is not beside the project"))
    func multiFileCases() throws {
        guard let root = Self.root else { return }
        let corpus = root + "/corpus"
        var failures: [String] = []
        var projects: [String: Project] = [:]
        for row in Self.tsv(root + "/expected-config/_multi/CASES.tsv") where row.count >= 4 {
            let (name, directory, arguments, status) = (row[0], corpus + "/" + row[1], row[2], row[3])
            let words = arguments.hasPrefix("(none") ? [] : arguments.split(separator: " ").map(String.init)
            var files: [String] = []
            var envFiles: [String] = []
            var index = 0
            while index < words.count {
                if words[index] == "-f", index + 1 < words.count { files.append(words[index + 1]) }
                if words[index] == "--env-file", index + 1 < words.count { envFiles.append(words[index + 1]) }
                index += words[index].hasPrefix("-") ? 2 : 1
            }
            do {
                let ours = try Self.load(files: files, directory: directory) { options in
                    options.envFiles = envFiles
                    options.profiles = ["*"]
                }
                projects[name] = ours
                if status == "ok" {
                    let reference = try Self.loadReference(root + "/expected-config/_multi/\(name).yaml", corpus: corpus, like: ours, directory: directory)
                    let (a, b) = Self.withoutV1Gaps(ours, reference: reference)
                    let problems = Self.differences(CanonicalOutput.tree(a), CanonicalOutput.tree(b))
                    if !problems.isEmpty { failures.append("\(name):\n    " + problems.prefix(6).joined(separator: "\n    ")) }
                }
            } catch {
                failures.append("\(name): load failed: \(error)")
            }
        }
        #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        // The tag cases, by Compose v2 semantics.
        #expect(projects["podman-reset-tag-attribute"]?.services["app"]?.command == nil)
        #expect(projects["podman-reset-tag-attribute"]?.services["app"]?.depends_on == nil)
        #expect(projects["podman-reset-tag-service"]?.services.keys.sorted() == ["app2"])
        #expect(projects["podman-override-tag-service"]?.services["app"]?.ports?.map(\.target) == [81])
        #expect(projects["podman-override-tag-attribute"]?.services["app"]?.ports?.map(\.target) == [81])
        #expect(projects["podman-override-tag-attribute"]?.services["app"]?.depends_on?.keys == ["other_db"])
        print("conformance: \(projects.count) multi-file cases load; \(failures.count) differ")
    }
}
