import CSQLite
import Foundation
import MailFerryLab
import Synchronization
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem

/// A listing entry as the store takes it (the engine hands over POP3's).
struct ListedEntry: ListedMessage {
    var number: Int
    var uidl: String
    var size: Int
}

@Suite struct StoreTests {
    func entries(_ uidls: [String]) -> [ListedEntry] {
        uidls.enumerated().map { ListedEntry(number: $0.offset + 1, uidl: $0.element, size: 100 + $0.offset) }
    }

    /// A new store in `dir` with one mailbox registered ("isp/a").
    func freshStore(in dir: TempFolder) throws -> (path: String, store: Store, box: Int64) {
        let path = dir.path + "/s.sqlite"
        let store = try Store(path: path)
        return (
            path, store,
            try store.registerMailbox(
                key: "isp/a", source: "isp", user: "a", target: "t",
                address: nil)
        )
    }

    @Test func listingAddsOnlyNewUIDLsAndKeepsServerOrder() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/state/s.sqlite")
        let box = try store.registerMailbox(key: "isp/chris", source: "isp", user: "chris", target: "t", address: nil)
        #expect(
            try store.registerMailbox(
                key: "isp/chris", source: "isp", user: "chris", target: "t",
                address: nil) == box)
        let first = try store.syncListing(mailbox: box, entries: entries(["a", "b", "c"]))
        #expect(first.new == 3)
        #expect(first.work.map(\.uidl) == ["a", "b", "c"])
        try store.markDelivering(id: first.work[1].id, target: "t", token: "tok-b", size: 5, sha256: "hb")
        try store.markDelivered(id: first.work[1].id, targetRef: "new/tok-b")
        let second = try store.syncListing(mailbox: box, entries: entries(["c", "b", "a", "d"]))
        #expect(second.new == 1)
        #expect(second.work.map(\.uidl) == ["c", "a", "d"])
        #expect(try store.counts(mailbox: box) == [.listed: 3, .delivered: 1])
    }

    @Test func inDoubtRowsAndHashDefence() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/s.sqlite")
        let box = try store.registerMailbox(key: "isp/a", source: "isp", user: "a", target: "t", address: nil)
        let rows = try store.syncListing(mailbox: box, entries: entries(["x", "y"])).work
        try store.markDelivering(id: rows[0].id, target: "t", token: "tok-x", size: 5, sha256: "same")
        #expect(try store.inDoubt(mailbox: box).map(\.token) == ["tok-x"])
        #expect(try store.deliveredCopy(mailbox: box, sha256: "same", excluding: rows[1].id)?.id == rows[0].id)
        #expect(
            try store.deliveredCopy(
                mailbox: box, sha256: "same", excluding: rows[1].id,
                isListed: { $0 == "x" }) == nil)
        #expect(
            try store.deliveredCopy(
                mailbox: box, sha256: "same", excluding: rows[1].id,
                isListed: { $0 == "y" })?.uidl == "x")
        #expect(try store.deliveredCopy(mailbox: box, sha256: "other", excluding: rows[1].id) == nil)
        try store.markListed(id: rows[0].id)
        #expect(try store.inDoubt(mailbox: box).isEmpty)
        #expect(try store.message(id: rows[0].id)?.attempts == 1)
    }

    /// The "delivering" checkpoint writes the attempt and the envelope in one statement: every column, and the
    /// arrival the schema's trigger derives from the envelope.
    @Test func deliveringCheckpointWritesTheAttemptAndTheEnvelope() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let (path, store, box) = try freshStore(in: dir)
        let rows = try store.syncListing(mailbox: box, entries: entries(["x", "y", "z"])).work
        let json = #"{"envelope":{"arrival":"2026-03-01T10:00:00Z"}}"#
        try store.markDelivering(
            id: rows[0].id, target: "out", token: "tok-x", size: 42, sha256: "hx",
            envelope: .init(messageID: "<m@x>", dateHeader: "Sun, 1 Mar 2026", json: json))
        try store.markDelivering(id: rows[1].id, target: "out", token: "tok-y", size: 7, sha256: "hy")
        // The arrival given with the envelope is written as it is (the trigger derives it only when not given).
        try store.markDelivering(
            id: rows[2].id, target: "out", token: "tok-z", size: 9, sha256: "hz",
            envelope: .init(
                messageID: nil, dateHeader: nil, json: json,
                arrival: Date(timeIntervalSince1970: 1_772_359_200)))
        let dumped = try SQLiteProbe.dump(
            path,
            """
            SELECT state, target, token, size, sha256, attempts, message_id, date_header, envelope, arrival_at
            FROM messages ORDER BY id
            """)
        #expect(dumped.count == 3)
        #expect(dumped.last?["arrival_at"] == "r:1772359200.0" && dumped.last?["envelope"] == "t:\(json)")
        #expect(
            dumped[0] == [
                "state": "t:delivering", "target": "t:out", "token": "t:tok-x", "size": "i:42",
                "sha256": "t:hx", "attempts": "i:1", "message_id": "t:<m@x>",
                "date_header": "t:Sun, 1 Mar 2026", "envelope": "t:\(json)", "arrival_at": "r:1772359200.0",
            ])
        #expect(
            dumped[1] == [
                "state": "t:delivering", "target": "t:out", "token": "t:tok-y", "size": "i:7",
                "sha256": "t:hy", "attempts": "i:1", "message_id": "null", "date_header": "null",
                "envelope": "null", "arrival_at": "null",
            ])
    }

    /// Workers read the hash defence concurrently, each on a reader connection of its own, while commits go on:
    /// every answer is the committed truth.
    @Test func concurrentHashReadsSeeEveryCommit() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/s.sqlite")
        let box = try store.registerMailbox(key: "isp/a", source: "isp", user: "a", target: "t", address: nil)
        let rows = try store.syncListing(mailbox: box, entries: entries((0..<80).map { "u\($0)" })).work
        for row in rows.prefix(40) {
            try store.markDelivering(id: row.id, target: "t", token: "tok-\(row.id)", size: 1, sha256: "h\(row.id)")
        }
        let wrong = Mutex(0)
        let failures = Mutex(0)
        let threads = (0..<8).map { worker in
            Thread {
                for (index, row) in rows.enumerated() where index % 8 == worker {
                    if index >= 40 {
                        do {
                            try store.markDelivering(
                                id: row.id, target: "t", token: "tok-\(row.id)", size: 1,
                                sha256: "h\(row.id)")
                        } catch { failures.withLock { $0 += 1 } }
                    }
                    for probe in rows {
                        do {
                            let found = try store.deliveredCopy(mailbox: box, sha256: "h\(probe.id)", excluding: -1)?.id
                            // Rows up to 40 were committed before; a later one may or may not be yet, but never wrong.
                            if (found != nil && found != probe.id) || (found == nil && probe.id <= rows[39].id) {
                                wrong.withLock { $0 += 1 }
                            }
                        } catch { failures.withLock { $0 += 1 } }
                    }
                }
            }
        }
        for thread in threads { thread.start() }
        for _ in 0..<3000 where !threads.allSatisfy(\.isFinished) { usleep(10_000) }
        let finished = threads.allSatisfy { $0.isFinished }
        #expect(finished)
        #expect(wrong.withLock { $0 } == 0 && failures.withLock { $0 } == 0)
        for row in rows {
            #expect(try store.deliveredCopy(mailbox: box, sha256: "h\(row.id)", excluding: -1)?.id == row.id)
        }
    }

    @Test func databaseIsPrivateAndVersioned() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let path = dir.path + "/s.sqlite"
        let store = try Store(path: path)
        #expect(store.schemaVersion == Schema.currentVersion)
        // A new state is blank, and has no id until a run gives it one.
        #expect(try store.identity() == nil && store.isBlank())
        #expect(try store.ensureIdentity() == store.identity() && store.identity() != nil)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        #expect(mode & 0o077 == 0)
        // A database from a newer mailferry is refused, not silently used.
        var db: OpaquePointer?
        sqlite3_open(path, &db)
        sqlite3_exec(db, "PRAGMA user_version = 99", nil, nil, nil)
        sqlite3_close(db)
        let error = #expect(throws: DatabaseError.self) { _ = try Store(path: path) }
        #expect(error?.message.contains("newer") == true)
    }
}

