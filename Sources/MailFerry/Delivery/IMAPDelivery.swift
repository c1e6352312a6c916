import Foundation

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

    public init(endpoint: ServerEndpoint, user: String, secret: @escaping @Sendable () throws -> LoginSecret,
                authorize: String? = nil, acting: IMAPActingStyle = .saslAuthzid, folder: String = "INBOX",
                flags: [String] = [], provenanceHeader: Bool = false, idleCheck: Double = 30) {
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

    public static let provenanceHeaderName = "X-MailFerry-Delivery"

    public init(settings: IMAPDeliverySettings) {
        self.settings = settings
    }

    /// A target from plain plan values: host, port, `tls` (implicit | starttls | none), CA file, the login user with
    /// its password or token (each already resolved, or nil), `authorize` (expanded), folder and flags.
    public static func make(host: String, port: Int, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
                            allowPlaintext: Bool = false, timeout: Double = 60, user: String,
                            password: String? = nil, token: String? = nil, authorize: String? = nil,
                            acting: IMAPActingStyle = .saslAuthzid, folder: String = "INBOX", flags: [String] = [],
                            provenanceHeader: Bool = false) throws -> IMAPDelivery {
        let secret: LoginSecret
        if let token {
            secret = .token(token)
        } else if let password {
            secret = .password(password)
        } else {
            throw MailError(.auth, "imap \(host):\(port): no password or token for \(user)")
        }
        return IMAPDelivery(settings: IMAPDeliverySettings(
            endpoint: ServerEndpoint(host: host, port: port, tls: tls, tlsSettings: tlsSettings,
                                     allowPlaintext: allowPlaintext, timeout: timeout),
            user: user, secret: { secret }, authorize: authorize, acting: acting, folder: folder, flags: flags,
            provenanceHeader: provenanceHeader))
    }

    /// The same with the plan's secret references, resolved at each (re)connect.
    public static func make(host: String, port: Int, tls: TLSMode, tlsSettings: TLSSettings = TLSSettings(),
                            allowPlaintext: Bool = false, timeout: Double = 60, user: String,
                            password: SecretRef?, token: SecretRef?, authorize: String? = nil,
                            acting: IMAPActingStyle = .saslAuthzid, folder: String = "INBOX", flags: [String] = [],
                            provenanceHeader: Bool = false) throws -> IMAPDelivery {
        guard password != nil || token != nil else {
            throw MailError(.auth, "imap \(host):\(port): no password or token for \(user)")
        }
        return IMAPDelivery(settings: IMAPDeliverySettings(
            endpoint: ServerEndpoint(host: host, port: port, tls: tls, tlsSettings: tlsSettings,
                                     allowPlaintext: allowPlaintext, timeout: timeout),
            user: user,
            secret: {
                if let token { return .token(try token.resolve()) }
                return .password(try password!.resolve())
            },
            authorize: authorize, acting: acting, folder: folder, flags: flags, provenanceHeader: provenanceHeader))
    }

    public var inDoubtPolicy: InDoubtPolicy { .search }

    public func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult {
        var flags = settings.flags
        for flag in request.flags where !flags.contains(where: { $0.lowercased() == flag.lowercased() }) {
            flags.append(flag)
        }
        let prefix = settings.provenanceHeader
            ? Array("\(Self.provenanceHeaderName): \(request.token)\r\n".utf8) : []
        var created = false
        while true {
            let client = try session()
            let folder = wireFolder!
            do {
                let uid = try client.append(to: folder, flags: flags, date: request.arrival, prefix: prefix,
                                            spool: request.spool)
                lastUsed = Date()
                return DeliveryResult(reference: reference(uid))
            } catch let error as MailError {
                if client.botched { drop() }
                // RFC 9051 §6.3.12: [TRYCREATE] means the folder is missing (deleted meanwhile): create it, once.
                if error.code == "TRYCREATE" && !created && !client.botched {
                    created = true
                    try client.createFolder(folder)
                    continue
                }
                throw error
            }
        }
    }

    /// "INBOX;UIDVALIDITY=1700000000;UID=42" (the IMAP URL fields of RFC 5092), or the folder alone without UIDPLUS.
    private func reference(_ uid: IMAPAppendUID?) -> String {
        guard let uid else { return settings.folder }
        return "\(settings.folder);UIDVALIDITY=\(uid.uidValidity);UID=\(uid.uid)"
    }

    public func reconcile(_ attempts: [InDoubtAttempt]) throws -> [String: String] {
        guard !attempts.isEmpty else { return [:] }
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
        let field: String, value: String
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

    /// A message the folder can be searched for after a crash (provenance header, Message-ID, or Date with size) may
    /// have its "delivered" checkpoint committed while the next one is fetched; one without either waits for it.
    public func confirmsLater(_ attempt: InDoubtAttempt) -> Bool {
        settings.provenanceHeader || !(attempt.messageID ?? "").isEmpty
            || (!(attempt.dateHeader ?? "").isEmpty && attempt.size != nil)
    }

    public func close() {
        client?.logout()
        client = nil
    }

    /// The connection to use: the current one while healthy (checked with NOOP after `idleCheck` seconds idle), else
    /// a new one, logged in, with the folder created when missing.
    private func session(creatingFolder: Bool = true) throws -> IMAPClient {
        if let client, client.isUsable {
            if Date().timeIntervalSince(lastUsed) < settings.idleCheck || client.isAlive() {
                return client
            }
        }
        drop()
        let fresh = IMAPClient(endpoint: settings.endpoint)
        fresh.trace = trace
        connectionsOpened += 1
        do {
            try fresh.connect()
            loginMethod = try fresh.login(user: settings.user, secret: try settings.secret(),
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
