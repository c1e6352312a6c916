import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// User names USER cannot carry (RFC 1939 §7): one with a space goes through SASL PLAIN (RFC 4616, UTF-8) or is
/// refused before anything is sent; one beyond ASCII also goes through USER after UTF8 when the server announces
/// "UTF8 USER" (RFC 6856 §2). The exact bytes on the wire are asserted.
@Suite struct POP3UserNameTests {
    static func client(_ server: FakeServer) -> POP3Client {
        POP3Client(
            endpoint: ServerEndpoint(host: "127.0.0.1", port: server.port, tls: .none, allowPlaintext: true, timeout: 5)
        )
    }

    static func plainBlob(_ user: String, _ password: String) -> String {
        Data("\0\(user)\0\(password)".utf8).base64EncodedString()
    }

    /// "Chris Lee" with SASL PLAIN offered: the whole name, in the PLAIN blob.
    @Test func aNameWithASpaceGoesThroughPLAIN() throws {
        let server = try FakeServer(
            .send("+OK ready <1896.697170952@dbc.mailcom.com>\r\n"), .expect("CAPA"),
            .send("+OK\r\nUSER\r\nSASL PLAIN CRAM-MD5\r\n.\r\n"), .expect("AUTH PLAIN"), .send("+ \r\n"),
            .expect(Self.plainBlob("Chris Lee", "pw")), .send("+OK in\r\n"), .respond(["QUIT": "+OK\r\n"]))
        let client = Self.client(server)
        try client.connect()
        #expect(try client.login(user: "Chris Lee", credential: .password("pw")) == .plain)
        client.quit()
        server.finish()
        #expect(!server.transcript.contains("USER Chris") && !server.transcript.contains("APOP"))
    }

    /// Only USER and APOP offered: the name cannot be sent whole, so nothing is sent and the error says why.
    @Test func aNameWithASpaceAndNoSASLIsRefusedBeforeSending() throws {
        let server = try FakeServer(
            .send("+OK ready <1896.697170952@dbc.mailcom.com>\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
            .respond(["QUIT": "+OK\r\n"]))
        let client = Self.client(server)
        try client.connect()
        let error = #expect(throws: MailError.self) { try client.login(user: "Chris Lee", credential: .password("pw")) }
        #expect(error?.kind == .auth)
        #expect(
            error?.message
                == "pop3 127.0.0.1:\(server.port): the user name \"Chris Lee\" contains a space, which APOP, "
                + "USER/PASS cannot carry; the server offers no SASL PLAIN or LOGIN (nothing was sent)")
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "CAPA\r\nQUIT\r\n")
    }

    /// "jörg" where the server announces "UTF8 USER": UTF8 first, then USER in UTF-8.
    @Test func anInternationalNameUsesUTF8WhenOffered() throws {
        let server = try FakeServer(
            .send("+OK ready\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\nUTF8 USER\r\n.\r\n"),
            .expect("UTF8"), .send("+OK UTF-8 mode\r\n"), .expect("USER jörg"), .send("+OK\r\n"), .expect("PASS pw"),
            .send("+OK in\r\n"), .respond(["QUIT": "+OK\r\n"]))
        let client = Self.client(server)
        try client.connect()
        #expect(client.capabilities.utf8User)
        #expect(try client.login(user: "jörg", credential: .password("pw")) == .user)
        client.quit()
        server.finish()
        #expect(server.transcript.plain.starts(with: Array("CAPA\r\nUTF8\r\nUSER j\u{F6}rg\r\n".utf8)))
    }

    /// "jörg" where the server announces UTF8 without USER, and SASL PLAIN: PLAIN carries it; APOP is never used
    /// for an international name.
    @Test func anInternationalNameWithoutUTF8UserGoesThroughPLAIN() throws {
        let server = try FakeServer(
            .send("+OK ready <1896.697170952@dbc.mailcom.com>\r\n"), .expect("CAPA"),
            .send("+OK\r\nUSER\r\nUTF8\r\nSASL PLAIN\r\n.\r\n"), .expect("AUTH PLAIN"), .send("+ \r\n"),
            .expect(Self.plainBlob("jörg", "pw")), .send("+OK in\r\n"), .respond(["QUIT": "+OK\r\n"]))
        let client = Self.client(server)
        try client.connect()
        #expect(try client.login(user: "jörg", credential: .password("pw")) == .plain)
        client.quit()
        server.finish()
        #expect(!server.transcript.contains("APOP") && !server.transcript.contains("UTF8"))
    }

    /// Neither: refused before anything is sent, naming what would have worked.
    @Test func anInternationalNameWithNothingToCarryItIsRefused() throws {
        let server = try FakeServer(
            .send("+OK ready\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"), .respond(["QUIT": "+OK\r\n"]))
        let client = Self.client(server)
        try client.connect()
        let error = #expect(throws: MailError.self) { try client.login(user: "jörg", credential: .password("pw")) }
        #expect(
            error?.message.hasSuffix(
                "is not ASCII, which USER/PASS cannot carry; the server offers no SASL PLAIN or LOGIN, or UTF8 with "
                    + "its USER argument (RFC 6856) for USER/PASS (nothing was sent)") == true,
            "\(error?.message ?? "")")
        client.quit()
        server.finish()
        #expect(server.transcript.plainText == "CAPA\r\nQUIT\r\n")
    }
}
