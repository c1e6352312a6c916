import Foundation
import MailCore
import MailSystem

/// A plan's state files (its own and its shards') counted for `status` and the dashboard: per mailbox, messages by
/// state, open errors and arrivals per day, and the most recent runs. Counted in SQL over the `messages_summary`
/// index, so reading costs about the same at a hundred messages as at a hundred thousand and holds no message row.
///
/// Several files are merged as `MergedState` merges them: a message two files know counts once, with the row
/// further along the checkpoint. Only a mailbox that more than one file knows needs its rows for that, and they are
/// streamed in UIDL order from every file at once, one row per file in memory.
public struct StateSummary: Sendable {
    public var files: [String]
    public var mailboxes: [String: StateSnapshot.Mailbox] = [:]
    /// Top-level messages (not the routed deliveries of catch-all messages) counted by mailbox key.
    public var tallies: [String: Tally] = [:]
    public var runs: RunHistory
    /// The most recent messages deferred, failed or quarantined, with their reasons (`readProblems`).
    public var problems: [OpenProblem] = []
    /// Messages that vanished from the server before they were delivered, by mailbox key, oldest first (at most
    /// `Store.vanishedDetailLimit` per file; `Tally.vanished` counts them all).
    public var vanished: [String: [VanishedMessage]] = [:]

    /// What a mailbox's messages add up to.
    public struct Tally: Sendable, Equatable {
        /// Messages by state; `failed` leaves out the quarantined, counted in `quarantined`.
        public var states: [MessageState: Int] = [:]
        public var quarantined = 0
        /// Deferred and failed messages by failure kind ("unknown" when none was recorded).
        public var errors: [String: Int] = [:]
        /// The latest known arrival and the latest first sight, as unix time. An arrival is known when it was
        /// recovered from the headers, or when the message was first seen after the mailbox's first listing (it
        /// arrived between two polls); a message already there at the first listing whose headers were not read yet
        /// has no known arrival (its first sight says when mailferry looked, not when it arrived).
        public var lastArrivalAt: Double?
        public var lastSeenAt: Double?
        /// Known arrivals by UTC day, as days since 1970-01-01.
        public var arrivalsPerDay: [Int: Int] = [:]
        /// Of the messages counted above, those a complete listing no longer showed, by state (`vanishedQuarantined`
        /// apart, as above). Their failure kinds are not in `errors`: what they need is someone's look, whatever the
        /// delivery's trouble was.
        public var vanishedStates: [MessageState: Int] = [:]
        public var vanishedQuarantined = 0

        public var known: Int { states.values.reduce(0, +) + quarantined }
        public func count(_ state: MessageState) -> Int { states[state] ?? 0 }

        /// Messages in `state` still on the server (or not known to have left it).
        public func listed(_ state: MessageState) -> Int { count(state) - (vanishedStates[state] ?? 0) }
        public var listedQuarantined: Int { quarantined - vanishedQuarantined }

        /// Undelivered messages gone from the server: lost unless someone finds them elsewhere.
        public var vanished: Int {
            [MessageState.listed, .delivering, .deferred, .failed].reduce(vanishedQuarantined) {
                $0 + (vanishedStates[$1] ?? 0)
            }
        }

        /// Delivered messages (or duplicates of delivered ones) since deleted on the server: normal.
        public var goneAfterDelivery: Int { (vanishedStates[.delivered] ?? 0) + (vanishedStates[.duplicate] ?? 0) }

        /// `count` of the messages added in `state` are marked vanished.
        mutating func addVanished(state: MessageState, quarantined isQuarantined: Bool, errorKind: String?, count: Int)
        {
            if state == .failed && isQuarantined {
                vanishedQuarantined += count
            } else {
                vanishedStates[state, default: 0] += count
            }
            if state == .deferred || state == .failed {
                let kind = errorKind.flatMap(FailureKind.init(rawValue:))?.rawValue ?? "unknown"
                errors[kind, default: 0] -= count
                if errors[kind] ?? 0 <= 0 { errors[kind] = nil }
            }
        }

        /// `count` messages in one state; `lastArrival`/`lastSeen` the latest of them.
        mutating func add(
            state: MessageState, quarantined isQuarantined: Bool, errorKind: String?, count: Int,
            lastArrival: Double?, lastSeen: Double
        ) {
            if state == .failed && isQuarantined { quarantined += count } else { states[state, default: 0] += count }
            if state == .deferred || state == .failed {
                errors[errorKind.flatMap(FailureKind.init(rawValue:))?.rawValue ?? "unknown", default: 0] += count
            }
            if let lastArrival { lastArrivalAt = max(lastArrivalAt ?? lastArrival, lastArrival) }
            lastSeenAt = max(lastSeenAt ?? lastSeen, lastSeen)
        }

