import MailCore
import MailSystem

/// Ways to log in to a POP3 server. The plan lists the ones it allows; the client picks the strongest the server
/// offers. Raw values are the plan's spelling.
public enum POP3AuthMethod: String, Sendable, CaseIterable, Codable {
    /// SASL OAUTHBEARER (RFC 7628) with a token from a command.
    case oauthbearer
    /// Google/Microsoft's SASL XOAUTH2 with a token from a command.
    case xoauth2
    /// SASL CRAM-MD5 (RFC 2195): the password never crosses the wire.
    case cramMD5 = "cram-md5"
    /// APOP (RFC 1939 §7): MD5 challenge in the greeting; the password never crosses the wire.
    case apop
    /// SASL PLAIN (RFC 4616, RFC 5034).
    case plain
    /// SASL LOGIN (draft-murchison-sasl-login).
    case login
    /// USER and PASS (RFC 1939 §7).
    case user

    /// Strongest first; the order used when the plan does not say.
    public static let byStrength: [POP3AuthMethod] = [.oauthbearer, .xoauth2, .cramMD5, .apop, .plain, .login, .user]

    public var usesToken: Bool { self == .oauthbearer || self == .xoauth2 }

    /// A challenge-response method: the password never crosses the wire, only a digest of it and the server's
    /// challenge.
    public var isChallenge: Bool { self == .apop || self == .cramMD5 }

    /// The password itself crosses the wire (base64 is not encryption): only TLS protects it.
    public var sendsPasswordInClear: Bool { self == .user || self == .plain || self == .login }

    /// How the plan writes it in `auth`, for messages.
    public var shown: String {
        switch self {
        case .user: "USER/PASS"
        case .apop: "APOP"
        default: "AUTH " + rawValue.uppercased()
        }
    }
}

/// What a mailbox logs in with.
public enum POP3Credential: Sendable {
    case password(String)
    /// An OAuth 2.0 access token.
    case token(String)

    var secret: String {
        switch self {
        case .password(let value), .token(let value): value
        }
    }
}