/// Databases left by older mailferry releases: each schema version is built from the migration list itself, filled
/// with rows of every kind that version could hold, and opened by today's Store. The version must come out current,
/// every row and value must survive, and what a migration derives (schema 5's arrival column) must be right.
@Suite struct StoreMigrationTests {
    /// A column value as text with its SQLite type, so 5 and "5" and 5.0 stay different.
    typealias Row = SQLiteProbe.Row

    static let arrival = "2026-03-01T10:00:00Z"  // 1772359200
    static let envelope = #"{"envelope":{"arrival":"\#(arrival)","arrivalSource":"provider-received"},"routing":[]}"#

    /// Rows for a database at `version` (1 ... current-1): SQL that only uses columns that version has.
    static func seed(version: Int) -> String {
        var sql = """
            INSERT INTO mailboxes (id, key, source, user, target, address, created_at, last_poll_at, last_ok_at,
                                   server_count, server_bytes, last_error)
            VALUES (1, 'isp/chris', 'isp', 'chris', 'contoso', 'chris@contoso.example', 1700000000.25, 1700000100.5,
                    1700000100.5, 4, 40960, NULL),
                   (2, 'isp/everyone', 'isp', 'everyone', 'contoso', NULL, 1700000001, 1700000200, NULL, NULL, NULL,
                    'pop3 pop.example:995: login as everyone refused: [AUTH] bad password');
            INSERT INTO messages (id, mailbox_id, uidl, listed_size, size, sha256, state, target, token, target_ref,
                                  first_seen_at, updated_at, delivered_at, next_try_at, attempts, error_kind,
                                  last_error, duplicate_of)
            VALUES (1, 1, 'uid-delivered', 1200, 1180, 'aa11', 'delivered', 'contoso', '1700000000.Mabc.mailferry',
                    'new/1700000000.Mabc.mailferry', 1700000000, 1700000050, 1700000050, NULL, 1, NULL, NULL, NULL),
                   (2, 1, 'uid-deferred', 3000, NULL, NULL, 'deferred', 'contoso', NULL, NULL, 1700000000,
                    1700000060, NULL, 1700000360, 2, 'transient', 'timed out waiting for pop.example', NULL),
                   (3, 1, 'uid-dup', 1200, 1180, 'aa11', 'duplicate', NULL, NULL, NULL, 1700000000, 1700000070,
                    NULL, NULL, 0, NULL, NULL, 1),
                   (4, 1, 'uid-listed', 99, NULL, NULL, 'listed', NULL, NULL, NULL, 1700000000, 1700000000, NULL,
                    NULL, 0, NULL, NULL, NULL),
                   (5, 1, 'uid-doubt', 500, 480, 'bb22', 'delivering', 'contoso', '1700000000.Mdef.mailferry', NULL,
                    1700000000, 1700000080, NULL, NULL, 1, NULL, NULL, NULL),
                   (6, 2, 'uid-failed', 7, 7, 'cc33', 'failed', 'contoso', NULL, NULL, 1700000001, 1700000090, NULL,
                    NULL, 5, 'permanent', 'message 1 is larger than 4 bytes', NULL);
            INSERT INTO runs (id, run_id, started_at, finished_at, exit_code, summary)
            VALUES (1, '20231114T221320.000Z', 1700000000, 1700000300, 1, '{"delivered":1}'),
                   (2, '20231115T000000.000Z', 1700006400, NULL, NULL, NULL);
            """
        if version >= 2 {
            sql += """
                UPDATE mailboxes SET last_login_at = 1700000100, login_delay = 900, next_login_at = 1700001000
                    WHERE id = 1;
                """
        }
        if version >= 3 {
            sql += """
                UPDATE messages SET quarantined = 1 WHERE id = 6;
                INSERT INTO messages (id, mailbox_id, uidl, listed_size, size, sha256, state, target, token, target_ref,
                                      first_seen_at, updated_at, delivered_at, attempts, removed_at)
                VALUES (7, 1, 'uid-removed', 800, 790, 'dd44', 'removed', 'contoso', '1690000000.Mghi.mailferry',
                        'new/1690000000.Mghi.mailferry', 1690000000, 1700000000, 1690000100, 1, 1700000000);
                """
        }
        if version >= 4 {
            sql += """
                UPDATE messages SET message_id = '<m1@wingtip.example>', date_header = 'Sun, 1 Mar 2026 10:00:00 +0000',
                    envelope = '\(envelope)' WHERE id = 1;
                INSERT INTO messages (id, mailbox_id, uidl, listed_size, state, target, token, target_ref,
                                      first_seen_at, updated_at, delivered_at, attempts, parent_id, address, envelope)
                VALUES (8, 2, 'uid-global>kelly@contoso.example', NULL, 'delivered', 'contoso', 'routed-token',
                        'imap:INBOX/17', 1700000001, 1700000095, 1700000095, 1, 6, 'kelly@contoso.example',
                        'not json');
                """
        }
        return sql
    }

