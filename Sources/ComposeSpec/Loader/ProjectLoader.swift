import Foundation

/// What to load and how: the Compose v2 command-line inputs that shape a project.
public struct LoadOptions: Sendable {
    /// `-f` files in order; `-` reads standard input. Empty: `COMPOSE_FILE`, else discovery.
    public var files: [String] = []
    public var projectName: String?
    public var projectDirectory: String?
    public var envFiles: [String] = []
    public var profiles: [String] = []
    /// Services named on the command line: their profiles are enabled.
    public var selectedServices: [String] = []
    /// The process environment (wins over `.env`).
    public var environment: [String: String] = [:]
    /// Where discovery starts and relative `-f` paths are read from.
    public var workingDirectory: String = FileManager.default.currentDirectoryPath
    public var interpolate = true
    /// Reads standard input for `-f -`.
    public var readStandardInput: @Sendable () -> [UInt8] = { Array(FileHandle.standardInput.readDataToEndOfFile()) }
    /// Size, depth and alias-expansion limits for every file read.
    public var yamlLimits = YAMLReader.Limits()
    /// Read the project directory's `.env` when no `envFiles` are given (false for Compose
    /// documents berth writes itself, such as `kube play`'s translation).
    public var readsDotEnv = true

    public init() {}
}

public struct LoadResult: Sendable {
    public var project: Project
    public var warnings: [ComposeWarning]
    /// The variables interpolation used: env files, with the process environment on top.
    public var interpolationEnvironment: [String: String]
}

/// Loads a Compose project: file discovery, `.env`, interpolation, short-syntax expansion,
/// `extends`, `include`, merging of several files, profiles, normalization and validation.
public struct ProjectLoader {
    public static let discoveryNames = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"]
    public static let overrideNames = [
        "compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml",
    ]

    public init() {}

    public func load(_ options: LoadOptions) throws(ComposeError) -> LoadResult {
        var context = LoadContext(options: options)
        let project = try context.loadProject()
        return LoadResult(project: project, warnings: context.warnings, interpolationEnvironment: context.environment)
    }
}

/// State of one load: the interpolation environment, warnings, files already read.
struct LoadContext {
    let options: LoadOptions
    var warnings: [ComposeWarning] = []
    var environment: [String: String] = [:]
    var home: String?
    private var fileCache: [String: [Node]] = [:]

    init(options: LoadOptions) {
        self.options = options
        self.home = options.environment["HOME"]
    }

    mutating func warn(_ message: String, at mark: Mark = .none) {
        let warning = ComposeWarning(message, at: mark)
        if !warnings.contains(warning) { warnings.append(warning) }
    }

    // MARK: The whole project

    mutating func loadProject() throws(ComposeError) -> Project {
        let cwd = options.workingDirectory
        var files = options.files.map { $0 == "-" ? "-" : Paths.join(cwd, $0) }
        // COMPOSE_FILE may come from the environment or from the .env of the project dir.
        let earlyDotEnvDir = options.projectDirectory.map { Paths.join(cwd, $0) } ?? cwd
        if files.isEmpty {
            var composeFile = options.environment["COMPOSE_FILE"]
            if composeFile == nil, options.envFiles.isEmpty {
                composeFile = try readDotEnv(earlyDotEnvDir + "/.env", required: false, lookup: options.environment)["COMPOSE_FILE"]
            }
            if let composeFile, !composeFile.isEmpty {
                let separator = options.environment["COMPOSE_PATH_SEPARATOR"] ?? ":"
                files = composeFile.components(separatedBy: separator).filter { !$0.isEmpty }.map { Paths.join(earlyDotEnvDir, $0) }
            } else {
                files = try discover(from: cwd)
            }
        }
        let firstRealFile = files.first(where: { $0 != "-" })
        let projectDirectory =
            options.projectDirectory.map { Paths.join(cwd, $0) }
            ?? (files.first == "-" || firstRealFile == nil ? cwd : Paths.directory(of: firstRealFile ?? cwd))

        // Interpolation environment: env files, then the process environment on top.
        var env: [String: String] = [:]
        let envFiles: [String]
        if options.envFiles.isEmpty {
            let dotEnv = projectDirectory + "/.env"
            envFiles = options.readsDotEnv && FileManager.default.fileExists(atPath: dotEnv) ? [dotEnv] : []
        } else {
            envFiles = options.envFiles.map { Paths.join(cwd, $0) }
        }
        for file in envFiles {
            let merged = env.merging(options.environment) { _, process in process }
            env.merge(try readDotEnv(file, required: true, lookup: merged)) { _, new in new }
        }
        env.merge(options.environment) { _, process in process }
        environment = env
        if home == nil { home = env["HOME"] }

        var tree = try loadFiles(files, projectDirectory: projectDirectory, includeStack: [])
        tree = Merger.stripTags(tree)

        // Warn about the obsolete `version` key, as Compose v2 does, then drop it.
        if let version = tree["version"] {
            warn("the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion", at: version.mark)
            tree = tree.removing("version")
        }
        var project = try decodeProject(tree)
        project.workingDirectory = projectDirectory
        project.configFiles = files.map { $0 == "-" ? Paths.join(cwd, "-") : $0 }
        project.environmentFiles = options.envFiles.isEmpty ? [] : envFiles
        var normalizer = Normalizer(context: self, projectDirectory: projectDirectory, topLevelName: tree["name"])
        try normalizer.normalize(&project)
        warnings = normalizer.context.warnings
        try Validator(project: project, tree: tree).validate()
        return project
    }

