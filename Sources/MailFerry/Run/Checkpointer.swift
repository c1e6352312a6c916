import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// Carries out the checkpoint of a mailbox's delivery attempts (`CheckpointMachine`) against the store and the
/// targets: one machine per attempt, fed the target's answers; staged deliveries held until their target's batch
/// is flushed; queued "delivered" checkpoints waited for. Every commit goes through the store's group commit
/// (shared with the other mailboxes' workers, one fsync per group); the store hands out a `CommitTicket` for a
/// write that is queued, not waited for.
///
/// Outcomes go into the mailbox's ledger once they are final: a staged delivery when its flush answered for it.
final class Checkpointer {
    /// One row of an attempt.
    struct Row {
        var record: MessageRecord
        /// The target mailbox it goes to.
        var address: String
        var token: String
        /// What the ledger records once the row is delivered.
        var credit: MailboxLedger.Outcome
        /// The POP3 message it belongs to.
        var message: Int
    }

    /// How a row of an attempt came out, as far as the attempt knows.
    enum RowResult: Equatable {
        case delivered
        /// Staged: its outcome is recorded when the flush answered for it.
        case staged
        case settled(Disposition)
    }

    /// A staged delivery, until the flush answers for it.
    private struct Held {
        var machine: CheckpointMachine
        var row: Row
        var size: Int
        /// Its "delivering" checkpoint, while that is still being committed (staged unseen).
        var delivering: CommitTicket?
    }

    /// A target's batch since its last flush.
    private struct Batch {
        var messages = 0
        var bytes = 0
        var since = 0.0
        /// The target answered something else meanwhile (a delivery it did not stage, a refusal): its pipeline is
        /// broken up, so its staged answers are heard at once.
        var interrupted = false
    }

    let targets: TargetPool
    private let store: Store
    /// The plan's target the attempts go to (recorded with each attempt).
    private let target: String
    private let quarantineAfter: Int
    private let ledger: MailboxLedger
    private var held: [Held] = []
    private var batches: [String: Batch] = [:]
    /// Queued "delivered" checkpoints.
    private var confirming: [(machine: CheckpointMachine, ticket: CommitTicket)] = []

    /// Queued "delivered" checkpoints `keepUp` lets gather before it waits for them: two Maildir batches.
    static let maxUnconfirmed = 64

    init(store: Store, target: String, quarantineAfter: Int, targets: TargetPool, ledger: MailboxLedger) {
        self.store = store
        self.target = target
        self.quarantineAfter = quarantineAfter
        self.targets = targets
        self.ledger = ledger
    }

    // MARK: - Attempts

    /// One delivery attempt of `message` for `rows` (one, or one per recipient of an LMTP/SMTP transaction):
    /// "delivering" before the target is touched, "delivered" after it confirmed. Refusals are disposed of here; a
    /// target in trouble, or an answer lost after the whole message was sent, throws (the mailbox stops).
    ///
    /// `mayStage` (a person's own mailbox, never a routed delivery): the target may stage the message (a Maildir
    /// batch, a pipelined IMAP APPEND); its checkpoint is then settled once the target's flush answered for it.
    func attempt(
        _ rows: [Row], message: FetchedMessage, envelope: Store.EnvelopeColumns,
        mayStage: Bool
    ) throws -> [RowResult] {
        try keepUp()
        let asked = InDoubtAttempt(
            token: rows[0].token, messageID: message.messageID, size: message.spool.size,
            dateHeader: message.dateHeader)
        let mode = CheckpointMachine.Mode.choose(
            targets.traits, opened: targets.opened(for: rows[0].address) != nil,
            confirmsLater: targets.traits.confirmsLater(asked), mayStage: mayStage)
        var machine = CheckpointMachine(mode: mode, rows: rows.count)
        var delivering: CommitTicket?
        var results = [RowResult](repeating: .staged, count: rows.count)
        var actions = machine.start()
        var stop: MailError?
        while !actions.isEmpty {
            switch actions.removeFirst() {
            case .commitDelivering:
                for row in rows { try markDelivering(row, message.spool, envelope).wait() }
            case .queueDelivering:
                delivering = markDelivering(rows[0], message.spool, envelope)
            case .waitDelivering:
                try delivering?.wait()
            case .crash(let site):
                CrashPoint.hit(site.rawValue)
            case .deliver(let mayStage):
                actions += try send(rows, message, mayStage: mayStage, machine: &machine)
            case .holdForFlush:
                hold(Held(machine: machine, row: rows[0], size: message.spool.size, delivering: delivering))
            case .commitDelivered(let index, let reference):
                try store.markDelivered(id: rows[index].record.id, targetRef: reference)
                results[index] = credit(rows[index])
            case .queueDelivered(let index, let reference):
                confirming.append((machine, store.markDeliveredLater(id: rows[index].record.id, targetRef: reference)))
                results[index] = credit(rows[index])
            case .settle(let index, let error):
                results[index] = .settled(try dispose(rows[index], error, naming: rows.count > 1))
            case .reportInDoubt(let error):
                ledger.record(.messageError("message \(sanitizeForDisplay(rows[0].record.uidl)): \(error.message)"))
            case .leavePending:
                ledger.record(.pending(1), for: rows[0].message)
            case .stop(let error):
                stop = stop ?? error
            }
        }
        if let stop { throw stop }
        return results
    }

