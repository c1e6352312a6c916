import Foundation
import MailCore
import MailSystem

/// A state database read as plain values, for `status`, `verify` and the dashboard. Reading never creates a state
/// file; an older schema is brought up to date first (forward migrations only, as a run would).
public struct StateSnapshot: Sendable {
    public var path: String
    public var mailboxes: [Mailbox]
    public var messages: [Message]
    public var runs: [Run]

    public struct Mailbox: Sendable, Equatable {
        public var key: String
        public var source: String
        public var user: String
        public var target: String
        public var address: String?
        /// The last attempt to list the maildrop, and the last poll that listed and finished without error.
        public var lastPollAt: Double?
        public var lastOkAt: Double?
        /// Messages and bytes on the server at the last listing.
        public var serverCount: Int?
        public var serverBytes: Int?
        public var lastError: String?

        /// The same mailbox as two state files know it: the most recent poll either knows, with the latest good
        /// poll of both.
        func merged(with other: Mailbox) -> Mailbox {
            var merged = (lastPollAt ?? 0) >= (other.lastPollAt ?? 0) ? self : other
            merged.lastOkAt = [lastOkAt, other.lastOkAt].compactMap { $0 }.max()
            return merged
        }
    }

    /// One checkpoint row: a message of a maildrop, or (`routed`) one routed delivery of a catch-all message.
    public struct Message: Sendable, Equatable {
        public var mailboxKey: String
        public var uidl: String
        public var state: MessageState
        public var quarantined: Bool
        /// For a routed delivery: the UIDL of the message it belongs to, and the target mailbox it goes to.
        public var parentUIDL: String?
        public var address: String?
        public var token: String?
        public var targetRef: String?
        public var size: Int?
        public var sha256: String?
        public var messageID: String?
        public var dateHeader: String?
        /// When mailferry first listed it, and when the provider received it (recovered from the trace headers).
        public var firstSeenAt: Double
        public var arrivalAt: Double?
        public var updatedAt: Double
        public var deliveredAt: Double?
        public var errorKind: FailureKind?
        public var lastError: String?
        /// For a duplicate: the UIDL of the delivered message with the same bytes.
        public var duplicateOf: String?

        public var routed: Bool { parentUIDL != nil }
        /// The recovered arrival, else when mailferry first saw it.
        public var arrivedAt: Double { arrivalAt ?? firstSeenAt }
    }

    public struct Run: Sendable, Equatable {
        public var runID: String
        public var startedAt: Double
        public var finishedAt: Double?
        public var exitCode: Int?
        /// The run report's JSON (a `RunSummary`).
        public var summary: String?
        /// What the dashboard charts of the report, added up in SQL instead of `summary` (`StateSummary`).
        public var totals: Totals? = nil