    /// compose.yaml (and friends) in the working directory or its parents, plus the
    /// matching override file next to it.
    func discover(from directory: String) throws(ComposeError) -> [String] {
        var dir = Paths.clean(directory)
        while true {
            for name in ProjectLoader.discoveryNames {
                let candidate = dir == "/" ? "/\(name)" : "\(dir)/\(name)"
                guard FileManager.default.fileExists(atPath: candidate) else { continue }
                var found = [candidate]
                let stem = name.hasPrefix("docker-") ? "docker-compose" : "compose"
                let ext = name.hasSuffix(".yml") ? "yml" : "yaml"
                for overrideName in ["\(stem).override.\(ext)", "\(stem).override.\(ext == "yml" ? "yaml" : "yml")"] {
                    let path = dir == "/" ? "/\(overrideName)" : "\(dir)/\(overrideName)"
                    if FileManager.default.fileExists(atPath: path) {
                        found.append(path)
                        break
                    }
                }
                return found
            }
            if dir == "/" { break }
            dir = Paths.directory(of: dir)
        }
        throw ComposeError(
            "no configuration file provided: not found (looked for \(ProjectLoader.discoveryNames.joined(separator: ", ")) in \(directory) and its parents); use -f to name one")
    }

    // MARK: Files

    /// Loads files into one merged canonical tree (extends and includes resolved).
    mutating func loadFiles(_ files: [String], projectDirectory: String, includeStack: [String]) throws(ComposeError) -> Node {
        var merged: Node?
        for file in files {
            for document in try readDocuments(file) {
                let processed = try processDocument(document, file: file, projectDirectory: projectDirectory, includeStack: includeStack)
                merged = merged.map { Merger.merge($0, processed) } ?? processed
            }
        }
        guard let merged else {
            throw ComposeError("empty compose file", at: Mark(file: files.first ?? "", line: 0, column: 0))
        }
        return merged
    }

