import MailCore
import MailSystem

/// A message's place in the checkpoint state machine (DESIGN.md "Per-message states").
///
/// `listed → delivering(target, token) → delivered(target ref)`; side exits `deferred`, `failed`, `duplicate`,
/// and `removed` only under a retention policy.
public enum MessageState: String, Sendable, Codable, CaseIterable {
    case listed
    /// Committed before the target is touched; a row left here by a crash is "in doubt" until reconciled.
    case delivering
    case delivered
    case deferred
    case failed
    case duplicate
    case removed
}

/// One row of the messages table, as the runner needs it.
public struct MessageRecord: Sendable, Equatable {
    public var id: Int64
    public var uidl: String
    public var listedSize: Int
    public var state: MessageState
    public var token: String?
    public var targetRef: String?
    public var attempts: Int
    public var firstSeenAt: Double
    /// Bytes retrieved, once known.
    public var size: Int? = nil
    public var messageID: String? = nil
    public var dateHeader: String? = nil
    /// For a routed delivery of a catch-all mailbox: the message it belongs to and its target mailbox.
    public var parentID: Int64? = nil
    public var address: String? = nil
    /// Where the last attempt went (its target's name and mailbox): a row in doubt is settled there.
    public var attemptTarget: String? = nil
    public var attemptAddress: String? = nil
}
