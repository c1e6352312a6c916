import Foundation
import Testing
@testable import MailFerry

/// Hostile-server tests for limits: invalid UIDLs cost no message, multi-line replies are bounded in bytes, and a
/// handshake that stalls or is cut off is a transient network failure, not a TLS verdict.
@Suite
struct POP3HostileServerLimitsTests {
    /// Goal: a unique id outside RFC 1939 §7 costs neither message. Today the whole listing fails with `.protocol`
    /// ("invalid unique id for message 2"), so the mailbox never gets past it, not even for message 1.
    @Test(arguments: ["bad\u{01}id", "caf\u{E9}", "two words", String(repeating: "u", count: 71)])
    func invalidUIDLsKeepBothMessages(uid: String) throws {
        let server = try FakeServer(steps: POP3Script.plainLogin + [.respond([
            "LIST": POP3Script.multiLine("+OK", ["1 100", "2 200"]),
            "UIDL": POP3Script.multiLine("+OK", ["1 good-id", "2 \(uid)"]),
            "QUIT": "+OK bye\r\n",
        ])])
        let client = try server.plainClient()
        defer { client.quit(); server.finish() }
        try client.connect()
        try client.login(user: POP3Script.user, password: POP3Script.password)
        let drop = try client.maildrop()
        #expect(drop.entries.map(\.number) == [1, 2])
        #expect(drop.entries.first?.uidl == "good-id")
    }

    /// Goal: a multi-line reply is bounded in bytes, not only in lines. Today `readMultiLine` keeps up to 5,000,000
    /// lines of up to 64 KiB each in memory; here a CAPA reply of endless 1 KB lines is buffered until the server
    /// gives up (256 MiB), and the client then fails with a timeout instead of a protocol error.
    @Test func multiLineReplyIsBoundedInBytes() throws {
        let limit = 256 << 20
        let line = "X-PADDING " + String(repeating: "p", count: 1000) + "\r\n"
        let server = try FakeServer(POP3Script.greeting(), .expect("CAPA"), .send("+OK\r\n"), .flood(line, upTo: limit))
        let client = try server.plainClient()
        defer { client.quit(); server.finish() }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol, "\(error?.message ?? "")")
        client.quit()
        server.finish()
        #expect(server.flooded < limit)
    }

    /// Goal: a server that accepts but stalls or drops the TLS handshake is a network problem (`.transient`,
    /// retried later), like a silent server in clear. Today both are `.tls` ("TLS handshake with 127.0.0.1 timed
    /// out" / "failed: connection closed by the server"), the class meant for certificates and refusals.
    @Test(arguments: ["stall", "drop"])
    func interruptedHandshakeIsTransient(how: String) throws {
        let server = try FakeServer(how == "stall" ? .sleep(1.5) : .close)
        let client = POP3Client(endpoint: try server.endpoint(tls: .implicit, timeout: 0.5))
        defer { client.quit(); server.finish() }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .transient, "\(error?.message ?? "")")
    }
}
