import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire

/// Target probes for `check`: reachable, secured, logged in, and willing to take mail for this mailbox, without
/// storing anything. IMAP: LOGIN (acting for the mailbox) and EXAMINE of the folder, no APPEND. LMTP/SMTP: LHLO/EHLO,
/// AUTH, then MAIL FROM and RCPT TO for the mailbox's address and RSET, no DATA.
extension Checker {
    /// The address mail for this mailbox goes to at its target: its own, or for a catch-all mailbox its fallback
    /// (routed recipients share the same target).
    func probeAddress(_ mailbox: Plan.Mailbox) -> String {
        mailbox.global?.fallback ?? mailbox.address
    }

    func checkIMAP(_ imap: Plan.IMAPTarget, target: Plan.Target, mailbox: Plan.Mailbox, _ row: inout CheckRow) {
        let endpoint = imap.endpoint
        row.target.server = "\(endpoint.host):\(endpoint.port)"
        guard let secret = targetSecrets[target.name] else {
            row.problems.append("target: no password or token was resolved for targets.\(target.name)")
            return
        }
        var routed = mailbox
        routed.address = probeAddress(mailbox)
        let authorize = imap.authorize.map { expandTemplate($0, mailbox: routed) }
        let client = IMAPClient(
            endpoint: ServerEndpoint(
                host: endpoint.host, port: endpoint.port, tls: endpoint.tls, tlsSettings: endpoint.tlsSettings,
                allowPlaintext: endpoint.allowPlaintext, timeout: endpoint.timeout))
        defer { client.logout() }
        do {
            try client.connect()
            row.target.tlsVersion = client.tlsInfo?.version
            row.target.tlsFingerprint = client.tlsInfo?.fingerprint?.description
            row.target.auth = try client.login(
                user: imap.user, secret: secret, authorize: authorize,
                acting: imap.actingStyle)
            let wire = client.wireName(of: imap.folder, delimiter: try client.hierarchyDelimiter())
            if try client.folderExists(wire), try client.examine(wire) != nil {
                row.target.state = "\(imap.folder) ok"
            } else {
                row.target.state = "\(imap.folder) will be created"
            }
            row.target.ok = true
        } catch {
            row.target.state = client.greeting.isEmpty ? "not reachable" : "refused"
            row.problems.append("target: \(Self.describe(error))")
        }
    }

    func checkMailTransfer(
        _ endpoint: Plan.Endpoint?, socket: String?, dialect: SMTPDialect, timeout: Double,
        user: String?, from: String, target: Plan.Target, mailbox: Plan.Mailbox,
        _ row: inout CheckRow
    ) {
        let server = ServerEndpoint(
            host: endpoint?.host ?? "127.0.0.1", port: endpoint?.port ?? 24,
            tls: endpoint?.tls ?? .none, tlsSettings: endpoint?.tlsSettings ?? TLSSettings(),
            allowPlaintext: endpoint?.allowPlaintext ?? false, timeout: timeout,
            socketPath: socket)
        row.target.server = server.label
        let client = SMTPClient(endpoint: server, dialect: dialect)
        defer { client.quit() }
        let recipient = probeAddress(mailbox)
        do {
            try client.connect()
            row.target.tlsVersion = client.tlsInfo?.version
            row.target.tlsFingerprint = client.tlsInfo?.fingerprint?.description
            if let user {
                guard let secret = targetSecrets[target.name] else {
                    row.problems.append("target: no password or token was resolved for targets.\(target.name)")
                    return
                }
                row.target.auth = try client.authenticate(user: user, secret: secret).rawValue
            }
            // RFC 5321 §4.1.1.2-3, RFC 2033 §4.2: would the server take mail for this address? RSET ends it unsent.
            // `from` is what the target's envelopeFrom gives a message without a recovered sender (with "plan", what
            // every message gets); a probe has no message, so an original sender cannot be tried here.
            let mail = try client.command("MAIL FROM:<\(from)>")
            guard mail.positive else {
                throw MailError(
                    .permanent,
                    "\(dialect.rawValue) \(server.label): MAIL FROM:<\(from)> refused: "
                        + sanitizeForDisplay(mail.summary, limit: 200))
            }
            let rcpt = try client.command("RCPT TO:<\(recipient)>")
            guard rcpt.positive else {
                throw MailError(
                    .permanent,
                    "\(dialect.rawValue) \(server.label): RCPT TO:<\(recipient)> refused: "
                        + sanitizeForDisplay(rcpt.summary, limit: 200))
            }
            try client.reset()
            row.target.state = "accepts \(recipient)"
            row.target.ok = true
        } catch {
            row.target.state = client.greeting.isEmpty ? "not reachable" : "refused"
            row.problems.append("target: \(Self.describe(error))")
        }
    }
}

