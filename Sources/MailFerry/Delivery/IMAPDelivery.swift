import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Everything an IMAP target needs, in plain values (the plan's `targets.<name>` of kind "imap", with {mailbox}
/// already expanded in `authorize`).
public struct IMAPDeliverySettings: Sendable {
    public var endpoint: ServerEndpoint
    /// The account logged in as: a migration admin, or the mailbox's own user.
    public var user: String
    /// Called at each (re)connect, so a token command runs again when a reused connection had to be replaced
    /// (access tokens last about an hour).
    public var secret: @Sendable () throws -> LoginSecret
    /// The mailbox to act for (the plan's `authorize`, expanded); nil logs in as `user` itself.
    public var authorize: String?
    public var acting: IMAPActingStyle
    /// The folder to append to; "/" separates levels. Created (and subscribed) when missing.
    public var folder: String
    /// Flags for every appended message (the plan's `flags`).
    public var flags: [String]
    /// Prepend "X-MailFerry-Delivery: <token>" to each message, so an in-doubt attempt is found exactly. Off by
    /// default: bodies then stay byte-identical, and in-doubt attempts are searched by Message-ID and size.
    public var provenanceHeader: Bool
    /// A healthy connection idle longer than this is checked with NOOP before it is used again.
    public var idleCheck: Double

    public init(
        endpoint: ServerEndpoint, user: String, secret: @escaping @Sendable () throws -> LoginSecret,
        authorize: String? = nil, acting: IMAPActingStyle = .saslAuthzid, folder: String = "INBOX",
        flags: [String] = [], provenanceHeader: Bool = false, idleCheck: Double = 30
    ) {
        self.endpoint = endpoint
        self.user = user
        self.secret = secret
        self.authorize = authorize
        self.acting = acting
        self.folder = folder
        self.flags = flags
        self.provenanceHeader = provenanceHeader
        self.idleCheck = idleCheck
    }
}

/// Delivers into one mailbox's folder with IMAP APPEND (RFC 9051 §6.3.12): INTERNALDATE set to the recovered arrival
/// date, the plan's flags, LITERAL+ when offered, the APPENDUID (RFC 4315) as the target reference. One connection
/// per target mailbox, opened on first use and reused while it is healthy; a botched one is replaced on the next
/// message.
///
/// In doubt after a crash, the folder is searched: for the provenance header when the plan enables it, else for
/// the Message-ID with the same size. A message without Message-ID (and no provenance header) cannot be found and is
/// delivered again.
public final class IMAPDelivery: Delivery {
    public let settings: IMAPDeliverySettings
    /// Receives the protocol trace of every session (credentials redacted, bodies never included).
    public var trace: ((String) -> Void)?
    private var client: IMAPClient?
    private var wireFolder: String?
    private var lastUsed = Date.distantPast
    /// How many connections were opened (a test can see reuse).
    public private(set) var connectionsOpened = 0
    /// What the last login used ("AUTHENTICATE PLAIN", "LOGIN", ...).
    public private(set) var loginMethod: String?
    /// APPENDs a run may have on the wire at once (pipelined, LITERAL+): 1 sends each and waits for its answer.
    public var pipelineDepth = 1
    /// The depth a run uses.
    public static let runPipelineDepth = 16
    static let pipelineBytes = 8 << 20
    static let pipelineSeconds = 1.0
    /// Pipelined APPENDs whose answer is not read yet, in the order sent, and the connection they went on.
    private var outstanding: [(token: String, tag: String, size: Int)] = []
    private var outstandingClient: IMAPClient?
    private var outstandingBytes = 0
    private var outstandingSince = 0.0
    /// Answers read (to free the connection for another command) and not yet handed out by `flush`.
    private var answered: [String: Result<String, MailError>] = [:]
    /// Pipelined APPENDs whose answers were lost with their connection: in doubt.
    private var lost = 0

    public static let provenanceHeaderName = "X-MailFerry-Delivery"

    public init(settings: IMAPDeliverySettings) {
        self.settings = settings
    }

    /// A target from plain plan values: host, port, `tls` (implicit | starttls | none), CA file, the login user with
    /// its password or token (each already resolved, or nil), `authorize` (expanded), folder and flags.
    public static func make(
        host: String, port: Int, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
        allowPlaintext: Bool = false, timeout: Double = 60, user: String,
        password: String? = nil, token: String? = nil, authorize: String? = nil,
        acting: IMAPActingStyle = .saslAuthzid, folder: String = "INBOX", flags: [String] = [],
        provenanceHeader: Bool = false
    ) throws -> IMAPDelivery {
        let secret: LoginSecret
        if let token {
            secret = .token(token)
        } else if let password {
            secret = .password(password)
        } else {
            throw MailError(.auth, "imap \(host):\(port): no password or token for \(user)")
        }
        return IMAPDelivery(
            settings: IMAPDeliverySettings(
                endpoint: ServerEndpoint(
                    host: host, port: port, tls: tls, tlsSettings: tlsSettings,
                    allowPlaintext: allowPlaintext, timeout: timeout),
                user: user, secret: { secret }, authorize: authorize, acting: acting, folder: folder, flags: flags,
                provenanceHeader: provenanceHeader))
    }

    /// The same with the plan's secret references, resolved at each (re)connect.
    public static func make(
        host: String, port: Int, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
        allowPlaintext: Bool = false, timeout: Double = 60, user: String,
        password: SecretRef?, token: SecretRef?, authorize: String? = nil,
        acting: IMAPActingStyle = .saslAuthzid, folder: String = "INBOX", flags: [String] = [],
        provenanceHeader: Bool = false
    ) throws -> IMAPDelivery {
        guard password != nil || token != nil else {
            throw MailError(.auth, "imap \(host):\(port): no password or token for \(user)")
        }
        return IMAPDelivery(
            settings: IMAPDeliverySettings(
                endpoint: ServerEndpoint(
                    host: host, port: port, tls: tls, tlsSettings: tlsSettings,
                    allowPlaintext: allowPlaintext, timeout: timeout),
                user: user,
                secret: {
                    if let token { return .token(try token.resolve()) }
                    return .password(try password!.resolve())
                },
                authorize: authorize, acting: acting, folder: folder, flags: flags, provenanceHeader: provenanceHeader))
    }

    /// Searched after a crash; a run's pipelined APPENDs are staged (stored on arrival, answered at `flush`).
    public var traits: DeliveryTraits {
        Self.traits(provenanceHeader: settings.provenanceHeader, pipelineDepth: pipelineDepth)
    }

    /// The traits of an IMAP delivery with these settings.
    public static func traits(provenanceHeader: Bool, pipelineDepth: Int) -> DeliveryTraits {
        DeliveryTraits(
            inDoubt: .search, confirmsLater: .whenSearchable(provenanceHeader: provenanceHeader),
            staging: pipelineDepth > 1
                ? DeliveryTraits.Staging(
                    messages: pipelineDepth, bytes: pipelineBytes,
                    seconds: pipelineSeconds, unseen: false)
                : nil)
    }

    public var staged: Int { outstanding.count + answered.count + lost }

    public var flushDue: Bool {
        guard staged > 0 else { return false }
        return outstanding.count >= pipelineDepth || outstandingBytes >= Self.pipelineBytes || lost > 0
            || !answered.isEmpty || monotonicSeconds() - outstandingSince >= Self.pipelineSeconds
            || !(outstandingClient?.isUsable ?? false)
    }

    /// Reads the answer of every pipelined APPEND and hands out every answer read: the reference where each
    /// landed, or the refusal. Throws when a connection broke with answers unread: those are in doubt. An APPEND is
    /// stored on arrival, so there is nothing to discard: `.discard` does nothing.
    public func flush(_ fate: StagedFate) throws -> [String: Result<String, MailError>] {
        if case .discard = fate { return [:] }
        try drainOutstanding()
        defer { answered = [:] }
        if lost > 0 {
            let count = lost
            lost = 0
            throw MailError(
                .transient,
                "imap \(settings.endpoint.label): the connection broke with " + counted(count, "APPEND")
                    + " unanswered; \(count == 1 ? "it is" : "they are") looked for in the folder on the next run")
        }
        return answered
    }

    /// Reads the pending answers so the connection is free for another command.
    private func drainOutstanding() throws {
        guard !outstanding.isEmpty else { return }
        let waiting = outstanding
        outstanding = []
        outstandingBytes = 0
        guard let client = outstandingClient, client.isUsable else {
            lost += waiting.count
            return
        }
        var folderMissing = false
        for (index, item) in waiting.enumerated() {
            do {
                switch try client.appendAnswer(tag: item.tag, folder: wireFolder ?? settings.folder) {
                case .success(let uid):
                    answered[item.token] = .success(reference(uid))
                case .failure(var error):
                    if error.code == .imap(.tryCreate) {
                        // The folder went away under the pipeline: the messages sent after it are refused too.
                        // They are delivered again on a later run, into the folder created below.
                        folderMissing = true
                        error = MailError(
                            .transient, error.message + "; the folder is created again",
                            code: error.code)
                    }
                    answered[item.token] = .failure(error)
                }
            } catch {
                // The connection broke: the APPENDs still unanswered may or may not have landed.
                lost += waiting.count - index
                drop()
                return
            }
        }
        // Only now that no answer is owed may the connection carry another command.
        if folderMissing, let folder = wireFolder { try? client.createFolder(folder) }
        lastUsed = Date()
    }

    public func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult {
        var flags = settings.flags
        for flag in request.flags where !flags.contains(where: { $0.lowercased() == flag.lowercased() }) {
            flags.append(flag)
        }
        let prefix =
            settings.provenanceHeader
            ? Array("\(Self.provenanceHeaderName): \(request.token)\r\n".utf8) : []
        if pipelineDepth > 1 && request.mayStage, let staged = try pipeline(request, flags: flags, prefix: prefix) {
            return staged
        }
        try drainOutstanding()
        var created = false
        while true {
            let client = try session()
            let folder = wireFolder!
            do {
                let uid = try client.append(
                    to: folder, flags: flags, date: request.arrival, prefix: prefix,
                    spool: request.spool)
                lastUsed = Date()
                return DeliveryResult(reference: reference(uid))
            } catch let error as MailError {
                if client.botched { drop() }
                // RFC 9051 §6.3.12: [TRYCREATE] means the folder is missing (deleted meanwhile): create it, once.
                if error.code == .imap(.tryCreate) && !created && !client.botched {
                    created = true
                    try client.createFolder(folder)
                    continue
                }
                throw error
            }
        }
    }

    /// "INBOX;UIDVALIDITY=1700000000;UID=42" (the IMAP URL fields of RFC 5092), or the folder alone without UIDPLUS.
    /// Sends the APPEND without waiting for its answer (LITERAL+), when the connection allows it; nil otherwise.
    private func pipeline(_ request: DeliveryRequest, flags: [String], prefix: [UInt8]) throws -> DeliveryResult? {
        let client = try session()
        let size = prefix.count + request.spool.size
        guard client.canPipelineAppend(size: size), let folder = wireFolder else { return nil }
        if outstandingClient !== client {
            try drainOutstanding()
            outstandingClient = client
        }
        do {
            let tag = try client.pipelineAppend(
                to: folder, flags: flags, date: request.arrival, prefix: prefix,
                spool: request.spool)
            if outstanding.isEmpty { outstandingSince = monotonicSeconds() }
            outstanding.append((request.token, tag, size))
            outstandingBytes += size
            return DeliveryResult(reference: "", staged: true)
        } catch {
            // Refused before anything was sent (APPENDLIMIT, a flag): the session is fine. A broken connection
            // leaves the earlier APPENDs unanswered: `flush` reports them in doubt.
            if client.botched {
                lost += outstanding.count
                outstanding = []
                outstandingBytes = 0
                drop()
            }
            throw error
        }
    }

    private func reference(_ uid: IMAPAppendUID?) -> String {
        guard let uid else { return settings.folder }
        return "\(settings.folder);UIDVALIDITY=\(uid.uidValidity);UID=\(uid.uid)"
    }

    public func reconcile(_ attempts: [InDoubtAttempt]) throws -> [String: String] {
        guard !attempts.isEmpty else { return [:] }
        try drainOutstanding()
        let client = try session()
        do {
            guard let validity = try client.examine(wireFolder!) else { return [:] }
            var found: [String: String] = [:]
            for attempt in attempts {
                if let uid = try search(client, attempt)?.max() {
                    found[attempt.token] = reference(IMAPAppendUID(uidValidity: validity, uid: uid))
                }
            }
            lastUsed = Date()
            return found
        } catch {
            if client.botched { drop() }
            throw error
        }
    }

    /// For `verify`: every copy of each attempt's message in the folder (UIDs; more than one is a duplicate), or no
    /// entry when the message cannot be searched for (no Message-ID and no Date header, or no size). Read-only: the
    /// folder is EXAMINEd, and a missing folder is not created (then nothing is found).
    public func locate(_ attempts: [InDoubtAttempt]) throws -> [String: [UInt32]] {
        guard !attempts.isEmpty else { return [:] }
        try drainOutstanding()
        let client = try session(creatingFolder: false)
        do {
            guard try client.folderExists(wireFolder!) else {
                return Dictionary(uniqueKeysWithValues: attempts.map { ($0.token, []) })
            }
            _ = try client.examine(wireFolder!)
            var found: [String: [UInt32]] = [:]
            for attempt in attempts {
                if let uids = try search(client, attempt) { found[attempt.token] = uids.sorted() }
            }
            lastUsed = Date()
            return found
        } catch {
            if client.botched { drop() }
            throw error
        }
    }

    /// The UIDs in the examined folder that are this attempt's message: by the provenance header when the plan
    /// enables it, else Message-ID (or, without one, the Date header) with the same size. Nil: cannot be searched.
    private func search(_ client: IMAPClient, _ attempt: InDoubtAttempt) throws -> [UInt32]? {
        if settings.provenanceHeader {
            return try client.searchHeader(Self.provenanceHeaderName, attempt.token)
        }
        let field: String
        let value: String
        if let messageID = attempt.messageID, !messageID.isEmpty {
            (field, value) = ("Message-ID", messageID)
        } else if let date = attempt.dateHeader, !date.isEmpty, attempt.size != nil {
            // No Message-ID: the Date header with the exact size names one message in practice.
            (field, value) = ("Date", date)
        } else {
            return nil
        }
        var uids = try client.searchHeader(field, value)
        if let size = attempt.size, !uids.isEmpty {
            let sizes = try client.sizes(of: uids)
            uids = uids.filter { sizes[$0] == size }
        }
        return uids
    }

    public func close() {
        try? drainOutstanding()
        client?.logout()
        client = nil
    }

    /// The connection to use: the current one while healthy (checked with NOOP after `idleCheck` seconds idle), else
    /// a new one, logged in, with the folder created when missing.
    private func session(creatingFolder: Bool = true) throws -> IMAPClient {
        if let client, client.isUsable {
            // With APPENDs on the wire the connection was just used (and a NOOP would read their answers).
            if !outstanding.isEmpty || Date().timeIntervalSince(lastUsed) < settings.idleCheck || client.isAlive() {
                return client
            }
        }
        drop()
        let fresh = IMAPClient(endpoint: settings.endpoint)
        fresh.trace = trace
        connectionsOpened += 1
        do {
            try fresh.connect()
            loginMethod = try fresh.login(
                user: settings.user, secret: try settings.secret(),
                authorize: settings.authorize, acting: settings.acting)
            let name = fresh.wireName(of: settings.folder, delimiter: try fresh.hierarchyDelimiter())
            if try creatingFolder && !fresh.folderExists(name) {
                try fresh.createFolder(name)
            }
            wireFolder = name
        } catch {
            fresh.logout()
            throw error
        }
        client = fresh
        lastUsed = Date()
        return fresh
    }

    private func drop() {
        client?.logout()
        client = nil
    }
}
