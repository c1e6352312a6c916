import Foundation
import Glibc
import MailCore

/// Runs a helper program (a secret or token command from the plan) and captures its standard output, bounded in
/// time and size. posix_spawn with a clean signal mask: a child started from a worker thread must still be killable.
/// The helper gets what it needs and nothing more (SECURITY.md "Secret helpers"): a minimal environment, only file
/// descriptors 0, 1 and 2, and no core dumps (the limit is inherited from mailferry, see ProcessHygiene).
package enum CommandRunner {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The variables every helper gets, when mailferry has them: where programs are, whose home (a vault client's
    /// token file, ~/.netrc), the language and time zone. Nothing else is inherited: mailferry's environment holds
    /// every mailbox's password variable, and one mailbox's helper has no business reading another's password.
    static let baseVariables = ["PATH", "HOME", "LANG", "LC_ALL", "TZ"]

    /// Used when mailferry itself runs without PATH (some cron daemons).
    static let defaultPath = "/usr/local/bin:/usr/bin:/bin"

    /// `NAME=value` for the base variables and the `names` the plan passes on (`env: ["VAULT_ADDR"]`), those that
    /// are set; a named variable that is not set is left out, like any unset variable.
    package static func environment(
        passing names: [String],
        from source: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        for name in baseVariables + names where seen.insert(name).inserted {
            if let value = source[name] {
                result.append("\(name)=\(value)")
            } else if name == "PATH" {
                result.append("PATH=\(defaultPath)")
            }
        }
        return result
    }

    /// glibc 2.34's posix_spawn_file_actions_addclosefrom_np, which the Glibc module does not export.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let addCloseFrom: AddCloseFrom? =
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np").map {
            unsafeBitCast($0, to: AddCloseFrom.self)
        }

    /// Runs `argv` (argv[0] looked up in PATH) with stdin from /dev/null, stderr discarded (so a helper's
    /// diagnostics can never leak a secret into our output), `environment` as its whole environment (`NAME=value`;
    /// nil: mailferry's own) and no other open file: whatever mailferry has open (the state database, sockets to
    /// servers, a spool file) is closed in the child. Returns stdout; more than `limit` bytes is an error, and the
    /// program is killed.
    package static func capture(
        _ argv: [String], environment: [String]? = nil, timeout: Double = 30,
        limit: Int = 64 * 1024
    ) throws -> [UInt8] {
        guard let program = argv.first, !program.isEmpty else { throw Failure(description: "empty command") }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw Failure(description: "pipe: \(errnoText())") }
        // Our end must not leak into children other threads start at the same moment.
        _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        defer { close(pipeFDs[0]) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Close every other descriptor in the child, whether or not its opener set FD_CLOEXEC.
        guard let addCloseFrom, addCloseFrom(&actions, 3) == 0 else {
            close(pipeFDs[1])
            throw Failure(
                description: "cannot run \(program): this C library cannot close inherited files "
                    + "(posix_spawn_file_actions_addclosefrom_np needs glibc 2.34)")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArgs { free(pointer) } }
        let cEnvironment = environment.map { $0.map { strdup($0) } + [nil] }
        defer { for pointer in cEnvironment ?? [] { free(pointer) } }
        var pid: pid_t = 0
        let rc =
            cEnvironment.map { posix_spawnp(&pid, program, &actions, &attributes, cArgs, $0) }
            ?? posix_spawnp(&pid, program, &actions, &attributes, cArgs, environ)
        close(pipeFDs[1])
        guard rc == 0 else { throw Failure(description: "cannot run \(program): \(errnoText(rc))") }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(timeout)
        var failure: String?
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                failure = "\(program) did not finish within \(formatSeconds(timeout))"
                break
            }
            var pfd = pollfd(fd: pipeFDs[0], events: Int16(POLLIN), revents: 0)
            let ready = retryingEINTR { poll(&pfd, 1, Int32(min(remaining, 1) * 1000)) }
            if ready <= 0 { continue }
            let n = retryingEINTR { read(pipeFDs[0], &chunk, chunk.count) }
            if n <= 0 { break }
            output.append(contentsOf: chunk[0..<n])
            if output.count > limit {
                failure = "\(program) printed more than \(limit / 1024) KiB and was stopped (a secret is far shorter)"
                break
            }
        }
        if failure != nil { kill(pid, SIGKILL) }
        var status: Int32 = 0
        // The child has closed its stdout (or been killed): reaping it is bounded too.
        for _ in 0..<500 {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid || done < 0 { break }
            if Date() > deadline.addingTimeInterval(5) { kill(pid, SIGKILL) }
            usleep(10_000)
        }
        if let failure { throw Failure(description: failure) }
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw Failure(
                description: exited
                    ? "\(program) exited with status \(code)"
                    : "\(program) was killed by signal \(status & 0x7f)")
        }
        return output
    }
}
