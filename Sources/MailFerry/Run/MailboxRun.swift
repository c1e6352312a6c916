import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// What the parts of one mailbox's run share: the mailbox, its row, its targets and checkpoints, and the ledger its
/// outcomes go into. The flow that uses them is `Runner.migrate`.
struct MailboxRun {
    let plan: Plan
    let store: Store
    let mailbox: Plan.Mailbox
    let mailboxID: Int64
    let spoolFolder: String
    let trace: ProtocolTrace?
    let observer: (any RunObserver)?
    let ledger: MailboxLedger
    let checkpointer: Checkpointer
    /// A catch-all mailbox's routing, built once for the mailbox.
    let splitter: CatchAllSplitter?

    var targets: TargetPool { checkpointer.targets }

    /// The LOGIN-DELAY memory of this mailbox.
    var pacing: SourceSession.Pacing { SourceSession.Pacing(store: store, mailboxID: mailboxID) }

    /// The delivery token of `uidl` from the mailbox (or routed delivery) `key`.
    func token(key: String, uidl: String, message: FetchedMessage) -> String {
        DeliveryIdentity(plan: plan.name, mailboxKey: key, uidl: uidl).token(
            sha256: message.spool.sha256,
            arrival: message.envelope)
    }
}

/// A retrieved message and what was recovered of its envelope.
struct FetchedMessage {
    var spool: SpoolFile
    var envelope: RecoveredEnvelope
    var messageID: String?
    var dateHeader: String?
    /// The legacy UIDL a target that keeps them records (`keepPOP3UIDL`): a person's own message only.
    var pop3UIDL: String? = nil
}
