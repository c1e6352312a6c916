import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem
import MailWire
import Synchronization

/// What `mailferry check` found for one mailbox: can a run work on it? Holds no secret.
public struct CheckRow: Sendable, Codable, Equatable {
    public var mailbox: String
    /// Identity in the state database: "<source>/<user>".
    public var key: String
    /// Where the mailbox is written: "mailboxes[3]" or "jobs/users.csv:14".
    public var origin: String
    public var source: Source
    public var target: Target
    /// Why the row is red; empty when green.
    public var problems: [String] = []
    /// Worth knowing, not failures (LOGIN-DELAY, a mailbox in use).
    public var notes: [String] = []
    public var seconds: Double = 0

    public var ok: Bool { problems.isEmpty }

    public struct Source: Sendable, Codable, Equatable {
        public var name: String
        public var server: String
        public var tls: String
        /// The server greeted.
        public var reachable = false
        public var tlsVersion: String?
        public var tlsCipher: String?
        public var certificateSubject: String?
        /// The SHA-256 of the certificate the server presented ("sha256:AB:…"), as `tlsFingerprint` pins it.
        public var tlsFingerprint: String?
        /// The login method that worked.
        public var auth: String?
        /// CAPA items of note after login (RFC 2449): UIDL, PIPELINING, LOGIN-DELAY, EXPIRE, SASL ...
        public var capabilities: [String] = []
        /// Messages and octets waiting in the maildrop (LIST).
        public var messages: Int?
        public var bytes: Int?
        public var ok = false
    }

    public struct Target: Sendable, Codable, Equatable {
        public var name: String
        public var kind: String
        /// The expanded Maildir path, for Maildir targets.
        public var path: String?
        /// "writable", "will be created", "INBOX ok", "accepts kelly@contoso.example", or why not.
        public var state: String?
        /// host:port (or socket) of an IMAP, LMTP or SMTP target.
        public var server: String?
        public var tlsVersion: String?
        /// The SHA-256 of the certificate the target presented, as `tlsFingerprint` pins it.
        public var tlsFingerprint: String?
        /// The login method used at the target, if it needs one.
        public var auth: String?
        public var ok = false
    }
}

/// Checks every mailbox of a plan without moving mail: source reachable, TLS, login, capabilities, listing;
/// target writable. Bounded parallelism on OS threads, at most `maxConnections` sessions per source.
public final class Checker: Sendable {
    public let plan: Plan
    let credentials: [String: POP3Credential]
    let targetSecrets: [String: LoginSecret]

    /// Every secret of a plan, resolved: mailbox credentials by mailbox key, target logins by target name.
    public struct Secrets: Sendable {
        public var mailboxes: [String: POP3Credential] = [:]
        public var targets: [String: LoginSecret] = [:]
    }

    public init(plan: Plan, secrets: Secrets) {
        self.plan = plan
        self.credentials = secrets.mailboxes
        self.targetSecrets = secrets.targets
    }

    // MARK: - Secrets

    /// One secret to resolve.
    private struct SecretJob: Sendable {
        /// The mailbox key, or the target name.
        var key: String
        var ref: SecretRef
        var spot: PlanSpot
        var isToken: Bool
        var forMailbox: Bool
    }

    /// Every secret of the plan: each mailbox's token or password, then each target's.
    private static func secretJobs(_ plan: Plan) -> [SecretJob] {
        typealias Job = SecretJob
        var jobs: [Job] = []
        for mailbox in plan.mailboxes {
            if let token = mailbox.token {
                jobs.append(
                    Job(
                        key: mailbox.key, ref: token, spot: spot(mailbox, "token", plan), isToken: true,
                        forMailbox: true))
            } else if let password = mailbox.password {
                jobs.append(
                    Job(
                        key: mailbox.key, ref: password, spot: spot(mailbox, "password", plan),
                        isToken: false, forMailbox: true))
            }
        }
        for target in plan.targets.values.sorted(by: { $0.name < $1.name }) {
            let refs: [(String, SecretRef?)]
            switch target.kind {
            case .imap(let t): refs = [("password", t.password), ("token", t.token)]
            case .smtp(let t): refs = [("password", t.password), ("token", t.token)]
            case .maildir, .lmtp: refs = []
            }
            for case (let field, let ref?) in refs {
                let spot =
                    target.spots[field]
                    ?? plan.locations.spot(PlanPath.member(PlanPath.member("targets", target.name), field))
                jobs.append(
                    Job(
                        key: target.name, ref: ref, spot: spot, isToken: field == "token",
                        forMailbox: false))
            }
        }
        return jobs
    }

