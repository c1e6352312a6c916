import MailCore
import MailSystem

/// Unsolicited data: bytes a server sends when the client expects nothing. After a greeting, and between a complete
/// reply and the next command (outside a pipeline whose replies are still due), a POP3 or SMTP server has nothing to
/// say (RFC 1939 §3, RFC 5321 §4.1), and an IMAP server in the not-authenticated state nothing that could matter
/// (IMAPClient explains that framing). Bytes there mean the client and the server no longer agree which reply answers
/// which command: a server that answers CAPA with a listing it sent before it was asked would have the client send
/// its APOP digest or its password in answer to a question nobody asked. So the session is "botched" at once: no
/// credential and no other command goes on it, and the error names the violation.
///
/// The one exception is the protocol's own way to end a session, when it is the only line that came: POP3 "-ERR"
/// (Dovecot's "Disconnected for inactivity"), SMTP "421" (RFC 5321 §3.8), IMAP "* BYE" (RFC 9051 §7.1.5). That is a
/// server hanging up, transient like any closed connection; nothing more is sent either.
///
/// What is checked is what has arrived by the time the client is about to write (`Connection.arrivedUnread`, which
/// does not wait): bytes still in flight then cannot be told from the answer to the command, and are left to the
/// reply parsers. STARTTLS has the same rule at its handshake (`Connection.upgradeToTLS`).
extension Connection {
    /// Throws when the server sent anything before `what` (a command's name, never its arguments) was written.
    /// `farewell` tells whether one complete line (without its line end) is the protocol's goodbye.
    func expectQuiet(before what: String, farewell: (ArraySlice<UInt8>) -> Bool) throws {
        let (count, head) = try arrivedUnread()
        guard count > 0 else { return }
        var lines = head.split(separator: 10, maxSplits: 1, omittingEmptySubsequences: false)
        if lines[0].last == 13 { lines[0] = lines[0].dropLast() }
        if count == head.count, head.last == 10, lines.count == 2, lines[1].isEmpty, farewell(lines[0]) {
            throw MailError(
                .transient,
                "the server ended the session before \(what) could be sent: \(sanitizeForDisplay(lines[0], limit: 200))"
            )
        }
        throw MailError(
            .protocol,
            "protocol violation: the server sent \(count) byte\(count == 1 ? "" : "s") no command asked for "
                + "before \(what), starting \"\(sanitizeForDisplay(lines[0], limit: 80))\"; the session is closed and "
                + "nothing more is sent on it")
    }
}

/// The name of a command for messages: its first word, never an argument (a user name, a SASL blob). A
/// credential-bearing line is named by what its trace shows ("PASS", "<redacted>" as "a SASL response").
func commandName(_ line: String, traceAs: String?) -> String {
    let word = (traceAs ?? line).prefix { $0 != " " }
    if word.hasPrefix("<") || word.isEmpty { return "a SASL response" }
    return String(word)
}
