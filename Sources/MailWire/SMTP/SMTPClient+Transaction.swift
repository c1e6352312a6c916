import Foundation
import MailCore
import MailSystem

/// What a transaction did: a result per recipient in RCPT order, and the reply to quote as the target reference.
package struct SMTPTransactionOutcome {
    package var recipients: [RecipientResult]
    package var reference: String
}

extension SMTPClient {
    /// One mail transaction (RFC 5321 §3.3, RFC 2033 §4.2): MAIL FROM with SIZE (RFC 1870), BODY=8BITMIME (RFC 6152)
    /// for 8-bit messages and SMTPUTF8 (RFC 6531) for UTF-8 addresses when offered, one RCPT TO per recipient, DATA
    /// streamed from the spool with bare LF and bare CR → CRLF and dot-stuffing (`DotStuffer`). With PIPELINING
    /// (RFC 2920) MAIL, every RCPT and DATA leave in one write.
    ///
    /// Refused recipients are results, not errors: the others still get the message. Throws (classified) when the
    /// whole transaction fails: MAIL FROM or DATA refused, SMTP's single final reply negative, or the connection
    /// broke (then the session is botched). After a refusal the session is reset (RSET) and stays usable.
    package func transaction(from sender: String, to recipients: [String], spool: SpoolFile) throws
        -> SMTPTransactionOutcome
    {
        guard !recipients.isEmpty else {
            throw MailError(.permanent, "\(name) \(endpoint.label): no recipient to deliver to")
        }
        for address in [sender] + recipients {
            try checkLineSafe(address, what: "address \(sanitizeForDisplay(address, limit: 80))", kind: .permanent)
            if address.contains("<") || address.contains(">") {
                throw MailError(
                    .permanent,
                    "\(name) \(endpoint.label): the address "
                        + "\(sanitizeForDisplay(address, limit: 80)) contains angle brackets")
            }
        }
        let shape = try MessageShape.of(spool)
        let utf8Addresses = ([sender] + recipients).contains { $0.utf8.contains { $0 > 127 } }
        if utf8Addresses && !has("SMTPUTF8") {
            throw MailError(
                .permanent,
                "\(name) \(endpoint.label): an envelope address is not ASCII and the server "
                    + "does not offer SMTPUTF8 (RFC 6531)")
        }
        if let limit = extensions["SIZE"].flatMap({ Int($0) }), limit > 0, shape.wireSize > limit {
            // Coded as the server would answer it (RFC 1870 §6.1; RFC 3463 §3.4, X.3.4 "message too big").
            let tooBig = SMTPStatus(reply: 552, enhanced: EnhancedStatusCode(5, 3, 4))
            throw MailError(
                .permanent,
                "\(name) \(endpoint.label): the message (\(shape.wireSize) bytes) is larger "
                    + "than the server's SIZE limit of \(limit) bytes", code: .smtp(tooBig))
        }
        var mail = "MAIL FROM:<\(sender)>"
        if has("SIZE") { mail += " SIZE=\(shape.wireSize)" }
        if has("8BITMIME") && shape.has8bit { mail += " BODY=8BITMIME" }
        // SMTPUTF8 only for UTF-8 addresses. Legacy mail often has raw 8-bit headers (Latin-1 as often as UTF-8); a
        // relay told SMTPUTF8 must then find it at every later hop or bounce the message, and Dovecot 2.3's LMTP
        // does not offer it (Postfix: "SMTPUTF8 is required, but was not offered"). Without the parameter such
        // mail passes as it always has.
        if has("SMTPUTF8") && utf8Addresses { mail += " SMTPUTF8" }
        let rcpts = recipients.map { "RCPT TO:<\($0)>" }

        var failure: MailError?
        let outcome: SMTPTransactionOutcome? = try guarded {
            guard let conn = connection else { throw MailError(.transient, "not connected") }
            var mailReply: SMTPReply
            var rcptReplies: [SMTPReply] = []
            var dataReply: SMTPReply?
            if has("PIPELINING") {
                try expectQuiet(before: "MAIL")
                for line in [mail] + rcpts + ["DATA"] { trace?("C: \(line)") }
                try conn.write(([mail] + rcpts + ["DATA"]).map { $0 + "\r\n" }.joined())
                mailReply = try readReply()
                for _ in rcpts { rcptReplies.append(try readReply()) }
                dataReply = try readReply()
            } else {
                mailReply = try command(mail)
                if mailReply.positive {
                    for line in rcpts { rcptReplies.append(try command(line)) }
                    if rcptReplies.contains(where: \.positive) { dataReply = try command("DATA") }
                }
            }
            let accepted = rcptReplies.indices.filter { rcptReplies[$0].positive }
            if dataReply?.code == 354 && (!mailReply.positive || accepted.isEmpty) {
                // A server that invited data with nothing to deliver it to: end the empty message (RFC 2920 §3.1).
                try send(".")
                _ = try readReply()
                dataReply = nil
            }
            guard mailReply.positive else {
                failure = mailReply.classify(doing: "MAIL FROM:<\(sender)>")
                try reset()
                return nil
            }
            var results = recipients.indices.map { index in
                let reply = rcptReplies[index]
                return RecipientResult(
                    recipient: recipients[index],
                    error: reply.positive ? nil : reply.classify(doing: "RCPT TO:<\(recipients[index])>"),
                    reply: reply.summary)
            }
            guard !accepted.isEmpty else {
                try reset()
                return SMTPTransactionOutcome(recipients: results, reference: "")
            }
            guard let dataReply, dataReply.code == 354 else {
                failure = (dataReply ?? mailReply).classify(doing: "DATA")
                try reset()
                return nil
            }
            try streamBody(spool, to: conn)
            // RFC 5321 §4.5.3.2.6: the reply to the final "." may take 10 minutes (a content filter, a virus
            // scanner); given up on sooner, the message is in doubt and sent again. Only these replies wait that long.
            conn.setTimeout(dataTimeout)
            defer { conn.setTimeout(endpoint.timeout) }
            // From here the server may have the message: a reply that cannot be read leaves it in doubt.
            func readFinalReply() throws -> SMTPReply {
                do {
                    return try readReply()
                } catch let error as MailError {
                    throw error.leavingDeliveryInDoubt()
                }
            }
            switch dialect {
            case .smtp:
                let final = try readFinalReply()
                guard final.positive else {
                    failure = final.classify(doing: "the message")
                    return nil
                }
                for index in accepted { results[index].reply = final.summary }
                return SMTPTransactionOutcome(recipients: results, reference: final.summary)
            case .lmtp:
                // RFC 2033 §4.2: one reply per accepted recipient, in RCPT order.
                var reference = ""
                for index in accepted {
                    let final = try readFinalReply()
                    results[index].reply = final.summary
                    if final.positive {
                        if reference.isEmpty { reference = final.summary }
                    } else {
                        results[index].error = final.classify(doing: "delivery to <\(recipients[index])>")
                    }
                }
                return SMTPTransactionOutcome(recipients: results, reference: reference)
            }
        }
        if let failure { throw failure.context("\(name) \(endpoint.label)") }
        return outcome!
    }

    /// DATA's body (RFC 5321 §4.1.1.4, §2.3.8): bare LF and bare CR → CRLF, leading dots doubled, then "." alone, so
    /// no byte of the message can end DATA early at any server on the way; written in large chunks, so a message
    /// leaves in a few segments and never waits on Nagle and delayed ACKs.
    private func streamBody(_ spool: SpoolFile, to conn: Connection) throws {
        try expectQuiet(before: "the message data")
        trace?("C: <\(spool.size) bytes of message data>")
        var stuffer = DotStuffer()
        var buffer = WriteBuffer()
        try spool.readChunks { chunk in
            try stuffer.encode(chunk) { piece in try buffer.append(piece, to: conn) }
        }
        try buffer.append(stuffer.finish(), to: conn)
        try buffer.flush(to: conn)
        trace?("C: .")
    }

    /// RSET (RFC 5321 §4.1.1.5): ends a transaction that went wrong, so the next starts clean. A negative answer
    /// means we no longer agree with the server about the state: the session is not reused.
    package func reset() throws {
        let reply = try command("RSET")
        guard reply.positive else { throw MailError(.protocol, "RSET refused: \(reply.summary)") }
    }
}
