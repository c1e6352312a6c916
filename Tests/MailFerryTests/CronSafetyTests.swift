import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Months of cron runs: poisonous messages are quarantined, a renumbered maildrop trips the breaker instead of
/// being copied twice, and retention deletes only what was confirmed long enough ago.
@Suite(.serialized) struct CronSafetyTests {
    typealias Setup = POP3RunnerBehaviourTests.Setup

    func run(
        _ setup: Setup, adjust: (inout Plan) -> Void = { _ in },
        options: RunOptions = RunOptions()
    ) throws -> MailboxResult {
        var plan = try PlanLoader.load(setup.planFile)
        adjust(&plan)
        let runner = try Runner(plan: plan, store: try Store(path: plan.statePath))
        return runner.run(options: options, runID: "test").first!
    }

    static func session(uidls: [String], bodies: [String], refuse: Set<Int> = [], retrieve: Bool = true) -> [FakeStep] {
        let list = bodies.enumerated().map { "\($0.offset + 1) \($0.element.utf8.count)\r\n" }.joined()
        let uidl = uidls.enumerated().map { "\($0.offset + 1) \($0.element)\r\n" }.joined()
        var steps =
            POP3RunnerBehaviourTests.login() + [
                .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
                .expect("LIST"), .send("+OK\r\n\(list).\r\n"), .expect("UIDL"), .send("+OK\r\n\(uidl).\r\n"),
            ]
        if retrieve {
            for (index, body) in bodies.enumerated() {
                steps.append(.expect("RETR \(index + 1)"))
                steps.append(
                    .send(
                        refuse.contains(index + 1)
                            ? "-ERR [SYS/TEMP] cannot read it now\r\n"
                            : "+OK\r\n\(body).\r\n"))
            }
        }
        return steps + [.expect("QUIT"), .send("+OK\r\n")]
    }

