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

/// A lost state never doubles a mailbox (docs/design.md, "A lost state"): after a real migration from Dovecot, the
/// state is deleted, truncated to 0 bytes and replaced by an empty database in turn; each time the next run refuses
/// (exit 2), `adopt` finds every message in its target, the run after it delivers nothing and verify finds no
/// duplicate.
@Suite(.serialized) struct LostStateEndToEndTests {
    enum Loss: String, CaseIterable {
        case deleted, truncated, emptyDatabase
    }

    static func lose(_ state: String, _ loss: Loss) throws {
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: state + suffix) }
        switch loss {
        case .deleted:
            try FileManager.default.removeItem(atPath: state)
        case .truncated:
            #expect(truncate(state, 0) == 0)
        case .emptyDatabase:
            try FileManager.default.removeItem(atPath: state)
            let db = try Database(path: state)
            try db.execute("CREATE TABLE scratch (x); DROP TABLE scratch;")
        }
    }

    @Test(arguments: [EndToEnd.Kind.maildir, .imap])
    func aLostStateIsRefusedThenAdopted(kind: EndToEnd.Kind) throws {
        let e2e = try EndToEnd(
            "lost-state-\(kind.rawValue)", counts: ["alice": 200, "bob": 200, "carol": 200],
            kind: kind)
        let first = try e2e.run()
        #expect(first.code == 0 && first.out.contains("600 messages delivered"), "\(first.out)\(first.err)")
        func delivered() throws -> Int {
            try ["alice", "bob", "carol"].reduce(0) { count, user in
                count
                    + (kind == .maildir
                        ? maildirFileCount(e2e.maildir(user))
                        : try e2e.lab.probe("\(user)-new").messages(in: "INBOX").count)
            }
        }
        #expect(try delivered() == 600)
        for loss in Loss.allCases {
            try Self.lose(e2e.statePath, loss)
            let refused = try e2e.run()
            #expect(refused.code == 2, "\(loss): \(refused.out)\(refused.err)")
            #expect(
                refused.err.contains("is missing or empty, but this plan has delivered mail before")
                    && refused.err.contains("mailferry adopt"), "\(loss): \(refused.err)")
            #expect(try delivered() == 600, "\(loss): a refused run delivered")

            let adopted = try EndToEnd.mailferry(["adopt", e2e.planFile], timeout: 300)
            #expect(adopted.code == 0, "\(loss): \(adopted.out)\(adopted.err)")
            #expect(
                adopted.out.contains(
                    "adopt: 600 matched, 0 not in the target (the next run delivers them), "
                        + "0 undecided"), "\(loss): \(adopted.out)")
            let again = try e2e.run()
            #expect(again.code == 0 && again.out.contains("0 messages delivered"), "\(loss): \(again.out)")
            #expect(try delivered() == 600)
            let verified = try VerifyEndToEndTests.verify(e2e)
            #expect(
                verified.code == 0
                    && verified.out.contains(
                        "all 600 messages on the legacy servers are in "
                            + "their target mailboxes; 0 duplicates"),
                "\(loss): \(verified.out)\(verified.err)")
        }
        // A second adopt on a state that runs have used is refused: it rebuilds only a lost state.
        let refusedAdopt = try EndToEnd.mailferry(["adopt", e2e.planFile])
        #expect(refusedAdopt.code == 2 && refusedAdopt.err.contains("not a lost state"), "\(refusedAdopt.err)")
    }

    /// A first run killed right after it stamped the state and wrote its markers (nothing fetched, no run recorded)
    /// is no lost state: the next run goes on (exit 0) and delivers every message once.
    @Test func aRunKilledRightAfterStampingGoesOnNextTime() throws {
        let e2e = try EndToEnd("stamped-then-killed", counts: ["alice": 5, "bob": 3])
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "after-state-stamp@1"])
        #expect(crashed.code != 0, "\(crashed.out)\(crashed.err)")
        #expect(FileManager.default.fileExists(atPath: e2e.workspace + "/target/.mailferry-e2e"))
        #expect(maildirFileCount(e2e.maildir("alice")) == 0)
        let again = try e2e.run()
        #expect(again.code == 0 && again.out.contains("8 messages delivered"), "\(again.out)\(again.err)")
        #expect(maildirFileCount(e2e.maildir("alice")) == 5 && maildirFileCount(e2e.maildir("bob")) == 3)
    }

    /// Another state (of the same plan) than the one that delivered into a Maildir root is refused; --new-state
    /// starts over on purpose.
    @Test func aSwappedStateIsRefusedAndNewStateStartsOver() throws {
        let e2e = try EndToEnd("swapped-state", counts: ["alice": 5])
        #expect(try e2e.run().code == 0)
        let markerPath = e2e.workspace + "/target/.mailferry-e2e"
        let marker = try String(contentsOfFile: markerPath, encoding: .utf8)
        #expect(marker.hasPrefix("mailferry plan e2e\nstate "))
        // A state of the same plan from elsewhere: it has delivered, but not here.
        let db = try Database(path: e2e.statePath)
        try db.execute("UPDATE meta SET value = 'another-state' WHERE key = 'state-id'")
        let refused = try e2e.run()
        #expect(refused.code == 2 && refused.err.contains("is not the one that delivered into"), "\(refused.err)")
        // Emptied targets and a fresh start on purpose: --new-state.
        try FileManager.default.removeItem(atPath: e2e.maildir("alice"))
        try Self.lose(e2e.statePath, .deleted)
        #expect(try e2e.run().code == 2)
        let fresh = try e2e.run(["--new-state"])
        #expect(fresh.code == 0 && fresh.out.contains("5 messages delivered"), "\(fresh.out)\(fresh.err)")
        #expect(maildirFileCount(e2e.maildir("alice")) == 5)
        #expect(try String(contentsOfFile: markerPath, encoding: .utf8) != marker, "the marker names the new state")
    }
}