    /// Hands the message to the target and feeds its answer to the machine.
    private func send(
        _ rows: [Row], _ message: FetchedMessage, mayStage: Bool,
        machine: inout CheckpointMachine
    ) throws -> [CheckpointMachine.Action] {
        let address = rows[0].address
        do {
            let delivery = try targets.delivery(for: address)
            var request = DeliveryRequest(
                token: rows[0].token, spool: message.spool, arrival: message.envelope.arrival,
                sender: message.envelope.sender, mayStage: mayStage,
                pop3UIDL: rows.count == 1 ? message.pop3UIDL : nil)
            guard rows.count > 1 else {
                let outcome = try delivery.deliverToAll(request)
                if outcome.staged { return machine.targetStaged() }
                interruptBatch(address)
                return machine.targetAnswered([.success(outcome.reference)])
            }
            request.recipients = rows.map(\.address)
            let answers = try delivery.deliverMessage(request).recipients
            return machine.targetAnswered(
                rows.indices.map { index in
                    guard index < answers.count else {
                        return .failure(MailError(.protocol, "the server gave no answer for \(rows[index].address)"))
                    }
                    return answers[index].error.map { .failure($0) } ?? .success(answers[index].reply)
                })
        } catch let error as MailError where error.code == .inDoubt {
            // The target may have stored it: the rows stay "delivering" for the next run's reconciliation (which
            // finds it, or delivers it again and, where the target cannot be asked, lists a possible duplicate).
            return machine.targetLeftInDoubt(error)
        } catch let error as MailError {
            interruptBatch(address)
            return machine.targetRefused(error)
        }
    }

    private func markDelivering(_ row: Row, _ spool: SpoolFile, _ envelope: Store.EnvelopeColumns) -> CommitTicket {
        store.markDeliveringLater(
            id: row.record.id, target: target, address: row.address, token: row.token,
            size: spool.size, sha256: spool.sha256, envelope: envelope)
    }

    private func credit(_ row: Row) -> RowResult {
        ledger.record(row.credit, for: row.message)
        return .delivered
    }

    /// A refused row: failed for good, deferred, or set aside (`Disposition`). `naming`: the error names the row's
    /// mailbox (one of several recipients of one transaction).
    @discardableResult
    func dispose(_ row: Row, _ error: MailError, naming: Bool = false) throws -> Disposition {
        let whom = naming ? " for \(row.address)" : ""
        ledger.record(.messageError("message \(sanitizeForDisplay(row.record.uidl))\(whom): \(error.message)"))
        // `attempts` counted this attempt already when it went through "delivering".
        let attempts = row.record.attempts + 1
        let disposition = Disposition.of(
            error.kind, attempts: attempts, quarantineAfter: quarantineAfter,
            now: Date().timeIntervalSince1970)
        try store.record(disposition, id: row.record.id, kind: error.kind, error: error.message, countAttempt: false)
        ledger.record(.settled(disposition), for: row.message)
        return disposition
    }

    // MARK: - Batches

    private func hold(_ staged: Held) {
        var batch = batches[staged.row.address] ?? Batch()
        if batch.messages == 0 { batch.since = monotonicSeconds() }
        batch.messages += 1
        batch.bytes += staged.size
        batches[staged.row.address] = batch
        held.append(staged)
    }

    private func interruptBatch(_ address: String) {
        guard batches[address].map({ $0.messages > 0 }) == true else { return }
        batches[address]?.interrupted = true
    }

    /// Whether a target's batch should be flushed now (full, large or old enough, or interrupted).
    private var flushDue: Bool {
        guard let staging = targets.traits.staging else { return false }
        let now = monotonicSeconds()
        return batches.values.contains { batch in
            batch.messages > 0
                && (batch.interrupted || batch.messages >= staging.messages
                    || batch.bytes >= staging.bytes || now - batch.since >= staging.seconds)
        }
    }