    /// Parses one file into its YAML documents (cached: extends may read a file again).
    mutating func readDocuments(_ file: String) throws(ComposeError) -> [Node] {
        if let cached = fileCache[file] { return cached }
        let bytes: [UInt8]
        let displayName: String
        if file == "-" {
            bytes = options.readStandardInput()
            displayName = "(stdin)"
        } else {
            // Refuse oversized files before reading them, so memory stays bounded.
            // (stat, not FileManager's attributes: their dictionary of Any costs ~0.1 ms.)
            var info = stat()
            if stat(file, &info) == 0, Int(info.st_size) > options.yamlLimits.maxBytes {
                throw ComposeError(
                    "file is \(Int(info.st_size) >> 20) MB; berth reads Compose files of at most \(options.yamlLimits.maxBytes >> 20) MB",
                    at: Mark(file: file, line: 0, column: 0))
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: file, isDirectory: &isDir), isDir.boolValue {
                    throw ComposeError("\(file) is a directory, not a Compose file")
                }
                throw ComposeError("open \(file): no such file or directory")
            }
            bytes = Array(data)
            displayName = file
        }
        var reader = YAMLReader()
        reader.limits = options.yamlLimits
        let documents = try reader.parse(bytes, file: displayName).filter { !$0.isNull }
        for document in documents where !document.isMapping {
            throw ComposeError("top-level object must be a mapping, not \(document.kindName)", at: document.mark)
        }
        fileCache[file] = documents
        return documents
    }

    /// One document: interpolate, expand short syntax, resolve `extends` and `include`.
    mutating func processDocument(
        _ document: Node, file: String, projectDirectory: String, includeStack: [String]
    ) throws(ComposeError) -> Node {
        var tree = try interpolate(document)
        tree = try Canonicalizer(baseDirectory: projectDirectory, home: home).document(tree)
        tree = try resolveExtends(in: tree, file: file, projectDirectory: projectDirectory)
        if let include = tree["include"] {
            tree = try applyInclude(include, to: tree.removing("include"), file: file, projectDirectory: projectDirectory, includeStack: includeStack)
        }
        return tree
    }

    mutating func interpolate(_ node: Node) throws(ComposeError) -> Node {
        guard options.interpolate else { return node }
        let env = environment
        var interpolator = Interpolator(lookup: { env[$0] })
        let result = try interpolator.interpolate(node)
        for (name, mark) in interpolator.unsetVariables {
            warn("The \"\(name)\" variable is not set. Defaulting to a blank string.", at: mark)
        }
        return result
    }

    func readDotEnv(_ path: String, required: Bool, lookup: [String: String]) throws(ComposeError) -> [String: String] {
        guard let data = FileManager.default.contents(atPath: path) else {
            if required { throw ComposeError("couldn't find env file: \(path)") }
            return [:]
        }
        let text = String(decoding: data, as: UTF8.self)
        var out: [String: String] = [:]
        for entry in try DotEnv.parse(text, file: path, lookup: { lookup[$0] }) { out[entry.key] = entry.value }
        return out
    }

    // MARK: extends

    mutating func resolveExtends(in tree: Node, file: String, projectDirectory: String) throws(ComposeError) -> Node {
        guard let services = tree["services"], let pairs = services.pairs else { return tree }
        guard pairs.contains(where: { $0.value["extends"] != nil }) else { return tree }
        var out: [Node.Pair] = []
        for pair in pairs {
            let name = pair.key.scalarText ?? ""
            out.append(Node.Pair(
                key: pair.key,
                value: try resolveService(name, node: pair.value, services: services, file: file, stack: [])))
        }
        var servicesCopy = services
        servicesCopy.value = .mapping(out)
        return tree.setting("services", to: servicesCopy)
    }

    /// A service with its `extends` chain merged in, base first.
    mutating func resolveService(
        _ name: String, node: Node, services: Node, file: String, stack: [String]
    ) throws(ComposeError) -> Node {
        guard let extends = node["extends"] else { return node }
        let here = "\(file):\(name)"
        if stack.contains(here) {
            let chain = (stack + [here]).map { $0.components(separatedBy: ":").last ?? $0 }.joined(separator: " -> ")
            throw ComposeError("circular reference with extends: \(chain)", at: extends.mark)
        }
        guard let baseName = extends["service"]?.scalarText else {
            throw ComposeError("services.\(name).extends: 'service' is required", at: extends.mark)
        }
        var baseServices = services
        var baseFile = file
        if let fileNode = extends["file"], let relative = fileNode.scalarText {
            let base = Paths.directory(of: file == "-" ? options.workingDirectory + "/-" : file)
            baseFile = Paths.join(base, relative)
            let documents = try readDocuments(baseFile)
            var combined: Node?
            for document in documents {
                var tree = try interpolate(document)
                tree = try Canonicalizer(baseDirectory: Paths.directory(of: baseFile), home: home).document(tree)
                combined = combined.map { Merger.merge($0, tree) } ?? tree
            }
            guard let combinedServices = combined?["services"] else {
                throw ComposeError("cannot extend service \"\(name)\": \(baseFile) has no services", at: fileNode.mark)
            }
            baseServices = combinedServices
        }
        guard let baseNode = baseServices[baseName] else {
            let known = baseServices.keys
            let hint = Spelling.closest(to: baseName, in: known).map { " — did you mean '\($0)'?" } ?? ""
            throw ComposeError(
                "cannot extend service \"\(name)\" in \(file == "-" ? "(stdin)" : file): service \"\(baseName)\" not found\(hint)",
                at: extends.mark)
        }
        let resolvedBase = try resolveService(baseName, node: baseNode, services: baseServices, file: baseFile, stack: stack + [here])
        return Merger.merge(resolvedBase, node.removing("extends"), path: ["services", "*"])
    }

    // MARK: include

    mutating func applyInclude(
        _ include: Node, to tree: Node, file: String, projectDirectory: String, includeStack: [String]
    ) throws(ComposeError) -> Node {
        guard let entries = include.items else {
            throw NodeDecoding.typeError("a list of files", include, KeyPath(["include"]))
        }
        var result = tree
        let fileDirectory = file == "-" ? options.workingDirectory : Paths.directory(of: file)
        for (index, entry) in entries.enumerated() {
            let path = KeyPath(["include"]).appending(index: index)
            var paths: [String] = []
            var includeProjectDirectory: String?
            var envFiles: [String]?
            if let text = entry.scalarText, !entry.isNull {
                paths = [text]
            } else if entry.isMapping {
                for key in entry.keys where !["path", "project_directory", "env_file"].contains(key) {
                    let hint = Spelling.closest(to: key, in: ["path", "project_directory", "env_file"]).map { " — did you mean '\($0)'?" } ?? ""
                    throw ComposeError("\(path): unknown key '\(key)'\(hint)", at: entry.mark)
                }
                guard let pathNode = entry["path"] else { throw ComposeError("\(path): 'path' is required", at: entry.mark) }
                paths = pathNode.items?.compactMap(\.scalarText) ?? [pathNode.scalarText].compactMap { $0 }
                includeProjectDirectory = entry["project_directory"]?.scalarText
                if let env = entry["env_file"] {
                    envFiles = env.items?.compactMap(\.scalarText) ?? [env.scalarText].compactMap { $0 }
                }
            } else {
                throw NodeDecoding.typeError("a file path or a mapping", entry, path)
            }
            let absolutePaths = paths.map { Paths.join(fileDirectory, $0) }
            guard let first = absolutePaths.first else { throw ComposeError("\(path): 'path' is empty", at: entry.mark) }
            for included in absolutePaths where includeStack.contains(included) || included == file {
                throw ComposeError("include cycle detected: \((includeStack + [file, included]).joined(separator: " -> "))", at: entry.mark)
            }
            let subDirectory = includeProjectDirectory.map { Paths.join(fileDirectory, $0) } ?? Paths.directory(of: first)
            // The included project's env files override the including environment.
            let savedEnvironment = environment
            var subEnvironment = environment
            let subEnvFiles = envFiles.map { $0.map { Paths.join(fileDirectory, $0) } } ?? [subDirectory + "/.env"]
            for envFile in subEnvFiles {
                let required = envFiles != nil
                subEnvironment.merge(try readDotEnv(envFile, required: required, lookup: subEnvironment)) { _, new in new }
            }
            environment = subEnvironment
            defer { environment = savedEnvironment }
            let subTree = Merger.stripTags(
                try loadFiles(absolutePaths, projectDirectory: subDirectory, includeStack: includeStack + [file]))
            for section in ["services", "networks", "volumes", "secrets", "configs", "models"] {
                guard let imported = subTree[section]?.pairs else { continue }
                var existing = result[section] ?? Node(.mapping([]), mark: entry.mark)
                for pair in imported {
                    let key = pair.key.scalarText ?? ""
                    if let current = existing[key] {
                        guard section != "services", Self.sameContent(current, pair.value) else {
                            throw ComposeError(
                                "\(section).\(key) conflicts with imported resource from \(first); rename one of them", at: current.mark)
                        }
                        continue
                    }
                    existing = existing.setting(key, to: pair.value)
                }
                result = result.setting(section, to: existing)
            }
        }
        return result
    }

    static func sameContent(_ a: Node, _ b: Node) -> Bool {
        switch (a.value, b.value) {
        case (.scalar(let x, _), .scalar(let y, _)): return x == y
        case (.sequence(let x), .sequence(let y)): return x.count == y.count && zip(x, y).allSatisfy { sameContent($0, $1) }
        case (.mapping(let x), .mapping(let y)):
            return x.count == y.count
                && x.allSatisfy { pair in y.contains { $0.key.scalarText == pair.key.scalarText && sameContent($0.value, pair.value) } }
        default: return false
        }
    }

    // MARK: Typed model

    func decodeProject(_ tree: Node) throws(ComposeError) -> Project {
        try NodeDecoder().decode(Project.self, from: tree)
    }
}

extension ProjectLoader {
    /// Whether `-p`/COMPOSE_PROJECT_NAME would be taken as it is (lowercase alphanumerics,
    /// `-` and `_`, starting with a letter or digit).
    public static func isValidProjectName(_ name: String) -> Bool {
        !name.isEmpty && Normalizer.normalizedName(name) == name
    }
}
