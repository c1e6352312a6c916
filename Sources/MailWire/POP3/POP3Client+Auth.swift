import Foundation
import MailCore
import MailSystem

extension POP3Client {
    /// Logs in with the strongest method both the server and the plan allow, and returns the method used.
    /// Refuses before sending anything if the connection is not encrypted and the plan does not allow plaintext.
    ///
    /// The rules when a method is refused (SECURITY.md "Login methods"):
    /// - the next method goes down a fresh connection, never the refused one (some servers hang up after a failed
    ///   login; `reconnect`);
    /// - only a refusal that does not blame the credential leads to another method: a mechanism the server turned
    ///   down before any credential was sent, or an APOP `-ERR` without a response code (often "no APOP secret for
    ///   this user"). A refused credential (`[AUTH]`, or a SASL exchange refused after the credential) stops at once:
    ///   trying it again another way would count towards an account lockout. So do `[IN-USE]`, `[LOGIN-DELAY]`,
    ///   `[SYS/TEMP]`, `[SYS/PERM]`;
    /// - without TLS, a refused challenge method (APOP, CRAM-MD5) never falls back to one that sends the password
    ///   in clear (USER, PLAIN, LOGIN) unless `planNamesMethods`: the plan's `auth` list was written, and names it.
    ///   Otherwise a man in the middle could refuse APOP to read the password;
    /// - each method is tried at most once.
    @discardableResult
    public func login(
        user: String, credential: POP3Credential,
        allowed: [POP3AuthMethod] = POP3AuthMethod.byStrength,
        planNamesMethods: Bool = false
    ) throws -> POP3AuthMethod {
        try guardedLogin {
            guard let conn = connection else { throw MailError(.protocol, "not connected") }
            let encrypted = conn.tlsInfo != nil
            if !encrypted && !endpoint.allowPlaintext {
                throw MailError(
                    .tls,
                    "refusing to log in as \(user) over an unencrypted connection: the plan does "
                        + "not set allowPlaintext for this source")
            }
            try checkArgument(user, what: "user name")
            try checkArgument(credential.secret, what: credential.isToken ? "token" : "password")
            var candidates = allowed.filter { offers($0, for: credential) }
            if encrypted && allowed == POP3AuthMethod.byStrength, let apop = candidates.firstIndex(of: .apop) {
                // Under TLS the password is protected anyway, and many servers put an APOP timestamp in every
                // greeting without an APOP secret for the user (GNU Mailutils): by default APOP comes last there.
                candidates.append(candidates.remove(at: apop))
            }
            guard !candidates.isEmpty else {
                let offered =
                    (capabilities.saslMechanisms.map { "SASL \($0)" } + (capabilities.user ? ["USER"] : [])
                    + (apopTimestamp != nil ? ["APOP"] : [])).joined(separator: ", ")
                throw MailError(
                    .auth,
                    "no usable login method: the server offers \(offered.isEmpty ? "none" : offered)"
                        + ", the plan allows \(allowed.map(\.rawValue).joined(separator: ", "))"
                        + (credential.isToken ? " with a token" : " with a password"))
            }
            // A user name with a space, or beyond ASCII, only goes by a method that can carry it
            // (POP3Client+UserName); none left is refused here, before anything is sent.
            let carriers = candidates.filter { carries($0, user: user) }
            guard !carriers.isEmpty else { throw userNameRefusal(user, offered: candidates) }
            candidates = carriers
            var refused: (method: POP3AuthMethod, error: MailError)?
            for method in candidates {
                if let (previous, error) = refused {
                    if !encrypted && !planNamesMethods && previous.isChallenge && method.sendsPasswordInClear {
                        throw MailError(
                            error.kind,
                            error.message + "; not falling back to \(method.shown), which "
                                + "would send the password in clear over this unencrypted connection (to allow it, "
                                + "name it in the source's auth, e.g. auth: [\"\(previous.rawValue)\", "
                                + "\"\(method.rawValue)\"], or use TLS)")
                    }
                    // A fresh connection for the next method: the refused one may be closed or in any state.
                    try reconnect()
                    guard offers(method, for: credential), carries(method, user: user) else { continue }
                }
                do {
                    try authenticate(method, user: user, credential: credential)
                    return method
                } catch let failure as MechanismRejected {
                    refused = (method, failure.error)
                } catch let error as MailError where method == .apop && error.code == nil && !botched {
                    // An APOP refusal without a code often means "no APOP secret for this user", not a wrong
                    // password: the timestamp is in the greeting whether or not APOP is set up.
                    refused = (method, error)
                }
            }
            throw refused!.error
        }
    }

    /// Compatibility form: USER/PASS or whatever is strongest with a password.
    public func login(user: String, password: String) throws {
        try login(user: user, credential: .password(password))
    }