    @Test(arguments: 1..<Schema.currentVersion)
    func olderDatabaseIsMigratedWithEveryRowIntact(version: Int) throws {
        #expect(Schema.currentVersion == 10, "a new migration: add its rows to seed(version:) and checks below")
        let dir = TempFolder("migrate")
        defer { dir.cleanup() }
        let path = dir.path + "/old.sqlite"
        var sql = ""
        for migration in Schema.migrations.prefix(version) { sql += migration + "\n" }
        sql += "PRAGMA user_version = \(version);\n" + Self.seed(version: version)
        try SQLiteProbe.exec(path, sql)
        #expect(try SQLiteProbe.dump(path, "PRAGMA user_version") == [["user_version": "i:\(version)"]])
        let tables = ["mailboxes", "messages", "runs"]
        var before: [String: [Row]] = [:]
        for table in tables { before[table] = try SQLiteProbe.dump(path, "SELECT * FROM \(table) ORDER BY id") }
        #expect(before["messages"]?.count == (version >= 4 ? 8 : version >= 3 ? 7 : 6))

        let store = try Store(path: path)
        #expect(store.schemaVersion == Schema.currentVersion)
        // Schema 8: a state from before state ids has none until its next run gives it one; it is not blank.
        #expect(try store.identity() == nil && !store.isBlank())
        // Every old column of every old row keeps its value and type.
        for table in tables {
            let after = try SQLiteProbe.dump(path, "SELECT * FROM \(table) ORDER BY id")
            #expect(after.count == before[table]!.count, "\(table)")
            for (old, new) in zip(before[table]!, after) {
                for (column, value) in old {
                    #expect(new[column] == value, "\(table) row \(old["id"] ?? "?") column \(column)")
                }
            }
        }
        // Columns a migration added take their defaults; schema 5 derives the arrival from the envelope's JSON.
        let messages = try SQLiteProbe.dump(path, "SELECT * FROM messages ORDER BY id")
        let byID = Dictionary(uniqueKeysWithValues: messages.map { ($0["id"]!, $0) })
        #expect(byID["i:6"]?["quarantined"] == (version >= 3 ? "i:1" : "i:0"))
        #expect(byID["i:1"]?["quarantined"] == "i:0")
        #expect(byID["i:1"]?["arrival_at"] == (version >= 4 ? "r:1772359200.0" : "null"))
        #expect(byID["i:8"]?["arrival_at"] == (version >= 4 ? "null" : nil), "invalid JSON: no arrival")
        let mailboxes = try SQLiteProbe.dump(path, "SELECT * FROM mailboxes ORDER BY id")
        #expect(mailboxes.first?["login_delay"] == (version >= 2 ? "i:900" : "null"))
        // Schema 9: nothing said yet by `run --quiet`; the first listing is taken to be the earliest first sight of
        // a mailbox's messages (routed deliveries left out): isp/chris's oldest is the removed one (schema 3 on).
        #expect(mailboxes.allSatisfy { $0["said_kind"] == "null" && $0["said_at"] == "null" })
        // (A state already at schema 9 keeps what it had: the seed rows below it never set a first listing.)
        if version < 9 {
            #expect(mailboxes.first?["first_listed_at"] == (version >= 3 ? "r:1690000000.0" : "r:1700000000.0"))
            #expect(mailboxes.last?["first_listed_at"] == "r:1700000001.0")
        } else {
            #expect(mailboxes.allSatisfy { $0["first_listed_at"] == "null" })
        }
        #expect(
            try SQLiteProbe.dump(
                path, "SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'messages_summary'"
            )
            .count == 1)
        // Schema 6 adds only an index: the per-poll UIDL read is answered from it alone.
        let plan = try SQLiteProbe.dump(
            path,
            """
            EXPLAIN QUERY PLAN SELECT uidl, coalesce(listed_size, -1) FROM messages
            WHERE mailbox_id = 1 AND parent_id IS NULL
            """)
        #expect(plan.contains { ($0["detail"] ?? "").contains("COVERING INDEX messages_listing") }, "\(plan)")
        // And the store works on it as on a new one: old rows are read, known UIDLs are not new again.
        #expect(
            try store.message(id: 1)
                == MessageRecord(
                    id: 1, uidl: "uid-delivered", listedSize: 1200, state: .delivered,
                    token: "1700000000.Mabc.mailferry",
                    targetRef: "new/1700000000.Mabc.mailferry", attempts: 1, firstSeenAt: 1_700_000_000, size: 1180,
                    messageID: version >= 4 ? "<m1@wingtip.example>" : nil,
                    dateHeader: version >= 4 ? "Sun, 1 Mar 2026 10:00:00 +0000" : nil, attemptTarget: "contoso"))
        #expect(try store.inDoubt(mailbox: 1).map(\.uidl) == ["uid-doubt"])
        #expect(try store.loginDelay(mailbox: 1) == (version >= 2 ? 900 : nil))
        #expect(try store.mailboxID(key: "isp/everyone") == 2)
        let listed = ["uid-delivered", "uid-deferred", "uid-dup", "uid-listed", "uid-doubt", "uid-new"]
        let sync = try store.syncListing(
            mailbox: 1,
            entries: listed.enumerated().map {
                ListedEntry(number: $0.offset + 1, uidl: $0.element, size: 10)
            })
        #expect(sync.new == 1)
        // The deferred row's retry time (2023) has passed; delivered, duplicate and in-doubt rows are not work.
        #expect(sync.work.map(\.uidl) == ["uid-deferred", "uid-listed", "uid-new"])

        // Schema 7: the trigger still derives the arrival of an envelope written alone (rows 2 and 4), and leaves
        // one written together with the envelope as written.
        try store.recordEnvelope(id: 2, messageID: nil, dateHeader: nil, json: Self.envelope)
        try store.markDelivering(
            id: 4, target: "contoso", token: "t4", size: 99, sha256: "ee55",
            envelope: .init(messageID: nil, dateHeader: nil, json: Self.envelope))
        // (A value other than the JSON's, only to show the trigger leaves it alone.)
        try store.markDelivering(
            id: 5, target: "contoso", token: "t5", size: 480, sha256: "bb22",
            envelope: .init(
                messageID: nil, dateHeader: nil, json: Self.envelope,
                arrival: Date(timeIntervalSince1970: 1_000_000_000)))
        let arrivals = try SQLiteProbe.dump(
            path, "SELECT id, arrival_at FROM messages WHERE id IN (2, 4, 5) ORDER BY id")
        #expect(
            arrivals.map { $0["arrival_at"] } == ["r:1772359200.0", "r:1772359200.0", "r:1000000000.0"],
            "\(arrivals)")

        // Schema 10: no old row is marked vanished; the marked rows a poll reads come from the partial index alone,
        // and a listing that misses an old pending row marks it.
        #expect(messages.allSatisfy { $0["vanished_at"] == "null" && $0["seen_subject"] == "null" })
        let vanishedPlan = try SQLiteProbe.dump(
            path,
            """
            EXPLAIN QUERY PLAN SELECT uidl FROM messages
            WHERE mailbox_id = 1 AND parent_id IS NULL AND vanished_at IS NOT NULL
            """)
        #expect(
            vanishedPlan.contains { ($0["detail"] ?? "").contains("COVERING INDEX messages_vanished") },
            "\(vanishedPlan)")
        #expect(try store.vanishedUIDLs(mailbox: 1).isEmpty)
        let gaps = try store.noteListingGaps(mailbox: 1, gone: ["uid-new", "uid-delivered"], back: [])
        #expect(gaps.newlyVanished.map(\.uidl) == ["uid-new"] && gaps.goneAfterDelivery == 1)
    }
}

