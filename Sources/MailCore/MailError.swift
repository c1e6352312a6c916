/// The small failure classification every protocol maps its errors to. Retry policy reads only this.
public enum FailureKind: String, Sendable, Codable, CaseIterable {
    /// Worth retrying later: timeouts, connection drops, 4xx-style answers.
    case transient
    /// Will not get better by retrying: the server refused this message or command for good.
    case permanent
    /// The target mailbox is full.
    case quota
    /// Credentials were refused.
    case auth
    /// TLS could not be established or verified.
    case tls
    /// The peer broke the protocol (malformed or unexpected reply, over-long line).
    case `protocol`
    /// Something on this machine: disk, permissions, the state database.
    case local
}

/// An error from talking to a server or touching a target, with its classification.
public struct MailError: Error, CustomStringConvertible, Sendable {
    public var kind: FailureKind
    public var message: String
    /// What exactly went wrong, when the server said (`[IN-USE]`, `[OVERQUOTA]`, `552 5.3.4`) or mailferry knows
    /// more than the kind (`.inDoubt`, `.tooLarge`). Control flow reads this, never the message.
    public var code: Code?

    public init(_ kind: FailureKind, _ message: String, code: Code? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }

    /// Prefixes the message with where it happened ("pop3 127.0.0.1:995: ...").
    public func context(_ prefix: String) -> MailError {
        MailError(kind, "\(prefix): \(message)", code: code)
    }
}

/// Makes text from a server or a message safe to print: control characters and escape sequences become visible
/// escapes, so a hostile greeting cannot move the cursor or recolour a terminal. Bounded in length.
public func sanitizeForDisplay(_ bytes: some Sequence<UInt8>, limit: Int = 300) -> String {
    var out = ""
    var count = 0
    for byte in bytes {
        if count >= limit {
            out += "…"
            break
        }
        switch byte {
        case 0x20...0x7E:
            out.unicodeScalars.append(Unicode.Scalar(byte))
        case 0x09:
            out += " "
        default:
            out += "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2, with: "0")
        }
        count += 1
    }
    return out
}

public func sanitizeForDisplay(_ text: String, limit: Int = 300) -> String {
    sanitizeForDisplay(Array(text.utf8), limit: limit)
}

extension String {
    package func leftPadded(to width: Int, with pad: Character) -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
