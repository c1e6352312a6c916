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

/// SMTP delivery against a real Postfix (PostfixLab) that relays into a real Dovecot (DovecotLab) over LMTP:
/// STARTTLS and implicit TLS, AUTH through Dovecot's SASL, PIPELINING, per-recipient results, the bytes as they
/// arrive in the mailbox.
@Suite(.serialized) struct SMTPDeliveryTests {
    static let arrival = Date(timeIntervalSince1970: 1_700_000_000)

    /// The message without its first line: Postfix's cleanup removes a Return-Path header (the final delivery agent
    /// writes its own from the envelope), so that line cannot come back through Postfix.
    static func afterReturnPath(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.starts(with: Array("Return-Path:".utf8)), let lf = bytes.firstIndex(of: 10) else { return bytes }
        return Array(bytes[(lf + 1)...])
    }

    /// Both labs, with alice and bob as mailboxes and "relay" as the SMTP AUTH login.
    final class Labs {
        let dovecot: DovecotLab
        let postfix: PostfixLab
        let dir = TempFolder("smtp")

        init(requireAuth: Bool = false) throws {
            dovecot = try DovecotLab.start(users: ["alice": "a-pw", "bob": "b-pw"])
            do {
                postfix = try PostfixLab.start(
                    relayingTo: dovecot,
                    recipients: ["alice@contoso.example", "bob@contoso.example"],
                    saslUsers: ["relay": "relay-secret"], requireAuth: requireAuth)
            } catch {
                dovecot.stop()
                throw error
            }
        }

        deinit {
            try? postfix.destroy()
            dovecot.stop()
            dir.cleanup()
        }

        var tlsSettings: TLSSettings { TLSSettings(caFile: postfix.caFile.path) }

        /// Waits (bounded) for Postfix to hand everything to Dovecot, then reads `user`'s INBOX.
        func inbox(_ user: String, expecting count: Int) throws -> [StoredMessage] {
            #expect(postfix.waitForEmptyQueue(), "postfix queue not empty:\n\(postfix.logTail())")
            let deadline = Date().addingTimeInterval(10)
            var stored: [StoredMessage] = []
            while Date() < deadline {
                stored = try dovecot.probe(user).messages(in: "INBOX")
                if stored.count >= count { break }
                usleep(50_000)
            }
            return stored
        }
    }

