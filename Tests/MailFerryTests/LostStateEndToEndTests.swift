import Foundation
import MailFerryLab
import Testing
@testable import MailFerry

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
        let e2e = try EndToEnd("lost-state-\(kind.rawValue)", counts: ["alice": 200, "bob": 200, "carol": 200],
                               kind: kind)
        let first = try e2e.run()
        #expect(first.code == 0 && first.out.contains("600 messages delivered"), "\(first.out)\(first.err)")
        func delivered() throws -> Int {
            try ["alice", "bob", "carol"].reduce(0) { count, user in
                count + (kind == .maildir ? maildirFileCount(e2e.maildir(user))
                    : try e2e.lab.probe("\(user)-new").messages(in: "INBOX").count)
            }
        }
        #expect(try delivered() == 600)
        for loss in Loss.allCases {
            try Self.lose(e2e.statePath, loss)
            let refused = try e2e.run()
            #expect(refused.code == 2, "\(loss): \(refused.out)\(refused.err)")
            #expect(refused.err.contains("is missing or empty, but this plan has delivered mail before")
                && refused.err.contains("mailferry adopt"), "\(loss): \(refused.err)")
            #expect(try delivered() == 600, "\(loss): a refused run delivered")

            let adopted = try EndToEnd.mailferry(["adopt", e2e.planFile], timeout: 300)
            #expect(adopted.code == 0, "\(loss): \(adopted.out)\(adopted.err)")
            #expect(adopted.out.contains("adopt: 600 matched, 0 not in the target (the next run delivers them), "
                + "0 undecided"), "\(loss): \(adopted.out)")
            let again = try e2e.run()
            #expect(again.code == 0 && again.out.contains("0 messages delivered"), "\(loss): \(again.out)")
            #expect(try delivered() == 600)
            let verified = try VerifyEndToEndTests.verify(e2e)
            #expect(verified.code == 0 && verified.out.contains("all 600 messages on the legacy servers are in "
                + "their target mailboxes; 0 duplicates"), "\(loss): \(verified.out)\(verified.err)")
        }
        // A second adopt on a state that runs have used is refused: it rebuilds only a lost state.
        let refusedAdopt = try EndToEnd.mailferry(["adopt", e2e.planFile])
        #expect(refusedAdopt.code == 2 && refusedAdopt.err.contains("not a lost state"), "\(refusedAdopt.err)")
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
