import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// LMTP delivery against a real Dovecot (DovecotLab's LMTP over TCP and its Unix socket): per-recipient results,
/// dot-stuffing and CRLF normalisation on the wire, the envelope sender, connection reuse, throughput.
@Suite struct LMTPDeliveryTests {
    static let arrival = Date(timeIntervalSince1970: 1_700_000_000)

    /// Three recipients, one unknown: the two others get the message, the unknown one is refused (permanent) at
    /// RCPT, and each result says so. The stored message ends with exactly the sent bytes (after Dovecot's own
    /// trace headers), lines starting with "." and a lone "." line included, the bare LF as CRLF.
    @Test func partialSuccessIsRecordedPerRecipient() throws {
        let lab = try DovecotLab.start(users: ["alice": "a-pw", "bob": "b-pw"])
        defer { lab.stop() }
        let dir = TempFolder("lmtp")
        defer { dir.cleanup() }
        let bytes = sampleMessage("dots", body: ".leading dot\r\n.\r\n..two\r\nbare\nLF\r\nno final line end")
        let delivery = LMTPDelivery.make(port: lab.ports.lmtp, timeout: 20)
        defer { delivery.close() }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(dir, bytes), arrival: Self.arrival, sender: "sender@wingtip.example",
                recipients: ["alice@contoso.example", "nobody@contoso.example", "bob@contoso.example"]))
        #expect(
            result.recipients.map(\.recipient)
                == ["alice@contoso.example", "nobody@contoso.example", "bob@contoso.example"])
        #expect(result.recipients.map(\.accepted) == [true, false, true])
        #expect(result.refused.first?.error?.kind == .permanent)
        #expect(result.refused.first?.reply.hasPrefix("550 5.1.1") == true, "\(result.refused)")
        #expect(result.accepted.allSatisfy { $0.reply.hasPrefix("250 2.0.0") })
        #expect(!result.complete)
        // The legacy form reports the refusal, naming how many recipients did get it.
        #expect(delivery.inDoubtPolicy == .unanswerable)
        #expect(try delivery.reconcile([InDoubtAttempt(token: "t")]).isEmpty)

        let sent = crlfNormalized(bytes) + Array("\r\n".utf8)  // the unterminated last line gets its CRLF
        for user in ["alice", "bob"] {
            let stored = try lab.probe(user).messages(in: "INBOX")
            try #require(stored.count == 1, "\(user)")
            let body = stored[0].body
            #expect(body.count >= sent.count)
            expectSameBytes(Array(body.suffix(sent.count)), sent, "\(user)'s message")
            // Dovecot records the envelope sender it was given.
            #expect(
                String(decoding: body.prefix(200), as: UTF8.self).hasPrefix("Return-Path: <sender@wingtip.example>"))
        }
    }

    /// No recovered sender: the plan's default (here the null sender) goes in MAIL FROM; the default recipient is
    /// used when the request names none. Over Dovecot's LMTP Unix socket.
    @Test func defaultsAndUnixSocket() throws {
        let lab = try DovecotLab.start(users: ["carol": "c-pw"])
        defer { lab.stop() }
        let dir = TempFolder("lmtp")
        defer { dir.cleanup() }
        let delivery = LMTPDelivery.make(
            socket: lab.root.path + "/run/lmtp", timeout: 20, from: "",
            recipients: ["carol@contoso.example"])
        var transcript: [String] = []
        delivery.trace = { transcript.append($0) }
        defer { delivery.close() }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(dir, sampleMessage("x")),
                arrival: Self.arrival))
        #expect(result.complete && result.recipients.count == 1)
        #expect(transcript.contains { $0.hasPrefix("C: MAIL FROM:<>") })
        #expect(try lab.probe("carol").messages(in: "INBOX").count == 1)
    }

    /// 200 corpus messages through one connection; prints the rate (quoted in the issue note).
    @Test func throughputOverOneConnection() throws {
        let lab = try DovecotLab.start(users: ["dan": "d-pw"])
        defer { lab.stop() }
        let dir = TempFolder("lmtp")
        defer { dir.cleanup() }
        let corpus = Corpus.mailbox(user: "dan", domain: "wingtip.example", count: 200, seed: 5, bigAttachment: false)
        let spools = try corpus.map { try makeSpool(dir, $0) }
        let delivery = LMTPDelivery.make(port: lab.ports.lmtp, timeout: 20, recipients: ["dan@contoso.example"])
        defer { delivery.close() }
        let started = Date()
        for (index, spool) in spools.enumerated() {
            let result = try delivery.deliverMessage(
                DeliveryRequest(
                    token: "t\(index)", spool: spool,
                    arrival: Self.arrival))
            #expect(result.complete)
        }
        let seconds = Date().timeIntervalSince(started)
        print(
            "LMTP over TCP: \(corpus.count) messages, \(corpus.reduce(0) { $0 + $1.count } / 1024) KiB in "
                + String(format: "%.2f s = %.0f msgs/s", seconds, Double(corpus.count) / seconds))
        #expect(delivery.connectionsOpened == 1)
        let stored = try lab.probe("dan").messages(in: "INBOX")
        #expect(stored.count == corpus.count)
        for (message, want) in zip(stored, corpus) {
            var sent = crlfNormalized(want)
            if sent.last != 10 { sent += [13, 10] }
            expectSameBytes(Array(message.body.suffix(sent.count)), sent, "UID \(message.uid)")
        }
    }
}
