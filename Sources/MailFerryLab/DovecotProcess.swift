import Foundation
import Glibc

/// Finding and stopping one lab's Dovecot by pid, never by name.
///
/// `dovecot -c CONF` daemonizes, so the master is not our child: we know it only from base_dir/master.pid. Its
/// children call themselves "dovecot-<instance_name>/<service>" (pop3-login, auth, log, ...); the instance name is
/// random per lab, so that title identifies exactly this lab's processes when one outlives the master.
enum DovecotProcess {
    static func masterPid(in layout: LabLayout) -> pid_t? {
        guard let text = try? String(contentsOf: layout.masterPid, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 1
        else { return nil }
        return pid
    }

    /// The master of this lab, if it runs: master.pid names a live process whose command line names our config.
    /// The check matters after a reboot or a crash, when a stale master.pid may name an unrelated process.
    static func runningMaster(in layout: LabLayout) -> pid_t? {
        guard let pid = masterPid(in: layout), isAlive(pid) else { return nil }
        if let arguments = commandLine(of: pid), !arguments.contains(layout.config.path) {
            return nil
        }
        return pid
    }

    /// Alive means signalable and not a zombie. The zombie case is real: the daemonized master's parent is pid 1,
    /// and some container inits reap late (seconds) or never.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let state = processState(of: pid) else { return !FileManager.default.fileExists(atPath: "/proc/self") }
        return state != "Z" && state != "X"
    }

    /// Stops the lab's Dovecot and returns once none of its processes is left; false if nothing was running.
    ///
    /// SIGTERM to the master, which stops every service; mail processes finish what they are writing. Then the
    /// master tells its log process to flush and sleeps a fixed second before it exits (strace shows
    /// `kill(log, SIGQUIT)` and `nanosleep(1 s)`). A lab does not wait that second out: once the log process is the
    /// master's only live child, the master gets SIGKILL, and the log process drains its pipes and exits on its own a
    /// few milliseconds later, log complete.
    ///
    /// A service forked just before the stop cannot handle SIGTERM until its setup is done, and its setup waits for
    /// the config process, which is already gone: it would hang for 5 s. So services still alive after 0.5 s get
    /// SIGKILL, mail processes after 2 s (Maildir delivery is crash-safe: tmp/, then rename), everything after
    /// `gracePeriod`.
    @discardableResult
    static func stop(in layout: LabLayout, instanceName: String, gracePeriod: TimeInterval = 5) -> Bool {
        let titlePrefix = "dovecot-\(instanceName)/"
        guard let master = runningMaster(in: layout) else {
            killAll(instanceProcesses(titlePrefix: titlePrefix))
            return false
        }
        kill(master, SIGTERM)
        let start = Date()
        let deadline = start.addingTimeInterval(gracePeriod)
        var patience: [(after: TimeInterval, mailToo: Bool)] = [(0.5, false), (2, true)]
        while Date() < deadline && isAlive(master) {
            let services = children(of: master).filter {
                isAlive($0) && commandLine(of: $0)?.hasPrefix(titlePrefix + "log") != true
            }
            if services.isEmpty {
                // Only the log flush is left. Re-check the identity: the pid file may be gone and the pid reused.
                if runningMaster(in: layout) == master {
                    kill(master, SIGKILL)
                    unlink(layout.masterPid.path)
                }
                break
            }
            if let next = patience.first, Date().timeIntervalSince(start) > next.after {
                patience.removeFirst()
                let stuck = services.filter { next.mailToo || !holdsMail($0, titlePrefix: titlePrefix) }
                for pid in stuck { kill(pid, SIGKILL) }
            }
            usleep(5_000)
        }
        while Date() < deadline && (isAlive(master) || !instanceProcesses(titlePrefix: titlePrefix).isEmpty) {
            usleep(5_000)
        }
        if isAlive(master) && runningMaster(in: layout) == master {
            kill(master, SIGKILL)
        }
        killAll(instanceProcesses(titlePrefix: titlePrefix))
        return true
    }

    /// Mail processes may be writing a mailbox (LMTP delivery, IMAP APPEND, POP3 DELE at QUIT); the rest may not.
    private static func holdsMail(_ pid: pid_t, titlePrefix: String) -> Bool {
        guard let title = commandLine(of: pid), title.hasPrefix(titlePrefix) else { return true }
        let service = title.dropFirst(titlePrefix.count).prefix { $0 != " " }
        return ["pop3", "imap", "lmtp", "indexer-worker", "doveadm"].contains(String(service))
    }

    private static func killAll(_ pids: [pid_t]) {
        guard !pids.isEmpty else { return }
        for pid in pids { kill(pid, SIGKILL) }
        let deadline = Date().addingTimeInterval(1)
        while Date() < deadline && pids.contains(where: isAlive) {
            usleep(10_000)
        }
    }

    // MARK: - /proc (Linux); elsewhere these find nothing and only the master is signalled.

    private static func processIDs() -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { pid_t($0) }
    }

    /// Processes whose title starts with `titlePrefix`.
    static func instanceProcesses(titlePrefix: String) -> [pid_t] {
        processIDs().filter { pid in
            isAlive(pid) && (commandLine(of: pid)?.hasPrefix(titlePrefix) ?? false)
        }
    }

    private static func children(of parent: pid_t) -> [pid_t] {
        processIDs().filter { parentPid(of: $0) == parent }
    }

    /// The argument vector joined by spaces. Dovecot's children rewrite it to their title.
    static func commandLine(of pid: pid_t) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
        return String(decoding: data, as: UTF8.self)
            .split(separator: "\0", omittingEmptySubsequences: true)
            .joined(separator: " ")
    }

    /// Fields of /proc/PID/stat after the command name, which is in parentheses and may itself contain ") ".
    private static func statFields(of pid: pid_t) -> [Substring]? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    private static func processState(of pid: pid_t) -> Character? {
        statFields(of: pid)?.first?.first
    }

    private static func parentPid(of pid: pid_t) -> pid_t? {
        guard let fields = statFields(of: pid), fields.count > 1 else { return nil }
        return pid_t(fields[1])
    }
}