    /// Resolves every secret of the plan (mailboxes and targets), `parallel` at a time (commands may take
    /// seconds). Returns the mailbox credentials, and a problem per secret that cannot be resolved, located where
    /// the secret is written. Values never appear in problems.
    public static func resolveSecrets(_ plan: Plan, parallel: Int) -> (Secrets, [PlanProblem]) {
        let jobs = secretJobs(plan)
        let results = Mutex<[Int: Result<String, MailError>]>([:])
        let indexed = Array(jobs.enumerated())
        let pool = WorkerPool(jobs: indexed, group: { _ in "secrets" }, limit: { _ in max(1, parallel) })
        pool.run(threads: min(max(1, parallel), max(1, jobs.count))) { item in
            let result: Result<String, MailError>
            do {
                result = .success(try item.element.ref.resolve())
            } catch let error as MailError {
                result = .failure(error)
            } catch {
                result = .failure(MailError(.auth, ErrorText.sentence(error)))
            }
            results.withLock { $0[item.offset] = result }
        }
        var secrets = Secrets()
        var problems: [PlanProblem] = []
        let collected = results.withLock { $0 }
        for (index, job) in jobs.enumerated() {
            switch collected[index] {
            case .success(let value)?:
                if job.forMailbox {
                    secrets.mailboxes[job.key] = job.isToken ? .token(value) : .password(value)
                } else {
                    secrets.targets[job.key] = job.isToken ? .token(value) : .password(value)
                }
            case .failure(let error)?:
                problems.append(PlanProblem(spot: job.spot, error.message))
            case nil:
                problems.append(PlanProblem(spot: job.spot, "was not resolved"))
            }
        }
        return (secrets, problems)
    }

    private static func spot(_ mailbox: Plan.Mailbox, _ field: String, _ plan: Plan) -> PlanSpot {
        mailbox.origin.spots[field] ?? plan.locations.spot(PlanPath.member(mailbox.origin.label, field))
    }

    // MARK: - Checking

    /// Checks every mailbox; rows come back in plan order. `progress` is called as each row is done.
    public func run(parallel: Int, progress: (@Sendable (CheckRow) -> Void)? = nil) -> [CheckRow] {
        let rows = Mutex<[String: CheckRow]>([:])
        let sources = plan.sources
        let pool = WorkerPool(
            jobs: plan.mailboxes, group: { $0.source },
            limit: { sources[$0]?.maxConnections ?? 1 })
        pool.run(threads: min(max(1, parallel), max(1, plan.mailboxes.count))) { mailbox in
            let row = self.check(mailbox)
            rows.withLock { $0[mailbox.key] = row }
            progress?(row)
        }
        let collected = rows.withLock { $0 }
        return plan.mailboxes.compactMap { collected[$0.key] }
    }

    func check(_ mailbox: Plan.Mailbox) -> CheckRow {
        let started = Date()
        let source = plan.sources[mailbox.source]
        let target = plan.targets[mailbox.target]
        var row = CheckRow(
            mailbox: mailbox.address, key: mailbox.key, origin: mailbox.origin.label,
            source: .init(
                name: mailbox.source, server: source?.endpoint.label ?? "?",
                tls: source?.endpoint.tls.rawValue ?? "?"),
            target: .init(name: mailbox.target, kind: target?.kind.kindName ?? "?"))
        checkTarget(mailbox, target, &row)
        if let source {
            checkSource(mailbox, source, &row)
        } else {
            row.problems.append("source: no source named \(mailbox.source)")
        }
        row.seconds = Date().timeIntervalSince(started)
        return row
    }

    /// Connect, TLS, login, CAPA, LIST/UIDL, QUIT. Never RETR, never DELE.
    func checkSource(_ mailbox: Plan.Mailbox, _ source: Plan.Source, _ row: inout CheckRow) {
        guard let credential = credentials[mailbox.key] else {
            row.problems.append("source: no password or token was resolved for \(mailbox.user)")
            return
        }
        var before = POP3Capabilities()
        var reached = false
        let opening: SourceSession.Opening
        do {
            opening = try SourceSession.open(mailbox, plan: plan, credential: credential) { step, client in
                guard step == .connected else { return }
                reached = true
                row.source.reachable = true
                if let tls = client.tlsInfo {
                    row.source.tlsVersion = tls.version
                    row.source.tlsCipher = tls.cipher
                    row.source.certificateSubject = sanitizeForDisplay(tls.peerSubject, limit: 200)
                    row.source.tlsFingerprint = tls.fingerprint?.description
                }
                before = client.capabilities
            }
        } catch {
            if reached { row.source.capabilities = before.notable }
            row.problems.append("source: \(Self.describe(error))")
            return
        }
        guard case .loggedIn(let session) = opening else {
            // RFC 2449 §8.1.1, RFC 3206: the login is fine, the maildrop is busy or it is too early. A run waits too.
            if case .waiting(let error) = opening {
                row.source.capabilities = before.notable
                row.source.ok = true
                row.notes.append("source: \(error.message); a run would wait and try again")
            }
            return
        }
        let client = session.client
        defer { client.quit() }
        row.source.auth = session.method.rawValue
        do {
            try client.refreshCapabilitiesAfterLogin()
        } catch {
            row.problems.append("source: \(Self.describe(error))")
            return
        }
        let after = client.capabilities.known ? client.capabilities : before
        row.source.capabilities = after.notable
        if let delay = after.loginDelay ?? before.loginDelay, delay > 0 {
            row.notes.append(
                "source: LOGIN-DELAY \(delay): the server counts this check's login; the next run may "
                    + "have to wait \(delay) s")
        }
        if after.expireZero && !source.allowExpireZero {
            row.problems.append(
                "source: the server announces EXPIRE 0: every message retrieved would be deleted; a "
                    + "run refuses this mailbox (set allowExpireZero: true on sources.\(source.name) to accept that)")
        }
        checkListing(client, source, &row)
    }

