import Foundation
import Glibc

/// Runs a tool (openssl, dovecot) to completion with `posix_spawn` and keeps what it printed.
///
/// Not `Foundation.Process`, for three reasons found the hard way with a daemonizing Dovecot:
/// - On Linux, `Process` learns that its child exited through a socket the child inherits; the daemonized
///   grandchild keeps it open, so `waitUntilExit()` never returns and the exited parent stays a zombie.
/// - A child inherits the spawning thread's signal mask; Dispatch worker threads block nearly every signal, so a
///   Dovecot started from one ignores SIGTERM for ever. The spawn here clears the mask and resets dispositions.
/// - Every descriptor without close-on-exec would live on in the daemon (a test's sockets, pipes); fds from 3 up are
///   closed in the child.
enum Subprocess {
    struct Outcome {
        /// The exit status, or 128 + the signal number if the tool was killed.
        let status: Int32
        let output: String
    }

    /// Runs `executable` and waits for it; stdin is /dev/null, stdout and stderr go to `outputFile` (a file, not a
    /// pipe: a daemon holding a pipe open would keep a reader waiting for an end of file that never comes).
    static func run(_ executable: URL, _ arguments: [String], outputFile: URL) throws -> Outcome {
        let pid = try LabSpawn.start(executable.path, arguments, output: .file(outputFile.path, append: false))

        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw LabError.posix("waitpid(\(pid))") }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros Swift does not import.
        let signal = status & 0x7F
        let exitStatus = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
        let output = (try? String(contentsOf: outputFile, encoding: .utf8)) ?? ""
        return Outcome(status: exitStatus, output: output)
    }

    /// Finds `name` on PATH, then in the sbin directories a non-root PATH often lacks (Debian puts dovecot in
    /// /usr/sbin).
    static func locate(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin", "/sbin"]
        for directory in directories where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        return nil
    }
}
