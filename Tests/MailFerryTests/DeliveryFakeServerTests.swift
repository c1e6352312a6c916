import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Building blocks for scripted IMAP, LMTP and SMTP servers.
enum DeliveryScript {
    static let arrival = Date(timeIntervalSince1970: 1_700_000_000)
    static let date = "\"14-Nov-2023 22:13:20 +0000\""
    /// A message whose literal reads back as exactly two lines: itself and the CRLF that ends the APPEND command.
    static let message = "Subject: x\r\n"

    static func spool(_ dir: TempFolder, _ text: String = message) throws -> SpoolFile {
        try makeSpool(dir, Array(text.utf8))
    }

    /// `message` as a request with `token`, allowed to be staged or not.
    static func request(_ dir: TempFolder, _ token: String = "t", mayStage: Bool = false) throws -> DeliveryRequest {
        DeliveryRequest(token: token, spool: try spool(dir), arrival: arrival, mayStage: mayStage)
    }

    /// What delivering `message` through `delivery` throws (an issue is recorded when it does not throw).
    static func refusal(_ delivery: any Delivery, _ dir: TempFolder) -> MailError? {
        #expect(throws: MailError.self) { try delivery.deliverMessage(try request(dir)) }
    }

    /// A greeting announcing `capabilities`, then AUTHENTICATE PLAIN (no SASL-IR) as admin for alice, and the
    /// delimiter LIST: an IMAP session ready to APPEND into INBOX.
    static func imapLogin(_ capabilities: String = "IMAP4rev1 LITERAL+ AUTH=PLAIN") -> [FakeStep] {
        let plain = Data("alice\0admin\0pw".utf8).base64EncodedString()
        return [
            .send("* OK [CAPABILITY \(capabilities)] fake IMAP ready\r\n"),
            .expect("mf1 AUTHENTICATE PLAIN"), .send("+ \r\n"), .expect(plain),
            .send("mf1 OK [CAPABILITY \(capabilities)] Logged in\r\n"),
            .expect("mf2 LIST \"\" \"\""), .send("* LIST (\\Noselect) \"/\" \"\"\r\nmf2 OK done\r\n"),
        ]
    }

    /// APPEND of `message` with tag `tag` and the literal (non-synchronizing unless `sync`), answered with `reply`.
    static func append(_ tag: String, reply: String, folder: String = "INBOX") -> [FakeStep] {
        [
            .expect("\(tag) APPEND \"\(folder)\" () \(date) {\(message.utf8.count)+}"), .expect("Subject: x"),
            .expect(""), .send("\(tag) \(reply)\r\n"),
        ]
    }

    static func imapDelivery(
        _ server: FakeServer, tls: TLSMode = .none, token: String? = nil,
        folder: String = "INBOX", timeout: Double = 3
    ) throws -> IMAPDelivery {
        let settings = tls == .none ? TLSSettings() : TLSSettings(caFile: try FakePKI.shared().caFile)
        return try IMAPDelivery.make(
            host: "127.0.0.1", port: server.port, tls: tls, tlsSettings: settings,
            allowPlaintext: true, timeout: timeout, user: "admin",
            password: token == nil ? "pw" : nil, token: token, authorize: "alice",
            folder: folder)
    }

    static func smtp(
        _ server: FakeServer, dialect: SMTPDialect = .smtp, tls: TLSMode = .none,
        user: String? = nil, password: String? = nil, timeout: Double = 3,
        envelopeFrom: EnvelopeSenderPolicy? = nil
    ) throws -> MailTransferDelivery {
        let settings = tls == .none ? TLSSettings() : TLSSettings(caFile: try FakePKI.shared().caFile)
        var secret: (@Sendable () throws -> LoginSecret)?
        if let password { secret = { .password(password) } }
        return MailTransferDelivery(
            settings: MailTransferSettings(
                endpoint: ServerEndpoint(
                    host: "127.0.0.1", port: server.port, tls: tls, tlsSettings: settings,
                    allowPlaintext: true, timeout: timeout),
                dialect: dialect, user: user, secret: secret,
                defaultSender: "sender@wingtip.example", envelopeFrom: envelopeFrom,
                defaultRecipients: ["alice@contoso.example"], clientName: "client.test"))
    }

    static let ehlo: [FakeStep] = [
        .send("220 fake ESMTP\r\n"), .expect("EHLO client.test"),
        .send("250-fake\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250 8BITMIME\r\n"),
    ]
}

/// One scripted IMAP server per way an APPEND target can fail, each asserting the classification and, where it
/// matters, the exact bytes the client wrote.
@Suite struct IMAPDeliveryFakeServerTests {
    /// STARTTLS configured, not offered: nothing but the greeting is read, no credential leaves.
    @Test func starttlsNotOfferedIsRefused() throws {
        let server = try FakeServer(.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"))
        let delivery = try DeliveryScript.imapDelivery(server, tls: .starttls)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .tls)
        delivery.close()
        server.finish()
        #expect(server.transcript.plain.isEmpty)
    }