    /// Between messages: flushes staged deliveries once a batch is due. The "delivered" checkpoints already queued
    /// are waited for once `maxUnconfirmed` have gathered: until then they ride in whatever group commits next
    /// (another worker's, or this mailbox's next "delivering" checkpoint or flush), so a Maildir batch costs one
    /// commit, not two. Each is in doubt until then, which only targets that answer exactly after a crash allow;
    /// `settle` waits for all.
    func keepUp() throws {
        var failure: (any Error)? = nil
        let trouble = flushDue ? flushHeld(&failure) : nil
        if confirming.count >= Self.maxUnconfirmed { waitForCommits(&failure) }
        if let failure { throw failure }
        if let trouble { throw trouble }
    }

    /// Flushes the staged deliveries whose batch is due, without waiting for any commit: before a retrieval that
    /// may take long, so staged messages do not wait behind it.
    func flushIfDue() throws {
        guard flushDue else { return }
        var failure: (any Error)? = nil
        let trouble = flushHeld(&failure)
        if let failure { throw failure }
        if let trouble { throw trouble }
    }

    /// Flushes everything staged and waits until every checkpoint is committed.
    func settle() throws {
        var failure: (any Error)? = nil
        let trouble = flushHeld(&failure)
        waitForCommits(&failure)
        if let failure { throw failure }
        if let trouble { throw trouble }
    }

    /// Flushes every staged delivery; returns the first refusal that was the target's trouble. Nothing becomes
    /// visible in a target before its "delivering" checkpoint is durable: a crash after the flush must leave every
    /// message found there known to the next run's reconciliation.
    private func flushHeld(_ failure: inout (any Error)?) -> MailError? {
        guard !held.isEmpty else { return nil }
        var waiting = held
        held = []
        batches = [:]
        let addresses = Array(Set(waiting.map(\.row.address))).sorted()
        do {
            for index in waiting.indices {
                for action in waiting[index].machine.flushStarts() {
                    try perform(action, waiting[index])
                }
            }
        } catch {
            if targets.traits.staging?.unseen == true {
                for address in addresses { _ = try? targets.opened(for: address)?.flush(.discard) }
            }
            return leaveAll(&waiting, failure: error, into: &failure)
        }
        var answers: [String: Result<String, MailError>] = [:]
        do {
            for address in addresses {
                if let delivery = targets.opened(for: address) { answers.merge(try delivery.flush(.land)) { $1 } }
            }
        } catch {
            return leaveAll(&waiting, failure: error, into: &failure)
        }
        var trouble: MailError?
        for index in waiting.indices {
            for action in waiting[index].machine.flushAnswered(answers[waiting[index].row.token]) {
                do {
                    if case .stop(let error) = action {
                        trouble = trouble ?? error
                    } else {
                        try perform(action, waiting[index])
                    }
                } catch {
                    failure = failure ?? error
                }
            }
        }
        return trouble
    }

    /// The flush failed as a whole: every staged delivery stays "delivering", pending.
    private func leaveAll(_ waiting: inout [Held], failure error: any Error, into failure: inout (any Error)?)
        -> MailError?
    {
        for index in waiting.indices {
            for action in waiting[index].machine.flushFailed() { try? perform(action, waiting[index]) }
        }
        failure = failure ?? error
        return nil
    }

    /// One action of a staged delivery's machine.
    private func perform(_ action: CheckpointMachine.Action, _ staged: Held) throws {
        switch action {
        case .waitDelivering:
            try staged.delivering?.wait()
        case .crash(let site):
            CrashPoint.hit(site.rawValue)
        case .queueDelivered(_, let reference):
            let ticket = store.markDeliveredLater(id: staged.row.record.id, targetRef: reference)
            confirming.append((staged.machine, ticket))
            ledger.record(staged.row.credit, for: staged.row.message)
        case .settle(_, let error):
            try dispose(staged.row, error)
        case .leavePending:
            ledger.record(.pending(1), for: staged.row.message)
        default:
            preconditionFailure("checkpoint: \(action) for a staged delivery")
        }
    }

    private func waitForCommits(_ failure: inout (any Error)?) {
        let waiting = confirming
        confirming = []
        for (confirmed, ticket) in waiting {
            var machine = confirmed
            do {
                try ticket.wait()
                _ = machine.deliveredCommitted()
            } catch {
                _ = machine.deliveredFailed()
                failure = failure ?? error
            }
        }
    }

    /// Holds a staged delivery whose "delivering" checkpoint the caller queued (tests drive batches this way).
    func holdStaged(_ row: Row, size: Int, delivering: CommitTicket?) {
        var machine = CheckpointMachine(mode: delivering == nil ? .staged : .stagedUnseen)
        _ = machine.start()
        _ = machine.targetStaged()
        hold(Held(machine: machine, row: row, size: size, delivering: delivering))
    }
}
