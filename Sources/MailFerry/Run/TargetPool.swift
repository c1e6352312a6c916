import Foundation
import MailCore
import MailSystem
import MailWire
import MailStore

/// The deliveries one mailbox run uses, one per target mailbox address: a person's mailbox has one, a catch-all
/// mailbox fans out to several. Each is opened on first use (so an IMAP connection is reused across messages for
/// the same mailbox) and all are closed when the mailbox is done.
final class TargetPool {
    private let make: (String) throws -> any Delivery
    private var open: [String: any Delivery] = [:]
    /// "delivered" checkpoints still being committed (group commit) while the mailbox run goes on; see
    /// `Runner.attempt`.
    private var committing: [GroupCommit.Pending] = []
    /// Deliveries a target staged (Maildir batches, IMAP pipelined APPENDs): their "delivered" checkpoint is
    /// queued only once the target's `flush` answered for them, since until then a crash may lose them from the
    /// target.
    private var awaitingFlush: [Staged] = []

    /// A staged delivery: the row it settles, its "delivering" checkpoint when that is still being committed (see
    /// `Delivery.stagesUnseen`), and how to commit "delivered" once the target gave its reference.
    struct Staged {
        var token: String
        var row: MessageRecord
        var size: Int
        var delivering: GroupCommit.Pending?
        var confirm: (String) -> GroupCommit.Pending
    }

    /// A staged delivery the flush did not confirm: refused by the target (`error`), or in doubt (`error` nil: the
    /// flush failed as a whole; the row stays "delivering" for the next run's reconciliation).
    struct Unconfirmed {
        var row: MessageRecord
        var size: Int
        var error: MailError?
    }

    /// What a flush left to the runner: deliveries not confirmed, and the failure that stopped it, if any.
    struct FlushOutcome {
        var unconfirmed: [Unconfirmed] = []
        var failure: (any Error)?
    }

    init(make: @escaping (String) throws -> any Delivery) {
        self.make = make
    }

    /// The delivery for `address` if it is open already.
    func opened(for address: String) -> (any Delivery)? {
        open[address]
    }

    func delivery(for address: String) throws -> any Delivery {
        if let existing = open[address] { return existing }
        let created = try make(address)
        open[address] = created
        return created
    }

    /// Queues the "delivered" checkpoint of a delivery the target answered for, for the next group commit.
    func confirmLater(_ checkpoint: GroupCommit.Pending) {
        committing.append(checkpoint)
    }

    /// Holds the checkpoint of a delivery the target staged until the target's flush answers for it.
    func awaitFlush(_ staged: Staged) {
        awaitingFlush.append(staged)
    }

    /// Between messages: flushes staged deliveries whose batch is due. The "delivered" checkpoints already queued
    /// are waited for once `maxUnconfirmed` have gathered: until then they ride in whatever group commits next
    /// (another worker's, or this mailbox's next "delivering" checkpoint or flush), so a Maildir batch costs one
    /// commit, not two. Each is in doubt until then, which only targets that answer exactly after a crash allow
    /// (`Delivery.confirmsLater`); `settleCheckpoints` waits for all.
    func keepUp() -> FlushOutcome {
        var outcome = FlushOutcome()
        if open.values.contains(where: { $0.flushDue }) { outcome = flushStaged() }
        if committing.count >= Self.maxUnconfirmed { waitForCommits(&outcome) }
        return outcome
    }

    /// Queued "delivered" checkpoints `keepUp` lets gather before it waits for them: two Maildir batches.
    static let maxUnconfirmed = 2 * MaildirDelivery.runBatch

    /// Flushes the staged deliveries whose batch is due, without waiting for any commit: before a retrieval that
    /// may take long, so staged messages do not wait behind it.
    func flushIfDue() -> FlushOutcome {
        open.values.contains(where: { $0.flushDue }) ? flushStaged() : FlushOutcome()
    }

    /// Flushes every staged delivery and waits until every "delivered" checkpoint is committed.
    func settleCheckpoints() -> FlushOutcome {
        var outcome = flushStaged()
        waitForCommits(&outcome)
        return outcome
    }

    private func flushStaged() -> FlushOutcome {
        guard !awaitingFlush.isEmpty else { return FlushOutcome() }
        let waiting = awaitingFlush
        awaitingFlush = []
        var answers: [String: Result<String, MailError>] = [:]
        do {
            // Nothing becomes visible in a target before its "delivering" checkpoint is durable: a crash after the
            // flush must leave every message found there known to the next run's reconciliation.
            for staged in waiting {
                guard let delivering = staged.delivering else { continue }
                try delivering.wait()
                CrashPoint.hit("after-delivering-commit")
            }
        } catch {
            for delivery in open.values where delivery.staged > 0 { delivery.discardStaged() }
            return FlushOutcome(unconfirmed: waiting.map { Unconfirmed(row: $0.row, size: $0.size, error: nil) },
                                failure: error)
        }
        do {
            for delivery in open.values where delivery.staged > 0 {
                answers.merge(try delivery.flush()) { $1 }
            }
        } catch {
            return FlushOutcome(unconfirmed: waiting.map { Unconfirmed(row: $0.row, size: $0.size, error: nil) },
                                failure: error)
        }
        var outcome = FlushOutcome()
        for staged in waiting {
            switch answers[staged.token] {
            case .success(let reference)?:
                // Each acknowledged delivery, before its checkpoint is queued (a Maildir batch is acknowledged as
                // a whole: all of it is durable at its first hit).
                CrashPoint.hit("after-target-ack")
                committing.append(staged.confirm(reference))
            case .failure(let error)?:
                outcome.unconfirmed.append(Unconfirmed(row: staged.row, size: staged.size, error: error))
            case nil:
                outcome.unconfirmed.append(Unconfirmed(row: staged.row, size: staged.size, error: nil))
            }
        }
        return outcome
    }

    private func waitForCommits(_ outcome: inout FlushOutcome) {
        let waiting = committing
        committing = []
        for checkpoint in waiting {
            do {
                try checkpoint.wait()
            } catch {
                outcome.failure = outcome.failure ?? error
            }
        }
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
