import Foundation

/// Where everything of one lab lives under its root. One place, so the CLI's `stop --root` and `seed --root` find
/// exactly what `start` made.
struct LabLayout: Sendable {
    let root: URL

    var config: URL { root.appendingPathComponent("dovecot.conf") }
    /// One passwd-file per user; see `PasswdFile` for why not one file for all.
    var users: URL { root.appendingPathComponent("users.d", isDirectory: true) }
    var masterUsers: URL { root.appendingPathComponent("master-users") }
    var tls: URL { root.appendingPathComponent("tls", isDirectory: true) }
    var caFile: URL { tls.appendingPathComponent("ca.pem") }
    var serverCertificate: URL { tls.appendingPathComponent("server.pem") }
    var serverKey: URL { tls.appendingPathComponent("server.key") }
    var homes: URL { root.appendingPathComponent("home", isDirectory: true) }
    /// Dovecot's `base_dir`: sockets and master.pid.
    var baseDir: URL { root.appendingPathComponent("run", isDirectory: true) }
    var stateDir: URL { root.appendingPathComponent("state", isDirectory: true) }
    var logFile: URL { root.appendingPathComponent("dovecot.log") }
    /// What `dovecot` printed while starting (it daemonizes, so this is only the startup).
    var launchOutput: URL { root.appendingPathComponent("dovecot.out") }
    var state: URL { root.appendingPathComponent("lab.json") }
    var masterPid: URL { baseDir.appendingPathComponent("master.pid") }

    func passwdFile(of user: String) -> URL {
        users.appendingPathComponent(user)
    }

    func home(of user: String) -> URL {
        homes.appendingPathComponent(user, isDirectory: true)
    }

    func maildir(of user: String) -> URL {
        home(of: user).appendingPathComponent("Maildir", isDirectory: true)
    }

    /// Unix socket paths are limited to 107 bytes plus NUL (`sun_path`), and Dovecot puts its sockets in base_dir;
    /// the longest path below it in 2.3 is "token-login/imap-urlauth" (24 bytes). A margin covers later versions.
    var baseDirFitsSocketNames: Bool {
        baseDir.path.utf8.count + 1 + 32 <= 107
    }
}
