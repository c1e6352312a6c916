import Foundation
import MailCore
import MailSystem
import MailWire
import MailStore

/// One message handed to a target.
public struct DeliveryRequest {
    /// Names this message's attempt at the target; deterministic per (mailbox, UIDL), so a repeated attempt after a
    /// crash finds or replaces the first one instead of adding a second copy.
    public var token: String
    public var spool: SpoolFile
    /// The original arrival time; becomes the Maildir file's mtime (Dovecot's received date) and the IMAP
    /// INTERNALDATE.
    public var arrival: Date
    /// The SMTP envelope sender recovered from the trace headers (Return-Path); nil when it could not be recovered,
    /// and LMTP/SMTP then use the target's default (`from` in the plan). "" is the null sender `<>`.
    public var sender: String?
    /// The routed envelope recipients, for LMTP and SMTP (one RCPT TO each). Empty means the target's own default
    /// recipients (the mailbox's address). Maildir and IMAP store into one mailbox and ignore them.
    public var recipients: [String]
    /// IMAP flags for this message, added to the target's own flags (`flags` in the plan). Maildir, LMTP and SMTP
    /// ignore them.
    public var flags: [String]
    /// Whether the target may stage this delivery (accept it now, make it durable and answer for it at `flush`):
    /// only when a crash in between leaves it exactly answerable by `reconcile`.
    public var mayStage: Bool
    public init(token: String, spool: SpoolFile, arrival: Date, sender: String? = nil, recipients: [String] = [],
                flags: [String] = [], mayStage: Bool = false) {
        self.token = token
        self.spool = spool
        self.arrival = arrival
        self.sender = sender
        self.recipients = recipients
        self.flags = flags
        self.mayStage = mayStage
    }
}

/// The outcome of one delivery the target took at least partly.
public struct DeliveryResult: Sendable {
    /// Where the message went, for the store's target reference: "new/<file>" (Maildir), "INBOX;UIDVALIDITY=…;UID=…"
    /// (IMAP with UIDPLUS) or the server's reply (LMTP/SMTP).
    public var reference: String
    /// One entry per envelope recipient, in RCPT order (LMTP, SMTP). Empty for mailbox targets (Maildir, IMAP), which
    /// either store the message or throw.
    public var recipients: [RecipientResult]
    /// The target staged it: `reference` is not yet known, and whether it lands is answered by `Delivery.flush`.
    public var staged: Bool

    public init(reference: String, recipients: [RecipientResult] = [], staged: Bool = false) {
        self.reference = reference
        self.recipients = recipients
        self.staged = staged
    }

    public var accepted: [RecipientResult] { recipients.filter(\.accepted) }
    public var refused: [RecipientResult] { recipients.filter { !$0.accepted } }
    /// True when every recipient got the message (always true for mailbox targets).
    public var complete: Bool { recipients.allSatisfy(\.accepted) }
}

/// An attempt a crash left between "delivering" and "delivered", as the store knows it.
public struct InDoubtAttempt: Sendable, Equatable {
    public var token: String
    /// The Message-ID header of the message (angle brackets included), if it has one. Without it (and without the
    /// IMAP provenance header) an IMAP attempt cannot be found and is delivered again.
    public var messageID: String?
    /// The message size as IMAP reports it (RFC822.SIZE: lines counted with CRLF), which for a spool of CRLF lines
    /// (what POP3 serves) is the spool size. A spool with bare LFs is larger by one octet per bare LF.
    public var size: Int?
    /// The Date header, searched (with the size) when the message has no Message-ID.
    public var dateHeader: String?

    public init(token: String, messageID: String? = nil, size: Int? = nil, dateHeader: String? = nil) {
        self.token = token
        self.messageID = messageID
        self.size = size
        self.dateHeader = dateHeader
    }
}

/// How a target can answer "did this attempt land?" after a crash.
public enum InDoubtPolicy: String, Sendable {
    /// The attempt's name is in the target (Maildir file names derive from the token): the answer is exact.
    case exact
    /// The target is searched (IMAP: the provenance header, or Message-ID and size). Found is delivered; not found is
    /// delivered again.
    case search
    /// The target cannot be asked (LMTP, SMTP): in-doubt messages are delivered again and must be listed in the
    /// report as possible duplicates (at-least-once).
    case unanswerable
}