extension Checker {
    /// Whether a Maildir can take mail, changing nothing that stays: an existing Maildir gets a test file written
    /// and removed in tmp/; a missing one is checked by creating and removing a folder where it would be created.
    /// A symbolic link below the target's root (where a run would refuse to go) fails the check.
    static func checkMaildir(_ location: MaildirLocation) -> Result<String, MailError> {
        let root = location.path
        func isDirectory(_ path: String) -> Bool? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return info.st_mode & S_IFMT == S_IFDIR
        }
        var walked = location.root
        for name in location.below + ["tmp", "new", "cur"] {
            let path = (name == "tmp" || name == "new" || name == "cur" ? root : walked) + "/" + name
            if name != "tmp" && name != "new" && name != "cur" { walked = path }
            var info = stat()
            if lstat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFLNK {
                return .failure(
                    MailError(
                        .local,
                        "Maildir folder \(path) is a symbolic link; a run refuses it "
                            + "(mailferry never writes through a link below a target's root)"))
            }
        }
        let probeName = ".mailferry-check-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if let dir = isDirectory(root) {
            guard dir else { return .failure(MailError(.local, "Maildir \(root) exists and is not a folder")) }
            var missing: [String] = []
            for sub in ["tmp", "new", "cur"] {
                switch isDirectory(root + "/" + sub) {
                case true?: continue
                case false?: return .failure(MailError(.local, "Maildir \(root): \(sub) exists and is not a folder"))
                case nil: missing.append(sub)
                }
            }
            let probeDir = missing.contains("tmp") ? root : root + "/tmp"
            let probe = probeDir + "/" + probeName
            let fd = open(probe, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                return .failure(MailError(.local, "cannot write in \(probeDir): \(errnoText())"))
            }
            let text = Array("mailferry check\n".utf8)
            let written = text.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            let writeError = written == text.count ? nil : errnoText()
            close(fd)
            unlink(probe)
            if let writeError { return .failure(MailError(.local, "cannot write in \(probeDir): \(writeError)")) }
            return .success(
                missing.isEmpty
                    ? "writable"
                    : "writable (\(missing.joined(separator: ", ")) will be "
                        + "created)")
        }
        return probeCreation(of: root, probeName: probeName)
    }

    /// A Maildir not there yet: whether the folder it would be created in takes a new folder.
    private static func probeCreation(of root: String, probeName: String) -> Result<String, MailError> {
        func isDirectory(_ path: String) -> Bool? {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            return info.st_mode & S_IFMT == S_IFDIR
        }
        var ancestor = (root as NSString).deletingLastPathComponent
        var depth = 0
        while isDirectory(ancestor) == nil && ancestor != "/" && !ancestor.isEmpty && depth < 64 {
            ancestor = (ancestor as NSString).deletingLastPathComponent
            depth += 1
        }
        guard isDirectory(ancestor) == true else {
            return .failure(MailError(.local, "cannot create Maildir \(root): \(ancestor) is not a folder"))
        }
        let probe = ancestor + "/" + probeName
        guard mkdir(probe, 0o700) == 0 else {
            return .failure(
                MailError(
                    .local,
                    "cannot create Maildir \(root): cannot create folders in \(ancestor): "
                        + errnoText()))
        }
        rmdir(probe)
        return .success("will be created")
    }

    /// `keepPOP3UIDL`: what a run will do with the Maildir's `dovecot-uidlist`, and whether the one there can be read
    /// (a run refuses to deliver into a Maildir whose uidlist it cannot read).
    static func checkUIDList(_ location: MaildirLocation, global: Bool, _ row: inout CheckRow) {
        let path = location.path + "/" + DovecotUIDListFile.name
        var note =
            "target: POP3 UIDLs kept: each message gets the UIDL and order the legacy server gave it in "
            + "\(DovecotUIDListFile.name) (Dovecot's POP3 server answers with them, whatever pop3_uidl_format says)"
        if global { note += "; the catch-all's routed copies get Dovecot's own UIDLs (no legacy UIDL is theirs)" }
        if let bytes = FileManager.default.contents(atPath: path) {
            do {
                let list = try DovecotUIDList.parse([UInt8](bytes))
                let kept = list.records.filter { $0.value("P") != nil }.count
                note += "; \(list.records.count) records there now, \(kept) with a POP3 UIDL"
            } catch {
                row.problems.append(
                    "target: \(path) cannot be read (\(error.reason)); let Dovecot open the mailbox once to "
                        + "rewrite it")
            }
        } else {
            note += "; none there yet: the first run creates it, and Dovecot adopts it"
        }
        row.notes.append(note)
    }
}
