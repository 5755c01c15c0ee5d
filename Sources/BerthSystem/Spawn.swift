#if canImport(Glibc)
import Glibc
#endif
import CBerthSys

public enum Spawn {
    /// Starts `path` with `arguments` (argv[0] included) as a process that outlives the
    /// caller: its own session, default signal handling, stdin from /dev/null, stdout and
    /// stderr appended to `logPath`, `passFD` as its fd 3, nothing else inherited. Uses
    /// posix_spawn, so a multi-threaded caller may use it.
    public static func detached(path: String, arguments: [String], environment: [String], logPath: String, passFD: Int32 = -1) throws -> pid_t {
        try detached(path: path, arguments: arguments, environment: environment, logPath: logPath, passing: passFD >= 0 ? [passFD] : [])
    }

    /// `detached`, handing over several descriptors: `passing[i]` becomes fd 3 + i (at most 8).
    public static func detached(path: String, arguments: [String], environment: [String], logPath: String, passing: [Int32]) throws -> pid_t {
        var pid: pid_t = 0
        let code = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                passing.withUnsafeBufferPointer { fds in
                    berth_spawn_passing(path, argv, envp, logPath, fds.baseAddress, Int32(fds.count), &pid)
                }
            }
        }
        if code != 0 { throw SystemError("spawn", path: path, errno: code) }
        return pid
    }

    /// Starts `path` in its own session (as `detached`) with its stdout and stderr on
    /// `output` (≥ 3, typically a pipe's write end the caller then closes and reads the other
    /// end of): for short-lived helpers whose output the caller collects.
    public static func piped(path: String, arguments: [String], environment: [String], output: Int32) throws -> pid_t {
        var pid: pid_t = 0
        let code = withCStrings(arguments) { argv in
            withCStrings(environment) { envp in
                berth_spawn_piped(path, argv, envp, output, &pid)
            }
        }
        if code != 0 { throw SystemError("spawn", path: path, errno: code) }
        return pid
    }

    /// A NULL-terminated `char *[]` for the duration of `body`.
    static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

public enum ProcessImage {
    /// Replaces this process with `path` (execve): stdio, terminal and exit status pass
    /// through untouched. Returns only on failure, with the errno.
    public static func replace(path: String, arguments: [String], environment: [String]) -> Int32 {
        Spawn.withCStrings(arguments) { argv in
            Spawn.withCStrings(environment) { envp in
                _ = execve(path, UnsafeMutablePointer(mutating: argv), UnsafeMutablePointer(mutating: envp))
                return errno
            }
        }
    }
}
