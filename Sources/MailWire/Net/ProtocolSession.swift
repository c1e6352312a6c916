import MailCore
import MailSystem

/// A client session that is "botched" after any error and never reused (mox's habit, STYLE.md): POP3, IMAP, SMTP
/// and LMTP clients share how that happens.
package protocol ProtocolSession: AnyObject {
    var botched: Bool { get set }
    /// Names the server in errors: "pop3 127.0.0.1:995".
    var sessionLabel: String { get }
}

extension ProtocolSession {
    /// Runs `body`; any error marks the session botched and names the server.
    package func guarded<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as MailError {
            botched = true
            throw error.context(sessionLabel)
        }
    }
}
