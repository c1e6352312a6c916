import Foundation
import MailCore
import MailSystem
import MailWire
import MailStore

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
        let client = IMAPClient(endpoint: ServerEndpoint(
            host: endpoint.host, port: endpoint.port, tls: endpoint.tls, tlsSettings: endpoint.tlsSettings,
            allowPlaintext: endpoint.allowPlaintext, timeout: endpoint.timeout))
        defer { client.logout() }
        do {
            try client.connect()
            row.target.tlsVersion = client.tlsInfo?.version
            row.target.auth = try client.login(user: imap.user, secret: secret, authorize: authorize,
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

    func checkMailTransfer(_ endpoint: Plan.Endpoint?, socket: String?, dialect: SMTPDialect, timeout: Double,
                           user: String?, from: String, target: Plan.Target, mailbox: Plan.Mailbox,
                           _ row: inout CheckRow) {
        let server = ServerEndpoint(host: endpoint?.host ?? "127.0.0.1", port: endpoint?.port ?? 24,
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
                throw MailError(.permanent, "\(dialect.rawValue) \(server.label): MAIL FROM:<\(from)> refused: "
                    + sanitizeForDisplay(mail.summary, limit: 200))
            }
            let rcpt = try client.command("RCPT TO:<\(recipient)>")
            guard rcpt.positive else {
                throw MailError(.permanent, "\(dialect.rawValue) \(server.label): RCPT TO:<\(recipient)> refused: "
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
