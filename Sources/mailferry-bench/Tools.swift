import Foundation
import MailCore
import MailFerry
import MailFerryLab
import MailStore
import MailSystem
import MailWire

/// Writes the configuration of each tool for the same lab and mailboxes.
struct Setup {
    let lab: DovecotLab
    let work: String
    let users: [String: String]
    let mailferry: String

    var sortedUsers: [String] { users.keys.sorted() }

    func write(_ path: String, _ text: String, mode: Int = 0o600) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent,
            withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode_t(mode))
    }

    /// A mailferry plan in its own workspace: Maildir under `<workspace>/target`, or IMAP into the lab as the admin
    /// acting for "<user>-mf".
    func mailferryPlan(_ name: String, users: [String], imap: Bool, parallel: Int) throws -> String {
        let workspace = "\(work)/\(name)"
        var mailboxes: [String] = []
        for user in users {
            try write("\(workspace)/secrets/\(user)", self.users[user]! + "\n")
            let address = imap ? "\(user)-mf@contoso.example" : "\(user)@contoso.example"
            mailboxes.append(
                "    { user: \"\(user)\", password: { file: \"secrets/\(user)\" }, mailbox: \"\(address)\" },")
        }
        try write("\(workspace)/secrets/admin", DovecotLab.masterPassword + "\n")
        let target =
            imap
            ? """
            { kind: "imap", host: "127.0.0.1", port: \(lab.ports.imaps), tls: "implicit", caFile: "\(lab.caFile.path)",
              user: "\(DovecotLab.masterUser)", password: { file: "secrets/admin" }, authorize: "{mailbox}" }
            """
            : #"{ kind: "maildir", path: "target/{mailbox}" }"#
        let plan = "\(workspace)/jobs/bench.json5"
        try write(
            plan,
            """
            {
              plan: "bench",
              parallel: \(parallel),
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)",
                                maxConnections: \(parallel) } },
              targets: { out: \(target) },
              defaults: { source: "isp", target: "out" },
              mailboxes: [
            \(mailboxes.joined(separator: "\n"))
              ],
            }
            """, mode: 0o644)
        return plan
    }

    func mailferryMaildirs(_ name: String, users: [String]) -> [String] {
        users.map { "\(work)/\(name)/target/\($0)@contoso.example" }
    }

    /// fetchmail in its fastest configuration: keep + uidl, every mailbox in one poll, delivered to Dovecot's LMTP
    /// Unix socket (RCPT TO "<user>-fm"). No header rewriting.
    func fetchmailConfig() throws -> (rc: String, home: String) {
        let home = "\(work)/fetchmail"
        var text = """
            set no syslog
            set no bouncemail
            poll 127.0.0.1 protocol pop3 port \(lab.ports.pop3s) uidl:

            """
        for user in sortedUsers {
            text += """
                  user "\(user)" there with password "\(users[user]!)" is "\(user)-fm" here
                    options keep ssl sslcertck sslcertfile "\(lab.caFile.path)" sslcommonname "localhost" sslproto "TLS1.2+" no rewrite
                    lmtp smtphost "\(lab.lmtpSocket.path)" smtpname "\(user)-fm@contoso.example"

                """
        }
        let rc = "\(home)/fetchmailrc"
        try write(rc, text)
        return (rc, home)
    }

    /// getmail6: one rc file per mailbox (delete = false, read_all = false so it remembers what it has), Maildir
    /// destinations, and its own trace headers turned off.
    func getmailConfig() throws -> (rcs: [String], dir: String) {
        let dir = "\(work)/getmail"
        var rcs: [String] = []
        for user in sortedUsers {
            let maildir = "\(dir)/maildirs/\(user)"
            for sub in ["cur", "new", "tmp"] {
                try FileManager.default.createDirectory(atPath: "\(maildir)/\(sub)", withIntermediateDirectories: true)
            }
            // getmail refuses to deliver as root; it then delivers as `user` (a child process per message).
            if let nobody = deliveryUser {
                for path in [dir, "\(dir)/maildirs", maildir] + ["cur", "new", "tmp"].map({ "\(maildir)/\($0)" }) {
                    chown(path, nobody.uid, nobody.gid)
                }
            }
            let rc = "\(dir)/rc-\(user)"
            try write(
                rc,
                """
                [retriever]
                type = SimplePOP3SSLRetriever
                server = 127.0.0.1
                port = \(lab.ports.pop3s)
                username = \(user)
                password = \(users[user]!)
                ca_certs = \(lab.caFile.path)

                [destination]
                type = Maildir
                path = \(maildir)/
                \(deliveryUser.map { "user = \($0.name)" } ?? "")

                [options]
                delete = false
                read_all = false
                delivered_to = false
                received = false
                verbose = 0
                message_log_syslog = false

                """)
            rcs.append(rc)
        }
        return (rcs, dir)
    }

    /// As root, getmail delivers as this user.
    var deliveryUser: (name: String, uid: uid_t, gid: gid_t)? {
        guard geteuid() == 0, let entry = getpwnam("nobody") else { return nil }
        return ("nobody", entry.pointee.pw_uid, entry.pointee.pw_gid)
    }

    func getmailMaildirs() -> [String] {
        sortedUsers.map { "\(work)/getmail/maildirs/\($0)" }
    }

    func labMaildirs(suffix: String) -> [String] {
        sortedUsers.map { lab.maildir(of: "\($0)-\(suffix)").path }
    }
}