        public struct Totals: Sendable, Equatable {
            public var runID: String
            /// The report's start, as unix time.
            public var startedAt: Double
            public var delivered: Int
            public var deferred: Int
            public var failed: Int
            public var exitCode: Int
        }
    }

    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String { "no state database at \(path)" }
    }

    /// Reads the state database at `path`; throws `Missing` when there is none. With `mailbox`, only that
    /// mailbox's message rows (with its routed deliveries) and no runs: what `verify` holds at a time.
    public static func read(path: String, mailbox: String? = nil) throws -> StateSnapshot {
        guard FileManager.default.fileExists(atPath: path) else { throw Missing(path: path) }
        let db = try Database(path: path)
        try Store.migrate(db)
        let mailboxes = try Self.mailboxes(db).sorted { $0.key < $1.key }.map(\.value)
        // The arrival is ISO 8601 in the envelope's JSON; `arrival_at` keeps it in seconds (schema 5).
        let messages = try db.prepare(
            """
            SELECT b.key, m.uidl, m.state, m.quarantined, p.uidl, m.address, m.token, m.target_ref, m.size, m.sha256,
                   m.message_id, m.date_header, m.first_seen_at,
                   m.arrival_at,
                   m.updated_at, m.delivered_at, m.error_kind, m.last_error, d.uidl
            FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
            LEFT JOIN messages p ON p.id = m.parent_id LEFT JOIN messages d ON d.id = m.duplicate_of
            \(mailbox == nil ? "" : "WHERE b.key = ?")
            ORDER BY m.id
            """
        ).rows(mailbox.map { [.text($0)] } ?? []) { row in
            Message(
                mailboxKey: row.text(0) ?? "", uidl: row.text(1) ?? "",
                state: MessageState(rawValue: row.text(2) ?? "") ?? .listed, quarantined: row.int(3) != 0,
                parentUIDL: row.text(4), address: row.text(5), token: row.text(6), targetRef: row.text(7),
                size: optionalInt(row, 8), sha256: row.text(9), messageID: row.text(10),
                dateHeader: row.text(11), firstSeenAt: row.double(12),
                arrivalAt: optionalDouble(row, 13),
                updatedAt: row.double(14), deliveredAt: optionalDouble(row, 15),
                errorKind: row.text(16).flatMap(FailureKind.init(rawValue:)), lastError: row.text(17),
                duplicateOf: row.text(18))
        }
        let runs =
            mailbox != nil
            ? []
            : try db.prepare(
                "SELECT run_id, started_at, finished_at, exit_code, summary FROM runs ORDER BY id"
            ).rows([], run)
        return StateSnapshot(path: path, mailboxes: mailboxes, messages: messages, runs: runs)
    }

    /// The mailboxes of a state database by row id.
    static func mailboxes(_ db: Database) throws -> [Int64: Mailbox] {
        let rows = try db.prepare(
            """
            SELECT id, key, source, user, target, address, last_poll_at, last_ok_at, server_count, server_bytes,
                   last_error
            FROM mailboxes ORDER BY id
            """
        ).rows { row in
            (
                row.int(0),
                Mailbox(
                    key: row.text(1) ?? "", source: row.text(2) ?? "", user: row.text(3) ?? "",
                    target: row.text(4) ?? "", address: row.text(5), lastPollAt: optionalDouble(row, 6),
                    lastOkAt: optionalDouble(row, 7), serverCount: optionalInt(row, 8),
                    serverBytes: optionalInt(row, 9), lastError: row.text(10))
            )
        }
        return Dictionary(rows, uniquingKeysWith: { first, _ in first })
    }

    /// A row of `SELECT run_id, started_at, finished_at, exit_code, summary FROM runs`.
    static func run(_ row: Statement) -> Run {
        Run(
            runID: row.text(0) ?? "", startedAt: row.double(1), finishedAt: optionalDouble(row, 2),
            exitCode: optionalInt(row, 3), summary: row.text(4))
    }

    private static func optionalDouble(_ row: Statement, _ column: Int32) -> Double? {
        row.isNull(column) ? nil : row.double(column)
    }

    private static func optionalInt(_ row: Statement, _ column: Int32) -> Int? {
        row.isNull(column) ? nil : Int(row.int(column))
    }
}

/// Several state files of one plan (its own and those of `run --shard K/N`) seen as one: a mailbox's poll is the
/// most recent one any file knows, and a message's row is the most advanced one (delivered beats listed).
public struct MergedState: Sendable {
    public var files: [String]
    public var mailboxes: [String: StateSnapshot.Mailbox] = [:]
    /// Top-level messages by mailbox key, in the order first seen.
    public var messages: [String: [StateSnapshot.Message]] = [:]
    /// Routed deliveries of catch-all messages, by mailbox key and parent UIDL.
    public var routed: [String: [String: [StateSnapshot.Message]]] = [:]
    public var runs: [StateSnapshot.Run] = []

    public init(_ snapshots: [StateSnapshot]) {
        files = snapshots.map(\.path)
        var rows: [String: StateSnapshot.Message] = [:]
        var order: [String] = []
        for snapshot in snapshots {
            for mailbox in snapshot.mailboxes {
                mailboxes[mailbox.key] = mailboxes[mailbox.key].map { $0.merged(with: mailbox) } ?? mailbox
            }
            for message in snapshot.messages {
                let id = "\(message.mailboxKey)\u{0}\(message.uidl)"
                guard let known = rows[id] else {
                    rows[id] = message
                    order.append(id)
                    continue
                }
                if (Self.rank(message.state), message.updatedAt) > (Self.rank(known.state), known.updatedAt) {
                    rows[id] = message
                }
            }
            runs += snapshot.runs
        }
        runs.sort { $0.startedAt < $1.startedAt }
        for id in order {
            let message = rows[id]!
            if let parent = message.parentUIDL {
                routed[message.mailboxKey, default: [:]][parent, default: []].append(message)
            } else {
                messages[message.mailboxKey, default: []].append(message)
            }
        }
    }

    /// How far along the checkpoint a row is: the further one wins when two files know the same message.
    static func rank(_ state: MessageState) -> Int {
        switch state {
        case .listed: 0
        case .deferred: 1
        case .failed: 2
        case .delivering: 3
        case .duplicate, .delivered: 4
        case .removed: 5
        }
    }
}