    /// A forged response in the same packet as the OK to STARTTLS: the client aborts before its handshake.
    @Test func bytesInjectedAfterStarttlsAbort() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n"),
            .expect("mf1 STARTTLS"), .sendRaw(bytes("mf1 OK go\r\n* OK injected\r\n")))
        let delivery = try DeliveryScript.imapDelivery(server, tls: .starttls)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("injection") == true)
        delivery.close()
        server.finish()
        #expect(server.transcript.plain == bytes("mf1 STARTTLS\r\n"))
        #expect(server.transcript.secured.isEmpty)
    }

    /// NO [OVERQUOTA] is quota and leaves the session usable: the next message goes over the same connection, and
    /// its APPENDUID becomes the reference. The literal went without waiting (LITERAL+), bytes exact.
    @Test func overquotaIsQuotaAndTheSessionStaysUsable() throws {
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin()
                + DeliveryScript.append("mf3", reply: "NO [OVERQUOTA] Quota exceeded (mailbox for user is full)")
                + DeliveryScript.append("mf4", reply: "OK [APPENDUID 7 42] Append completed")
                + [.expect("mf5 LOGOUT"), .send("* BYE\r\nmf5 OK bye\r\n")])
        let delivery = try DeliveryScript.imapDelivery(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .quota)
        #expect(error?.code == .imap(.overQuota))
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t2", spool: try DeliveryScript.spool(dir),
                arrival: DeliveryScript.arrival))
        #expect(result.reference == "INBOX;UIDVALIDITY=7;UID=42")
        #expect(delivery.connectionsOpened == 1)
        delivery.close()
        server.finish()
        #expect(
            server.transcript.plainText.contains(
                "mf3 APPEND \"INBOX\" () \(DeliveryScript.date) {12+}\r\nSubject: x\r\n\r\nmf4 APPEND"))
    }

    /// [TRYCREATE]: the folder vanished after the session checked it; it is created (and subscribed) and the APPEND
    /// is repeated once.
    @Test func trycreateCreatesTheFolderAndRetriesOnce() throws {
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin() + [
                .expect("mf3 LIST \"\" \"Archive\""), .send("* LIST () \"/\" \"Archive\"\r\nmf3 OK\r\n"),
            ] + DeliveryScript.append("mf4", reply: "NO [TRYCREATE] Mailbox doesn't exist: Archive", folder: "Archive")
                + [
                    .expect("mf5 CREATE \"Archive\""), .send("mf5 OK created\r\n"),
                    .expect("mf6 SUBSCRIBE \"Archive\""), .send("mf6 OK\r\n"),
                ]
                + DeliveryScript.append("mf7", reply: "OK [APPENDUID 9 1] done", folder: "Archive")
                + [.respond(["mf8 LOGOUT": "mf8 OK bye\r\n"])])
        let delivery = try DeliveryScript.imapDelivery(server, folder: "Archive")
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try DeliveryScript.spool(dir),
                arrival: DeliveryScript.arrival))
        #expect(result.reference == "Archive;UIDVALIDITY=9;UID=1")
    }

    /// Without LITERAL+ the client waits for "+"; a server that answers NO [LIMIT] instead gets no message bytes,
    /// and the refusal is permanent.
    @Test func limitBeforeTheLiteralIsPermanentAndNothingIsSent() throws {
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin("IMAP4rev1 AUTH=PLAIN") + [
                .expect("mf3 APPEND \"INBOX\" () \(DeliveryScript.date) {12}"),
                .send("mf3 NO [LIMIT] Message too large\r\n"),
                .respond(["mf4 LOGOUT": "mf4 OK bye\r\n"]),
            ])
        let delivery = try DeliveryScript.imapDelivery(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .permanent)
        delivery.close()
        server.finish()
        #expect(!server.transcript.contains("Subject: x"))
    }

    /// BYE while the APPEND waits for its answer: transient, the session is dropped, the next message opens a new one.
    @Test func byeMidAppendIsTransientAndTheNextMessageReconnects() throws {
        let server = try FakeServer(connections: 2) { session in
            for step in DeliveryScript.imapLogin() { try session.run(step) }
            if session.number == 0 {
                try session.expect("mf3 APPEND \"INBOX\" () \(DeliveryScript.date) {12+}")
                try session.send("* BYE shutting down\r\n")
                session.close()
            } else {
                for step in DeliveryScript.append("mf3", reply: "OK done") { try session.run(step) }
                try session.respond(["mf4 LOGOUT": "mf4 OK bye\r\n"])
            }
        }
        let delivery = try DeliveryScript.imapDelivery(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .transient)
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try DeliveryScript.spool(dir),
                arrival: DeliveryScript.arrival))
        // No UIDPLUS: the folder is the reference.
        #expect(result.reference == "INBOX")
        #expect(delivery.connectionsOpened == 2)
    }

    /// XOAUTH2 with SASL-IR: the mailbox to act for is the user field; a JSON error challenge is answered with an
    /// empty line and the NO is an auth failure. The token never appears in the trace.
    @Test func xoauth2FailureIsAuth() throws {
        let initial = Data("user=alice\u{1}auth=Bearer tok-123\u{1}\u{1}".utf8).base64EncodedString()
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=XOAUTH2 AUTH=PLAIN] hi\r\n"),
            .expect("mf1 AUTHENTICATE XOAUTH2 \(initial)"),
            .send("+ \(Data(#"{"status":"401","schemes":"bearer"}"#.utf8).base64EncodedString())\r\n"),
            .expect(""), .send("mf1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n"),
            .respond(["mf2 LOGOUT": "mf2 OK bye\r\n"]))
        let delivery = try DeliveryScript.imapDelivery(server, token: "tok-123")
        var transcript: [String] = []
        delivery.trace = { transcript.append($0) }
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .auth)
        #expect(!transcript.joined().contains("tok-123") && !transcript.joined().contains(initial))
    }

    /// OAUTHBEARER (RFC 7628) is preferred when offered; without SASL-IR the initial response follows the empty
    /// challenge, with the mailbox to act for as the gs2 authzid ("a=alice").
    @Test func oauthbearerActsForTheMailbox() throws {
        let initial = Data("n,a=alice,\u{1}host=127.0.0.1\u{1}port=PORT\u{1}auth=Bearer tok-9\u{1}\u{1}".utf8)
        let server = try FakeServer(connections: 1) { session in
            try session.send("* OK [CAPABILITY IMAP4rev1 LITERAL+ AUTH=XOAUTH2 AUTH=OAUTHBEARER] hi\r\n")
            try session.expect("mf1 AUTHENTICATE OAUTHBEARER")
            try session.send("+ \r\n")
            let answer = try session.readLine()
            let decoded = String(decoding: Data(base64Encoded: answer) ?? Data(), as: UTF8.self)
            let expected = String(decoding: initial, as: UTF8.self)
            guard
                decoded.replacingOccurrences(
                    of: "port=\(decoded.split(separator: "\u{1}")[2].dropFirst(5))",
                    with: "port=PORT") == expected
            else {
                throw FakeServerError("unexpected OAUTHBEARER response \(String(reflecting: decoded))")
            }
            try session.send("mf1 OK Logged in\r\n")
            try session.expect("mf2 CAPABILITY")
            try session.send("* CAPABILITY IMAP4rev1 LITERAL+\r\nmf2 OK\r\n")
            try session.expect("mf3 LIST \"\" \"\"")
            try session.send("* LIST (\\Noselect) \"/\" \"\"\r\nmf3 OK\r\n")
            for step in DeliveryScript.append("mf4", reply: "OK [APPENDUID 1 5] done") { try session.run(step) }
            try session.respond(["mf5 LOGOUT": "mf5 OK bye\r\n"])
        }
        let delivery = try DeliveryScript.imapDelivery(server, token: "tok-9")
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let result = try delivery.deliverMessage(
            DeliveryRequest(
                token: "t", spool: try DeliveryScript.spool(dir),
                arrival: DeliveryScript.arrival))
        #expect(result.reference == "INBOX;UIDVALIDITY=1;UID=5")
        #expect(delivery.loginMethod == "AUTHENTICATE OAUTHBEARER")
    }

    /// A target with `tls: none` and no allowPlaintext: no credential is sent in clear.
    @Test func noPlaintextLoginWithoutAllowPlaintext() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n"),
            .respond(["mf1 LOGOUT": "mf1 OK bye\r\n"]))
        let delivery = try IMAPDelivery.make(
            host: "127.0.0.1", port: server.port, tls: .none, timeout: 3,
            user: "admin", password: "pw", authorize: "alice")
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .tls)
        delivery.close()
        server.finish()
        #expect(!server.transcript.contains("AUTHENTICATE") && !server.transcript.contains("pw"))
    }
}