        /// The UTC day of a unix time, as days since 1970-01-01.
        package static func day(_ time: Double) -> Int { Int((time / 86_400).rounded(.down)) }
    }

    /// The most recent runs that left a report (oldest first) and how many did, over every file.
    public struct RunHistory: Sendable, RandomAccessCollection {
        public var recent: [StateSnapshot.Run] = []
        public var total = 0
        public var startIndex: Int { recent.startIndex }
        public var endIndex: Int { recent.endIndex }
        public subscript(position: Int) -> StateSnapshot.Run { recent[position] }
    }

    /// Runs kept whole for the dashboard's chart of messages per run.
    package static let recentRuns = 40

    /// Reads and counts the state files at `paths` (all existing).
    static func read(_ paths: [String]) throws -> StateSummary {
        let files = try paths.map { path -> (db: Database, mailboxes: [Int64: StateSnapshot.Mailbox]) in
            let db = try Database(path: path)
            try Store.migrate(db)
            return (db, try StateSnapshot.mailboxes(db))
        }
        var summary = StateSummary(files: paths, runs: RunHistory())
        var holders: [String: [Int]] = [:]
        for (index, file) in files.enumerated() {
            for mailbox in file.mailboxes.values.sorted(by: { $0.key < $1.key }) {
                holders[mailbox.key, default: []].append(index)
            }
        }
        for file in files {
            for mailbox in file.mailboxes.values { summary.merge(mailbox) }
        }
        for (index, file) in files.enumerated() {
            let owned = file.mailboxes.filter { holders[$0.value.key] == [index] }
            try summary.count(file.db, mailboxes: owned)
            try summary.addRuns(file.db)
        }
        for (key, indexes) in holders where indexes.count > 1 {
            var vanished = Set<String>()
            summary.tallies[key] = try mergedTally(
                indexes.map { index in (files[index].db, files[index].mailboxes.first { $0.value.key == key }!.key) },
                vanished: &vanished)
            try summary.mergeVanished(key, from: indexes.map { files[$0].db }, winners: vanished)
        }
        summary.problems = try readProblems(files, holders: holders)
        summary.runs.recent.sort { $0.startedAt < $1.startedAt }
        summary.runs.recent = Array(summary.runs.recent.suffix(recentRuns))
        return summary
    }

    /// A mailbox's poll is the most recent one any file knows; its last good poll the latest of them.
    mutating func merge(_ mailbox: StateSnapshot.Mailbox) {
        mailboxes[mailbox.key] = mailboxes[mailbox.key].map { $0.merged(with: mailbox) } ?? mailbox
    }

    /// The known arrival of a row `m` of the mailbox `b` (SQL; NULL when unknown): recovered, else first seen when
    /// that was after the mailbox's first listing (the message came between two polls). One the first listing
    /// found and whose headers were not read yet is as old as anything: its first sight is when mailferry looked.
    static let arrival = """
        CASE WHEN m.arrival_at IS NOT NULL THEN m.arrival_at
             WHEN m.first_seen_at > coalesce(b.first_listed_at, 9e18) THEN m.first_seen_at END
        """

    /// Counts the messages of the mailboxes `owned` (by id) in one file: two index scans, no table rows read.
    mutating func count(_ db: Database, mailboxes owned: [Int64: StateSnapshot.Mailbox]) throws {
        guard !owned.isEmpty else { return }
        let byState = try db.prepare(
            """
            SELECT m.mailbox_id, m.state, m.quarantined, m.error_kind, count(*), max(\(Self.arrival)),
                   max(m.first_seen_at)
            FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.parent_id IS NULL
            GROUP BY m.mailbox_id, m.state, m.quarantined, m.error_kind
            """)
        try byState.bind([])
        while try byState.step() {
            guard let key = owned[byState.int(0)]?.key else { continue }
            tallies[key, default: Tally()].add(
                state: MessageState(rawValue: byState.text(1) ?? "") ?? .listed, quarantined: byState.int(2) != 0,
                errorKind: byState.text(3), count: Int(byState.int(4)),
                lastArrival: byState.isNull(5) ? nil : byState.double(5), lastSeen: byState.double(6))
        }
        // floor(arrival / 86400): CAST truncates towards zero, so a time before 1970 that is not a midnight is one
        // day lower.
        let perDay = try db.prepare(
            """
            SELECT mailbox_id, CAST(arrival / 86400.0 AS INTEGER)
                - (arrival < CAST(arrival / 86400.0 AS INTEGER) * 86400.0) AS day, count(*) FROM (
                SELECT m.mailbox_id, \(Self.arrival) AS arrival
                FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.parent_id IS NULL)
            WHERE arrival IS NOT NULL GROUP BY mailbox_id, day
            """)
        try perDay.bind([])
        while try perDay.step() {
            guard let key = owned[perDay.int(0)]?.key else { continue }
            tallies[key, default: Tally()].arrivalsPerDay[Int(perDay.int(1)), default: 0] += Int(perDay.int(2))
        }
        try countVanished(db, mailboxes: owned)
    }

