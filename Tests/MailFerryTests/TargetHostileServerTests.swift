import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// What the POP3 hostile-server suite does for sources, for the delivery targets: IMAP, LMTP and SMTP servers that
/// strip or refuse STARTTLS, inject bytes, tamper with capabilities, present bad certificates, never finish a reply,
/// send gigantic lines or terminal escapes. Each asserts the failure class and that no credential byte left when
/// none may.
enum HostileTarget {
    /// The PLAIN blob the IMAP script's admin would send ("alice\0admin\0pw"), and the SMTP relay's.
    static let imapPlain = Data("alice\0admin\0pw".utf8).base64EncodedString()
    static let smtpPassword = "relay-s3cret"
    static let smtpPlain = Data("\0relay\0\(smtpPassword)".utf8).base64EncodedString()

    /// Delivers one small message and returns the error it must fail with.
    static func failure(_ delivery: some Delivery, sourceLocation: SourceLocation = #_sourceLocation) -> MailError? {
        let dir = TempFolder("hostile")
        defer { dir.cleanup() }
        return #expect(throws: MailError.self, sourceLocation: sourceLocation) {
            try delivery.deliverMessage(
                DeliveryRequest(
                    token: "t", spool: try DeliveryScript.spool(dir),
                    arrival: DeliveryScript.arrival))
        }
    }

    /// A line that trickles in, one byte every 0.05 s, until the client hangs up (which is what it should do).
    static func endlessDrip(_ start: String) -> FakeStep {
        .run { session in try? session.drip(bytes(start + String(repeating: "x", count: 200)), delay: 0.05) }
    }

    static let controls: Set<UInt8> = [0x1B, 0x07, 0x9B]

    static func hasControls(_ text: String?) -> Bool { (text ?? "").utf8.contains(where: controls.contains) }

    /// A command word SMTP and LMTP share, in the dialect's spelling.
    static func hello(_ dialect: SMTPDialect) -> String { dialect == .lmtp ? "LHLO client.test" : "EHLO client.test" }

    static let certificateFailures: [(FakeCertificate, String)] = [
        (.wrongHost, "IP address mismatch for 127.0.0.1"), (.expired, "certificate has expired"),
        (.unknownCA, "unable to get local issuer certificate"),
    ]
}

@Suite struct IMAPTargetHostileServerTests {
    /// The server offers STARTTLS and then answers NO: no plaintext session goes on, no credential is sent.
    @Test func starttlsRefusedAborts() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n"),
            .expect("mf1 STARTTLS"), .send("mf1 NO not today\r\n"))
        let delivery = try DeliveryScript.imapDelivery(server, tls: .starttls)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("refused STARTTLS") == true, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.transcript.plain == bytes("mf1 STARTTLS\r\n"))
    }

    /// Capabilities from before TLS are forgotten (RFC 9051 §6.2.1): the greeting promised AUTH=PLAIN, the secured
    /// CAPABILITY does not, so the client cannot act for the mailbox and sends nothing secret.
    @Test func capabilitiesBeforeTLSAreDiscarded() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n"),
            .expect("mf1 STARTTLS"), .send("mf1 OK go\r\n"), .startTLS(.good),
            .expect("mf2 CAPABILITY"),
            .send("* CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=XOAUTH2\r\nmf2 OK\r\n"),
            .respond(["mf3 LOGOUT": "mf3 OK bye\r\n"]))
        let delivery = try DeliveryScript.imapDelivery(server, tls: .starttls)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .auth)
        delivery.close()
        server.finish()
        #expect(!server.transcript.contains("AUTHENTICATE") && !server.transcript.contains("LOGIN \""))
        #expect(!server.transcript.contains(HostileTarget.imapPlain) && !server.transcript.contains("pw"))
    }

    /// Implicit TLS to a certificate for another host, an expired one, one from an unknown CA: nothing is written.
    @Test(arguments: HostileTarget.certificateFailures)
    func certificateFailuresAreRefused(certificate: FakeCertificate, reason: String) throws {
        let server = try FakeServer(.startTLSRejected(certificate))
        let delivery = try DeliveryScript.imapDelivery(server, tls: .implicit)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("certificate verify failed: \(reason)") == true, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.transcript.plain.isEmpty && server.transcript.secured.isEmpty)
    }

    /// A greeting that trickles in one byte every 0.05 s and never ends: each read is within the 0.5 s timeout, but
    /// the line as a whole is given twice that, so the session fails in about a second, not in hours.
    @Test func replyThatNeverEndsTimesOut() throws {
        let server = try FakeServer(HostileTarget.endlessDrip("* OK "))
        let delivery = try DeliveryScript.imapDelivery(server, timeout: 0.5)
        defer {
            delivery.close()
            server.finish()
        }
        let started = Date()
        let error = HostileTarget.failure(delivery)
        let elapsed = Date().timeIntervalSince(started)
        #expect(error?.kind == .transient)
        #expect(error?.message.contains("did not finish a line within 1 s") == true, "\(error?.message ?? "")")
        #expect(elapsed < 4, "took \(elapsed) s")
    }

    /// A gigantic greeting line: refused at the line limit, without reading what the server could still send.
    @Test func giganticLineIsRefused() throws {
        let limit = 32 << 20
        let server = try FakeServer(.send("* OK "), .flood("x", upTo: limit))
        let delivery = try DeliveryScript.imapDelivery(server)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .protocol)
        #expect(error?.message.contains("sent a line longer than 65536 bytes") == true, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.flooded < limit)
    }

    /// Untagged responses without end after a command: bounded by a count, not by memory.
    @Test func endlessUntaggedResponsesAreBounded() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
            .expect("mf1 AUTHENTICATE PLAIN"), .flood("* 1 EXISTS\r\n", upTo: 64 << 20))
        let delivery = try DeliveryScript.imapDelivery(server)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .protocol, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.flooded < 64 << 20)
    }

    /// Terminal escapes in the greeting and in a refusal reach neither the error nor the greeting shown.
    @Test func escapeSequencesAreNeutralized() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] \u{1B}]0;owned\u{07}hi\r\n"),
            .expect("mf1 AUTHENTICATE PLAIN"), .send("+ \u{1B}[2J\r\n"),
            .respond([
                HostileTarget.imapPlain: "mf1 NO [AUTHENTICATIONFAILED] \u{1B}[31mdenied\u{07}\r\n",
                "mf2 LOGOUT": "mf2 OK bye\r\n",
            ]))
        let delivery = try DeliveryScript.imapDelivery(server)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error != nil && !HostileTarget.hasControls(error?.message), "\(error?.message ?? "")")
    }
}

