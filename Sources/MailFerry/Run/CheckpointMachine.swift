import MailCore
import MailStore
import MailSystem
import MailWire

/// The checkpoint of one delivery attempt, as a state machine: events in, the actions to take out. It owns the
/// order "delivering durable → target → delivered" (design.md, "Per-message states") and says where the crash
/// points are hit; `Checkpointer` carries the actions out against the store and the target. No I/O here, so every
/// event can be fed in every state by a test.
///
/// An attempt carries one row (a message, or one routed delivery of a catch-all message) or, for an LMTP/SMTP
/// transaction to several routed recipients, one row per recipient: actions name the row by its index.
struct CheckpointMachine: Equatable {
    /// How the attempt's commits are ordered around the target, from what the target can do (`DeliveryTraits`).
    enum Mode: Equatable {
        /// "delivering" committed before the target is touched, "delivered" committed before going on: the target
        /// cannot be asked exactly after a crash (LMTP, SMTP, an IMAP message that cannot be searched for).
        case waitEach
        /// The same, but "delivered" rides with a later group commit: the target answers exactly after a crash.
        case confirmLater
        /// The target may stage the message and answer for it at its flush (IMAP pipelined APPEND); "delivering"
        /// is committed before.
        case staged
        /// The target stages the message out of sight (a Maildir batch in tmp/): "delivering" rides with the
        /// batch and is waited for before the flush makes anything visible.
        case stagedUnseen

        /// The mode for an attempt at a target with `traits`. `opened`: the target is open already (the first
        /// message of a mailbox opens it after its checkpoint is durable, so it never rides with a batch);
        /// `confirmsLater`: the target answers exactly for this message after a crash; `mayStage` is false for
        /// routed deliveries.
        static func choose(_ traits: DeliveryTraits, opened: Bool, confirmsLater: Bool, mayStage: Bool) -> Mode {
            guard confirmsLater else { return .waitEach }
            guard mayStage, let staging = traits.staging else { return .confirmLater }
            return staging.unseen && opened ? .stagedUnseen : .staged
        }
    }

    enum State: Equatable {
        case ready
        /// "delivering" submitted, not yet waited for (`stagedUnseen` only); the target is being asked.
        case deliveringQueued
        /// "delivering" durable; the target is being asked.
        case delivering
        /// In the target out of sight, "delivering" perhaps not yet durable.
        case stagedUnseen
        /// In the target, answered for at its flush.
        case staged
        /// Acknowledged; "delivered" queued for a later group commit.
        case confirming
        /// Settled: delivered (committed), or refused and disposed of.
        case done
        /// Stays "delivering" for the next run's reconciliation.
        case inDoubt
    }

    /// The crash points of the checkpoint (`CrashPoint`), hit where a test may kill the process.
    enum CrashSite: String, Equatable {
        /// Every "delivering" of the attempt is durable, the target not yet touched (or, staged unseen, not yet
        /// made visible).
        case afterDeliveringCommit = "after-delivering-commit"
        /// The target acknowledged, "delivered" not yet written.
        case afterTargetAck = "after-target-ack"
    }

    enum Action: Equatable {
        /// Commit "delivering" for every row, waiting for each.
        case commitDelivering
        /// Queue "delivering" with the next group commit and keep its ticket.
        case queueDelivering
        /// Wait until the queued "delivering" is durable.
        case waitDelivering
        case crash(CrashSite)
        /// Hand the message to the target (opening it on first use); it may stage it only if `mayStage`.
        case deliver(mayStage: Bool)
        /// Keep the staged delivery until the target's flush answers for it.
        case holdForFlush
        /// Commit "delivered" and wait for it.
        case commitDelivered(row: Int, reference: String)
        /// Queue "delivered" with the next group commit.
        case queueDelivered(row: Int, reference: String)
        /// The target refused the row: dispose of it (`Disposition`).
        case settle(row: Int, MailError)
        /// The answer was lost after the whole message was sent: the rows stay "delivering"; report the error.
        case reportInDoubt(MailError)
        /// A staged delivery the flush could not answer for stays "delivering": count it as pending.
        case leavePending
        /// The mailbox stops here (the error is the target's trouble, or the connection is gone).
        case stop(MailError)
    }

    let mode: Mode
    let rows: Int
    private(set) var state = State.ready

    init(mode: Mode, rows: Int = 1) {
        precondition(rows >= 1 && (rows == 1 || mode == .waitEach), "only an unstaged attempt carries several rows")
        self.mode = mode
        self.rows = rows
    }