/// A plan edit that moves a mailbox after deliveries is refused; `--rebind` accepts it: new mail lands in the new
/// target, old mail stays, and what a crash left in doubt is settled at the old target, where it was attempted.
@Suite(.serialized) struct RebindEndToEndTests {
    @Test func aMovedMailboxIsRefusedThenRebound() throws {
        let e2e = try EndToEnd("rebind", counts: ["alice": 40])
        // Killed after the target acknowledged a batch, before its checkpoints: in the old Maildir, rows in doubt.
        let crashed = try e2e.run(environment: ["MAILFERRY_CRASH_AT": "after-target-ack@1"])
        #expect(crashed.code == 128 + SIGKILL, "\(crashed.out)\(crashed.err)")
        let inDoubt = try e2e.rows("alice").filter { $0.state == "delivering" }.count
        let landed = maildirFileCount(e2e.maildir("alice"))
        #expect(inDoubt >= 1 && landed >= 1, "in doubt \(inDoubt), landed \(landed)")
        try e2e.lab.seed(
            user: "alice", messages: (1...3).map { Array("Subject: after the move \($0)\r\n\r\nnew\r\n".utf8) })
        // The plan moves alice to another target.
        let plan = try String(contentsOfFile: e2e.planFile, encoding: .utf8)
            .replacingOccurrences(
                of: #"targets: { archive: { kind: "maildir", path: "target/{mailbox}" } },"#,
                with: #"targets: { archive: { kind: "maildir", path: "target/{mailbox}" }, "#
                    + #"moved: { kind: "maildir", path: "moved/{mailbox}" } },"#
            )
            .replacingOccurrences(of: #"target: "archive""#, with: #"target: "moved""#)
        try plan.write(toFile: e2e.planFile, atomically: false, encoding: .utf8)
        let refused = try e2e.run()
        #expect(refused.code == 2, "\(refused.out)\(refused.err)")
        #expect(
            refused.err.contains("isp/alice") && refused.err.contains("it was bound to target archive")
                && refused.err.contains("now says target moved") && refused.err.contains("--rebind"), "\(refused.err)")
        let newMaildir = e2e.workspace + "/moved/alice@contoso.example"
        #expect(!FileManager.default.fileExists(atPath: newMaildir), "a refused run wrote into the new target")

        let rebound = try e2e.run(["--rebind", "isp/alice"])
        #expect(rebound.code == 0, "\(rebound.out)\(rebound.err)")
        // In doubt at the old target: settled there, not delivered again anywhere.
        #expect(rebound.out.contains("confirmed from an interrupted run") || inDoubt == 0, "\(rebound.out)")
        let old = maildirFileCount(e2e.maildir("alice"))
        let moved = maildirFileCount(newMaildir)
        #expect(old == landed, "old mail untouched: \(old) vs \(landed)")
        #expect(old + moved == 43, "every message once: \(old) + \(moved)")
        let movedBodies = try FileManager.default.contentsOfDirectory(atPath: newMaildir + "/new").map {
            String(decoding: FileManager.default.contents(atPath: newMaildir + "/new/" + $0)!, as: UTF8.self)
        }
        #expect(movedBodies.filter { $0.contains("after the move") }.count == 3)
        #expect(try e2e.rows("alice").allSatisfy { $0.state == "delivered" })
        // The report says so; the next run moves nothing and is not refused.
        let reports = try FileManager.default.contentsOfDirectory(atPath: e2e.workspace + "/reports/e2e")
            .filter { $0.hasSuffix(".md") }.sorted()
        let report = try String(contentsOfFile: e2e.workspace + "/reports/e2e/" + reports.last!, encoding: .utf8)
        #expect(report.contains("moved from target archive"), "\(report)")
        let again = try e2e.run()
        #expect(again.code == 0 && again.out.contains("0 messages delivered"), "\(again.out)\(again.err)")
    }
}
