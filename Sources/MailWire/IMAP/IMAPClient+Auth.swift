import Foundation
import MailCore
import MailSystem

/// How an admin credential acts for a user's mailbox.
public enum IMAPActingStyle: Sendable, Equatable {
    /// SASL authorization identity (RFC 4616 authzid for PLAIN, the user field of XOAUTH2, OAUTHBEARER's "a="):
    /// the standard form, which Dovecot master users, Cyrus admins and Microsoft 365 application tokens accept.
    case saslAuthzid
    /// Dovecot's master-user login form: LOGIN "<mailbox><separator><admin>" with the admin's password
    /// (`auth_master_user_separator`), for servers or setups where SASL PLAIN is not offered.
    case masterUser(separator: String)
}

extension IMAPClient {
    /// A piece of a command: plain text, or a string sent as a literal (RFC 9051 §4.3).
    enum Segment {
        case text(String)
        case literal([UInt8])
    }

    /// An astring argument: quoted when it can be, else a literal.
    static func astring(_ value: String) -> Segment {
        if let quoted = IMAPString.quoted(value) { return .text(quoted) }
        return .literal(Array(value.utf8))
    }

    /// Whether a literal of `size` octets may go without waiting for "+": LITERAL+ (RFC 7888) for any size,
    /// LITERAL- for up to 4096 octets.
    func nonSynchronizing(_ size: Int) -> Bool {
        has("LITERAL+") || (has("LITERAL-") && size <= 4096)
    }

    /// Sends a command with literals, waiting for the server's "+" before each synchronizing one, and collects the
    /// responses. A tagged answer instead of "+" ends the command there (the server refused it early).
    func command(_ segments: [Segment], traceAs: String) throws -> (untagged: [IMAPResponse], tagged: IMAPResponse) {
        guard let conn = connection, !botched else { throw MailError(.transient, "not connected") }
        let tag = nextTag()
        trace?("C: \(tag) \(traceAs)")
        var pending: [UInt8] = Array("\(tag) ".utf8)
        var untagged: [IMAPResponse] = []
        for segment in segments {
            switch segment {
            case .text(let text):
                pending += Array(text.utf8)
            case .literal(let bytes):
                if nonSynchronizing(bytes.count) {
                    pending += Array("{\(bytes.count)+}\r\n".utf8) + bytes
                    continue
                }
                pending += Array("{\(bytes.count)}\r\n".utf8)
                try expectQuietBeforeLogin(Self.commandName(traceAs))
                try conn.write(pending)
                pending = bytes
                if let early = try awaitContinuation(tag: tag, untagged: &untagged) {
                    return (untagged, early)
                }
            }
        }
        try expectQuietBeforeLogin(Self.commandName(traceAs))
        try conn.write(pending + [13, 10])
        let rest = try collect(tag: tag)
        return (untagged + rest.untagged, rest.tagged)
    }

    /// Reads up to the "+" that invites a synchronizing literal; returns the tagged response if the server answers
    /// the command instead.
    func awaitContinuation(tag: String, untagged: inout [IMAPResponse]) throws -> IMAPResponse? {
        for _ in 0..<Self.maxUntaggedPerCommand {
            let response = try readResponse()
            switch response.kind {
            case .continuation:
                return nil
            case .tagged(let got):
                guard got == tag else {
                    throw MailError(.protocol, "response for unknown tag \(sanitizeForDisplay(got, limit: 20))")
                }
                return response
            case .untagged:
                try noteUntagged(response)
                untagged.append(response)
            }
        }
        throw MailError(.protocol, "no continuation request for a literal")
    }

