import Foundation

/// Everything an LMTP or SMTP target needs, in plain values.
public struct MailTransferSettings: Sendable {
    public var endpoint: ServerEndpoint
    public var dialect: SMTPDialect
    /// AUTH (SMTP): the login user, its secret (called at each (re)connect, so a token command runs again), and the
    /// identity to act for. No user: no AUTH.
    public var user: String?
    public var secret: (@Sendable () throws -> LoginSecret)?
    public var authorize: String?
    /// MAIL FROM when a message's sender could not be recovered (the plan's `from`); "" is the null sender <>.
    public var defaultSender: String
    /// RCPT TO when a request names no recipients: the mailbox's own address.
    public var defaultRecipients: [String]
    /// The EHLO/LHLO name; nil is this machine's host name.
    public var clientName: String?
    /// A healthy connection idle longer than this is checked with NOOP before it is used again.
    public var idleCheck: Double

    public init(endpoint: ServerEndpoint, dialect: SMTPDialect, user: String? = nil,
                secret: (@Sendable () throws -> LoginSecret)? = nil, authorize: String? = nil,
                defaultSender: String = "", defaultRecipients: [String] = [], clientName: String? = nil,
                idleCheck: Double = 30) {
        self.endpoint = endpoint
        self.dialect = dialect
        self.user = user
        self.secret = secret
        self.authorize = authorize
        self.defaultSender = defaultSender
        self.defaultRecipients = defaultRecipients
        self.clientName = clientName
        self.idleCheck = idleCheck
    }
}

/// Delivers over LMTP (RFC 2033) or SMTP (RFC 5321): the recovered sender (or the plan's default) as MAIL FROM, one
/// RCPT per routed recipient, the body streamed with CRLF normalisation and dot-stuffing, and a result per
/// recipient. One connection per target mailbox, reused for each message while it is healthy.
///
/// Neither protocol can be asked later whether a message arrived: in-doubt attempts are delivered again and must be
/// reported as possible duplicates (`inDoubtPolicy == .unanswerable`).
public final class MailTransferDelivery: Delivery {
    public let settings: MailTransferSettings
    /// Receives the protocol trace of every session (credentials redacted, bodies never included).
    public var trace: ((String) -> Void)?
    private var client: SMTPClient?
    private var lastUsed = Date.distantPast
    /// How many connections were opened (a test can see reuse).
    public private(set) var connectionsOpened = 0
    /// The AUTH mechanism of the last login, if any.
    public private(set) var authMechanism: SASLMechanism?

    public init(settings: MailTransferSettings) {
        self.settings = settings
    }

    public var inDoubtPolicy: InDoubtPolicy { .unanswerable }

    public func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult {
        let recipients = request.recipients.isEmpty ? settings.defaultRecipients : request.recipients
        let sender = request.sender ?? settings.defaultSender
        let client = try session()
        do {
            let outcome = try client.transaction(from: sender, to: recipients, spool: request.spool)
            lastUsed = Date()
            return DeliveryResult(reference: outcome.reference, recipients: outcome.recipients)
        } catch {
            if client.botched { drop() }
            throw error
        }
    }

    /// LMTP and SMTP keep no record we could ask for: nothing is confirmed.
    public func reconcile(_ attempts: [InDoubtAttempt]) throws -> [String: String] { [:] }

    public func close() {
        client?.quit()
        client = nil
    }

    private func session() throws -> SMTPClient {
        if let client, client.isUsable {
            if Date().timeIntervalSince(lastUsed) < settings.idleCheck
                || (try? client.guarded({ try client.command("NOOP") }))?.code == 250 {
                return client
            }
        }
        drop()
        let fresh = SMTPClient(endpoint: settings.endpoint, dialect: settings.dialect, clientName: settings.clientName)
        fresh.trace = trace
        connectionsOpened += 1
        do {
            try fresh.connect()
            if let user = settings.user, let secret = settings.secret {
                authMechanism = try fresh.authenticate(user: user, secret: try secret(), authorize: settings.authorize)
            }
        } catch {
            fresh.quit()
            throw error
        }
        client = fresh
        lastUsed = Date()
        return fresh
    }

    private func drop() {
        client?.quit()
        client = nil
    }
}
