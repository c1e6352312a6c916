import Foundation
import MailCore
import MailSystem

extension SMTPClient {
    /// AUTH (RFC 4954) with the strongest mechanism the server offers for this kind of secret: OAUTHBEARER or
    /// XOAUTH2 for a token; PLAIN, else LOGIN for a password. `authorize` is the SASL authorization identity (PLAIN's
    /// authzid, the OAuth user field). Refuses before sending anything over an unencrypted connection unless the
    /// endpoint allows plaintext. A refused credential is not retried (no lockouts). Returns the mechanism used.
    @discardableResult
    public func authenticate(user: String, secret: LoginSecret, authorize: String? = nil) throws -> SASLMechanism {
        var refusal: SMTPReply?
        var what = ""
        let used: SASLMechanism = try guarded {
            guard connection != nil else { throw MailError(.transient, "not connected") }
            try checkLoginAllowed(
                user: user, secret: secret, authorize: authorize, encrypted: tlsInfo != nil,
                allowPlaintext: endpoint.allowPlaintext)
            let offered = Set((extensions["AUTH"] ?? "").split(separator: " ").map { $0.uppercased() })
            let candidates = SASLMechanism.byPreference.filter {
                offered.contains($0.rawValue) && $0.usesToken == secret.isToken
                    && (authorize == nil || authorize == user || $0.carriesAuthzid)
            }
            guard let mechanism = candidates.first else {
                throw MailError(
                    .auth,
                    "no usable AUTH mechanism: the server offers "
                        + (offered.isEmpty ? "none" : offered.sorted().joined(separator: " "))
                        + (secret.isToken ? " for a token" : " for a password"))
            }
            what = "AUTH \(mechanism.rawValue) as \(user)" + (authorize.map { " for \($0)" } ?? "")
            var exchange = SASLExchange(
                mechanism: mechanism, user: user, secret: secret, authorize: authorize,
                host: endpoint.dnsName, port: endpoint.port)
            // RFC 4954 §4: the initial response goes with the command ("=" when empty).
            var initialSent = false
            var line = "AUTH \(mechanism.rawValue)"
            if let initial = exchange.initial {
                line += " " + (initial.isEmpty ? "=" : Data(initial).base64EncodedString())
                initialSent = true
            }
            var reply = try command(line, traceAs: "AUTH \(mechanism.rawValue)" + (initialSent ? " <redacted>" : ""))
            for _ in 0..<8 where reply.code == 334 {
                guard let challenge = Data(base64Encoded: reply.lines.first ?? "") else {
                    throw MailError(.protocol, "malformed SASL challenge during AUTH \(mechanism.rawValue)")
                }
                if let answer = exchange.respond(to: [UInt8](challenge), initialSent: initialSent) {
                    reply = try command(Data(answer).base64EncodedString(), traceAs: "<redacted>")
                } else {
                    reply = try command("*")
                }
            }
            guard reply.code == 235 else {
                if reply.code == 334 { throw MailError(.protocol, "AUTH \(mechanism.rawValue) does not end") }
                refusal = reply
                return mechanism
            }
            authenticated = true
            return mechanism
        }
        if let refusal {
            var error = refusal.classify(doing: what)
            // A 5xx to AUTH is about the credential unless it says otherwise (RFC 4954 §6).
            if error.kind == .permanent { error.kind = .auth }
            throw error.context("\(name) \(endpoint.label)")
        }
        return used
    }
}
