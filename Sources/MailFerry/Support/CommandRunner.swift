import Foundation
import Glibc

/// Runs a helper program (a secret or token command from the plan) and captures its standard output, bounded in
/// time and size. posix_spawn with a clean signal mask: a child started from a worker thread must still be killable.
enum CommandRunner {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `argv` (argv[0] looked up in PATH) with stdin from /dev/null and stderr discarded, so a helper's
    /// diagnostics can never leak a secret into our output. Returns stdout.
    static func capture(_ argv: [String], timeout: Double = 30, limit: Int = 64 * 1024) throws -> [UInt8] {
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
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, program, &actions, &attributes, cArgs, environ)
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
                failure = "\(program) printed more than \(limit) bytes"
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
            throw Failure(description: exited ? "\(program) exited with status \(code)"
                                              : "\(program) was killed by signal \(status & 0x7f)")
        }
        return output
    }
}
