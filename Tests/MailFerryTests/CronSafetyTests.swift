import Foundation
import MailFerryLab
import Testing
@testable import MailFerry

/// Months of cron runs: poisonous messages are quarantined, a renumbered maildrop trips the breaker instead of
/// being copied twice, and retention deletes only what was confirmed long enough ago.
@Suite(.serialized) struct CronSafetyTests {
    typealias Setup = POP3RunnerBehaviourTests.Setup

    func run(_ setup: Setup, adjust: (inout Plan) -> Void = { _ in },
             options: RunOptions = RunOptions()) throws -> MailboxResult {
        var plan = try PlanLoader.load(setup.planFile)
        adjust(&plan)
        let runner = try Runner(plan: plan, store: try Store(path: plan.statePath))
        return runner.run(options: options, runID: "test").first!
    }

    static func session(uidls: [String], bodies: [String], refuse: Set<Int> = [], retrieve: Bool = true) -> [FakeStep] {
        let list = bodies.enumerated().map { "\($0.offset + 1) \($0.element.utf8.count)\r\n" }.joined()
        let uidl = uidls.enumerated().map { "\($0.offset + 1) \($0.element)\r\n" }.joined()
        var steps = POP3RunnerBehaviourTests.login() + [
            .expect("CAPA"), .send("+OK\r\nUSER\r\nUIDL\r\n.\r\n"),
            .expect("LIST"), .send("+OK\r\n\(list).\r\n"), .expect("UIDL"), .send("+OK\r\n\(uidl).\r\n"),
        ]
        if retrieve {
            for (index, body) in bodies.enumerated() {
                steps.append(.expect("RETR \(index + 1)"))
                steps.append(.send(refuse.contains(index + 1) ? "-ERR [SYS/TEMP] cannot read it now\r\n"
                                                              : "+OK\r\n\(body).\r\n"))
            }
        }
        return steps + [.expect("QUIT"), .send("+OK\r\n")]
    }

    @Test func aMessageThatKeepsFailingIsQuarantinedAndTheRestArrive() throws {
        let bodies = ["Subject: good\r\n\r\nok\r\n", "Subject: bad\r\n\r\nnever readable\r\n"]
        let server = try FakeServer(connections: 3) { s in
            // The refused message is retried on later runs only when due: make every run see it as due.
            for step in Self.session(uidls: s.number == 0 ? ["G", "B"] : ["G", "B"], bodies: bodies,
                                     refuse: [2], retrieve: s.number == 0) {
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
            let db = try Database(path: URL(fileURLWithPath: setup.folder.path).standardizedFileURL.path
                                  + "/state/fake.sqlite")
            try db.execute("UPDATE messages SET next_try_at = 0 WHERE state = 'deferred'")
        }
        server.finish()
        #expect(results[0].delivered == 1 && results[0].deferred == 1, "\(results[0])")
        #expect(results[1].deferred == 1 && results[1].quarantined == 0, "\(results[1])")
        #expect(results[2].quarantined == 1 && results[2].deferred == 0, "\(results[2])")
        #expect(setup.fileContents() == [bodies[0]])
        let db = try Database(path: URL(fileURLWithPath: setup.folder.path).standardizedFileURL.path
                              + "/state/fake.sqlite")
        let row = try db.prepare("SELECT state, quarantined, last_error FROM messages WHERE uidl = 'B'")
            .rows { ($0.text(0), $0.int(1), $0.text(2)) }.first
        #expect(row?.0 == "failed" && row?.1 == 1)
        #expect(row?.2?.contains("quarantined after 3 failed attempts") == true, "\(String(describing: row))")
    }

    static let twelve = (1...12).map { "Subject: message \($0)\r\n\r\n" + String(repeating: "x", count: $0 * 7) + "\r\n" }

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
        #expect(tripped.errorKind == .permanent && tripped.error?.contains("UIDL reset suspected") == true,
                "\(tripped)")
        #expect(tripped.delivered == 0 && tripped.new == 0)
        let rekeyed = try run(setup) { $0.sources["odd"]!.onUIDLReset = .rekey }
        server.finish()
        #expect(rekeyed.error == nil && rekeyed.delivered == 0 && rekeyed.duplicate == 12, "\(rekeyed)")
        #expect(setup.maildirFiles.count == 12)
    }

    @Test func retentionDeletesOnlyConfirmedOldDeliveriesAndDryRunOnlyLists() throws {
        let folder = TempFolder("retention")
        defer { folder.cleanup() }
        let lab = try DovecotLab.start(users: ["lee": "lee-pw"])
        defer { lab.stop() }
        try lab.seed(user: "lee", messages: Corpus.mailbox(user: "lee", domain: "example.com", count: 6, seed: 3,
                                                            bigAttachment: false))
        let secret = folder.file("secrets/lee", "lee-pw\n")
        let planFile = folder.file("jobs/keep.json5", """
            { plan: "keep",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { box: { kind: "maildir", path: "target/{user}" } },
              mailboxes: [ { source: "isp", user: "lee", password: { file: "\(secret)" }, target: "box" } ] }
            """)
        let setup = Setup(planFile: planFile, folder: folder)
        let retain: (inout Plan) -> Void = { $0.sources["isp"]!.deleteFromSourceAfterDays = 30 }
        let first = try run(setup, adjust: retain)
        #expect(first.delivered == 6 && first.removed == 0, "delivered today: nothing is old enough")
        func onServer() -> Int {
            ["new", "cur"].reduce(0) {
                $0 + ((try? FileManager.default.contentsOfDirectory(
                    atPath: lab.maildir(of: "lee").appendingPathComponent($1).path))?.count ?? 0)
            }
        }
        #expect(onServer() == 6)
        // Four of the six were delivered 31 days ago.
        let statePath = URL(fileURLWithPath: folder.path).standardizedFileURL.path + "/state/keep.sqlite"
        let db = try Database(path: statePath)
        try db.execute("UPDATE messages SET delivered_at = delivered_at - 31 * 86400 WHERE id <= 4")
        let preview = try run(setup, adjust: retain, options: RunOptions(dryRun: true))
        #expect(preview.notes.contains { $0.hasPrefix("would delete 4 message(s)") }, "\(preview.notes)")
        #expect(onServer() == 6, "a dry run deletes nothing")
        let second = try run(setup, adjust: retain)
        #expect(second.removed == 4 && second.delivered == 0, "\(second)")
        #expect(onServer() == 2)
        let states = try db.prepare("SELECT state, count(*) FROM messages GROUP BY state ORDER BY state")
            .rows { "\($0.text(0) ?? "")=\($0.int(1))" }
        #expect(states == ["delivered=2", "removed=4"])
        // Without the policy nothing is ever deleted.
        try db.execute("UPDATE messages SET delivered_at = delivered_at - 31 * 86400")
        let third = try run(setup)
        #expect(third.removed == 0 && onServer() == 2)
    }
}