    /// Login errors keep the session usable (we QUIT politely) unless the wire broke.
    private func guardedLogin<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as MailError {
            if error.kind == .protocol || error.kind == .transient && error.code == nil { botched = true }
            throw error.context("pop3 \(endpoint.label)")
        }
    }

    private struct MechanismRejected: Error {
        var error: MailError
    }

    /// The "<...@...>" timestamp of an APOP-capable greeting (RFC 1939 §7).
    var apopTimestamp: [UInt8]? {
        guard let open = greetingRaw.lastIndex(of: 60), let close = greetingRaw[open...].firstIndex(of: 62) else {
            return nil
        }
        let stamp = Array(greetingRaw[open...close])
        return stamp.contains(64) && stamp.allSatisfy({ $0 > 32 && $0 < 127 }) ? stamp : nil
    }

    func offers(_ method: POP3AuthMethod, for credential: POP3Credential) -> Bool {
        guard method.usesToken == credential.isToken else { return false }
        let sasl = capabilities.saslMechanisms
        switch method {
        case .oauthbearer: return sasl.contains("OAUTHBEARER")
        case .xoauth2: return sasl.contains("XOAUTH2")
        case .cramMD5: return sasl.contains("CRAM-MD5")
        case .apop: return apopTimestamp != nil
        case .plain: return sasl.contains("PLAIN")
        case .login: return sasl.contains("LOGIN")
        // RFC 2449 §6.1: USER is announced when supported; servers without CAPA predate that, so try it there.
        case .user: return capabilities.user || !capabilities.known
        }
    }

    private func authenticate(_ method: POP3AuthMethod, user: String, credential: POP3Credential) throws {
        let secret = credential.secret
        switch method {
        case .user:
            if user.utf8.contains(where: { $0 >= 0x80 }) { try enterUTF8Mode() }
            let userReply = try command("USER \(user)")
            guard userReply.ok else { throw classify(userReply, doing: "USER \(user)", defaultKind: .auth) }
            let passReply = try command("PASS \(secret)", traceAs: "PASS <redacted>")
            guard passReply.ok else { throw classify(passReply, doing: "login as \(user)", defaultKind: .auth) }
        case .apop:
            let digest = LegacyDigest.md5Hex(apopTimestamp! + Array(secret.utf8))
            let reply = try command("APOP \(user) \(digest)", traceAs: "APOP \(user) <redacted>")
            guard reply.ok else { throw classify(reply, doing: "APOP login as \(user)", defaultKind: .auth) }
        case .plain:
            try sasl("PLAIN", user: user) { _, step in
                step == 0 ? Array("\0\(user)\0\(secret)".utf8) : nil
            }
        case .login:
            try sasl("LOGIN", user: user) { _, step in
                switch step {
                case 0: Array(user.utf8)
                case 1: Array(secret.utf8)
                default: nil
                }
            }
        case .cramMD5:
            try sasl("CRAM-MD5", user: user) { challenge, step in
                step == 0
                    ? Array("\(user) \(LegacyDigest.hmacMD5Hex(key: Array(secret.utf8), data: challenge))".utf8)
                    : nil
            }
        case .xoauth2:
            // On failure the server sends a JSON error as a challenge; an empty reply ends the exchange.
            try sasl("XOAUTH2", user: user) { _, step in
                step == 0 ? Array("user=\(user)\u{1}auth=Bearer \(secret)\u{1}\u{1}".utf8) : []
            }
        case .oauthbearer:
            // RFC 7628 §3.2.3: after an error challenge the client answers with a single %x01.
            try sasl("OAUTHBEARER", user: user) { _, step in
                step == 0
                    ? Array(
                        "n,a=\(saslName(user)),\u{1}host=\(endpoint.dnsName)\u{1}port=\(endpoint.port)\u{1}"
                            .utf8) + Array("auth=Bearer \(secret)\u{1}\u{1}".utf8) : [1]
            }
        }
    }

    /// A SASL exchange (RFC 5034): "AUTH MECH", then one base64 line per "+ challenge". `respond` gets the decoded
    /// challenge and the step number and returns the response bytes, or nil to cancel with "*".
    private func sasl(_ mechanism: String, user: String, respond: ([UInt8], Int) -> [UInt8]?) throws {
        try send("AUTH \(mechanism)")
        var step = 0
        while true {
            let line = try readLine()
            if line.first == 43 && (line.count == 1 || line[1] == 32) {  // "+" or "+ base64"
                let encoded = line.count > 2 ? String(decoding: line[2...], as: UTF8.self) : ""
                guard let challenge = Data(base64Encoded: encoded.trimmingCharacters(in: .whitespaces)) else {
                    throw MailError(.protocol, "malformed SASL challenge during AUTH \(mechanism)")
                }
                guard step < 8 else { throw MailError(.protocol, "AUTH \(mechanism) does not end") }
                if let response = respond([UInt8](challenge), step) {
                    try send(Data(response).base64EncodedString(), traceAs: "<redacted>")
                } else {
                    try send("*")
                }
                step += 1
                continue
            }
            let reply = try POP3Reply.parse(line)
            if reply.ok { return }
            let error = classify(reply, doing: "AUTH \(mechanism) as \(user)", defaultKind: .auth)
            // Refused before any credential was sent: the mechanism itself is not available.
            if step == 0 && reply.code == nil { throw MechanismRejected(error: error) }
            throw error
        }
    }

    /// RFC 5801 §4 saslname: "=" and "," escaped, for the authzid of OAUTHBEARER's GS2 header (RFC 7628 §3.1).
    private func saslName(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    private func checkArgument(_ value: String, what: String) throws {
        if value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) {
            throw MailError(.auth, "the \(what) contains a line break or NUL and cannot be sent")
        }
    }
}

extension POP3Credential {
    var isToken: Bool {
        if case .token = self { return true }
        return false
    }
}
