#if canImport(Glibc)
import Glibc
#endif
import BerthSystem

/// Runs a helper program (nft) with `input` on stdin and returns its exit status and combined
/// output. posix_spawn, so it is safe from a multi-threaded process; the child gets only fds
/// 0–2 (every other fd of ours is close-on-exec).
enum Subprocess {
    struct Result {
        var status: ExitStatus
        var output: String
    }

    static func run(_ argv: [String], input: String) throws -> Result {
        let stdinPipe = try Pipe()
        let outputPipe = try Pipe()
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe.read, 0)
        posix_spawn_file_actions_adddup2(&actions, outputPipe.write, 1)
        posix_spawn_file_actions_adddup2(&actions, outputPipe.write, 2)
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let environment: [UnsafeMutablePointer<CChar>?] = [strdup("PATH=/usr/sbin:/usr/bin:/sbin:/bin"), nil]
        defer { environment.forEach { free($0) } }
        let code = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environment)
        close(stdinPipe.read)
        close(outputPipe.write)
        defer { close(outputPipe.read) }
        if code != 0 {
            close(stdinPipe.write)
            throw SystemError("spawn", path: argv[0], errno: code)
        }
        // nft reads its whole input before it writes anything, so this order cannot deadlock.
        var writeError: (any Error)?
        do { try FS.writeAll(fd: stdinPipe.write, Array(input.utf8), path: "\(argv[0]) stdin") } catch { writeError = error }
        close(stdinPipe.write)
        let output = (try? FS.readAll(fd: outputPipe.read, path: "\(argv[0]) output", limit: 1 << 20)) ?? []
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let result = Result(status: ExitStatus(waitStatus: status), output: String(decoding: output, as: UTF8.self))
        if let writeError, result.status == .exited(0) { throw writeError }
        return result
    }
}