    /// STARTTLS, AUTH PLAIN as the relay user, pipelined MAIL/RCPT/DATA: alice and bob get the message, an unknown
    /// address is refused (permanent) at RCPT; the bytes arrive as sent (dots, bare LF as CRLF, 8-bit body).
    @Test func starttlsAuthAndPartialSuccess() throws {
        let labs = try Labs(requireAuth: true)
        let bytes = sampleMessage("über", body: ".dot\r\n.\r\nbare\nLF\r\nÄÖÜ 8-bit\r\n")
        let delivery = SMTPDelivery.make(
            host: "127.0.0.1", port: labs.postfix.ports.smtp, tls: .starttls,
            tlsSettings: labs.tlsSettings, timeout: 20, user: "relay",
            password: "relay-secret")
        var transcript: [String] = []
        delivery.trace = { transcript.append($0) }
        defer { delivery.close() }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(labs.dir, bytes), arrival: Self.arrival,
                sender: "sender@wingtip.example",
                recipients: ["alice@contoso.example", "ghost@contoso.example", "bob@contoso.example"]))
        #expect(delivery.authMechanism == .plain)
        #expect(result.recipients.map(\.accepted) == [true, false, true])
        #expect(result.refused.first?.error?.kind == .permanent)
        #expect(result.refused.first?.reply.hasPrefix("550 5.1.1") == true, "\(result.refused)")
        #expect(result.reference.hasPrefix("250 2.0.0 Ok: queued as"))
        // SMTP's default envelopeFrom ("plan"): the plan's `from` (here the null sender), not the recovered sender.
        #expect(transcript.contains { $0.hasPrefix("C: MAIL FROM:<> SIZE=") && $0.contains("BODY=8BITMIME") })
        #expect(!transcript.joined().contains("relay-secret"))
        for user in ["alice", "bob"] {
            let stored = try labs.inbox(user, expecting: 1)
            try #require(stored.count == 1, "\(user): \(labs.postfix.logTail())")
            let sent = Self.afterReturnPath(crlfNormalized(bytes))
            expectSameBytes(Array(stored[0].body.suffix(sent.count)), sent, "\(user)'s message")
            #expect(
                String(decoding: stored[0].body.prefix(100), as: UTF8.self)
                    .hasPrefix("Return-Path: <>"))
        }
    }

    /// Implicit TLS (as on port 465) and several messages over one connection.
    @Test func implicitTLSReusesOneConnection() throws {
        let labs = try Labs()
        let delivery = SMTPDelivery.make(
            host: "127.0.0.1", port: labs.postfix.ports.smtps, tls: .implicit,
            tlsSettings: labs.tlsSettings, timeout: 20, from: "",
            recipients: ["alice@contoso.example"])
        defer { delivery.close() }
        var sent: [[UInt8]] = []
        for index in 0..<5 {
            let bytes = sampleMessage("message \(index)")
            sent.append(bytes)
            let result = try delivery.deliverMessage(
                DeliveryRequest(
                    token: "t\(index)",
                    spool: try makeSpool(labs.dir, bytes),
                    arrival: Self.arrival))
            #expect(result.complete)
        }
        #expect(delivery.connectionsOpened == 1)
        let stored = try labs.inbox("alice", expecting: 5)
        #expect(stored.count == 5)
        let tails = sent.map(Self.afterReturnPath)
        #expect(Set(stored.map { Array($0.body.suffix(tails[0].count)) }) == Set(tails))
    }

    /// Without AUTH a relay that requires it refuses every recipient: each result is permanent, nothing arrives.
    /// A wrong password is an auth failure, not retried.
    @Test func authRequiredAndWrongPassword() throws {
        let labs = try Labs(requireAuth: true)
        let anonymous = SMTPDelivery.make(
            host: "127.0.0.1", port: labs.postfix.ports.smtp, tls: .starttls,
            tlsSettings: labs.tlsSettings, timeout: 20,
            recipients: ["alice@contoso.example"])
        defer { anonymous.close() }
        let refused = try anonymous.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try makeSpool(labs.dir, sampleMessage("x")), arrival: Self.arrival))
        #expect(refused.accepted.isEmpty)
        #expect(refused.refused.first?.error?.kind == .permanent, "\(refused.recipients)")
        let legacy = #expect(throws: MailError.self) {
            _ = try anonymous.deliver(
                DeliveryRequest(
                    token: "t", spool: try makeSpool(labs.dir, sampleMessage("y")),
                    arrival: Self.arrival))
        }
        #expect(legacy?.kind == .permanent)

        let wrong = SMTPDelivery.make(
            host: "127.0.0.1", port: labs.postfix.ports.smtp, tls: .starttls,
            tlsSettings: labs.tlsSettings, timeout: 20, user: "relay", password: "nope",
            recipients: ["alice@contoso.example"])
        var transcript: [String] = []
        wrong.trace = { transcript.append($0) }
        defer { wrong.close() }
        let error = #expect(throws: MailError.self) {
            _ = try wrong.deliverMessage(
                DeliveryRequest(
                    token: "t", spool: try makeSpool(labs.dir, sampleMessage("z")),
                    arrival: Self.arrival))
        }
        #expect(error?.kind == .auth, "\(error?.message ?? "")")
        #expect(transcript.filter { $0.hasPrefix("C: AUTH") }.count == 1)
        #expect(labs.postfix.waitForEmptyQueue())
        #expect(try labs.dovecot.probe("alice").messages(in: "INBOX").isEmpty)
    }

    /// 200 corpus messages through Postfix (STARTTLS, AUTH, PIPELINING); prints the rate at which Postfix accepted
    /// them (quoted in the issue note); all arrive in Dovecot.
    @Test func throughput() throws {
        let labs = try Labs()
        let corpus = Corpus.mailbox(user: "bob", domain: "wingtip.example", count: 200, seed: 7, bigAttachment: false)
        let spools = try corpus.map { try makeSpool(labs.dir, $0) }
        let delivery = SMTPDelivery.make(
            host: "127.0.0.1", port: labs.postfix.ports.smtp, tls: .starttls,
            tlsSettings: labs.tlsSettings, timeout: 20, user: "relay",
            password: "relay-secret", recipients: ["bob@contoso.example"])
        defer { delivery.close() }
        let started = Date()
        for (index, spool) in spools.enumerated() {
            #expect(
                try delivery.deliverMessage(
                    DeliveryRequest(
                        token: "t\(index)", spool: spool,
                        arrival: Self.arrival)
                ).complete)
        }
        let seconds = Date().timeIntervalSince(started)
        print(
            "SMTP to Postfix over STARTTLS: \(corpus.count) messages accepted in "
                + String(format: "%.2f s = %.0f msgs/s", seconds, Double(corpus.count) / seconds))
        #expect(delivery.connectionsOpened == 1)
        let stored = try labs.inbox("bob", expecting: corpus.count)
        #expect(stored.count == corpus.count, "\(labs.postfix.logTail())")
    }
}
