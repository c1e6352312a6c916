import Foundation

/// The deliveries one mailbox run uses, one per target mailbox address: a person's mailbox has one, a catch-all
/// mailbox fans out to several. Each is opened on first use (so an IMAP connection is reused across messages for
/// the same mailbox) and all are closed when the mailbox is done.
final class TargetPool {
    private let make: (String) throws -> any Delivery
    private var open: [String: any Delivery] = [:]
    /// "delivered" checkpoints still being committed (group commit) while the mailbox run goes on; see
    /// `Runner.attempt`.
    private var committing: [GroupCommit.Pending] = []

    init(make: @escaping (String) throws -> any Delivery) {
        self.make = make
    }

    func delivery(for address: String) throws -> any Delivery {
        if let existing = open[address] { return existing }
        let created = try make(address)
        open[address] = created
        return created
    }

    func confirmLater(_ checkpoint: GroupCommit.Pending) {
        committing.append(checkpoint)
    }

    /// Returns once every "delivered" checkpoint handed to `confirmLater` is committed; throws if one failed.
    func settleCheckpoints() throws {
        let waiting = committing
        committing = []
        for checkpoint in waiting { try checkpoint.wait() }
    }

    func closeAll() {
        for delivery in open.values { delivery.close() }
        open.removeAll()
    }
}

/// What the state database keeps of a message's envelope: the recovered envelope with provenance, and for a
/// catch-all mailbox the routing decision.
struct StoredEnvelope: Codable {
    var envelope: RecoveredEnvelope
    var routing: RoutingDecision?

    func json() -> String {
        if let written = handWrittenJSON() { return written }
        return encodedJSON()
    }

    /// What `json()` writes, through `JSONEncoder`: the form for a routing decision, and the reference the hand
    /// writer is tested against.
    func encodedJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
