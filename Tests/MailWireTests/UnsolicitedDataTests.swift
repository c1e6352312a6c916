import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// Unsolicited data (`Connection.expectQuiet`): a server that speaks out of turn botches the session before the
/// client's next command, so no credential leaves in answer to a question nobody asked. One scripted server per
/// protocol and place; each asserts the failure class and the exact bytes the client wrote (none, or only what came
/// before the violation). A server's goodbye line alone is a hang-up, not a violation; IMAP's untagged data after
/// the login is normal traffic.
@Suite struct UnsolicitedDataTests {
    static func plain(_ server: FakeServer) -> ServerEndpoint {
        ServerEndpoint(host: "127.0.0.1", port: server.port, tls: .none, allowPlaintext: true, timeout: 5)
    }

    static func implicit(_ server: FakeServer) throws -> ServerEndpoint {
        ServerEndpoint(
            host: "127.0.0.1", port: server.port, tls: .implicit,
            tlsSettings: TLSSettings(caFile: try FakePKI.shared().caFile), timeout: 5)
    }

    // MARK: - POP3

    /// The issue's server: the greeting, at once "+OK 2 messages", a scan listing and ".". Without the check the
    /// client took those lines for CAPA's answer and went on to APOP; now nothing at all is sent.
    @Test func pop3LinesAfterTheGreetingSendNothing() throws {
        let server = try FakeServer(
            .send(
                "+OK ready <1896.697170952@dbc.mailcom.com>\r\n+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"))
        let client = POP3Client(endpoint: Self.plain(server))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol)
        #expect(
            error?.message
                == "pop3 127.0.0.1:\(server.port): protocol violation: the server sent 46 bytes no command asked for "
                + "before CAPA, starting \"+OK 2 messages (320 octets)\"; the session is closed and nothing more is sent on it"
        )
        #expect(client.botched)
        let login = #expect(throws: MailError.self) { try client.login(user: "u", password: "pw") }
        #expect(login?.kind == .protocol)
        client.quit()
        server.finish()
        #expect(server.transcript.plain.isEmpty, "\(server.transcript.plainText)")
    }

    /// The same under implicit TLS: the extra lines come encrypted, right behind the greeting.
    @Test func pop3LinesAfterTheGreetingUnderTLSSendNothing() throws {
        let server = try FakeServer(.startTLS(.good), .send("+OK ready\r\n+OK 1 message\r\n1 120\r\n.\r\n"))
        let client = POP3Client(endpoint: try Self.implicit(server))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol && error?.message.contains("before CAPA") == true, "\(error?.message ?? "")")
        client.quit()
        server.finish()
        #expect(server.transcript.secured.isEmpty && server.transcript.plain.isEmpty)
    }

    /// A line after CAPA's complete answer: the next command would be USER, and it is never sent.
    @Test func pop3LineAfterACompleteReplyStopsTheLogin() throws {
        let server = try FakeServer(
            .send("+OK ready\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\n.\r\n+OK surprise\r\n"))
        let client = POP3Client(endpoint: Self.plain(server))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        let error = #expect(throws: MailError.self) { try client.login(user: "u", password: "pw") }
        #expect(error?.kind == .protocol && error?.message.contains("before USER, starting \"+OK surprise\"") == true)
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "CAPA\r\n")
    }

    /// Dovecot's idle hang-up ("-ERR Disconnected for inactivity." and close) is the server ending the session:
    /// transient, and still nothing more is sent.
    @Test func pop3LoneErrIsAHangUp() throws {
        let server = try FakeServer(
            .send("+OK ready\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
            .expect("USER u"), .send("+OK\r\n"), .expect("PASS pw"), .send("+OK in\r\n"),
            .send("-ERR Disconnected for inactivity.\r\n"), .close)
        let client = POP3Client(endpoint: Self.plain(server))
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        try client.login(user: "u", password: "pw")
        // Wait (bounded) for the hang-up to arrive, then ask for the listing.
        let deadline = Date().addingTimeInterval(10)
        while (try? client.connection?.arrivedUnread().count) == 0 && Date() < deadline { usleep(10_000) }
        let error = #expect(throws: MailError.self) { try client.maildrop() }
        #expect(error?.kind == .transient, "\(error?.message ?? "")")
        #expect(error?.message.contains("the server ended the session before LIST could be sent") == true)
        client.quit()
        server.finish()
        #expect(!server.transcript.contains("LIST") && !server.transcript.contains("QUIT"))
    }

    // MARK: - IMAP

    /// A second greeting after the first: nothing is sent, not even CAPABILITY.
    @Test func imapSecondGreetingSendsNothing() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n* OK [CAPABILITY IMAP4rev1] ready again\r\n"))
        let client = IMAPClient(endpoint: Self.plain(server))
        defer {
            client.logout()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol && error?.message.contains("before the first command") == true)
        #expect(throws: MailError.self) { try client.login(user: "admin", secret: .password("pw")) }
        client.logout()
        server.finish()
        #expect(server.transcript.plain.isEmpty, "\(server.transcript.plainText)")
    }

    /// A flood of untagged responses behind the greeting, before any command.
    @Test func imapUntaggedFloodAfterTheGreetingSendsNothing() throws {
        let flood = (1...500).map { "* \($0) EXISTS\r\n" }.joined()
        let server = try FakeServer(.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n" + flood))
        let client = IMAPClient(endpoint: Self.plain(server))
        defer {
            client.logout()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(
            error?.kind == .protocol
                && error?.message.contains("before the first command, starting \"* 1 EXISTS\"") == true)
        client.logout()
        server.finish()
        #expect(server.transcript.plain.isEmpty)
    }

    /// Unsolicited data after a complete response in the not-authenticated state: LOGIN is never sent.
    @Test func imapUntaggedBeforeTheLoginStopsIt() throws {
        let server = try FakeServer(
            .send("* OK ready\r\n"), .expect("mf1 CAPABILITY"),
            .send("* CAPABILITY IMAP4rev1\r\nmf1 OK done\r\n* OK [ALERT] send me your password\r\n"))
        let client = IMAPClient(endpoint: Self.plain(server))
        defer {
            client.logout()
            server.finish()
        }
        try client.connect()
        let error = #expect(throws: MailError.self) { try client.login(user: "admin", secret: .password("pw")) }
        #expect(error?.kind == .protocol && error?.message.contains("before LOGIN") == true, "\(error?.message ?? "")")
        client.logout()
        server.finish()
        #expect(server.transcript.plainText == "mf1 CAPABILITY\r\n")
    }

    /// After the login IMAP servers may send untagged data at any time (RFC 9051 §5.3): read with the next command's
    /// responses, never a violation.
    @Test func imapUntaggedAfterTheLoginIsNormalTraffic() throws {
        let server = try FakeServer(
            .send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n"),
            .expect("mf1 AUTHENTICATE PLAIN"), .send("+ \r\n"), .expect(Data("\0admin\0pw".utf8).base64EncodedString()),
            .send("mf1 OK [CAPABILITY IMAP4rev1] in\r\n* 3 EXISTS\r\n* 1 RECENT\r\n"),
            .expect("mf2 LIST \"\" \"\""), .send("* LIST () \"/\" \"\"\r\nmf2 OK\r\n"),
            .respond(["mf3 LOGOUT": "* BYE\r\nmf3 OK\r\n"]))
        let client = IMAPClient(endpoint: Self.plain(server))
        defer {
            client.logout()
            server.finish()
        }
        try client.connect()
        #expect(try client.login(user: "admin", secret: .password("pw")) == "AUTHENTICATE PLAIN")
        #expect(try client.hierarchyDelimiter() == "/")
    }

    /// "* BYE" alone before the login is the server hanging up.
    @Test func imapLoneByeIsAHangUp() throws {
        let server = try FakeServer(.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n* BYE going down\r\n"))
        let client = IMAPClient(endpoint: Self.plain(server))
        defer {
            client.logout()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .transient && error?.message.contains("* BYE going down") == true)
        client.logout()
        server.finish()
        #expect(server.transcript.plain.isEmpty)
    }

    // MARK: - SMTP and LMTP

    /// A second banner: EHLO (LHLO) is never sent.
    @Test(arguments: [SMTPDialect.smtp, .lmtp])
    func smtpSecondBannerSendsNothing(dialect: SMTPDialect) throws {
        let server = try FakeServer(.send("220 relay.example ESMTP\r\n220 relay.example ESMTP again\r\n"))
        let client = SMTPClient(endpoint: Self.plain(server), dialect: dialect, clientName: "client.test")
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol, "\(error?.message ?? "")")
        #expect(error?.message.contains(dialect == .lmtp ? "before LHLO" : "before EHLO") == true)
        client.quit()
        server.finish()
        #expect(server.transcript.plain.isEmpty)
    }

    /// A line after EHLO's complete answer: AUTH, which carries the password, is never sent.
    @Test func smtpLineAfterEHLOStopsAUTH() throws {
        let server = try FakeServer(
            .send("220 relay ESMTP\r\n"), .expect("EHLO client.test"),
            .send("250-relay\r\n250 AUTH PLAIN\r\n250 and one more\r\n"))
        let client = SMTPClient(endpoint: Self.plain(server), dialect: .smtp, clientName: "client.test")
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        let error = #expect(throws: MailError.self) {
            try client.authenticate(user: "relay", secret: .password("relay-pw"))
        }
        #expect(error?.kind == .protocol && error?.message.contains("before AUTH") == true, "\(error?.message ?? "")")
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "EHLO client.test\r\n")
    }

    /// A lone 421 between transactions is the server closing the channel (RFC 5321 §3.8): transient.
    @Test func smtpLone421IsAHangUp() throws {
        let server = try FakeServer(
            .send("220 relay ESMTP\r\n"), .expect("LHLO client.test"), .send("250 relay\r\n"),
            .send("421 4.4.2 idle too long\r\n"), .close)
        let client = SMTPClient(endpoint: Self.plain(server), dialect: .lmtp, clientName: "client.test")
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        let deadline = Date().addingTimeInterval(10)
        while (try? client.connection?.arrivedUnread().count) == 0 && Date() < deadline { usleep(10_000) }
        let error = #expect(throws: MailError.self) { try client.command("MAIL FROM:<>") }
        #expect(error?.kind == .transient && error?.message.contains("421 4.4.2 idle too long") == true)
        #expect(client.botched)
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "LHLO client.test\r\n")
    }
}