    @Test func aMessageThatKeepsFailingIsQuarantinedAndTheRestArrive() throws {
        let bodies = ["Subject: good\r\n\r\nok\r\n", "Subject: bad\r\n\r\nnever readable\r\n"]
        let server = try FakeServer(connections: 3) { s in
            // The refused message is retried on later runs only when due: make every run see it as due.
            for step in Self.session(
                uidls: s.number == 0 ? ["G", "B"] : ["G", "B"], bodies: bodies,
                refuse: [2], retrieve: s.number == 0)
            {
                if s.number > 0, case .expect("QUIT") = step {
                    try s.run(.expect("RETR 2"))
                    try s.send("-ERR [SYS/TEMP] cannot read it now\r\n")
                }
                try s.run(step)
            }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let due: (inout Plan) -> Void = { $0.quarantineAfter = 3 }
        var results: [MailboxResult] = []
        for _ in 0..<3 {
            results.append(try run(setup, adjust: due))
            // Make the deferred message due again at once (the backoff is minutes).
            let db = try Database(
                path: URL(fileURLWithPath: setup.folder.path).standardizedFileURL.path
                    + "/state/fake.sqlite")
            try db.execute("UPDATE messages SET next_try_at = 0 WHERE state = 'deferred'")
        }
        server.finish()
        #expect(results[0].delivered == 1 && results[0].deferred == 1, "\(results[0])")
        #expect(results[1].deferred == 1 && results[1].quarantined == 0, "\(results[1])")
        #expect(results[2].quarantined == 1 && results[2].deferred == 0, "\(results[2])")
        #expect(setup.fileContents() == [bodies[0]])
        let db = try Database(
            path: URL(fileURLWithPath: setup.folder.path).standardizedFileURL.path
                + "/state/fake.sqlite")
        let row = try db.prepare("SELECT state, quarantined, last_error FROM messages WHERE uidl = 'B'")
            .rows { ($0.text(0), $0.int(1), $0.text(2)) }.first
        #expect(row?.0 == "failed" && row?.1 == 1)
        #expect(row?.2?.contains("quarantined after 3 failed attempts") == true, "\(String(describing: row))")
    }

    /// Backoff: remote trouble waits 5 minutes after the first failure, doubling per attempt up to 6 hours; local
    /// trouble (the target's disk, permissions) and a full mailbox are worth trying again on the very next run.
    @Test func retryTimeDoublesFromFiveMinutesToSixHoursAndLocalTroubleIsDueAtOnce() {
        let expected: [(Int, Double)] = [
            (0, 300), (1, 300), (2, 600), (3, 1200), (4, 2400), (5, 4800), (6, 9600),
            (7, 19200), (8, 21600), (9, 21600), (40, 21600),
        ]
        for kind in [FailureKind.transient, .permanent, .auth, .tls, .protocol] {
            for (attempts, delay) in expected {
                let before = Date().timeIntervalSince1970
                let due = Runner.retryTime(attempts: attempts, kind: kind)
                let after = Date().timeIntervalSince1970
                #expect(due >= before + delay && due <= after + delay, "\(kind) after \(attempts): \(due - before)")
            }
        }
        for kind in [FailureKind.local, .quota] {
            for attempts in [1, 5, 40] {
                let before = Date().timeIntervalSince1970
                let due = Runner.retryTime(attempts: attempts, kind: kind)
                #expect(due >= before && due <= Date().timeIntervalSince1970, "\(kind) after \(attempts)")
            }
        }
    }

    /// A deferred message is not fetched again before its next try: the second run lists it and sends no RETR for it
    /// (the scripted server fails the test on any), the third, once it is due, fetches and delivers it.
    @Test func aDeferredMessageIsNotFetchedBeforeItsNextTry() throws {
        let bodies = ["Subject: good\r\n\r\nok\r\n", "Subject: later\r\n\r\nreadable later\r\n"]
        let server = try FakeServer(connections: 3) { s in
            switch s.number {
            case 0:
                for step in Self.session(uidls: ["G", "L"], bodies: bodies, refuse: [2]) { try s.run(step) }
            case 1:
                for step in Self.session(uidls: ["G", "L"], bodies: bodies, retrieve: false) { try s.run(step) }
            default:
                for step in Self.session(uidls: ["G", "L"], bodies: bodies, retrieve: false) {
                    if case .expect("QUIT") = step {
                        try s.run(.expect("RETR 2"))
                        try s.send("+OK\r\n\(bodies[1]).\r\n")
                    }
                    try s.run(step)
                }
            }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let started = Date().timeIntervalSince1970
        let first = try run(setup)
        #expect(first.delivered == 1 && first.deferred == 1, "\(first)")
        let db = try Database(
            path: URL(fileURLWithPath: setup.folder.path).standardizedFileURL.path
                + "/state/fake.sqlite")
        func row() throws -> (state: String, nextTry: Double, attempts: Int64)? {
            try db.prepare("SELECT state, coalesce(next_try_at, 0), attempts FROM messages WHERE uidl = 'L'")
                .rows { ($0.text(0) ?? "", $0.double(1), $0.int(2)) }.first
        }
        let deferred = try row()
        #expect(deferred?.state == "deferred")
        // The first failure of a transient kind: five minutes.
        let nextTry = deferred?.nextTry ?? 0
        #expect(
            nextTry >= started + 300 && nextTry <= Date().timeIntervalSince1970 + 300,
            "next try \(String(describing: deferred))")
        let second = try run(setup)
        #expect(second.delivered == 0 && second.error == nil, "\(second)")
        #expect(try row()?.state == "deferred" && (try row()?.nextTry) == deferred?.nextTry, "untouched until due")
        #expect(setup.fileContents() == [bodies[0]])
        try db.execute("UPDATE messages SET next_try_at = \(Date().timeIntervalSince1970 - 1) WHERE uidl = 'L'")
        let third = try run(setup)
        server.finish()
        #expect(third.delivered == 1 && third.deferred == 0, "\(third)")
        #expect(setup.fileContents() == bodies.sorted())
        #expect(!server.transcripts[1].plainText.contains("RETR"), "the second run asked for the deferred message")
    }

    static let twelve = (1...12).map {
        "Subject: message \($0)\r\n\r\n" + String(repeating: "x", count: $0 * 7) + "\r\n"
    }

    @Test func renumberedUIDLsTripTheBreakerAndRekeyDeliversNothingTwice() throws {
        let old = (1...12).map { "old-\($0)" }
        let new = (1...12).map { "new-\($0)" }
        let server = try FakeServer(connections: 3) { s in
            switch s.number {
            case 0: for step in Self.session(uidls: old, bodies: Self.twelve) { try s.run(step) }
            case 1: for step in Self.session(uidls: new, bodies: Self.twelve, retrieve: false) { try s.run(step) }
            default: for step in Self.session(uidls: new, bodies: Self.twelve) { try s.run(step) }
            }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let first = try run(setup)
        #expect(first.delivered == 12, "\(first)")
        let tripped = try run(setup)
        #expect(
            tripped.errorKind == .permanent && tripped.error?.contains("UIDL reset suspected") == true,
            "\(tripped)")
        #expect(tripped.delivered == 0 && tripped.new == 0)
        let rekeyed = try run(setup) { $0.sources["odd"]!.onUIDLReset = .rekey }
        server.finish()
        #expect(rekeyed.error == nil && rekeyed.delivered == 0 && rekeyed.duplicate == 12, "\(rekeyed)")
        #expect(setup.maildirFiles.count == 12)
        // The report names each message set aside and the UIDL whose delivery it repeats.
        #expect(
            rekeyed.duplicates?.entries.map { "\($0.uidl)=\($0.duplicates)" }
                == (1...12).map { "new-\($0)=old-\($0)" })
        let report = ReportWriter.markdown(
            RunSummary(
                runID: "r", plan: "p", startedAt: Date(), finishedAt: Date(),
                mailboxes: [rekeyed], interrupted: false, exitCode: 0))
        #expect(report.contains("## Set aside as duplicates") && report.contains("| new-7 | old-7 |"), "\(report)")
    }

