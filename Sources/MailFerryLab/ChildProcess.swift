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
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        passOutput: Bool = false
    ) throws {
        let outputBase = NSTemporaryDirectory() + "mailferry-child-\(UUID().uuidString.prefix(8))"
        stdoutPath = outputBase + ".out"
        stderrPath = outputBase + ".err"
        pid = try LabSpawn.start(
            executable, arguments,
            output: passOutput ? .inherited : .separate(stdout: stdoutPath, stderr: stderrPath),
            environment: environment)
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
