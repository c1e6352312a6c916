import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Which MAIL FROM a migrated message gets (the plan's `envelopeFrom`). The envelope sender is where a server that
/// later fails to deliver sends its bounce (RFC 5321 §4.5.5, §6.1), so this decides who hears of failures.
public enum EnvelopeSenderPolicy: String, Sendable, Equatable, CaseIterable {
    /// The sender recovered from the message's trace headers (Return-Path), else the target's `from`. Right for final
    /// delivery (LMTP, the default there): the stored Return-Path stays the original one. Through a relay, a later
    /// bounce goes to that original, outside correspondent.
    case original
    /// Always the target's `from` ("" the null sender <>, to which nothing bounces): bounces come to the migration
    /// team, never to an outside correspondent. The default for SMTP.
    case plan

    /// The default for a protocol: LMTP delivers finally (no later bounce), SMTP hands on to a relay that may bounce.
    public static func defaultPolicy(for dialect: SMTPDialect) -> EnvelopeSenderPolicy {
        dialect == .lmtp ? .original : .plan
    }

    /// MAIL FROM for a message whose recovered sender is `recovered` (nil when none was recovered).
    public func sender(recovered: String?, from: String) -> String {
        switch self {
        case .original: return recovered ?? from
        case .plan: return from
        }
    }
}

/// Everything an LMTP or SMTP target needs, in plain values.
public struct MailTransferSettings: Sendable {
    public var endpoint: ServerEndpoint
    public var dialect: SMTPDialect
    /// AUTH (SMTP): the login user, its secret (called at each (re)connect, so a token command runs again), and the
    /// identity to act for. No user: no AUTH.
    public var user: String?
    public var secret: (@Sendable () throws -> LoginSecret)?
    public var authorize: String?
    /// The plan's `from`: MAIL FROM with `envelopeFrom: .plan`, and with `.original` when a message's sender could
    /// not be recovered; "" is the null sender <>.
    public var defaultSender: String
    /// Whether MAIL FROM is the recovered sender or always `defaultSender`.
    public var envelopeFrom: EnvelopeSenderPolicy
    /// RCPT TO when a request names no recipients: the mailbox's own address.
    public var defaultRecipients: [String]
    /// The EHLO/LHLO name; nil is this machine's host name.
    public var clientName: String?
    /// A healthy connection idle longer than this is checked with NOOP before it is used again.
    public var idleCheck: Double
    /// Seconds the reply after DATA's final "." is waited for (each of them, LMTP); the endpoint's timeout bounds
    /// everything else.
    public var dataTimeout: Double

    public init(
        endpoint: ServerEndpoint, dialect: SMTPDialect, user: String? = nil,
        secret: (@Sendable () throws -> LoginSecret)? = nil, authorize: String? = nil,
        defaultSender: String = "", envelopeFrom: EnvelopeSenderPolicy? = nil,
        defaultRecipients: [String] = [], clientName: String? = nil, idleCheck: Double = 30,
        dataTimeout: Double = Plan.defaultDataTimeout
    ) {
        self.endpoint = endpoint
        self.dialect = dialect
        self.user = user
        self.secret = secret
        self.authorize = authorize
        self.defaultSender = defaultSender
        self.envelopeFrom = envelopeFrom ?? .defaultPolicy(for: dialect)
        self.defaultRecipients = defaultRecipients
        self.clientName = clientName
        self.idleCheck = idleCheck
        self.dataTimeout = dataTimeout
    }
}

/// Delivers over LMTP (RFC 2033) or SMTP (RFC 5321): MAIL FROM as `envelopeFrom` says (the recovered sender or the
/// plan's `from`), one RCPT per routed recipient, the body streamed with CRLF normalisation and dot-stuffing, and a
/// result per recipient. One connection per target mailbox, reused for each message while it is healthy.
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

    /// Cannot be asked after a crash, stores (or refuses) each message before answering.
    public var traits: DeliveryTraits { Self.traits }
    public static let traits = DeliveryTraits(inDoubt: .unanswerable, confirmsLater: .never)

    /// Nothing is staged.
    public func flush(_ fate: StagedFate) throws -> [String: Result<String, MailError>] { [:] }

    public func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult {
        let recipients = request.recipients.isEmpty ? settings.defaultRecipients : request.recipients
        let sender = settings.envelopeFrom.sender(recovered: request.sender, from: settings.defaultSender)
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
                || (try? client.guarded({ try client.command("NOOP") }))?.code == 250
            {
                return client
            }
        }
        drop()
        let fresh = SMTPClient(
            endpoint: settings.endpoint, dialect: settings.dialect, clientName: settings.clientName,
            dataTimeout: settings.dataTimeout)
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
