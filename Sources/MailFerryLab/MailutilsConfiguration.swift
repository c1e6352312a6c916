import Foundation
import Glibc

/// Where everything of one Mailutils lab lives under its root.
struct MailutilsLayout: Sendable {
    let root: URL

    var config: URL { root.appendingPathComponent("pop3d.conf") }
    /// pop3d's stderr (`logging { syslog no; }`): startup, logins, errors, transcripts.
    var logFile: URL { root.appendingPathComponent("pop3d.log") }
    var pidFile: URL { root.appendingPathComponent("pop3d.pid") }
    /// The `virtdomain` module's passwd-dir: one passwd(5)-format file per domain, named after the domain.
    var passwdDir: URL { root.appendingPathComponent("vdomains", isDirectory: true) }
    var apopDir: URL { root.appendingPathComponent("apop", isDirectory: true) }
    var apopDatabase: URL { apopDir.appendingPathComponent("apop.db") }
    var homes: URL { root.appendingPathComponent("home", isDirectory: true) }
    /// Lock files for mailboxes that are not plain files (pop3d's "mandatory locking"); mbox uses `<mbox>.lock`.
    var lockDir: URL { root.appendingPathComponent("locks", isDirectory: true) }
    /// The certificate files, at the same places as in a Dovecot lab (`LabCertificates` writes them).
    var certificates: LabLayout { LabLayout(root: root) }

    func passwdFile(domain: String) -> URL {
        passwdDir.appendingPathComponent(domain)
    }

    func home(of user: String) -> URL {
        homes.appendingPathComponent(user, isDirectory: true)
    }

    /// What the virtdomain module makes of a user: `<home>/INBOX`, here an mbox file.
    func mbox(of user: String) -> URL {
        home(of: user).appendingPathComponent("INBOX")
    }
}

/// The pop3d config file of one lab, written from scratch and loaded with `--config-file`, which implies
/// `--no-config`: /etc/mailutils.conf is never read.
struct MailutilsConfiguration {
    var layout: MailutilsLayout
    var port: Int
    var tlsPort: Int
    var apop: Bool
    var requireTLS: Bool
    var transcript: Bool

    func render() -> String {
        let tls = layout.certificates
        var lines = [
            "# GNU Mailutils pop3d for one mailferry lab. Written by MailutilsLab; do not edit.",
            "logging { syslog no; };",
            "mode daemon;",
            // Foreground: the master stays our child, so its pid is known without a pidfile and it can be reaped.
            "foreground yes;",
            "pidfile \(quoted(layout.pidFile.path));",
            // The default of 20 refuses connections when parallel tests pile up.
            "max-children 200;",
            // Logins are user@domain, looked up in passwd-dir/domain; the password field is a crypt(3) hash that
            // the `generic` module checks.
            "auth { authorization virtdomain; authentication generic; };",
            "virtdomain { passwd-dir \(quoted(layout.passwdDir.path)); };",
            // Without these, pop3d consults /etc/hosts.allow and /etc/hosts.deny and locks non-file mailboxes under
            // /var/lock/subsys/mail: nothing of the host should decide how the lab behaves.
            "tcp-wrappers { enable no; };",
            "mandatory-locking { lock-directory \(quoted(layout.lockDir.path)); };",
            "tls {",
            "  ssl-certificate-file \(quoted(tls.serverCertificate.path));",
            "  ssl-key-file \(quoted(tls.serverKey.path));",
            "};",
            "transcript \(transcript ? "yes" : "no");",
        ]
        if apop {
            lines += [
                "apop-database-file \(quoted(layout.apopDatabase.path));",
                "apop-database-owner \(geteuid());",
            ]
        }
        lines += [
            // STLS on the plain port (RFC 2595 §4); "required" hides USER until STLS and announces XTLSREQUIRED.
            "server 127.0.0.1:\(port) { tls-mode \(requireTLS ? "required" : "stls"); };",
            // TLS from the first byte (RFC 8314 §3.3).
            "server 127.0.0.1:\(tlsPort) { tls-mode connection; };",
            "",
        ]
        return lines.joined(separator: "\n")
    }

    /// A Mailutils config string literal.
    private func quoted(_ value: String) -> String {
        "\"" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