    /// Two UIDLs listed together are two messages, even with byte-identical contents (the same bounce saved twice):
    /// both are delivered. The content hash only recognises a message whose earlier UIDL is gone.
    @Test func twinsListedTogetherAreBothDelivered() throws {
        let bodies = [
            "Subject: bounce\r\n\r\nsame\r\n", "Subject: bounce\r\n\r\nsame\r\n",
            "Subject: other\r\n\r\ndifferent\r\n",
        ]
        let server = try FakeServer(connections: 2) { s in
            for step in Self.session(uidls: ["a", "b", "c"], bodies: bodies, retrieve: s.number == 0) {
                try s.run(step)
            }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let first = try run(setup)
        #expect(first.delivered == 3 && first.duplicate == 0 && first.duplicates == nil, "\(first)")
        #expect(setup.maildirFiles.count == 3)
        #expect(setup.fileContents().sorted() == bodies.sorted())
        let again = try run(setup)
        server.finish()
        #expect(again.delivered == 0 && again.duplicate == 0 && again.error == nil, "\(again)")
        #expect(setup.maildirFiles.count == 3)
    }

    /// A UIDL that was shared and no longer is (or the other way round) names the same messages: what was delivered
    /// under "<UIDL>#<hash>" is not delivered again under the plain UIDL, nor the plain one again under its hash.
    @Test func aUIDLThatStopsOrStartsBeingSharedDeliversNothingTwice() throws {
        let bodies = ["one", "two", "three", "four"].map { "Subject: \($0)\r\n\r\n\($0)\r\n" }
        let server = try FakeServer(connections: 4) { s in
            let steps: [FakeStep]
            switch s.number {
            case 0: steps = Self.session(uidls: ["x", "x"], bodies: [bodies[0], bodies[1]])  // shared: both new
            case 1: steps = Self.session(uidls: ["x"], bodies: [bodies[0]])  // plain again: the same message
            case 2: steps = Self.session(uidls: ["y"], bodies: [bodies[2]])  // a new message
            default: steps = Self.session(uidls: ["y", "y"], bodies: [bodies[2], bodies[3]])  // y shared now
            }
            for step in steps { try s.run(step) }
        }
        let setup = Setup(port: server.port)
        defer { setup.folder.cleanup() }
        let shared = try run(setup)
        #expect(shared.delivered == 2 && shared.error == nil, "\(shared)")
        let plain = try run(setup)
        #expect(plain.delivered == 0 && plain.duplicate == 1 && plain.error == nil, "\(plain)")
        #expect(setup.maildirFiles.count == 2)
        let fresh = try run(setup)
        #expect(fresh.delivered == 1, "\(fresh)")
        // Now "y" is shared: its first copy is the plain "y" delivered before (the same message), the second is new.
        let sharedAgain = try run(setup)
        server.finish()
        #expect(sharedAgain.delivered == 1 && sharedAgain.duplicate == 1, "\(sharedAgain)")
        #expect(setup.fileContents().sorted() == bodies.sorted())
    }

    /// Retention deletes a message at the source only when every delivery of it is confirmed and old enough. Old
    /// rows that are not (a deferred message, a failed one, a catch-all message one of whose routed deliveries
    /// failed although the other was delivered long ago) stay on the server, however old their timestamps.
    @Test func retentionDeletesOnlyConfirmedOldDeliveriesAndDryRunOnlyLists() throws {
        let folder = TempFolder("retention")
        defer { folder.cleanup() }
        let lab = try DovecotLab.start(users: ["lee": "lee-pw"])
        defer { lab.stop() }
        try lab.seed(
            user: "lee",
            messages: Corpus.mailbox(
                user: "lee", domain: "example.com", count: 9, seed: 3,
                bigAttachment: false))
        let secret = folder.file("secrets/lee", "lee-pw\n")
        let planFile = folder.file(
            "jobs/keep.json5",
            """
            { plan: "keep",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { box: { kind: "maildir", path: "target/{user}" } },
              mailboxes: [ { source: "isp", user: "lee", password: { file: "\(secret)" }, target: "box" } ] }
            """)
        let setup = Setup(planFile: planFile, folder: folder)
        let retain: (inout Plan) -> Void = { $0.sources["isp"]!.deleteFromSourceAfterDays = 30 }
        let first = try run(setup, adjust: retain)
        #expect(first.delivered == 9 && first.removed == 0, "delivered today: nothing is old enough")
        func onServer() -> Int { maildirFileCount(lab.maildir(of: "lee").path) }
        #expect(onServer() == 9)
        // Four of the nine were delivered 31 days ago.
        let statePath = URL(fileURLWithPath: folder.path).standardizedFileURL.path + "/state/keep.sqlite"
        let db = try Database(path: statePath)
        try db.execute("UPDATE messages SET delivered_at = delivered_at - 31 * 86400 WHERE id <= 4")
        // Three more are as old, but not confirmed: one deferred (its next try far off, so this run leaves it be),
        // one failed, and one a catch-all message (its own row failed: one of its two routed deliveries failed)
        // whose other routed delivery was delivered 31 days ago. Their ids, then the routed deliveries' rows.
        let old = "first_seen_at = first_seen_at - 40 * 86400, delivered_at = delivered_at - 31 * 86400"
        try db.execute("UPDATE messages SET state = 'deferred', next_try_at = 4e9, \(old) WHERE id = 5")
        try db.execute("UPDATE messages SET state = 'failed', last_error = 'refused', \(old) WHERE id = 6")
        try db.execute(
            """
            UPDATE messages SET state = 'failed', token = 'routed', last_error = '1 of 2 routed deliveries failed',
            \(old) WHERE id = 7
            """)
        try db.execute(
            """
            INSERT INTO messages (mailbox_id, uidl, state, first_seen_at, updated_at, delivered_at, parent_id, address,
                                  target_ref)
            SELECT mailbox_id, uidl || '>kim@example.com', 'delivered', first_seen_at, updated_at, delivered_at, id,
                   'kim@example.com', 'new/routed-copy' FROM messages WHERE id = 7
            """)
        try db.execute(
            """
            INSERT INTO messages (mailbox_id, uidl, state, first_seen_at, updated_at, parent_id, address, last_error)
            SELECT mailbox_id, uidl || '>gone@example.com', 'failed', first_seen_at, updated_at, id,
                   'gone@example.com', '550 5.1.1 no such user' FROM messages WHERE id = 7
            """)
        let preview = try run(setup, adjust: retain, options: RunOptions(dryRun: true))
        #expect(preview.notes.contains { $0.hasPrefix("would delete 4 messages") }, "\(preview.notes)")
        #expect(onServer() == 9, "a dry run deletes nothing")
        let second = try run(setup, adjust: retain)
        #expect(second.removed == 4 && second.delivered == 0, "\(second)")
        #expect(onServer() == 5)
        let states = try db.prepare("SELECT state, count(*) FROM messages GROUP BY state ORDER BY state")
            .rows { "\($0.text(0) ?? "")=\($0.int(1))" }
        // delivered: ids 8 and 9 and the routed copy; failed: 6, 7 and the refused routed delivery.
        #expect(states == ["deferred=1", "delivered=3", "failed=3", "removed=4"], "\(states)")
        let kept = try db.prepare("SELECT id FROM messages WHERE id BETWEEN 5 AND 7 AND state != 'removed'")
            .rows { $0.int(0) }
        #expect(kept == [5, 6, 7])
        // Without the policy nothing is ever deleted.
        try db.execute("UPDATE messages SET delivered_at = delivered_at - 31 * 86400")
        let third = try run(setup)
        #expect(third.removed == 0 && onServer() == 5)
    }
}
