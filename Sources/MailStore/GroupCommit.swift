import Foundation
import MailCore
import MailSystem

/// The store's receipt for a queued write: `wait()` returns once the write is durable. Opaque to its holder.
package typealias CommitTicket = GroupCommit.Pending

/// Group commit for the state database: the checkpoint writes of concurrent mailbox workers share one transaction
/// and so one COMMIT, one WAL fsync (synchronous = FULL), instead of queueing for an fsync each.
///
/// Nothing is weakened: a caller of `perform` returns only once its write is committed and durable, exactly as with a
/// transaction of its own. Each write runs in its own SAVEPOINT, so one that fails is rolled back alone and only its
/// caller sees the error. Whoever waits while no commit is under way leads the next one, taking every write queued
/// meanwhile (the classic leader/follower group commit: while one fsync is in flight, the next group forms).
///
/// `submit` queues a write without waiting; `Pending.wait()` returns once it is durable. The runner uses that for a
/// "delivered" checkpoint it can afford to have in doubt for a moment (the target answers exactly after a crash),
/// so the commit overlaps the next message's retrieval.
package final class GroupCommit: @unchecked Sendable {
    /// Runs one group's writes inside a transaction of the store's database, and commits it.
    typealias Transaction = (_ writes: (Database) throws -> Void) throws -> Void

    /// One queued write.
    package final class Pending: @unchecked Sendable {
        fileprivate let body: (Database) throws -> Void
        fileprivate let transaction: Transaction
        fileprivate var done = false
        fileprivate var error: (any Error)?
        fileprivate let group: GroupCommit

        fileprivate init(
            body: @escaping (Database) throws -> Void, transaction: @escaping Transaction,
            group: GroupCommit
        ) {
            self.body = body
            self.transaction = transaction
            self.group = group
        }

        /// Returns once the write is committed; throws its error (or the COMMIT's).
        package func wait() throws {
            try group.wait(self)
        }
    }

    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var leading = false
    private var groups = 0
    private var writes = 0

    /// Groups committed so far and the writes they held.
    var statistics: (groups: Int, writes: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (groups, writes)
    }

    /// Queues `body` for the next group and returns at once.
    func submit(_ body: @escaping (Database) throws -> Void, in transaction: @escaping Transaction) -> Pending {
        let job = Pending(body: body, transaction: transaction, group: self)
        condition.lock()
        queue.append(job)
        condition.unlock()
        return job
    }

    fileprivate func wait(_ job: Pending) throws {
        condition.lock()
        while !job.done {
            if leading {
                condition.wait()
                continue
            }
            leading = true
            let batch = queue
            queue = []
            condition.unlock()
            Self.commit(batch)
            condition.lock()
            for finished in batch { finished.done = true }
            groups += 1
            writes += batch.count
            leading = false
            condition.broadcast()
        }
        condition.unlock()
        if let error = job.error { throw error }
    }

    /// BEGIN, every write in its own savepoint, COMMIT. The savepoint statements are prepared once per connection
    /// (one name serves every write: each is released before the next opens).
    private static func commit(_ batch: [Pending]) {
        guard let first = batch.first else { return }
        do {
            try first.transaction { db in
                for job in batch {
                    try db.prepare("SAVEPOINT w").run([])
                    do {
                        try job.body(db)
                        try db.prepare("RELEASE w").run([])
                    } catch {
                        job.error = error
                        try db.prepare("ROLLBACK TO w").run([])
                        try db.prepare("RELEASE w").run([])
                    }
                }
                if batch.count > 1 {
                    // A test may kill the process here: several workers' checkpoints written, none committed.
                    CrashPoint.hit("group-commit")
                }
            }
        } catch {
            for job in batch where job.error == nil { job.error = error }
        }
    }
}