/// A target that stores messages for one mailbox. The runner drives every kind through this: one instance per
/// source mailbox, used from one thread, closed when the mailbox is done.
///
/// Changed from the first version (Maildir only): `deliverMessage` returns a `DeliveryResult` with a result per
/// envelope recipient, and `reconcile` takes `InDoubtAttempt`s (token, Message-ID, size) so IMAP can search for
/// them. The first version's `deliver(_:) -> String` and `reconcile(tokens:)` remain as extension methods until the
/// runner moves over.
public protocol Delivery: AnyObject {
    /// Whether in-doubt attempts can be confirmed, and how.
    var inDoubtPolicy: InDoubtPolicy { get }
    /// Stores the message durably. Throws (with its `FailureKind`) when no recipient got it; returns a result with
    /// per-recipient outcomes when at least one did, or when every recipient was refused one by one (then
    /// `accepted` is empty and each refusal carries its own classification).
    func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult
    /// For attempts a crash left in doubt: which of them did land, and where (token → target reference). Absent
    /// tokens did not land, or (policy `unanswerable`) cannot be known.
    func reconcile(_ attempts: [InDoubtAttempt]) throws -> [String: String]
    /// Whether the "delivered" checkpoint of this accepted attempt may be committed while the next message is already
    /// being fetched: only when `reconcile` would find it exactly after a crash, so a crash in between cannot cause
    /// a second copy.
    func confirmsLater(_ attempt: InDoubtAttempt) -> Bool
    /// Deliveries staged (accepted but not yet answered for): they wait for `flush`. Only requests that allow it
    /// (`mayStage`) to a delivery made to stage (a run's Maildir batches, IMAP pipelined APPENDs) are staged.
    var staged: Int { get }
    /// Whether the staged deliveries should be flushed now (a batch is full or old enough).
    var flushDue: Bool { get }
    /// Makes every staged delivery durable and says how each went, by token: its target reference, or the error
    /// that refused it (the others landed all the same). Throws when that cannot be known (connection lost, disk
    /// failing): then every staged delivery is in doubt, for `reconcile` to answer on the next run.
    func flush() throws -> [String: Result<String, MailError>]
    /// Whether a staged delivery stays out of sight (nobody can read it, a crash loses it) until `flush`: a
    /// Maildir batch waits in tmp/. Only then may the runner leave its "delivering" checkpoint uncommitted until the
    /// flush (`TargetPool` commits it before `flush` makes anything visible); an IMAP APPEND is stored on arrival.
    var stagesUnseen: Bool { get }
    /// Drops every staged delivery without making any visible (their "delivering" checkpoints could not be
    /// committed): a later `flush` or `close` has nothing of them to do.
    func discardStaged()
    func close()
}

extension Delivery {
    /// Exact answers only (Maildir); IMAP decides per message; LMTP and SMTP never (in doubt there means a
    /// possible duplicate, so each message waits for its own commit).
    public func confirmsLater(_ attempt: InDoubtAttempt) -> Bool {
        inDoubtPolicy == .exact
    }

    /// Targets that store each message before answering have nothing to flush.
    public var staged: Int { 0 }
    public var flushDue: Bool { false }
    public func flush() throws -> [String: Result<String, MailError>] { [:] }
    public var stagesUnseen: Bool { false }
    public func discardStaged() {}

    /// The first version's form: the target reference, or an error when not every recipient got the message. With
    /// partial success the error is the first refusal's, and the accepted recipients are not reported: callers that
    /// route to several recipients use `deliverMessage`.
    public func deliver(_ request: DeliveryRequest) throws -> String {
        try deliverToAll(request).reference
    }

    /// `deliverMessage`, throwing unless every recipient got the message (or it was staged).
    public func deliverToAll(_ request: DeliveryRequest) throws -> DeliveryResult {
        let result = try deliverMessage(request)
        if let refusal = result.refused.first, let error = refusal.error {
            let accepted = result.accepted.count
            throw accepted == 0 ? error : MailError(error.kind, "\(error.message) (\(accepted) of "
                + "\(result.recipients.count) recipients accepted it)", code: error.code)
        }
        return result
    }

    /// The first version's form, for callers that know only the tokens.
    public func reconcile(tokens: [String]) throws -> [String: String] {
        try reconcile(tokens.map { InDoubtAttempt(token: $0) })
    }
}
