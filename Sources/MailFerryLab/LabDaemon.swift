import Foundation
import Glibc

/// A server that stays in the foreground as our child, in a process group of its own, so that stopping it reaches
/// every process it forked (GNU pop3d forks one child per connection) without matching anything by name.
///
/// Same spawn discipline as `Subprocess` (clean signal mask, default dispositions, descriptors from 3 up closed,
/// stdin /dev/null, output to a file rather than a pipe) plus `POSIX_SPAWN_SETPGROUP`. The group id is the child's
/// pid. Every wait here is bounded in time.
final class LabDaemon: Sendable {
    let pid: pid_t
    private let reaped: Locked<Int32?>

    private init(pid: pid_t) {
        self.pid = pid
        self.reaped = Locked(nil)
    }

    /// Starts `executable`; stdout and stderr are appended to `outputFile`.
    static func spawn(_ executable: URL, _ arguments: [String], outputFile: URL) throws -> LabDaemon {
        let pid = try LabSpawn.start(
            executable.path, arguments, output: .file(outputFile.path, append: true),
            newProcessGroup: true)
        return LabDaemon(pid: pid)
    }

    /// The exit status (128 + signal when killed) once the process has exited, else nil. Reaps it.
    var exitStatus: Int32? {
        reaped.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            let result = waitpid(pid, &raw, WNOHANG)
            guard result == pid else {
                // ECHILD: someone else reaped it (should not happen); treat it as gone.
                if result < 0 && errno == ECHILD { status = -1 }
                return status
            }
            let signal = raw & 0x7F
            status = signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
            return status
        }
    }

    var isRunning: Bool { exitStatus == nil }

    /// The live (not zombie) processes of the group, the leader included while it runs.
    var groupMembers: [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }.filter { candidate in
            guard let fields = Self.statFields(of: candidate), fields.count > 2,
                let state = fields[0].first, state != "Z", state != "X"
            else { return false }
            return pid_t(fields[2]) == pid
        }
    }

    /// SIGTERM to the group, then SIGKILL to whatever is left after `grace` seconds; returns once no process of the
    /// group is alive, or after `grace` + 2 s at most. Idempotent.
    ///
    /// The group is signalled as a whole only while the leader is unreaped: until then its pid (the group id) cannot
    /// be reused. Afterwards the members found in /proc are signalled one by one.
    func stop(grace: TimeInterval = 2) {
        signalGroup(SIGTERM)
        if waitUntilGone(timeout: grace) {
            return
        }
        signalGroup(SIGKILL)
        _ = waitUntilGone(timeout: 2)
    }

    private func signalGroup(_ signal: Int32) {
        if exitStatus == nil {
            kill(-pid, signal)
        }
        for member in groupMembers { kill(member, signal) }
    }

    private func waitUntilGone(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let leaderGone = exitStatus != nil
            if leaderGone && groupMembers.isEmpty {
                return true
            }
            guard Date() < deadline else { return false }
            usleep(5_000)
        }
    }

    /// Fields of /proc/PID/stat after the command name: state, ppid, pgrp, ...
    private static func statFields(of pid: pid_t) -> [Substring]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

}
