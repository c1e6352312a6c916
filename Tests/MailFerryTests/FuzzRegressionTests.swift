import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Inputs the fuzz targets (Fuzz/, scripts/fuzz) found breaking an invariant, minimized, kept as regression tests.
@Suite struct FuzzRegressionTests {
    /// headers: the runner parses only the first bytes of a spool file. Handed exactly `limits.bytes`, the parser
    /// could not tell a header cut by the limit from a message ending there, so a 1 MiB+ header block without an
    /// empty line was read as complete (no `truncated`, no note in the envelope). It now gets `limits.readBytes`.
    @Test func aHeaderCutByTheReadLimitIsTruncated() throws {
        let tiny = HeaderBlock.Limits(bytes: 0, fields: 1, valueBytes: 255, notes: 1)
        let crash: [UInt8] = [0, 0, 0]
        #expect(
            HeaderBlock(parsing: Array(crash.prefix(tiny.readBytes)), limits: tiny)
                == HeaderBlock(parsing: crash, limits: tiny))

        let folder = TempFolder("fuzz")
        defer { folder.cleanup() }
        let spool = try SpoolFile(path: folder.path + "/huge-header")
        defer { spool.discard() }
        let line = Array("X-Filler: \(String(repeating: "x", count: 990))\r\n".utf8)
        for _ in 0..<(2 * 1024) { try line.withUnsafeBytes { try spool.append($0) } }
        try spool.finish()
        let runnerView = HeaderBlock(parsing: try spool.head(HeaderBlock.Limits.default.readBytes))
        #expect(runnerView.truncated)
        #expect(runnerView.notes.contains { $0.contains("no empty line within the first 1048576 bytes") })
    }

    /// pop3-reply: SASL mechanism names and EXPIRE arguments from CAPA were kept as sent and shown by `check`:
    /// "SASL 1\0\0\0R" put NUL bytes (or an escape sequence) on an admin's terminal.
    @Test func capabilityArgumentsAreWellFormedOrDropped() {
        let capabilities = POP3Capabilities.parse([
            Array("SASL 1\0\0\0R PLAIN \u{1B}[2J".utf8),
            Array("EXPIRE \u{1B}]0;x".utf8),
        ])
        #expect(capabilities.saslMechanisms == ["PLAIN"])
        #expect(capabilities.expire == nil)
        #expect(capabilities.notable == ["SASL PLAIN"])
        #expect(POP3Capabilities.parse([Array("EXPIRE 0".utf8)]).expireZero)
        #expect(POP3Capabilities.parse([Array("EXPIRE NEVER".utf8)]).expire == "NEVER")
    }

    /// imap-response: the text of a continuation request ("+ \x01") and of untagged data responses kept control
    /// characters; both reach error messages.
    @Test func imapContinuationAndDataTextIsEscaped() throws {
        #expect(try IMAPResponse.parse(Array("+ \u{01}".utf8)).text == "\\x01")
        #expect(try IMAPResponse.parse(Array("+ ZXJyb3I=".utf8)).text == "ZXJyb3I=")
        #expect(try IMAPResponse.parse(Array("* LIST () \"/\" \u{1B}[31mINBOX".utf8)).text == "() \"/\" \\x1B[31mINBOX")
    }
}
