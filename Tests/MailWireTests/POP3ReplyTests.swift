import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

@Suite struct POP3ReplyTests {
    func parse(_ s: String) throws -> POP3Reply { try POP3Reply.parse(Array(s.utf8)) }

    @Test func okAndErr() throws {
        let ok = try parse("+OK Dovecot ready.")
        #expect(ok.ok && ok.code == nil && ok.text == "Dovecot ready.")
        let bare = try parse("+OK")
        #expect(bare.ok && bare.text.isEmpty)
        let err = try parse("-ERR [AUTH] Authentication failed.")
        #expect(!err.ok && err.code == .auth && err.text == "Authentication failed.")
        let lower = try parse("-err [in-use] locked")
        #expect(!lower.ok && lower.code == .inUse)
        let nested = try parse("-ERR [SYS/TEMP] try later")
        #expect(nested.code == .sysTemp)
    }

    @Test func garbageIsAProtocolError() {
        for line in ["", "OK", "+OKAY", "* OK imap", "220 smtp"] {
            let error = #expect(throws: MailError.self) { try parse(line) }
            #expect(error?.kind == .protocol, "\(line)")
        }
    }

    @Test func escapeSequencesAreNeutralised() throws {
        let reply = try parse("+OK \u{1B}[2J\u{1B}]0;pwned\u{07}hello")
        #expect(!reply.text.contains("\u{1B}"))
        #expect(reply.text.contains("\\x1B[2J"))
    }

    @Test func capabilities() {
        let caps = POP3Capabilities.parse(
            [
                "CAPA", "TOP", "UIDL", "STLS", "SASL PLAIN LOGIN", "LOGIN-DELAY 900",
                "PIPELINING", "USER",
            ].map { Array($0.utf8) })
        #expect(caps.known && caps.stls && caps.uidl && caps.pipelining && caps.user)
        #expect(caps.saslMechanisms == ["PLAIN", "LOGIN"])
        #expect(caps.loginDelay == 900)
    }
}