    /// The runs of one file that left a report: how many, and the totals of the most recent ones, added up from
    /// their reports' JSON in SQL (a report holds every mailbox's result: decoding forty of a plan with hundreds of
    /// mailboxes would cost more than everything else here).
    mutating func addRuns(_ db: Database) throws {
        // Finished runs, whether or not their report is still kept (`keepReports`).
        runs.total +=
            try db.prepare("SELECT count(*) FROM runs WHERE finished_at IS NOT NULL").rows { Int($0.int(0)) }
            .first ?? 0
        func sum(_ field: String) -> String {
            "(SELECT total(json_extract(value, '$.\(field)')) FROM json_each(summary, '$.mailboxes'))"
        }
        runs.recent += try db.prepare(
            """
            SELECT run_id, started_at, finished_at, exit_code, json_extract(summary, '$.runID'),
                   strftime('%s', json_extract(summary, '$.startedAt')), \(sum("delivered")), \(sum("deferred")),
                   \(sum("failed")), json_extract(summary, '$.exitCode')
            FROM runs WHERE json_valid(summary) ORDER BY started_at DESC LIMIT \(Self.recentRuns)
            """
        ).rows([]) { row in
            var run = StateSnapshot.run(row)
            run.totals = .init(
                runID: row.text(4) ?? run.runID, startedAt: row.double(5), delivered: Int(row.int(6)),
                deferred: Int(row.int(7)), failed: Int(row.int(8)), exitCode: Int(row.int(9)))
            return run
        }
    }

    /// One mailbox several files know: their rows streamed in UIDL order (SQLite's BINARY order: the UTF-8 bytes)
    /// and merged like `MergedState` merges them, the row further along winning, the earlier file on a tie.
    static func mergedTally(
        _ sources: [(db: Database, mailbox: Int64)], vanished: inout Set<String>
    ) throws -> Tally {
        let cursors = try sources.map { source in
            let statement = try source.db.prepare(
                """
                SELECT m.uidl, m.state, m.quarantined, m.parent_id IS NOT NULL, m.error_kind, \(arrival),
                       m.first_seen_at, m.updated_at, m.vanished_at IS NOT NULL
                FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE m.mailbox_id = ? ORDER BY m.uidl
                """)
            try statement.bind([.int(source.mailbox)])
            return RowCursor(statement: statement)
        }
        for cursor in cursors { try cursor.advance() }
        var tally = Tally()
        while let uidl = cursors.compactMap(\.row?.uidl).min(by: { $0.lexicographicallyPrecedes($1) }) {
            var winner: RowCursor.Row?
            for cursor in cursors {
                guard let row = cursor.row, row.uidl == uidl else { continue }
                if winner == nil
                    || (MergedState.rank(row.state), row.updatedAt)
                        > (MergedState.rank(winner!.state), winner!.updatedAt)
                {
                    winner = row
                }
                try cursor.advance()
            }
            guard let row = winner, !row.routed else { continue }
            tally.add(
                state: row.state, quarantined: row.quarantined, errorKind: row.errorKind, count: 1,
                lastArrival: row.arrival, lastSeen: row.firstSeenAt)
            if let arrival = row.arrival { tally.arrivalsPerDay[Tally.day(arrival), default: 0] += 1 }
            if row.vanished {
                tally.addVanished(state: row.state, quarantined: row.quarantined, errorKind: row.errorKind, count: 1)
                if row.state != .delivered && row.state != .duplicate && row.state != .removed {
                    vanished.insert(String(decoding: row.uidl, as: UTF8.self))
                }
            }
        }
        return tally
    }

    /// One file's rows of one mailbox, read one at a time.
    final class RowCursor {
        struct Row {
            var uidl: [UInt8]
            var state: MessageState
            var quarantined: Bool
            var routed: Bool
            var errorKind: String?
            /// The known arrival (`StateSummary.arrival`), nil when unknown.
            var arrival: Double?
            var firstSeenAt: Double
            var updatedAt: Double
            var vanished: Bool
        }

        let statement: Statement
        private(set) var row: Row?

        init(statement: Statement) { self.statement = statement }

        func advance() throws {
            guard try statement.step() else {
                row = nil
                return
            }
            row = Row(
                uidl: Array((statement.text(0) ?? "").utf8),
                state: MessageState(rawValue: statement.text(1) ?? "") ?? .listed,
                quarantined: statement.int(2) != 0, routed: statement.int(3) != 0,
                errorKind: statement.text(4), arrival: statement.isNull(5) ? nil : statement.double(5),
                firstSeenAt: statement.double(6),
                updatedAt: statement.double(7), vanished: statement.int(8) != 0)
        }
    }
}
