import Foundation
import MailCore
import MailSystem

/// What a delivery client logs in with: a password (resolved from the plan's SecretRef) or an OAuth 2.0 access token
/// (from the plan's token command). Never printed: traces show "<redacted>".
public enum LoginSecret: Sendable {
    case password(String)
    case token(String)

    var value: String {
        switch self {
        case .password(let value), .token(let value): value
        }
    }

    var isToken: Bool {
        if case .token = self { return true }
        return false
    }
}

/// SASL mechanisms the IMAP and SMTP delivery clients speak. Strongest first in `byPreference`; a token only works
/// with the OAuth ones, a password only with the others.
public enum SASLMechanism: String, Sendable, CaseIterable {
    /// RFC 7628.
    case oauthbearer = "OAUTHBEARER"
    /// Google's and Microsoft's XOAUTH2 (what Gmail and Microsoft 365 accept besides OAUTHBEARER).
    case xoauth2 = "XOAUTH2"
    /// RFC 4616: authzid, authcid, password; the authzid is how an admin acts for a user.
    case plain = "PLAIN"
    /// draft-murchison-sasl-login: user name, then password, each in answer to a challenge.
    case login = "LOGIN"

    public static let byPreference: [SASLMechanism] = [.oauthbearer, .xoauth2, .plain, .login]

    var usesToken: Bool { self == .oauthbearer || self == .xoauth2 }

    /// Whether this mechanism can carry an authorization identity distinct from the login user.
    var carriesAuthzid: Bool { self != .login }
}

/// The client side of one SASL exchange, as a value: `initial` is the first response (sent with the command when the
/// protocol allows, SASL-IR / RFC 4954 §4), `respond` answers each server challenge. Byte-level only: the IMAP and
/// SMTP clients do the base64 and the protocol framing.
struct SASLExchange {
    let mechanism: SASLMechanism
    /// The login (admin) name.
    let user: String
    let secret: LoginSecret
    /// The identity to act as (RFC 4616 authzid); nil or equal to `user` means none.
    let authorize: String?
    /// For OAUTHBEARER's host and port fields (RFC 7628 §3.1).
    let host: String
    let port: Int
    private(set) var step = 0
    /// Set once the server sent an error challenge (XOAUTH2 JSON, OAUTHBEARER error): the next tagged/numeric reply
    /// is the failure, and it is the credential's, not the mechanism's.
    private(set) var sawErrorChallenge = false

    init(mechanism: SASLMechanism, user: String, secret: LoginSecret, authorize: String?, host: String, port: Int) {
        self.mechanism = mechanism
        self.user = user
        self.secret = secret
        self.authorize = authorize == user ? nil : authorize
        self.host = host
        self.port = port
    }

    /// The first client response. Every mechanism here has one except LOGIN, whose first step answers "Username:".
    var initial: [UInt8]? {
        let s = secret.value
        switch mechanism {
        case .plain:
            return Array("\(authorize ?? "")\0\(user)\0\(s)".utf8)
        case .login:
            return nil
        case .xoauth2:
            // The user field names the mailbox; with an application token (Microsoft 365 client credentials) that is
            // how one admin token reaches every mailbox.
            return Array("user=\(authorize ?? user)\u{1}auth=Bearer \(s)\u{1}\u{1}".utf8)
        case .oauthbearer:
            // RFC 7628 §3.1: gs2 header "n,a=<authzid>,"; the authzid is the mailbox to act for.
            let authzid = (authorize ?? user).replacingOccurrences(of: "=", with: "=3D")
                .replacingOccurrences(of: ",", with: "=2C")
            return Array("n,a=\(authzid),\u{1}host=\(host)\u{1}port=\(port)\u{1}auth=Bearer \(s)\u{1}\u{1}".utf8)
        }
    }

    /// The answer to a server challenge, or nil to cancel the exchange ("*"). Bounded: no mechanism here takes more
    /// than two challenges.
    mutating func respond(to challenge: [UInt8], initialSent: Bool) -> [UInt8]? {
        defer { step += 1 }
        guard step < 4 else { return nil }
        switch mechanism {
        case .login:
            // Challenges are "Username:" and "Password:"; some servers send other words, so go by the step.
            let index = initialSent ? step + 1 : step
            if index == 0 { return Array(user.utf8) }
            if index == 1 { return Array(secret.value.utf8) }
            return nil
        case .plain:
            // An empty challenge asks for the initial response (no SASL-IR); anything after that is not PLAIN.
            return step == 0 && !initialSent ? initial : nil
        case .xoauth2, .oauthbearer:
            if step == 0 && !initialSent { return initial }
            // An error challenge (JSON status): answer so the server ends the exchange with its failure reply.
            // XOAUTH2 expects an empty response, OAUTHBEARER a single %x01 (RFC 7628 §3.2.3).
            sawErrorChallenge = true
            return mechanism == .xoauth2 ? [] : [1]
        }
    }
}

/// What a target client checks before any credential leaves: no login over an unencrypted connection unless the
/// plan allows it, and no value that would end the command line early.
func checkLoginAllowed(
    user: String, secret: LoginSecret, authorize: String?, encrypted: Bool,
    allowPlaintext: Bool
) throws {
    if !encrypted && !allowPlaintext {
        throw MailError(
            .tls,
            "refusing to log in as \(user) over an unencrypted connection: the plan does "
                + "not set allowPlaintext for this target")
    }
    try checkLineSafe(user, what: "user name")
    try checkLineSafe(secret.value, what: secret.isToken ? "token" : "password")
    if let authorize { try checkLineSafe(authorize, what: "authorization identity") }
}

/// Refuses values that would end a command line early or smuggle a second command.
func checkLineSafe(_ value: String, what: String, kind: FailureKind = .auth) throws {
    if value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) {
        throw MailError(kind, "the \(what) contains a line break or NUL and cannot be sent")
    }
}