    /// LIST/UIDL: what a run would find, and whether it could tell the messages apart.
    private func checkListing(_ client: POP3Client, _ source: Plan.Source, _ row: inout CheckRow) {
        do {
            let listing = try client.maildrop()
            row.source.messages = listing.entries.count
            row.source.bytes = listing.entries.reduce(0) { $0 + $1.size }
            if !listing.hasUIDL {
                if source.withoutUIDL == .refuse {
                    row.problems.append(
                        "source: the server does not support UIDL; a run refuses this mailbox (set "
                            + "withoutUIDL: \"header-fingerprint\" on sources.\(source.name) to identify messages by "
                            + "their headers)")
                } else {
                    row.notes.append("source: no UIDL: messages will be identified by their headers")
                }
            } else if !listing.duplicateUIDLs.isEmpty {
                row.notes.append(
                    "source: " + counted(listing.duplicateUIDLs.count, "unique id") + " shared by several messages "
                        + "(a server bug); those are told apart by content")
            }
        } catch {
            row.problems.append("source: \(Self.describe(error))")
            return
        }
        row.source.ok = !row.problems.contains { $0.hasPrefix("source:") }
    }

    func checkTarget(_ mailbox: Plan.Mailbox, _ target: Plan.Target?, _ row: inout CheckRow) {
        guard let target else {
            row.problems.append("target: no target named \(mailbox.target)")
            return
        }
        if let global = mailbox.global {
            row.notes.append(
                "target: a catch-all mailbox: checked for its fallback "
                    + "\(sanitizeForDisplay(global.fallback ?? mailbox.address, limit: 100)); routed recipients go to the "
                    + "same target")
        }
        switch target.kind {
        case .maildir(let template, let ownership, let keepPOP3UIDL):
            var routed = mailbox
            routed.address = probeAddress(mailbox)
            let location: MaildirLocation
            do {
                location = try maildirLocation(template, mailbox: routed)
            } catch {
                row.target.state = "refused"
                row.problems.append("target: \(error.message)")
                return
            }
            row.target.path = location.path
            switch Self.checkMaildir(location) {
            case .success(let state):
                row.target.state = state + Self.maildirOwnerNote(location, ownership)
                row.target.ok = true
                if keepPOP3UIDL { Self.checkUIDList(location, global: mailbox.global != nil, &row) }
            case .failure(let error):
                row.target.state = "not writable"
                row.problems.append("target: \(error.message)")
            }
        case .imap(let imap):
            checkIMAP(imap, target: target, mailbox: mailbox, &row)
        case .lmtp(let lmtp):
            checkMailTransfer(
                lmtp.endpoint, socket: lmtp.socket, dialect: .lmtp, timeout: lmtp.timeout, user: nil,
                from: lmtp.envelopeFrom.sender(recovered: nil, from: lmtp.from), target: target,
                mailbox: mailbox, &row)
        case .smtp(let smtp):
            checkMailTransfer(
                smtp.endpoint, socket: nil, dialect: .smtp, timeout: smtp.endpoint.timeout,
                user: smtp.user, from: smtp.envelopeFrom.sender(recovered: nil, from: smtp.from),
                target: target, mailbox: mailbox, &row)
        }
    }

    /// ", created as vmail:vmail" when what a run creates below the root will belong to someone other than the
    /// user running the check (`MaildirCreation`); empty otherwise.
    static func maildirOwnerNote(_ location: MaildirLocation, _ ownership: MaildirOwnership) -> String {
        var info = stat()
        guard stat(location.root.isEmpty ? "/" : location.root, &info) == 0 else { return "" }
        let creation = MaildirCreation(root: info, ownership: ownership)
        guard creation.uid != nil || creation.gid != nil else { return "" }
        let user = creation.uid.map { systemUserName($0) } ?? systemUserName(geteuid())
        let group = creation.gid.map { systemGroupName($0) } ?? systemGroupName(getegid())
        return ", created as \(user):\(group)"
    }

    static func describe(_ error: Error) -> String {
        ErrorText.sentence(error)
    }
}
