import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// A logged-in POP3 session to a mailbox's source. `open` is the one place that resolves the mailbox's secret,
/// connects, secures the connection and logs in: runs (and their previews), `check`, `verify`, `adopt` and route
/// previews all come through it.
struct SourceSession {
    let client: POP3Client
    let source: Plan.Source
    /// The user logged in as.
    let user: String
    /// The capabilities the server announced before the login (CAPA may change after it, RFC 2449 §4).
    let before: POP3Capabilities
    /// How the login went through.
    let method: POP3AuthMethod

    /// What `open` came to.
    enum Opening {
        case loggedIn(SourceSession)
        /// Not logged in, and not a failure: someone else holds the maildrop or it is too early (RFC 2449 §8.1.1
        /// IN-USE, RFC 3206 LOGIN-DELAY), or a LOGIN-DELAY the server announced earlier has not run out. The error
        /// says why; the next run tries again.
        case waiting(MailError)
    }

    /// The steps `open` got through, for a caller that reports on each (`check`).
    enum Step {
        /// Connected (and TLS set up): `client.tlsInfo` and `client.capabilities` are known.
        case connected
        case loggedIn
    }

    /// A run's memory of the server's LOGIN-DELAY (RFC 2449 §6.8) for one mailbox: a login is not tried before the
    /// delay has run out, and a refusal for it postpones the next. nil (check, verify, previews) tries at once.
    struct Pacing {
        var store: Store
        var mailboxID: Int64
    }

    /// Opens a session for `mailbox`. `credential` when already resolved (check resolves every secret first), else
    /// the mailbox's secret is resolved now. `methods`: the login methods to try, else the source's (a later
    /// session of a run logs in the way the first did). A session that ends up waiting is closed again.
    static func open(
        _ mailbox: Plan.Mailbox, plan: Plan, credential: POP3Credential? = nil,
        methods: [POP3AuthMethod]? = nil, trace: ProtocolTrace? = nil, pacing: Pacing? = nil,
        progress: (Step, POP3Client) -> Void = { _, _ in }
    ) throws -> Opening {
        guard let source = plan.sources[mailbox.source] else {
            throw MailError(.local, "no source named \(mailbox.source)")
        }
        let now = Date().timeIntervalSince1970
        if let pacing, let next = try pacing.store.nextLoginAllowed(mailbox: pacing.mailboxID), next > now {
            return .waiting(
                MailError(
                    .transient,
                    "the server allows the next login in \(Int(next - now)) s "
                        + "(LOGIN-DELAY)", code: .pop3(.loginDelay)))
        }
        let secret = try credential ?? mailbox.credential()
        let client = POP3Client(endpoint: source.endpoint)
        client.trace = trace?.session("\(mailbox.key) pop3 \(source.endpoint.label)")
        do {
            try client.connect()
            progress(.connected, client)
            let before = client.capabilities
            let method: POP3AuthMethod
            do {
                method = try client.login(
                    user: mailbox.user, credential: secret, allowed: methods ?? source.auth,
                    planNamesMethods: source.authNamed)
            } catch let error as MailError where error.code == .pop3(.inUse) || error.code == .pop3(.loginDelay) {
                if error.code == .pop3(.loginDelay), let pacing {
                    let remembered = try pacing.store.loginDelay(mailbox: pacing.mailboxID)
                    let delay = before.loginDelay ?? remembered ?? 300
                    try pacing.store.postponeLogin(mailbox: pacing.mailboxID, until: now + Double(delay))
                }
                client.quit()
                return .waiting(error)
            }
            progress(.loggedIn, client)
            return .loggedIn(
                SourceSession(
                    client: client, source: source, user: mailbox.user, before: before,
                    method: method))
        } catch {
            client.quit()
            throw error
        }
    }

    /// `open` for a reader (verify, adopt, route previews): logged in, or the reason it is not, thrown.
    static func reading(
        _ mailbox: Plan.Mailbox, plan: Plan, trace: ProtocolTrace? = nil,
        progress: (Step, POP3Client) -> Void = { _, _ in }
    ) throws -> SourceSession {
        switch try open(mailbox, plan: plan, trace: trace, progress: progress) {
        case .loggedIn(let session): return session
        case .waiting(let error): throw error
        }
    }

    /// After the login, for a run: the capabilities again (RFC 2449 §4), the server's LOGIN-DELAY remembered, and
    /// EXPIRE 0 refused unless the plan allows it. Returns a note for the report when it is allowed.
    func settleIn(_ pacing: Pacing) throws -> String? {
        try client.refreshCapabilitiesAfterLogin()
        let after = client.capabilities
        try pacing.store.recordLogin(mailbox: pacing.mailboxID, delay: after.loginDelay ?? before.loginDelay)
        guard after.known ? after.expireZero : before.expireZero else { return nil }
        guard source.allowExpireZero else {
            throw MailError(
                .permanent,
                "the server announces EXPIRE 0: every message retrieved would be deleted "
                    + "from \(user)'s mailbox, which someone may still read; refusing (set allowExpireZero: "
                    + "true on sources.\(source.name) to accept that)")
        }
        // Allowed, but the report must say what it costs: the server no longer holds what was fetched.
        return "the server announces EXPIRE 0: messages retrieved are deleted from the server "
            + "(allowed by allowExpireZero on sources.\(source.name))"
    }
}

extension Plan.Mailbox {
    /// The mailbox's POP3 secret, resolved now: its token, else its password.
    func credential() throws -> POP3Credential {
        if let token { return .token(try token.resolve()) }
        guard let password else { throw MailError(.auth, "no password or token for \(user)") }
        return .password(try password.resolve())
    }
}