    /// The attempt starts: write the attempt before the act.
    mutating func start() -> [Action] {
        guard state == .ready else { invalid("start") }
        if mode == .stagedUnseen {
            state = .deliveringQueued
            return [.queueDelivering, .deliver(mayStage: true)]
        }
        state = .delivering
        return [
            .commitDelivering, .crash(.afterDeliveringCommit),
            .deliver(mayStage: mode == .staged),
        ]
    }

    /// The target staged the message; its answer comes with the flush.
    mutating func targetStaged() -> [Action] {
        switch (state, mode) {
        case (.deliveringQueued, _): state = .stagedUnseen
        case (.delivering, .staged): state = .staged
        default: invalid("targetStaged")
        }
        return [.holdForFlush]
    }

    /// The target answered, one answer per row (an LMTP transaction may refuse some recipients).
    mutating func targetAnswered(_ answers: [Result<String, MailError>]) -> [Action] {
        guard state == .delivering || state == .deliveringQueued, answers.count == rows else {
            invalid("targetAnswered")
        }
        // Not staged after all: the "delivering" riding with a batch is waited for before going on.
        var actions: [Action] = state == .deliveringQueued ? [.waitDelivering] : []
        actions.append(.crash(.afterTargetAck))
        var queued = false
        for (row, answer) in answers.enumerated() {
            switch answer {
            case .success(let reference) where mode == .waitEach:
                actions.append(.commitDelivered(row: row, reference: reference))
            case .success(let reference):
                actions.append(.queueDelivered(row: row, reference: reference))
                queued = true
            case .failure(let error):
                actions.append(.settle(row: row, error))
            }
        }
        state = queued ? .confirming : .done
        return actions
    }

    /// The target refused the message for every row. A target in trouble stops the mailbox.
    mutating func targetRefused(_ error: MailError) -> [Action] {
        guard state == .delivering || state == .deliveringQueued else { invalid("targetRefused") }
        state = .done
        return (0..<rows).map { Action.settle(row: $0, error) } + (error.kind.isTargetTrouble ? [.stop(error)] : [])
    }

    /// The whole message was sent, its answer lost: the target may have stored it. The connection is gone.
    mutating func targetLeftInDoubt(_ error: MailError) -> [Action] {
        guard state == .delivering || state == .deliveringQueued else { invalid("targetLeftInDoubt") }
        let wait: [Action] = state == .deliveringQueued ? [.waitDelivering] : []
        state = .inDoubt
        return wait + [.reportInDoubt(error), .stop(error)]
    }

    /// The target's batch is about to be flushed: nothing becomes visible before its "delivering" is durable.
    mutating func flushStarts() -> [Action] {
        switch state {
        case .stagedUnseen:
            state = .staged
            return [.waitDelivering, .crash(.afterDeliveringCommit)]
        case .staged:
            return []
        default:
            invalid("flushStarts")
        }
    }

    /// The flush answered for this delivery: its reference, its refusal, or nothing (in doubt).
    mutating func flushAnswered(_ answer: Result<String, MailError>?) -> [Action] {
        guard state == .staged else { invalid("flushAnswered") }
        switch answer {
        case .success(let reference)?:
            // Each acknowledged delivery, before its checkpoint is queued (a Maildir batch is acknowledged as a
            // whole: all of it is durable at its first hit).
            state = .confirming
            return [.crash(.afterTargetAck), .queueDelivered(row: 0, reference: reference)]
        case .failure(let error)?:
            state = .done
            return [.settle(row: 0, error)] + (error.kind.isTargetTrouble ? [.stop(error)] : [])
        case nil:
            state = .inDoubt
            return [.leavePending]
        }
    }

    /// The flush failed as a whole, or a "delivering" of its batch could not be committed (then the batch is
    /// discarded unseen): the delivery stays "delivering".
    mutating func flushFailed() -> [Action] {
        guard state == .staged || state == .stagedUnseen else { invalid("flushFailed") }
        state = .inDoubt
        return [.leavePending]
    }

    /// The queued "delivered" is durable.
    mutating func deliveredCommitted() -> [Action] {
        guard state == .confirming else { invalid("deliveredCommitted") }
        state = .done
        return []
    }

    /// The queued "delivered" could not be committed: the row stays "delivering", found by the next run (the
    /// commit's error stops the mailbox).
    mutating func deliveredFailed() -> [Action] {
        guard state == .confirming else { invalid("deliveredFailed") }
        state = .inDoubt
        return []
    }

    private func invalid(_ event: String) -> Never {
        preconditionFailure("checkpoint: \(event) in state \(state) (mode \(mode))")
    }
}

extension MailError: Equatable {
    /// Two errors are the same when kind, message and code are (actions compare their errors).
    public static func == (lhs: MailError, rhs: MailError) -> Bool {
        lhs.kind == rhs.kind && lhs.message == rhs.message && lhs.code == rhs.code
    }
}
