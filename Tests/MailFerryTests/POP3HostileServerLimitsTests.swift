import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Hostile-server tests for limits: invalid UIDLs cost no message, multi-line replies are bounded in bytes, and a
/// handshake that stalls or is cut off is a transient network failure, not a TLS verdict.
@Suite
struct POP3HostileServerLimitsTests {
    /// A unique id outside RFC 1939 §7 (0x21–0x7E, 1 to 70 characters) costs neither message: the listing keeps
    /// message 2 under a printable, stable stand-in ("~" and a hash of the server's bytes) and names it as invalid.
    @Test(arguments: ["bad\u{01}id", "caf\u{E9}", "two words", String(repeating: "u", count: 71)])
    func invalidUIDLsKeepBothMessages(uid: String) throws {
        let server = try FakeServer(
            steps: POP3Script.plainLogin + [
                .respond([
                    "LIST": POP3Script.multiLine("+OK", ["1 100", "2 200"]),
                    "UIDL": POP3Script.multiLine("+OK", ["1 good-id", "2 \(uid)"]),
                    "QUIT": "+OK bye\r\n",
                ])
            ])
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        try client.connect()
        try client.login(user: POP3Script.user, password: POP3Script.password)
        let drop = try client.maildrop()
        #expect(drop.entries.map(\.number) == [1, 2])
        #expect(drop.entries.first?.uidl == "good-id")
        #expect(drop.invalidUIDLs == [2])
        let standIn = drop.entries[1].uidl
        #expect(standIn == "~" + SHA256Hasher.hex(Array(uid.utf8)).prefix(40), "\(standIn)")
        #expect(standIn.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E } && standIn.count <= 70)
    }

    /// A multi-line reply is bounded in bytes, not only in lines: a CAPA reply of endless 1 KB lines ends with a
    /// protocol error ("multi-line response longer than …") long before the server runs out of bytes (256 MiB).
    @Test func multiLineReplyIsBoundedInBytes() throws {
        let limit = 256 << 20
        let line = "X-PADDING " + String(repeating: "p", count: 1000) + "\r\n"
        let server = try FakeServer(POP3Script.greeting(), .expect("CAPA"), .send("+OK\r\n"), .flood(line, upTo: limit))
        let client = try server.plainClient()
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .protocol, "\(error?.message ?? "")")
        #expect(error?.message.contains("multi-line response longer than 1024 KiB") == true, "\(error?.message ?? "")")
        client.quit()
        server.finish()
        #expect(server.flooded < limit)
    }

    /// A server that accepts but stalls or drops the TLS handshake is a network problem (`.transient`, retried
    /// later), like a silent server in clear; `.tls` stays for certificates and refusals.
    @Test(arguments: ["stall", "drop"])
    func interruptedHandshakeIsTransient(how: String) throws {
        let server = try FakeServer(how == "stall" ? .sleep(1.5) : .close)
        let client = POP3Client(endpoint: try server.endpoint(tls: .implicit, timeout: 0.5))
        defer {
            client.quit()
            server.finish()
        }
        let error = #expect(throws: MailError.self) { try client.connect() }
        #expect(error?.kind == .transient, "\(error?.message ?? "")")
    }
}