/// `verify` reads the state one mailbox at a time: exactly that mailbox's rows, routed deliveries included.
@Suite struct StateSnapshotPerMailboxTests {
    @Test func oneMailboxsRowsWithItsRoutedDeliveries() throws {
        let dir = TempFolder("permailbox")
        defer { dir.cleanup() }
        let path = dir.path + "/state.sqlite"
        let store = try Store(path: path)
        let all = try store.registerMailbox(
            key: "isp/everyone", source: "isp", user: "everyone", target: "t",
            address: "everyone@contoso.example")
        let bob = try store.registerMailbox(
            key: "isp/bob", source: "isp", user: "bob", target: "t",
            address: "bob@contoso.example")
        let (work, _) = try store.syncListing(
            mailbox: all,
            entries: [
                ListedEntry(number: 1, uidl: "u1", size: 10),
                ListedEntry(number: 2, uidl: "u2", size: 20),
            ])
        _ = try store.syncListing(mailbox: bob, entries: [ListedEntry(number: 1, uidl: "b1", size: 30)])
        let parent = try #require(work.first { $0.uidl == "u1" })
        _ = try store.routedDelivery(parent: parent, mailbox: all, address: "dana@contoso.example")
        try store.startRun(id: "20261122T000000.000Z")

        let one = try StateSnapshot.read(path: path, mailbox: "isp/everyone")
        #expect(Set(one.messages.map(\.mailboxKey)) == ["isp/everyone"])
        #expect(one.messages.count == 3 && one.runs.isEmpty)
        let merged = try StateFiles.readMessages([path], mailbox: "isp/everyone")
        #expect(merged.messages["isp/everyone"]?.map(\.uidl) == ["u1", "u2"])
        #expect(merged.routed["isp/everyone"]?["u1"]?.map(\.address) == ["dana@contoso.example"])
        #expect(merged.messages["isp/bob"] == nil)
        #expect(try StateSnapshot.read(path: path, mailbox: "isp/bob").messages.map(\.uidl) == ["b1"])
        #expect(try StateSnapshot.read(path: path, mailbox: "isp/nobody").messages.isEmpty)
        let whole = try StateSnapshot.read(path: path)
        #expect(whole.messages.count == 4 && whole.runs.count == 1)
    }
}
