import Foundation
import MailCore

/// What one recipient's server said about one message. LMTP answers per recipient after DATA (RFC 2033 §4.2), SMTP
/// per RCPT and once after DATA for all accepted recipients (RFC 5321 §3.3): partial success is normal.
public struct RecipientResult: Sendable {
    public var recipient: String
    /// nil when the server accepted the message for this recipient.
    public var error: MailError?
    /// The server's reply, sanitized ("250 2.0.0 <bob@example> Saved", "550 5.1.1 User unknown").
    public var reply: String

    public init(recipient: String, error: MailError?, reply: String) {
        self.recipient = recipient
        self.error = error
        self.reply = reply
    }

    public var accepted: Bool { error == nil }
}