/// One scripted SMTP/LMTP server per failure class and the exact bytes of a transaction.
@Suite struct SMTPDeliveryFakeServerTests {
    func request(
        _ dir: TempFolder, _ text: String = "Subject: x\r\n\r\nhi\r\n",
        to recipients: [String] = []
    ) throws -> DeliveryRequest {
        DeliveryRequest(
            token: "t", spool: try makeSpool(dir, Array(text.utf8)), arrival: DeliveryScript.arrival,
            recipients: recipients)
    }

    /// STARTTLS configured, not offered after EHLO: refused before MAIL, nothing else written.
    @Test func starttlsNotOfferedIsRefused() throws {
        let server = try FakeServer(steps: DeliveryScript.ehlo)
        let delivery = try DeliveryScript.smtp(server, tls: .starttls)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = #expect(throws: MailError.self) { try delivery.deliverMessage(try request(dir)) }
        #expect(error?.kind == .tls)
        delivery.close()
        server.finish()
        #expect(server.transcript.plain == bytes("EHLO client.test\r\n"))
    }

    /// Bytes after the 220 to STARTTLS: aborted as a possible injection, before the handshake.
    @Test func bytesInjectedAfterStarttlsAbort() throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"),
            .send("250-fake\r\n250 STARTTLS\r\n"), .expect("STARTTLS"),
            .sendRaw(bytes("220 go ahead\r\n250 injected\r\n")))
        let delivery = try DeliveryScript.smtp(server, tls: .starttls)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = #expect(throws: MailError.self) { try delivery.deliverMessage(try request(dir)) }
        #expect(error?.kind == .tls)
        #expect(error?.message.contains("injection") == true)
    }

    /// The pipelined transaction, byte for byte: MAIL with SIZE (bare LF counted as CRLF) and BODY=8BITMIME, both
    /// RCPTs and DATA in one go; then the body with dots doubled, the bare LF as CRLF, the last line ended, ".".
    /// Per recipient: 250, 552 5.2.2 (quota), 450 (transient).
    @Test func pipelinedTransactionBytesAndPerRecipientClasses() throws {
        let text = ".lead\r\n.\r\nbare\nLF\r\n\u{00E9}t\u{00E9}\r\nend"
        let wireSize = text.utf8.count + 1 + 2
        let server = try FakeServer(
            steps: DeliveryScript.ehlo + [
                .expect("MAIL FROM:<sender@wingtip.example> SIZE=\(wireSize) BODY=8BITMIME"),
                .expect("RCPT TO:<a@contoso.example>"), .expect("RCPT TO:<full@contoso.example>"),
                .expect("RCPT TO:<later@contoso.example>"), .expect("DATA"),
                .send(
                    "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n552 5.2.2 <full@contoso.example>: mailbox full\r\n"
                        + "450 4.7.1 try later\r\n354 go\r\n"),
                .expect("..lead"), .expect(".."), .expect("bare"), .expect("LF"), .expect("\u{00E9}t\u{00E9}"),
                .expect("end"), .expect("."), .send("250 2.0.0 Ok: queued as ABC\r\n"),
                .respond(["QUIT": "221 bye\r\n"]),
            ])
        let delivery = try DeliveryScript.smtp(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let result = try delivery.deliverMessage(
            try request(
                dir, text,
                to: [
                    "a@contoso.example", "full@contoso.example", "later@contoso.example",
                ]))
        #expect(result.recipients.map { $0.error?.kind } == [nil, .quota, .transient])
        #expect(result.reference == "250 2.0.0 Ok: queued as ABC")
        delivery.close()
        server.finish()
        let wire = server.transcript.plainText
        #expect(
            wire.contains(
                "BODY=8BITMIME\r\nRCPT TO:<a@contoso.example>\r\nRCPT TO:<full@contoso.example>\r\n"
                    + "RCPT TO:<later@contoso.example>\r\nDATA\r\n"))
        #expect(wire.contains("\r\n..lead\r\n..\r\nbare\r\nLF\r\n\u{00E9}t\u{00E9}\r\nend\r\n.\r\n"))
    }

    /// LMTP answers after DATA once per accepted recipient: one delivered, one over quota (452 4.2.2).
    @Test func lmtpPerRecipientRepliesAfterData() throws {
        let server = try FakeServer(
            .send("220 fake LMTP\r\n"), .expect("LHLO client.test"),
            .send("250-fake\r\n250 PIPELINING\r\n"),
            .expect("MAIL FROM:<sender@wingtip.example>"), .expect("RCPT TO:<a@x.example>"),
            .expect("RCPT TO:<b@x.example>"), .expect("DATA"),
            .send("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
            .expect("Subject: x"), .expect(""), .expect("hi"), .expect("."),
            .send("250 2.0.0 <a@x.example> Saved\r\n452 4.2.2 <b@x.example> Quota exceeded\r\n"),
            .respond(["QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(server, dialect: .lmtp)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let result = try delivery.deliverMessage(try request(dir, to: ["a@x.example", "b@x.example"]))
        #expect(result.recipients.map(\.accepted) == [true, false])
        #expect(result.recipients[1].error?.kind == .quota)
        #expect(result.recipients[1].reply == "452 4.2.2 <b@x.example> Quota exceeded")
        #expect(result.reference == "250 2.0.0 <a@x.example> Saved")
    }

    /// MAIL FROM answered 421: transient, the session is over; the next message opens a new connection.
    @Test func closingReplyIsTransientAndReconnects() throws {
        let server = try FakeServer(connections: 2) { session in
            for step in DeliveryScript.ehlo { try session.run(step) }
            if session.number == 0 {
                try session.expect("MAIL FROM:<sender@wingtip.example> SIZE=18")
                try session.expect("RCPT TO:<alice@contoso.example>")
                try session.expect("DATA")
                try session.send("421 4.3.2 shutting down\r\n")
                session.close()
            } else {
                try session.expect("MAIL FROM:<sender@wingtip.example> SIZE=18")
                try session.expect("RCPT TO:<alice@contoso.example>")
                try session.expect("DATA")
                try session.send("250 ok\r\n250 ok\r\n354 go\r\n")
                for line in ["Subject: x", "", "hi", "."] { try session.expect(line) }
                try session.send("250 queued\r\n")
                try session.respond(["QUIT": "221 bye\r\n"])
            }
        }
        let delivery = try DeliveryScript.smtp(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = #expect(throws: MailError.self) { try delivery.deliverMessage(try request(dir)) }
        #expect(error?.kind == .transient)
        #expect(try delivery.deliverMessage(try request(dir)).complete)
        #expect(delivery.connectionsOpened == 2)
    }

    /// AUTH refused with 535: auth, and no second mechanism is tried.
    @Test func authRefusedIsAuth() throws {
        let initial = Data("\0relay\0bad".utf8).base64EncodedString()
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"),
            .send("250-fake\r\n250 AUTH LOGIN PLAIN\r\n"), .expect("AUTH PLAIN \(initial)"),
            .send("535 5.7.8 Error: authentication failed\r\n"),
            .respond(["QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(server, user: "relay", password: "bad")
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = #expect(throws: MailError.self) { try delivery.deliverMessage(try request(dir)) }
        #expect(error?.kind == .auth)
    }

    /// A message larger than the server's SIZE is refused before MAIL FROM (RFC 1870): permanent.
    @Test func overSizeIsPermanentBeforeSending() throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"),
            .send("250-fake\r\n250 SIZE 10\r\n"), .respond(["QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = #expect(throws: MailError.self) { try delivery.deliverMessage(try request(dir)) }
        #expect(error?.kind == .permanent)
        delivery.close()
        server.finish()
        #expect(!server.transcript.contains("MAIL FROM"))
    }

    /// MAIL FROM refused (without PIPELINING): no RCPT is sent, the transaction is reset, the error is permanent.
    @Test func mailFromRefusedResets() throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"), .send("250 fake\r\n"),
            .expect("MAIL FROM:<sender@wingtip.example>"),
            .send("553 5.1.7 bad sender\r\n"), .expect("RSET"), .send("250 ok\r\n"),
            .respond(["QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = #expect(throws: MailError.self) { try delivery.deliverMessage(try request(dir)) }
        #expect(error?.kind == .permanent)
    }

    /// A UTF-8 envelope address (RFC 6531) to a server offering SMTPUTF8: MAIL FROM carries the SMTPUTF8 parameter
    /// and the addresses go out as UTF-8, byte for byte.
    @Test func utf8AddressWithSMTPUTF8OfferedSendsTheParameter() throws {
        let text = "Subject: x\r\n\r\nhi\r\n"
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"),
            .send("250-fake\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"),
            .expect("MAIL FROM:<j\u{00F6}rg@wingtip.example> SMTPUTF8"),
            .expect("RCPT TO:<ren\u{00E9}e@contoso.example>"),
            .expect("DATA"), .send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n"),
            .expect("Subject: x"), .expect(""), .expect("hi"), .expect("."), .send("250 2.0.0 Ok: queued as U8\r\n"),
            .respond(["QUIT": "221 bye\r\n"]))
        // The message's own (recovered) sender as MAIL FROM: SMTP's default policy would send the plan's instead.
        let delivery = try DeliveryScript.smtp(server, envelopeFrom: .original)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        var request = try request(dir, text, to: ["ren\u{00E9}e@contoso.example"])
        request.sender = "j\u{00F6}rg@wingtip.example"
        let result = try delivery.deliverMessage(request)
        #expect(result.recipients.map { $0.error?.kind } == [nil])
        #expect(result.reference == "250 2.0.0 Ok: queued as U8")
        delivery.close()
        server.finish()
        #expect(
            server.transcript.plain
                == bytes(
                    "EHLO client.test\r\n"
                        + "MAIL FROM:<j\u{00F6}rg@wingtip.example> SMTPUTF8\r\nRCPT TO:<ren\u{00E9}e@contoso.example>\r\n"
                        + "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\nQUIT\r\n"))
    }

    /// An ASCII-only message to ASCII addresses never gets the SMTPUTF8 parameter, even when offered (legacy 8-bit
    /// headers must not make a relay demand SMTPUTF8 at every later hop).
    @Test func asciiAddressesNeverGetSMTPUTF8() throws {
        let server = try FakeServer(
            .send("220 fake\r\n"), .expect("EHLO client.test"), .send("250-fake\r\n250 SMTPUTF8\r\n"),
            .expect("MAIL FROM:<sender@wingtip.example>"), .send("250 Ok\r\n"),
            .expect("RCPT TO:<a@contoso.example>"), .send("250 Ok\r\n"), .expect("DATA"), .send("354 go\r\n"),
            .expect("Subject: x"), .expect(""), .expect("hi"), .expect("."), .send("250 Ok\r\n"),
            .respond(["QUIT": "221 bye\r\n"]))
        let delivery = try DeliveryScript.smtp(server)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        _ = try delivery.deliverMessage(try request(dir, to: ["a@contoso.example"]))
    }

    /// A UTF-8 address to a server that does not offer SMTPUTF8: refused as permanent before MAIL FROM, with a
    /// message that says why; nothing but EHLO (and the closing QUIT) goes out, and the session stays usable.
    @Test(arguments: [("sender", "j\u{00F6}rg@wingtip.example"), ("recipient", "ren\u{00E9}e@contoso.example")])
    func utf8AddressWithoutSMTPUTF8IsPermanentAndNothingIsSent(role: String, address: String) throws {
        let server = try FakeServer(steps: DeliveryScript.ehlo + [.respond(["QUIT": "221 bye\r\n"])])
        let delivery = try DeliveryScript.smtp(server, envelopeFrom: .original)
        let dir = TempFolder("fake")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        var request = try request(dir, to: [role == "recipient" ? address : "a@contoso.example"])
        if role == "sender" { request.sender = address }
        let error = #expect(throws: MailError.self) { try delivery.deliverMessage(request) }
        #expect(error?.kind == .permanent)
        #expect(
            error?.message.contains(
                "an envelope address is not ASCII and the server does not offer SMTPUTF8 "
                    + "(RFC 6531)") == true, "\(String(describing: error))")
        delivery.close()
        server.finish()
        #expect(server.transcript.plain == bytes("EHLO client.test\r\nQUIT\r\n"))
    }
}

/// The DATA encoder and the reply parser, fed without sockets.
@Suite struct LMTPDeliveryEncodingTests {
    func encode(_ input: [UInt8], split: Int) -> [UInt8] {
        var stuffer = DotStuffer()
        var out: [UInt8] = []
        var index = 0
        while index < input.count {
            let chunk = Array(input[index..<min(input.count, index + split)])
            chunk.withUnsafeBytes { stuffer.encode($0) { out += $0 } }
            index += split
        }
        return out + stuffer.finish()
    }

    /// Byte by byte, in chunks, and all at once give the same wire bytes.
    @Test(arguments: [1, 2, 3, 7, 1000])
    func dotStuffingAndLineEnds(split: Int) {
        let cases: [(String, String)] = [
            ("", ".\r\n"),
            ("a", "a\r\n.\r\n"),
            (".", "..\r\n.\r\n"),
            ("a\r\n.\r\n", "a\r\n..\r\n.\r\n"),
            ("a\n.b\nc", "a\r\n..b\r\nc\r\n.\r\n"),
            ("x\r\r\ny\r", "x\r\n\r\ny\r\n.\r\n"),  // a bare CR is a line end too (RFC 5321 §2.3.8)
            ("\n\n", "\r\n\r\n.\r\n"),
            ("..\r\n...", "...\r\n....\r\n.\r\n"),
        ]
        for (input, want) in cases {
            #expect(encode(Array(input.utf8), split: split) == Array(want.utf8), "\(String(reflecting: input))")
        }
    }

    @Test func replyParsingAndClassification() throws {
        var lines = [bytes("250-first"), bytes("250-SIZE 100"), bytes("250 8BITMIME")].makeIterator()
        let reply = try SMTPReply.read { lines.next()! }
        #expect(reply.code == 250 && reply.lines == ["first", "SIZE 100", "8BITMIME"])
        let cases: [(String, FailureKind)] = [
            ("552 5.2.2 full", .quota), ("452 4.2.2 full", .quota), ("552 too much", .quota),
            ("552 5.3.4 too big", .permanent), ("550 5.1.1 unknown", .permanent), ("451 4.3.0 later", .transient),
            ("535 5.7.8 bad", .auth), ("530 5.7.0 auth first", .auth), ("554 5.7.1 denied", .permanent),
        ]
        for (line, kind) in cases {
            var one = [bytes(line)].makeIterator()
            #expect(try SMTPReply.read { one.next()! }.classify(doing: "x").kind == kind, "\(line)")
        }
        // The codes are kept typed, and print back as the server wrote them.
        var full = [bytes("552 5.2.2 full")].makeIterator()
        let quota = try SMTPReply.read { full.next()! }.classify(doing: "RCPT TO")
        #expect(quota.code == .smtp(SMTPStatus(reply: 552, enhanced: EnhancedStatusCode(5, 2, 2))))
        #expect(quota.message == "RCPT TO refused: 552 5.2.2 full")
        var bare = [bytes("451 later")].makeIterator()
        #expect(try SMTPReply.read { bare.next()! }.classify(doing: "x").code == .smtp(SMTPStatus(reply: 451)))
        var zeros = [bytes("550 5.01.1 odd")].makeIterator()
        let odd = try SMTPReply.read { zeros.next()! }
        #expect(odd.enhanced == nil && odd.summary == "550 5.01.1 odd")
        var mixed = [bytes("250-a"), bytes("251 b")].makeIterator()
        #expect(throws: MailError.self) { try SMTPReply.read { mixed.next()! } }
    }

    @Test func imapNamesDatesAndResponses() throws {
        #expect(IMAPString.modifiedUTF7("Entwürfe & Co") == "Entw&APw-rfe &- Co")
        #expect(IMAPString.modifiedUTF7("台北") == "&U,BTFw-")
        #expect(IMAPString.internalDate(Date(timeIntervalSince1970: 1_700_000_000)) == "14-Nov-2023 22:13:20 +0000")
        #expect(IMAPString.internalDate(Date(timeIntervalSince1970: 0)) == " 1-Jan-1970 00:00:00 +0000")
        #expect(IMAPString.quoted("a\"b\\c") == "\"a\\\"b\\\\c\"")
        #expect(IMAPString.quoted("ä") == nil)
        let ok = try IMAPResponse.parse(bytes("mf3 OK [APPENDUID 38505 3955] APPEND completed"))
        #expect(
            ok.kind == .tagged("mf3") && ok.status == .ok && ok.code == .appendUID
                && ok.codeArguments == "38505 3955")
        let exists = try IMAPResponse.parse(bytes("* 23 EXISTS"))
        #expect(exists.name == "EXISTS" && exists.text == "23 ")
        #expect(IMAPClient.trailingLiteralSize(bytes("* LIST () \"/\" {12}")) == 12)
        #expect(IMAPClient.trailingLiteralSize(bytes("a {5+}")) == 5)
        #expect(IMAPClient.trailingLiteralSize(bytes("a {x}")) == nil)
        #expect(IMAPClient.listDelimiter("(\\Noselect) \".\" \"\"") == ".")
        #expect(IMAPClient.listDelimiter("(\\Noselect) NIL \"\"") == nil)
    }
}

/// Pipelined APPENDs (a run's IMAP target with LITERAL+): several on the wire before any answer is read, each
/// message settled by its own answer at the flush.
@Suite struct IMAPPipelineFakeServerTests {
    /// The server answers nothing until it has all three APPENDs (`expect` blocks until each arrives): only a
    /// client that did not wait can get there. Then one refusal among two successes: each has its own outcome.
    @Test func threeAppendsOnTheWireThenOneAnswerEach() throws {
        let append = { (tag: String) -> [FakeStep] in
            [.expect("\(tag) APPEND \"INBOX\" () \(DeliveryScript.date) {12+}"), .expect("Subject: x"), .expect("")]
        }
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin() + append("mf3") + append("mf4") + append("mf5")
                + [
                    .send(
                        "mf3 OK [APPENDUID 7 41] done\r\nmf4 NO [OVERQUOTA] Quota exceeded\r\n"
                            + "mf5 OK [APPENDUID 7 42] done\r\n"),
                    .respond(["mf6 LOGOUT": "* BYE\r\nmf6 OK bye\r\n"]),
                ])
        let delivery = try DeliveryScript.imapDelivery(server)
        delivery.pipelineDepth = 16
        let dir = TempFolder("pipeline")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        for token in ["a", "b", "c"] {
            let result = try delivery.deliverMessage(try DeliveryScript.request(dir, token, mayStage: true))
            #expect(result.staged && result.reference.isEmpty)
        }
        #expect(delivery.staged == 3)
        let answers = try delivery.flush()
        #expect(delivery.staged == 0)
        #expect(try answers["a"]?.get() == "INBOX;UIDVALIDITY=7;UID=41")
        #expect(try answers["c"]?.get() == "INBOX;UIDVALIDITY=7;UID=42")
        guard case .failure(let refusal)? = answers["b"] else {
            Issue.record("b was not refused: \(String(describing: answers["b"]))")
            return
        }
        #expect(refusal.kind == .quota && refusal.code == .imap(.overQuota))
        #expect(delivery.connectionsOpened == 1)
    }

    /// A message that may not be staged (not searchable after a crash) first has the answers on the wire read,
    /// then is appended alone and waited for; the answers read meanwhile are still handed out by the flush.
    @Test func anUnstageableMessageWaitsForItsOwnAnswer() throws {
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin()
                + [
                    .expect("mf3 APPEND \"INBOX\" () \(DeliveryScript.date) {12+}"), .expect("Subject: x"), .expect(""),
                    .send("mf3 OK [APPENDUID 7 1] done\r\n"),
                ]
                + DeliveryScript.append("mf4", reply: "OK [APPENDUID 7 2] done")
                + [.respond(["mf5 LOGOUT": "mf5 OK bye\r\n"])])
        let delivery = try DeliveryScript.imapDelivery(server)
        delivery.pipelineDepth = 16
        let dir = TempFolder("pipeline")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        #expect(try delivery.deliverMessage(try DeliveryScript.request(dir, "a", mayStage: true)).staged)
        let result = try delivery.deliverMessage(try DeliveryScript.request(dir, "b"))
        #expect(!result.staged && result.reference == "INBOX;UIDVALIDITY=7;UID=2")
        #expect(delivery.staged == 1 && delivery.flushDue)
        #expect(try delivery.flush()["a"]?.get() == "INBOX;UIDVALIDITY=7;UID=1")
    }

    /// The connection drops after the first answer: the second APPEND may or may not have landed, so the flush
    /// throws (both stay in doubt for the next run's search) instead of guessing.
    @Test func aLostConnectionLeavesTheUnansweredInDoubt() throws {
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin()
                + [
                    .expect("mf3 APPEND \"INBOX\" () \(DeliveryScript.date) {12+}"), .expect("Subject: x"), .expect(""),
                    .expect("mf4 APPEND \"INBOX\" () \(DeliveryScript.date) {12+}"), .expect("Subject: x"), .expect(""),
                    .send("mf3 OK [APPENDUID 7 1] done\r\n"), .close,
                ])
        let delivery = try DeliveryScript.imapDelivery(server)
        delivery.pipelineDepth = 16
        let dir = TempFolder("pipeline")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        #expect(try delivery.deliverMessage(try DeliveryScript.request(dir, "a", mayStage: true)).staged)
        #expect(try delivery.deliverMessage(try DeliveryScript.request(dir, "b", mayStage: true)).staged)
        let error = #expect(throws: MailError.self) { try delivery.flush() }
        #expect(
            error?.kind == .transient && error?.message.contains("1 APPEND unanswered") == true,
            "\(error?.message ?? "")")
        #expect(delivery.staged == 0)
    }
}