    /// Logs in as `user`, acting for `authorize` when given, and returns what was used ("AUTHENTICATE PLAIN",
    /// "LOGIN"). Refuses before sending anything over an unencrypted connection unless the endpoint allows
    /// plaintext. A refused credential is not retried with another mechanism (no lockouts).
    ///
    /// - A token logs in with OAUTHBEARER or XOAUTH2 (whichever is offered; Gmail and Microsoft 365 offer both or
    ///   one), the mailbox to act for in the mechanism's user field.
    /// - A password with `authorize` uses AUTHENTICATE PLAIN with that authzid, or Dovecot's "user*admin" LOGIN
    ///   form when `acting` says so.
    /// - A password alone: AUTHENTICATE PLAIN, else LOGIN (unless LOGINDISABLED), else AUTHENTICATE LOGIN.
    @discardableResult
    public func login(
        user: String, secret: LoginSecret, authorize: String? = nil,
        acting: IMAPActingStyle = .saslAuthzid
    ) throws -> String {
        var refusal: IMAPResponse?
        var what = ""
        let used: String = try guarded {
            guard connection != nil else { throw MailError(.transient, "not connected") }
            if state == .authenticated {
                guard authorize == nil else {
                    throw MailError(
                        .auth,
                        "the server pre-authenticated the connection (PREAUTH); it cannot act for "
                            + "\(authorize!)")
                }
                return "PREAUTH"
            }
            try checkLoginAllowed(
                user: user, secret: secret, authorize: authorize, encrypted: tlsInfo != nil,
                allowPlaintext: endpoint.allowPlaintext)
            let offered = SASLMechanism.allCases.filter { has("AUTH=\($0.rawValue)") }

            var loginName = user
            var authzid = authorize
            if case .masterUser(let separator) = acting, let authorize {
                loginName = authorize + separator + user
                authzid = nil
            }
            what = "login as \(loginName)" + (authzid.map { " for \($0)" } ?? "")
            let mechanism: SASLMechanism?
            if secret.isToken {
                guard let oauth = [SASLMechanism.oauthbearer, .xoauth2].first(where: offered.contains) else {
                    throw MailError(
                        .auth,
                        "the server offers no OAuth login (AUTH=OAUTHBEARER or AUTH=XOAUTH2) for "
                            + "the token; it offers " + describe(offered))
                }
                mechanism = oauth
            } else if case .masterUser = acting, authorize != nil, !has("LOGINDISABLED") {
                // Dovecot's documented master-user form is LOGIN "user*admin" (doc: Master users/passwords).
                mechanism = nil
            } else if authzid != nil {
                guard offered.contains(.plain) else {
                    throw MailError(
                        .auth,
                        "cannot act for \(authzid!): the server does not offer AUTHENTICATE "
                            + "PLAIN (it offers \(describe(offered))); Dovecot's master-user form is another way")
                }
                mechanism = .plain
            } else if offered.contains(.plain) {
                mechanism = .plain
            } else if !has("LOGINDISABLED") {
                mechanism = nil
            } else if offered.contains(.login) {
                mechanism = .login
            } else {
                throw MailError(.auth, "no usable login: LOGINDISABLED and the server offers \(describe(offered))")
            }

            let reply: IMAPResponse
            if let mechanism {
                var exchange = SASLExchange(
                    mechanism: mechanism, user: loginName, secret: secret, authorize: authzid,
                    host: endpoint.dnsName, port: endpoint.port)
                reply = try authenticate(&exchange)
            } else {
                reply = try command(
                    [.text("LOGIN "), Self.astring(loginName), .text(" "), Self.astring(secret.value)],
                    traceAs: "LOGIN \(IMAPString.quoted(loginName) ?? "{literal}") <redacted>"
                ).tagged
            }
            guard reply.status == .ok else {
                refusal = reply
                return ""
            }
            state = .authenticated
            // RFC 9051 §6.2.2: capabilities may change after login; Dovecot sends them in the OK's code.
            if reply.code != .capability { try refreshCapabilities() }
            return mechanism.map { "AUTHENTICATE \($0.rawValue)" } ?? "LOGIN"
        }
        if let refusal {
            throw classify(refusal, doing: what, defaultKind: .auth).context("imap \(endpoint.label)")
        }
        return used
    }

    private func describe(_ mechanisms: [SASLMechanism]) -> String {
        let names = mechanisms.map { "AUTH=\($0.rawValue)" } + (has("LOGINDISABLED") ? [] : ["LOGIN"])
        return names.isEmpty ? "nothing" : names.joined(separator: ", ")
    }

    /// AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959) when offered; returns the tagged response.
    private func authenticate(_ exchange: inout SASLExchange) throws -> IMAPResponse {
        let tag = nextTag()
        var line = "\(tag) AUTHENTICATE \(exchange.mechanism.rawValue)"
        var initialSent = false
        if has("SASL-IR"), let initial = exchange.initial {
            line += " " + (initial.isEmpty ? "=" : Data(initial).base64EncodedString())
            initialSent = true
        }
        try send(
            line, traceAs: "\(tag) AUTHENTICATE \(exchange.mechanism.rawValue)" + (initialSent ? " <redacted>" : ""))
        for _ in 0..<8 {
            let response = try readResponse()
            switch response.kind {
            case .continuation:
                let encoded = response.text.trimmingCharacters(in: .whitespaces)
                guard let challenge = Data(base64Encoded: encoded) else {
                    throw MailError(
                        .protocol,
                        "malformed SASL challenge during AUTHENTICATE "
                            + exchange.mechanism.rawValue)
                }
                if let answer = exchange.respond(to: [UInt8](challenge), initialSent: initialSent) {
                    try send(Data(answer).base64EncodedString(), traceAs: "<redacted>")
                } else {
                    try send("*")
                }
            case .tagged(let got):
                guard got == tag else {
                    throw MailError(.protocol, "response for unknown tag \(sanitizeForDisplay(got, limit: 20))")
                }
                if response.code == .capability { capabilities = IMAPResponse.capabilities(response.codeArguments) }
                if response.status == .bad {
                    // RFC 9051: BAD for an unknown mechanism or a cancelled exchange; the credential was not judged.
                    throw MailError(.auth, "AUTHENTICATE \(exchange.mechanism.rawValue) rejected: \(response.text)")
                }
                return response
            case .untagged:
                try noteUntagged(response)
            }
        }
        throw MailError(.protocol, "AUTHENTICATE \(exchange.mechanism.rawValue) does not end")
    }
}