@Suite struct MailTransferTargetHostileServerTests {
    static let dialects: [SMTPDialect] = [.smtp, .lmtp]

    /// STARTTLS configured, not offered (stripped by a man in the middle): nothing after EHLO/LHLO, no AUTH.
    @Test(arguments: dialects)
    func starttlsStrippedIsRefused(dialect: SMTPDialect) throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect(HostileTarget.hello(dialect)),
            .send("250-fake\r\n250 AUTH PLAIN\r\n"))
        let delivery = try DeliveryScript.smtp(
            server, dialect: dialect, tls: .starttls, user: "relay",
            password: HostileTarget.smtpPassword)
        defer {
            delivery.close()
            server.finish()
        }
        #expect(HostileTarget.failure(delivery)?.kind == .tls)
        delivery.close()
        server.finish()
        #expect(server.transcript.plainText == HostileTarget.hello(dialect) + "\r\n")
    }

    /// STARTTLS offered, then refused with 454: abort, no plaintext fallback, no AUTH.
    @Test(arguments: dialects)
    func starttlsRefusedAborts(dialect: SMTPDialect) throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect(HostileTarget.hello(dialect)),
            .send("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"), .expect("STARTTLS"),
            .send("454 4.7.0 TLS not available\r\n"))
        let delivery = try DeliveryScript.smtp(
            server, dialect: dialect, tls: .starttls, user: "relay",
            password: HostileTarget.smtpPassword)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("refused STARTTLS") == true, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.transcript.plainText == HostileTarget.hello(dialect) + "\r\nSTARTTLS\r\n")
    }

    /// A forged reply in the same packet as the 220 to STARTTLS: aborted before the handshake (LMTP too).
    @Test(arguments: dialects)
    func bytesInjectedAfterStarttlsAbort(dialect: SMTPDialect) throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect(HostileTarget.hello(dialect)),
            .send("250-fake\r\n250 STARTTLS\r\n"), .expect("STARTTLS"),
            .sendRaw(bytes("220 go ahead\r\n250-AUTH PLAIN\r\n250 injected\r\n")))
        let delivery = try DeliveryScript.smtp(
            server, dialect: dialect, tls: .starttls, user: "relay",
            password: HostileTarget.smtpPassword)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("injection") == true, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.transcript.secured.isEmpty && !server.transcript.contains(HostileTarget.smtpPlain))
    }

    /// EHLO before TLS offers AUTH PLAIN, EHLO after TLS offers no AUTH: the first answer is forgotten (RFC 3207
    /// §4.2), so no AUTH is sent and the password never leaves.
    @Test(arguments: dialects)
    func capabilitiesBeforeTLSAreDiscarded(dialect: SMTPDialect) throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect(HostileTarget.hello(dialect)),
            .send("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"),
            .expect("STARTTLS"), .send("220 go ahead\r\n"), .startTLS(.good),
            .expect(HostileTarget.hello(dialect)), .send("250-fake\r\n250 8BITMIME\r\n"),
            .respond(["QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(
            server, dialect: dialect, tls: .starttls, user: "relay",
            password: HostileTarget.smtpPassword)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .auth, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(!server.transcript.contains("AUTH ") && !server.transcript.contains(HostileTarget.smtpPassword))
        #expect(!server.transcript.contains(HostileTarget.smtpPlain))
    }

    /// STARTTLS to a certificate for another host, an expired one, one from an unknown CA.
    @Test(arguments: dialects, HostileTarget.certificateFailures.map(\.0))
    func certificateFailuresAreRefused(dialect: SMTPDialect, certificate: FakeCertificate) throws {
        let reason = HostileTarget.certificateFailures.first { $0.0 == certificate }!.1
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect(HostileTarget.hello(dialect)),
            .send("250-fake\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"), .expect("STARTTLS"),
            .send("220 go ahead\r\n"), .startTLSRejected(certificate))
        let delivery = try DeliveryScript.smtp(
            server, dialect: dialect, tls: .starttls, user: "relay",
            password: HostileTarget.smtpPassword)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("certificate verify failed: \(reason)") == true, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.transcript.secured.isEmpty && !server.transcript.contains(HostileTarget.smtpPlain))
    }

    /// A reply that trickles in and never ends, and a multi-line reply without a last line: both bounded.
    @Test(arguments: dialects)
    func repliesThatNeverEndAreBounded(dialect: SMTPDialect) throws {
        let drip = try FakeServer(HostileTarget.endlessDrip("220-"))
        let slow = try DeliveryScript.smtp(drip, dialect: dialect, timeout: 0.5)
        let started = Date()
        let error = HostileTarget.failure(slow)
        #expect(error?.kind == .transient)
        #expect(error?.message.contains("did not finish a line within 1 s") == true, "\(error?.message ?? "")")
        #expect(Date().timeIntervalSince(started) < 4)
        slow.close()
        drip.finish()

        let endless = try FakeServer(
            .send("220 fake\r\n"), .expect(HostileTarget.hello(dialect)),
            .flood("250-more\r\n", upTo: 64 << 20))
        let chatty = try DeliveryScript.smtp(endless, dialect: dialect)
        let tooLong = HostileTarget.failure(chatty)
        #expect(tooLong?.kind == .protocol)
        #expect(tooLong?.message.contains("longer than 512 lines") == true, "\(tooLong?.message ?? "")")
        chatty.close()
        endless.finish()
        #expect(endless.flooded < 64 << 20)
    }

    /// A gigantic greeting line: refused at the line limit.
    @Test(arguments: dialects)
    func giganticLineIsRefused(dialect: SMTPDialect) throws {
        let limit = 32 << 20
        let server = try FakeServer(.send("220 "), .flood("x", upTo: limit))
        let delivery = try DeliveryScript.smtp(server, dialect: dialect)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .protocol)
        #expect(error?.message.contains("sent a line longer than 65536 bytes") == true, "\(error?.message ?? "")")
        delivery.close()
        server.finish()
        #expect(server.flooded < limit)
    }

    /// Terminal escapes in a refusal are escaped in the error a person reads.
    @Test(arguments: dialects)
    func escapeSequencesAreNeutralized(dialect: SMTPDialect) throws {
        let server = try FakeServer(
            .send("220 \u{1B}]0;owned\u{07}fake\r\n"), .expect(HostileTarget.hello(dialect)),
            .send("250 fake\r\n"), .expect("MAIL FROM:<sender@wingtip.example>"),
            .send("550 5.7.1 \u{1B}[31mno\u{07}\u{1B}[0m\r\n"),
            .respond(["RSET": "250 ok\r\n", "QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(server, dialect: dialect)
        defer {
            delivery.close()
            server.finish()
        }
        let error = HostileTarget.failure(delivery)
        #expect(error?.kind == .permanent)
        #expect(error != nil && !HostileTarget.hasControls(error?.message), "\(error?.message ?? "")")
        #expect(error?.message.contains("\\x1B[31mno") == true, "\(error?.message ?? "")")
    }
}
