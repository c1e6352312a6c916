import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

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
    /// The UIDL the legacy POP3 server gave this message, for a target that keeps it (`keepPOP3UIDL`): set for a
    /// person's own message from a server with UIDLs, nil for a catch-all's routed copy (the person never had it
    /// under that UIDL) and for a server without UIDLs.
    public var pop3UIDL: String?
    public init(
        token: String, spool: SpoolFile, arrival: Date, sender: String? = nil, recipients: [String] = [],
        flags: [String] = [], mayStage: Bool = false, pop3UIDL: String? = nil
    ) {
        self.token = token
        self.spool = spool
        self.arrival = arrival
        self.sender = sender
        self.recipients = recipients
        self.flags = flags
        self.mayStage = mayStage
        self.pop3UIDL = pop3UIDL
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
    /// The legacy POP3 UIDL to record for the attempt when it is found (`DeliveryRequest.pop3UIDL`).
    public var pop3UIDL: String?

    public init(
        token: String, messageID: String? = nil, size: Int? = nil, dateHeader: String? = nil,
        pop3UIDL: String? = nil
    ) {
        self.token = token
        self.messageID = messageID
        self.size = size
        self.dateHeader = dateHeader
        self.pop3UIDL = pop3UIDL
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

/// What a target can do, as the checkpoint needs to know it: a static description, read once per target. The
/// ordering rules built on it (when "delivering" and "delivered" are committed, when a batch is flushed) live in
/// `CheckpointMachine` and `Checkpointer`, not in the targets.
public struct DeliveryTraits: Sendable, Equatable {
    /// Whether in-doubt attempts can be confirmed, and how.
    public var inDoubt: InDoubtPolicy
    /// Which accepted attempts may have their "delivered" checkpoint committed while the next message is fetched:
    /// only those `reconcile` would find exactly after a crash, so a crash in between cannot cause a second copy.
    public var confirmsLater: ConfirmsLater
    /// How the target stages deliveries (accepts them now, answers for them at `flush`); nil: it stores each
    /// message before it answers.
    public var staging: Staging?

    /// Which accepted attempts are answered exactly after a crash.
    public enum ConfirmsLater: Sendable, Equatable {
        /// Every one (Maildir: the file name derives from the token).
        case always
        /// One the folder can be searched for: every one with the provenance header, else one with a Message-ID,
        /// or a Date header and a size (IMAP).
        case whenSearchable(provenanceHeader: Bool)
        /// None (LMTP, SMTP).
        case never
    }

    /// A target's batches: a batch is due once it holds `messages` or `bytes`, or its first delivery is `seconds`
    /// old.
    public struct Staging: Sendable, Equatable {
        public var messages: Int
        public var bytes: Int
        public var seconds: Double
        /// A staged delivery stays out of sight (nobody can read it, a crash loses it) until `flush`: a Maildir
        /// batch waits in tmp/. Only then may its "delivering" checkpoint ride with the batch, committed before the
        /// flush makes anything visible. An IMAP APPEND is stored on arrival.
        public var unseen: Bool

        public init(messages: Int, bytes: Int, seconds: Double, unseen: Bool) {
            self.messages = messages
            self.bytes = bytes
            self.seconds = seconds
            self.unseen = unseen
        }
    }

    public init(inDoubt: InDoubtPolicy, confirmsLater: ConfirmsLater, staging: Staging? = nil) {
        self.inDoubt = inDoubt
        self.confirmsLater = confirmsLater
        self.staging = staging
    }

    /// Whether this accepted attempt's "delivered" checkpoint may be committed later (see `confirmsLater`).
    public func confirmsLater(_ attempt: InDoubtAttempt) -> Bool {
        switch confirmsLater {
        case .always: return true
        case .never: return false
        case .whenSearchable(let provenanceHeader):
            return provenanceHeader || !(attempt.messageID ?? "").isEmpty
                || (!(attempt.dateHeader ?? "").isEmpty && attempt.size != nil)
        }
    }
}

/// What `flush` does with the staged deliveries.
public enum StagedFate: Sendable {
    /// Makes them durable and visible, and answers for each.
    case land
    /// Drops those staged out of sight without making any visible (their "delivering" checkpoints could not be
    /// committed); a later `flush` or `close` has nothing of them to do.
    case discard
}

/// A target that stores messages for one mailbox. The runner drives every kind through this: one instance per
/// source mailbox, used from one thread, closed when the mailbox is done.
public protocol Delivery: AnyObject {
    /// What the target can do (static for an instance).
    var traits: DeliveryTraits { get }
    /// Stores the message durably, or stages it (only a request that allows it, `mayStage`, to a target made to
    /// stage: `traits.staging`). Throws (with its `FailureKind`) when no recipient got it; returns a result with
    /// per-recipient outcomes when at least one did, or when every recipient was refused one by one (then
    /// `accepted` is empty and each refusal carries its own classification).
    func deliverMessage(_ request: DeliveryRequest) throws -> DeliveryResult
    /// `.land`: makes every staged delivery durable and says how each went, by token: its target reference, or the
    /// error that refused it (the others landed all the same). Throws when that cannot be known (connection lost,
    /// disk failing): then every staged delivery is in doubt, for `reconcile` to answer on the next run.
    /// `.discard`: drops what is staged out of sight. Targets that store each message before answering have
    /// nothing to flush.
    func flush(_ fate: StagedFate) throws -> [String: Result<String, MailError>]
    /// For attempts a crash left in doubt: which of them did land, and where (token → target reference). Absent
    /// tokens did not land, or (policy `unanswerable`) cannot be known.
    func reconcile(_ attempts: [InDoubtAttempt]) throws -> [String: String]
    func close()
}

extension Delivery {
    public var inDoubtPolicy: InDoubtPolicy { traits.inDoubt }
    public var stagesUnseen: Bool { traits.staging?.unseen ?? false }

    /// See `DeliveryTraits.confirmsLater`.
    public func confirmsLater(_ attempt: InDoubtAttempt) -> Bool {
        traits.confirmsLater(attempt)
    }

    /// Lands what is staged (`flush(.land)`).
    public func flush() throws -> [String: Result<String, MailError>] {
        try flush(.land)
    }

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
            throw accepted == 0
                ? error
                : MailError(
                    error.kind,
                    "\(error.message) (\(accepted) of "
                        + "\(result.recipients.count) recipients accepted it)", code: error.code)
        }
        return result
    }

    /// The first version's form, for callers that know only the tokens.
    public func reconcile(tokens: [String]) throws -> [String: String] {
        try reconcile(tokens.map { InDoubtAttempt(token: $0) })
    }
}