/// A message sent whole whose answer never comes may have been stored: the error says so (`.inDoubt`), so the
/// runner leaves it in doubt for reconciliation instead of deferring it and sending it again blindly.
@Suite struct InDoubtAnswerFakeServerTests {
    @Test func imapAppendWithoutAnAnswerIsInDoubt() throws {
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin()
                + [
                    .expect("mf3 APPEND \"INBOX\" () \(DeliveryScript.date) {12+}"), .expect("Subject: x"), .expect(""),
                    .close,
                ])
        let delivery = try DeliveryScript.imapDelivery(server)
        let dir = TempFolder("indoubt")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.code == .inDoubt, "\(error?.message ?? "")")
        #expect(error?.message.contains("may have been stored") == true)
    }

    /// Refused before the literal (a synchronizing literal answered NO): certainly not stored, an ordinary refusal.
    @Test func imapRefusalBeforeTheLiteralIsNotInDoubt() throws {
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin("IMAP4rev1 AUTH=PLAIN")
                + [
                    .expect("mf3 APPEND \"INBOX\" () \(DeliveryScript.date) {12}"),
                    .send("mf3 NO [OVERQUOTA] full\r\n"), .respond(["mf4 LOGOUT": "mf4 OK bye\r\n"]),
                ])
        let delivery = try DeliveryScript.imapDelivery(server)
        let dir = TempFolder("indoubt")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.kind == .quota && error?.code == .imap(.overQuota))
    }

    @Test func smtpDataWithoutAFinalReplyIsInDoubt() throws {
        let server = try FakeServer(
            steps: DeliveryScript.ehlo + [
                .expect("MAIL FROM:<sender@wingtip.example> SIZE=12"),
                .expect("RCPT TO:<alice@contoso.example>"), .expect("DATA"),
                .send("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n"),
                .expect("Subject: x"), .expect("."), .close,
            ])
        let delivery = try DeliveryScript.smtp(server)
        let dir = TempFolder("indoubt")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        let error = DeliveryScript.refusal(delivery, dir)
        #expect(error?.code == .inDoubt, "\(error?.message ?? "")")
    }

    /// [TRYCREATE] in the middle of a pipeline: every answer is read first, and only then is the folder created,
    /// so no command goes out while answers are owed; the refused messages are deferred (transient).
    @Test func trycreateInAPipelineCreatesTheFolderAfterTheAnswers() throws {
        let append = { (tag: String) -> [FakeStep] in
            [.expect("\(tag) APPEND \"INBOX\" () \(DeliveryScript.date) {12+}"), .expect("Subject: x"), .expect("")]
        }
        let server = try FakeServer(
            steps: DeliveryScript.imapLogin() + append("mf3") + append("mf4")
                + [
                    .send("mf3 NO [TRYCREATE] no such folder\r\nmf4 NO [TRYCREATE] no such folder\r\n"),
                    .expect("mf5 CREATE \"INBOX\""), .send("mf5 OK created\r\n"),
                    .expect("mf6 SUBSCRIBE \"INBOX\""), .send("mf6 OK\r\n"),
                    .respond(["mf7 LOGOUT": "mf7 OK bye\r\n"]),
                ])
        let delivery = try DeliveryScript.imapDelivery(server)
        delivery.pipelineDepth = 16
        let dir = TempFolder("indoubt")
        defer {
            delivery.close()
            server.finish()
            dir.cleanup()
        }
        for token in ["a", "b"] {
            #expect(try delivery.deliverMessage(try DeliveryScript.request(dir, token, mayStage: true)).staged)
        }
        let answers = try delivery.flush()
        for token in ["a", "b"] {
            guard case .failure(let error)? = answers[token] else {
                Issue.record("\(token) was not refused")
                continue
            }
            #expect(error.kind == .transient && error.code == .imap(.tryCreate), "\(error.message)")
        }
        delivery.close()
        server.finish()
        #expect(server.transcript.plainText.contains("mf5 CREATE"))
    }
}
