import Foundation
import Glibc

/// Runs a program with posix_spawn, output to files, with a clean signal mask and default signal handlers.
/// (Foundation's Process, started off the main thread, gives the child a blocked SIGTERM on Linux; tests and the
/// demo need children that behave like ones started from a shell.)
public final class ChildProcess: @unchecked Sendable {
    public let pid: pid_t
    public let stdoutPath: String
    public let stderrPath: String
    private var status: Int32?

    /// Starts `executable` with `arguments`; `environment` entries are added to (or replace) this process's.
    /// With `passOutput`, the child writes to our own stdout/stderr instead of files.
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                passOutput: Bool = false) throws {
        let outputBase = NSTemporaryDirectory() + "mailferry-child-\(UUID().uuidString.prefix(8))"
        stdoutPath = outputBase + ".out"
        stderrPath = outputBase + ".err"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if !passOutput {
            posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGPIPE, SIGHUP] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard rc == 0 else {
            throw LabProcessError(message: "cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
    }

    /// Waits at most `timeout` seconds; nil if still running.
    @discardableResult
    public func wait(timeout: Double) -> Int32? {
        if let status { return status }
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            var raw: Int32 = 0
            let rc = waitpid(pid, &raw, WNOHANG)
            if rc == pid {
                // WIFEXITED ? exit code : 128 + signal, as a shell reports it.
                let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                status = code
                return code
            }
            if rc < 0 { return nil }
            usleep(10_000)
        } while Date() < deadline
        return nil
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Kills (SIGKILL) and reaps; safe to call when already finished.
    public func kill9() {
        if status == nil {
            kill(pid, SIGKILL)
            wait(timeout: 10)
        }
    }

    public var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    public func removeOutput() {
        unlink(stdoutPath)
        unlink(stderrPath)
    }
}

public struct LabProcessError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
