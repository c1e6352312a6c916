import Foundation
import MailCore
import MailSystem
import Synchronization

/// The state database: which messages of which mailbox are where. Safe to share between worker threads; every
/// method is one short critical section, and every state change is committed (synchronous=FULL, WAL) before the
/// method returns, so it survives a crash of this process or of the machine.
public final class Store: Sendable {
    let database: Mutex<Database>
    /// Idle connections for the reads a worker makes per message: a read must not wait (spinning on a mutex) while
    /// another worker's group commit holds `database` through its fsync, nor while another worker reads. WAL lets
    /// each read the last commit. One is opened per concurrent reader, so at most one per worker.
    private let readers: Mutex<[Database]>
    private let commits = GroupCommit()
    public let path: String

    /// Opens or creates the store at `path` and brings its schema up to date.
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        }
        let db = try Database(path: path)
        try db.execute("PRAGMA journal_mode = WAL")
        try db.execute("PRAGMA synchronous = FULL")
        try db.execute("PRAGMA foreign_keys = ON")
        // A checkpoint's savepoint journal (the pages it changed, kept to roll back just that write) and the small
        // temporary tables of IN lists and CHECK constraints stay in memory: on disk they had cost ~13 writes to
        // temporary files per message. Each is released with its write, so this stays small.
        try db.execute("PRAGMA temp_store = MEMORY")
        try Store.migrate(db)
        database = Mutex(db)
        readers = Mutex([try Store.openReader(path: path)])
    }

    private static func openReader(path: String) throws -> Database {
        let reader = try Database(path: path)
        try reader.execute("PRAGMA foreign_keys = ON")
        try reader.execute("PRAGMA temp_store = MEMORY")
        return reader
    }

    /// Runs `body` on an idle reader connection, opening another when every one is busy.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        let reader = try readers.withLock { $0.popLast() } ?? Store.openReader(path: path)
        defer { readers.withLock { $0.append(reader) } }
        return try body(reader)
    }

    static func migrate(_ db: Database) throws {
        let version = try db.prepare("PRAGMA user_version").rows { Int($0.int(0)) }.first ?? 0
        if version > Schema.currentVersion {
            throw DatabaseError(
                code: 0,
                message: "state database \(db.path) has schema version \(version), newer "
                    + "than this mailferry knows (\(Schema.currentVersion)); use a newer mailferry")
        }
        for next in version..<Schema.currentVersion {
            try db.transaction {
                try db.execute(Schema.migrations[next])
                try db.execute("PRAGMA user_version = \(next + 1)")
            }
        }
    }

    public var schemaVersion: Int {
        (try? database.withLock { db in
            try db.prepare("PRAGMA user_version").rows { Int($0.int(0)) }.first ?? 0
        }) ?? 0
    }

    func now() -> Double { Date().timeIntervalSince1970 }

    // MARK: - Messages

    /// The row for one message identified after retrieval (content identity): created as `listed` when new.
    /// Returns nil when the message needs no more work (delivered, duplicate, failed, or deferred and not due).
    public func messageNeedingWork(mailbox: Int64, entry: some ListedMessage) throws -> MessageRecord? {
        let time = now()
        return try database.withLock { db in
            try db.prepare(
                """
                INSERT INTO messages (mailbox_id, uidl, listed_size, state, first_seen_at, updated_at)
                VALUES (?, ?, ?, 'listed', ?, ?) ON CONFLICT (mailbox_id, uidl) DO NOTHING
                """
            ).run([.int(mailbox), .text(entry.uidl), .int(Int64(entry.size)), .double(time), .double(time)])
            return try db.prepare(
                """
                SELECT \(Store.recordColumns) FROM messages WHERE mailbox_id = ? AND uidl = ?
                AND (state = 'listed' OR (state = 'deferred' AND coalesce(next_try_at, 0) <= ?))
                """
            ).rows([.int(mailbox), .text(entry.uidl), .double(time)], Store.record).first
        }
    }

    static let recordColumns =
        "id, uidl, coalesce(listed_size, 0), state, token, target_ref, attempts, first_seen_at, "
        + "size, message_id, parent_id, address, date_header, target, attempt_address"

    static func record(_ row: Statement) -> MessageRecord {
        MessageRecord(
            id: row.int(0), uidl: row.text(1) ?? "", listedSize: Int(row.int(2)),
            state: MessageState(rawValue: row.text(3) ?? "") ?? .listed, token: row.text(4),
            targetRef: row.text(5), attempts: Int(row.int(6)), firstSeenAt: row.double(7),
            size: row.isNull(8) ? nil : Int(row.int(8)), messageID: row.text(9),
            dateHeader: row.text(12), parentID: row.isNull(10) ? nil : row.int(10), address: row.text(11),
            attemptTarget: row.text(13), attemptAddress: row.text(14))
    }

    /// The routed delivery of message `parent` to `address` (a catch-all mailbox's fan-out): created `listed` on
    /// first sight, so each target mailbox has its own checkpoint.
    public func routedDelivery(parent: MessageRecord, mailbox: Int64, address: String) throws -> MessageRecord {
        let time = now()
        let uidl = "\(parent.uidl.prefix(60))>\(address)"
        return try database.withLock { db in
            try db.prepare(
                """
                INSERT INTO messages (mailbox_id, uidl, state, first_seen_at, updated_at, parent_id, address)
                VALUES (?, ?, 'listed', ?, ?, ?, ?) ON CONFLICT (mailbox_id, uidl) DO NOTHING
                """
            ).run([
                .int(mailbox), .text(uidl), .double(parent.firstSeenAt), .double(time), .int(parent.id),
                .text(address),
            ])
            return try db.prepare("SELECT \(Store.recordColumns) FROM messages WHERE mailbox_id = ? AND uidl = ?")
                .rows([.int(mailbox), .text(uidl)], Store.record).first!
        }
    }

    /// Keeps what was recovered from the trace headers (and the routing decision) with the message.
    public func recordEnvelope(id: Int64, messageID: String?, dateHeader: String?, json: String) throws {
        try update(
            id, "message_id = ?, date_header = ?, envelope = ?",
            [messageID.map { .text($0) } ?? .null, dateHeader.map { .text($0) } ?? .null, .text(json)])
    }

    /// Rows a crash left between "delivering" and "delivered": to be reconciled with the target before any retry.
    public func inDoubt(mailbox: Int64) throws -> [MessageRecord] {
        try database.withLock { db in
            try db.prepare("SELECT \(Store.recordColumns) FROM messages WHERE mailbox_id = ? AND state = 'delivering'")
                .rows([.int(mailbox)], Store.record)
        }
    }

    /// An in-doubt attempt the target did not show: it is not sent again before `until`, counted from the first run
    /// that found it in doubt (a later call keeps that time). Returns the time in force. The row's `next_try_at`
    /// holds it ("no new attempt before"); an attempt starts with it cleared (`markDeliveringLater`).
    public func holdInDoubt(id: Int64, until: Double) throws -> Double {
        try write { db in
            try db.prepare(
                """
                UPDATE messages SET next_try_at = coalesce(next_try_at, ?) WHERE id = ? AND state = 'delivering'
                """
            ).run([.double(until), .int(id)])
            return try db.prepare("SELECT coalesce(next_try_at, ?) FROM messages WHERE id = ?")
                .rows([.double(until), .int(id)]) { $0.double(0) }.first ?? until
        }
    }

    public func message(id: Int64) throws -> MessageRecord? {
        try database.withLock { db in
            try db.prepare("SELECT \(Store.recordColumns) FROM messages WHERE id = ?").rows([.int(id)], Store.record)
                .first
        }
    }

    /// An already delivered message of the same mailbox with exactly these bytes, if any.
    ///
    /// Only a copy whose UIDL is gone from the server counts (`isListed` false): two UIDLs listed at the same time
    /// are two messages the person has, even with identical bytes, and the target must hold both. The hash is the
    /// second line of defence for a UIDL that vanished (a renumbered maildrop), not a reason to drop a twin.
    public func deliveredCopy(
        mailbox: Int64, sha256: String, excluding id: Int64,
        isListed: (String) -> Bool = { _ in false }
    ) throws -> (id: Int64, uidl: String)? {
        // Written with OR, not IN: SQLite evaluates an IN list of more than two constants through a temporary table it
        // builds on every execution, and this runs once per message. The row's own routed deliveries (a catch-all
        // message fetched again after a crash) carry its bytes' hash: they are its progress, not another copy.
        try read { db in
            // A routed delivery's row stands for its parent, whose UIDL is the one the server lists.
            try db.prepare(
                """
                SELECT m.id, coalesce(p.uidl, m.uidl) FROM messages m LEFT JOIN messages p ON p.id = m.parent_id
                WHERE m.mailbox_id = ? AND m.sha256 = ? AND m.id != ? AND coalesce(m.parent_id, 0) != ?
                AND (m.state = 'delivered' OR m.state = 'delivering' OR m.state = 'removed') ORDER BY m.id
                """
            ).rows([.int(mailbox), .text(sha256), .int(id), .int(id)]) { row in
                (id: row.int(0), uidl: row.text(1) ?? "")
            }.first { !isListed($0.uidl) }
        }
    }

    /// The attempt, written and committed before the target is touched (write the attempt before the act), together
    /// with what was recovered of the envelope (one commit).
    public func markDelivering(
        id: Int64, target: String, address: String? = nil, token: String, size: Int,
        sha256: String, envelope: EnvelopeColumns? = nil
    ) throws {
        try markDeliveringLater(
            id: id, target: target, address: address, token: token, size: size, sha256: sha256,
            envelope: envelope
        ).wait()
    }

    /// The same, queued for the next group commit without waiting: `wait()` on the result returns once it is
    /// committed. Only for a delivery that stays out of sight until the caller has waited for it
    /// (`Delivery.stagesUnseen`: nothing can land in the target before the checkpoint says it may have).
    /// `target` and `address` name where the attempt goes (the target and its mailbox), so a row left in doubt is
    /// settled there whatever the plan says later.
    package func markDeliveringLater(
        id: Int64, target: String, address: String? = nil, token: String, size: Int,
        sha256: String, envelope: EnvelopeColumns? = nil
    ) -> GroupCommit.Pending {
        let time = now()
        let attempt: [Statement.Value] = [
            .text(target), address.map { .text($0) } ?? .null, .text(token),
            .int(Int64(size)), .text(sha256), .double(time), .int(id),
        ]
        return submit { db in
            guard let envelope else {
                try db.prepare(
                    """
                    UPDATE messages SET state = 'delivering', target = ?, attempt_address = ?, token = ?, size = ?,
                    sha256 = ?, attempts = attempts + 1, next_try_at = NULL, updated_at = ? WHERE id = ?
                    """
                ).run(attempt)
                return
            }
            // One statement, so the row and its indexes are written once.
            let columns: [Statement.Value] = [
                envelope.messageID.map { .text($0) } ?? .null,
                envelope.dateHeader.map { .text($0) } ?? .null, .text(envelope.json),
            ]
            guard let arrival = envelope.arrivalAt else {
                try db.prepare(
                    """
                    UPDATE messages SET message_id = ?, date_header = ?, envelope = ?, state = 'delivering', target = ?,
                    attempt_address = ?, token = ?, size = ?, sha256 = ?, attempts = attempts + 1, next_try_at = NULL,
                    updated_at = ? WHERE id = ?
                    """
                ).run(columns + attempt)
                return
            }
            // arrival_at given: the trigger (schema 7) leaves a changed arrival_at as it is.
            try db.prepare(
                """
                UPDATE messages SET message_id = ?, date_header = ?, envelope = ?, arrival_at = ?, state = 'delivering',
                target = ?, attempt_address = ?, token = ?, size = ?, sha256 = ?, attempts = attempts + 1,
                next_try_at = NULL, updated_at = ? WHERE id = ?
                """
            ).run(columns + [.double(arrival)] + attempt)
        }
    }

    /// The target confirmed the message is durable.
    public func markDelivered(id: Int64, targetRef: String) throws {
        try markDeliveredLater(id: id, targetRef: targetRef).wait()
    }

    /// The same, queued for the next group commit without waiting: `wait()` on the result returns once it is
    /// committed. Only for a target that answers exactly after a crash whether the message landed
    /// (`Delivery.confirmsLater`), since until then the message is in doubt.
    package func markDeliveredLater(id: Int64, targetRef: String) -> GroupCommit.Pending {
        let time = now()
        return submit { db in
            try db.prepare(
                """
                UPDATE messages SET state = 'delivered', target_ref = ?, delivered_at = ?, error_kind = NULL,
                last_error = NULL, next_try_at = NULL, updated_at = ? WHERE id = ?
                """
            ).run([.text(targetRef), .double(time), .double(time), .int(id)])
        }
    }

    /// What is kept of a message's envelope: its Message-ID and Date headers and the recovered envelope as JSON.
    public struct EnvelopeColumns: Sendable, Equatable {
        public var messageID: String?
        public var dateHeader: String?
        public var json: String
        /// The `arrival_at` column, when the caller knows it: what the schema's trigger derives from `json`'s
        /// `envelope.arrival` (whole seconds since 1970). Written directly it spares the trigger parsing the JSON
        /// twice per message; nil leaves it to the trigger.
        public var arrivalAt: Double?

        /// `arrival` must be the one `json` holds; it is used only in whole seconds from 1970 to 9999 (the form the
        /// JSON writer writes and SQLite's `strftime('%s')` reads back exactly).
        public init(messageID: String?, dateHeader: String?, json: String, arrival: Date? = nil) {
            self.messageID = messageID
            self.dateHeader = dateHeader
            self.json = json
            if let seconds = arrival?.timeIntervalSince1970, seconds >= 0, seconds < 253_402_300_800,
                seconds.rounded(.down) == seconds
            {
                arrivalAt = seconds
            }
        }
    }

    /// Reconciliation found no trace of an in-doubt attempt: the message goes back to be delivered again.
    public func markListed(id: Int64) throws {
        try update(id, "state = 'listed', token = NULL", [])
    }

    public func markDuplicate(id: Int64, of original: Int64, size: Int, sha256: String) throws {
        try update(
            id, "state = 'duplicate', duplicate_of = ?, size = ?, sha256 = ?",
            [.int(original), .int(Int64(size)), .text(sha256)])
    }

    /// A transient failure: try again after `retryAt`.
    public func markDeferred(id: Int64, kind: FailureKind, error: String, retryAt: Double, countAttempt: Bool) throws {
        try update(
            id,
            "state = 'deferred', error_kind = ?, last_error = ?, next_try_at = ?"
                + (countAttempt ? ", attempts = attempts + 1" : ""),
            [.text(kind.rawValue), .text(error), .double(retryAt)])
    }

    /// A retrieval of this message broke its POP3 session (the connection dropped, stalled or crawled in the middle
    /// of it): counted against the message, its state otherwise unchanged (it is fetched first again). Returns the
    /// attempts now counted.
    public func noteRetrievalFailure(id: Int64, error: String) throws -> Int {
        try update(id, "attempts = attempts + 1, last_error = ?", [.text(error)])
        return try message(id: id)?.attempts ?? 0
    }

    /// A message that failed `attempts` times is set aside: state failed, flagged quarantined, with its reason;
    /// the run goes on with the others. It stays on the server.
    public func markQuarantined(id: Int64, kind: FailureKind, error: String) throws {
        try update(
            id, "state = 'failed', quarantined = 1, error_kind = ?, last_error = ?",
            [.text(kind.rawValue), .text(error)])
    }

    /// A permanent failure: the message stays on the server, and the report names it.
    public func markFailed(id: Int64, kind: FailureKind, error: String) throws {
        try update(id, "state = 'failed', error_kind = ?, last_error = ?", [.text(kind.rawValue), .text(error)])
    }

    private func update(_ id: Int64, _ assignments: String, _ values: [Statement.Value]) throws {
        let time = now()
        try write { db in
            try db.prepare("UPDATE messages SET \(assignments), updated_at = ? WHERE id = ?")
                .run(values + [.double(time), .int(id)])
        }
    }

    /// Runs `body` as one write of the next group commit (`GroupCommit`) and returns once it is durable, with what
    /// `body` returned.
    func write<T>(_ body: @escaping (Database) throws -> T) throws -> T {
        let result = ResultBox<T>()
        try submit { db in result.value = try body(db) }.wait()
        return result.value!
    }

    func submit(_ body: @escaping (Database) throws -> Void) -> GroupCommit.Pending {
        commits.submit(body) { writes in
            try self.database.withLock { db in try db.transaction { try writes(db) } }
        }
    }

    /// The database under the store's lock, for tests that drive the group commit directly.
    func withDatabaseForTests<T>(_ body: (Database) throws -> T) throws -> T {
        try database.withLock { db in try body(db) }
    }

    /// Group commits so far and the writes they held (tests, profiling).
    var groupCommitStatistics: (groups: Int, writes: Int) { commits.statistics }

}

/// Carries a write's result out of the group commit (written by the leader, read by the caller after `wait`).
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}
