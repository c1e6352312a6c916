@testable import MailCore
@testable import MailFerry
@testable import MailSystem
@testable import MailWire

/// POP3 status lines and CAPA listings (POP3/POP3Reply.swift, POP3Capabilities.swift): any bytes parse or throw a
/// protocol error, and nothing a server wrote reaches display text with its control characters.
@Sendable func fuzzPOP3Reply(_ input: inout FuzzInput) {
    let lines = input.rest().split(separator: 10, omittingEmptySubsequences: false).map { line in
        Array(line.last == 13 ? line.dropLast() : line)
    }
    for line in lines {
        do {
            let reply = try POP3Reply.parse(line)
            requireDisplaySafe(reply.text, "reply text")
            if let code = reply.code?.description {
                require(!code.isEmpty && code.utf8.allSatisfy { $0 > 32 && $0 < 127 }, "response code \(code)")
            }
            require(reply.ok == line.starts(with: Array("+OK".utf8)), "ok without +OK")
        } catch let error as MailError {
            require(error.kind == .protocol, "a bad status line must be a protocol error: \(error)")
            requireDisplaySafe(error.message, "error message")
        } catch {
            require(false, "unexpected error type: \(error)")
        }
    }
    let capabilities = POP3Capabilities.parse(lines)
    for shown in capabilities.notable { requireDisplaySafe(shown, "capability shown to an admin") }
    capabilities.implementation.map { requireDisplaySafe($0, "IMPLEMENTATION") }
}
