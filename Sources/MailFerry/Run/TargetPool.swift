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
    /// "delivered" checkpoints of deliveries still staged in their target (Maildir batches): submitted only once
    /// the target flushed them, since until then a crash loses them from the target.
    private var awaitingFlush: [() -> GroupCommit.Pending] = []

    init(make: @escaping (String) throws -> any Delivery) {
        self.make = make
    }

    func delivery(for address: String) throws -> any Delivery {
        if let existing = open[address] { return existing }
        let created = try make(address)
        open[address] = created
        return created
    }

    /// Commits the "delivered" checkpoint of a delivery `delivery` accepted: queued for the next group commit now, or,
    /// while the delivery is staged in its target, once the target flushed it.
    func confirmLater(_ delivery: any Delivery, _ checkpoint: @escaping () -> GroupCommit.Pending) {
        if delivery.staged > 0 {
            awaitingFlush.append(checkpoint)
        } else {
            committing.append(checkpoint())
        }
    }

    /// Between messages: flushes staged deliveries whose batch is due, and waits for the checkpoints already queued
    /// (the previous message's commit ran while this one was fetched).
    func keepUp() throws {
        if open.values.contains(where: { $0.flushDue }) { try flushStaged() }
        try waitForCommits()
    }

    /// Returns once every delivery is flushed and every "delivered" checkpoint handed to `confirmLater` is
    /// committed; throws if one failed.
    func settleCheckpoints() throws {
        try flushStaged()
        try waitForCommits()
    }

    private func flushStaged() throws {
        guard !awaitingFlush.isEmpty else { return }
        let waiting = awaitingFlush
        // On failure the checkpoints are dropped: those messages stay "delivering", in doubt, for the next run's
        // reconciliation to find in the target or deliver again.
        awaitingFlush = []
        for delivery in open.values { try delivery.flush() }
        CrashPoint.hit("after-target-ack")
        committing.append(contentsOf: waiting.map { $0() })
    }

    private func waitForCommits() throws {
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
