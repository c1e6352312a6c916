import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire
import Synchronization

/// Drives a plan: every mailbox through POP3 listing, retrieval and delivery, with the checkpoint kept in the store.
///
/// One mailbox's run, in order (`migrate`): settle what a crash left in doubt (`reconcile`), log in, list and plan
/// (`SourceSession`, `MailboxListing`), fetch each message and deliver it, through the catch-all's routing where the
/// mailbox is one (`MailboxTransfer`, `CatchAllSplitter`), each attempt checkpointed (`Checkpointer`,
/// `CheckpointMachine`), then the retention policy (`Retention`). What comes of it is recorded in a
/// `MailboxLedger`, folded into the mailbox's result at the end.
public final class Runner: Sendable {
    public let plan: Plan
    let store: Store
    let spoolFolder: String
    let observer: (any RunObserver)?
    /// `run --verbose` / `--trace FILE`: every session's commands and replies, secrets redacted by the clients.
    let trace: ProtocolTrace?

    /// `cleanSpool: false` for read-only uses (route previews) that may run beside a run holding the lock.
    public init(
        plan: Plan, store: Store, observer: (any RunObserver)? = nil, cleanSpool: Bool = true,
        trace: ProtocolTrace? = nil
    ) throws {
        self.plan = plan
        self.store = store
        self.observer = observer
        self.trace = trace
        spoolFolder =
            (plan.statePath as NSString).deletingLastPathComponent + "/spool-\(plan.name)"
            + (plan.shard.map { "-shard-\($0.index)-of-\($0.count)" } ?? "")
        do {
            try FileManager.default.createDirectory(
                atPath: spoolFolder, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
            // Spool files are only ever half-way: left behind by a crash, they are fetched again.
            for name in try FileManager.default.contentsOfDirectory(atPath: spoolFolder) where cleanSpool {
                unlink("\(spoolFolder)/\(name)")
            }
        } catch {
            throw MailError(.local, "cannot prepare spool folder \(spoolFolder): \(ErrorText.cause(error))")
        }
    }

    /// Migrates every mailbox of the plan once. Never throws for a mailbox's trouble: that goes into its result.
    public func run(options: RunOptions = RunOptions(), runID: String) -> [MailboxResult] {
        let results = Mutex<[String: MailboxResult]>([:])
        let sources = plan.sources
        let mailboxes = plan.selectedMailboxes
        let pool = WorkerPool(
            jobs: mailboxes, group: { $0.source },
            limit: { sources[$0]?.maxConnections ?? 1 })
        pool.run(threads: min(options.parallel ?? plan.parallel, max(1, mailboxes.count))) { mailbox in
            self.observer?.mailboxStarted(mailbox)
            let result = options.dryRun ? self.preview(mailbox) : self.migrate(mailbox)
            results.withLock { $0[mailbox.key] = result }
            self.observer?.mailboxFinished(result)
        }
        let collected = results.withLock { $0 }
        return mailboxes.compactMap { collected[$0.key] }
    }

    // MARK: - One mailbox

    func migrate(_ mailbox: Plan.Mailbox) -> MailboxResult {
        let started = Date()
        let ledger = MailboxLedger(MailboxResult(key: mailbox.key, address: mailbox.address, target: mailbox.target))
        var mailboxID: Int64?
        do {
            let id = try store.registerMailbox(
                key: mailbox.key, source: mailbox.source, user: mailbox.user,
                target: mailbox.target, address: mailbox.address)
            mailboxID = id
            let run = try mailboxRun(mailbox, id: id, ledger: ledger)
            defer {
                // Whatever stopped the mailbox, staged deliveries are flushed and their checkpoints committed.
                try? run.checkpointer.settle()
                run.targets.closeAll()
            }
            try run.reconcile()
            try run.transferAll()
            try run.checkpointer.settle()
            if ledger.holdsInDoubt && !StopSignal.requested { try askAgain(run) }
            try store.finishPoll(mailbox: id, error: nil)
        } catch  where StopSignal.requested {
            // Stopped by SIGINT/SIGTERM mid-way: not the mailbox's fault. What was in flight is abandoned safely
            // (nothing partial is delivered; an in-doubt attempt is reconciled next run).
            ledger.record(.interrupted(ErrorText.sentence(error)))
        } catch {
            let mailError = error as? MailError ?? MailError(.local, ErrorText.sentence(error))
            ledger.record(.failure(mailError))
            if let mailboxID { try? store.finishPoll(mailbox: mailboxID, error: mailError.message) }
        }
        var result = ledger.result
        result.seconds = Date().timeIntervalSince(started)
        // Where its messages stand now, as `status` counts them: what the run's verdict is made of.
        if let mailboxID {
            do {
                result.standing = try store.standing(mailbox: mailboxID)
            } catch {
                result.standingUnreadable = true
                result.notes.append(
                    "where its messages stand could not be read from the state: \(ErrorText.sentence(error))")
            }
        }
        return result
    }

    /// What is held in doubt is asked about once more at the end: a dead connection's APPEND has had the whole run
    /// to be stored. Not a time bound (nothing is sent again for it), only fewer runs that end with exit 1. A hold
    /// that ran out meanwhile sends its message now, and a catch-all message whose routed delivery was held
    /// (deferred, due at once) is completed once that delivery is found.
    private func askAgain(_ run: MailboxRun) throws {
        run.ledger.record(.askingAgain)
        let reconciled = run.ledger.reconciledCount
        if try run.reconcile() > 0 || (run.mailbox.global != nil && run.ledger.reconciledCount > reconciled) {
            try run.transferAll()
            try run.checkpointer.settle()
        }
    }

    /// The parts of one mailbox's run.
    private func mailboxRun(_ mailbox: Plan.Mailbox, id: Int64, ledger: MailboxLedger) throws -> MailboxRun {
        let targets = TargetPool(traits: try plan.deliveryTraits(for: mailbox, staged: true)) { address in
            try self.makeDelivery(for: mailbox, address: address)
        }
        let checkpointer = Checkpointer(
            store: store, target: mailbox.target, quarantineAfter: plan.quarantineAfter,
            targets: targets, ledger: ledger)
        return MailboxRun(
            plan: plan, store: store, mailbox: mailbox, mailboxID: id, spoolFolder: spoolFolder,
            trace: trace, observer: observer, ledger: ledger, checkpointer: checkpointer,
            splitter: CatchAllSplitter(mailbox, plan: plan))
    }

    /// The delivery into one target mailbox: the mailbox's own address, or for a catch-all one of the addresses its
    /// routing chose. Templates ({mailbox}, {local}, ...) are filled with that address.
    func makeDelivery(for mailbox: Plan.Mailbox, address: String) throws -> any Delivery {
        try plan.delivery(for: mailbox, address: address, trace: trace, staged: true)
    }

    /// The router of a catch-all mailbox (`Plan.router(for:global:)`).
    func router(for mailbox: Plan.Mailbox, global: Plan.GlobalRouting) throws -> Router {
        try plan.router(for: mailbox, global: global)
    }

    /// The token a catch-all message's own row carries while its routed deliveries are under way.
    static let routedToken = "routed"

    /// Backoff for deferred messages (`Disposition.retryTime`), from now.
    static func retryTime(attempts: Int, kind: FailureKind) -> Double {
        Disposition.retryTime(attempts: attempts, kind: kind, now: Date().timeIntervalSince1970)
    }
}
