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

/// `mailferry verify` against a real migration (Dovecot as the legacy server): it names exactly the messages that
/// are not in their targets, and the duplicates, and changes nothing on the server.
@Suite struct VerifyEndToEndTests {
    static func verify(_ e2e: EndToEnd, _ extra: [String] = []) throws -> (
        code: Int32, report: VerifyReport?,
        out: String, err: String
    ) {
        let (code, out, err) = try EndToEnd.mailferry(["verify", e2e.planFile] + extra)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let report =
            extra.contains("--json")
            ? try? decoder.decode(VerifyReport.self, from: Data(out.utf8)) : nil
        return (code, report, out, err)
    }

    /// After a clean run everything is there; then two delivered files vanish from alice's Maildir, a copy of one
    /// of bob's messages appears in his, and a new message reaches bob's legacy mailbox after the run: verify names
    /// exactly those three missing and that one duplicate, exits 1, and the server keeps every message.
    @Test func namesExactlyTheMissingMessagesAndTheDuplicates() throws {
        let e2e = try EndToEnd("verify", counts: ["alice": 10, "bob": 6])
        let run = try e2e.run()
        #expect(run.code == 0, "\(run.out) \(run.err)")
        let clean = try Self.verify(e2e)
        #expect(clean.code == 0, "\(clean.out) \(clean.err)")
        #expect(
            clean.out.contains(
                "verify: all 16 messages on the legacy servers are in their target mailboxes; "
                    + "0 duplicates; exit 0"), "\(clean.out)")

        let alice = try e2e.rows("alice").filter { $0.state == "delivered" }.sorted { $0.uidl < $1.uidl }
        let removed = [alice[2], alice[7]]
        for row in removed { try FileManager.default.removeItem(atPath: e2e.maildir("alice") + "/" + row.ref!) }
        let bob = try e2e.rows("bob").filter { $0.state == "delivered" }.sorted { $0.uidl < $1.uidl }
        try FileManager.default.copyItem(
            atPath: e2e.maildir("bob") + "/" + bob[1].ref!,
            toPath: e2e.maildir("bob") + "/cur/restored-from-backup:2,S")
        try e2e.lab.seed(
            user: "bob",
            messages: Corpus.mailbox(
                user: "bob", domain: "wingtip.example", count: 1,
                seed: 99, bigAttachment: false))
        let before = try e2e.serverMessages("alice").count + e2e.serverMessages("bob").count
        let newUIDL = try #require(Set(try e2e.serverMessages("bob").keys).subtracting(bob.map(\.uidl)).first)

        let result = try Self.verify(e2e, ["--json"])
        #expect(result.code == 1, "\(result.err)")
        let report = try #require(result.report, "\(result.out)")
        let missing = Set(report.missing.map { "\($0.mailbox) \($0.uidl)" })
        #expect(missing == Set(removed.map { "isp/alice \($0.uidl)" } + ["isp/bob \(newUIDL)"]))
        #expect(report.duplicates.map { "\($0.mailbox) \($0.uidl)" } == ["isp/bob \(bob[1].uidl)"])
        #expect(report.duplicates.first?.detail.contains("cur/restored-from-backup:2,S") == true)
        #expect(report.onServer == 17 && report.inTarget == 14 && report.exitCode == 1)
        #expect(
            report.verdict == "3 of 17 messages on the legacy servers are missing from their target mailboxes; "
                + "1 duplicate")
        // Nothing changed: every message still on the server, the state as the run left it.
        #expect(try e2e.serverMessages("alice").count + e2e.serverMessages("bob").count == before)
        #expect(try e2e.rows("alice").allSatisfy { $0.state == "delivered" })
        // The verdict is kept for the dashboard.
        let html = try String(contentsOfFile: e2e.workspace + "/reports/e2e/index.html", encoding: .utf8)
        #expect(html.contains("3 of 17 messages on the legacy servers are missing"))
        #expect(VerifyReport.load(e2e.workspace + "/reports/e2e/verify.json") == report)

        // The text names the same messages, by mailbox and UIDL.
        let text = try Self.verify(e2e)
        for row in removed {
            #expect(text.out.contains("isp/alice \(row.uidl) ("), "\(text.out)")
        }
        #expect(text.out.contains("isp/bob \(newUIDL) (") && text.out.contains("not migrated yet"))

        // A run brings bob's new message; alice's lost files stay missing (the state says delivered: verify
        // trusts the target, not the state).
        #expect(try e2e.run().code == 0)
        let after = try Self.verify(e2e, ["--json"])
        #expect(Set(after.report?.missing.map(\.uidl) ?? []) == Set(removed.map(\.uidl)))
    }

    /// Into IMAP (the lab's Dovecot, an admin acting for each mailbox): found by Message-ID and size, read-only.
    /// A message expunged from the target afterwards is named missing.
    @Test func imapTargetsAreSearchedReadOnly() throws {
        let e2e = try EndToEnd("verify-imap", counts: ["carol": 6], kind: .imap)
        #expect(try e2e.run().code == 0)
        let clean = try Self.verify(e2e, ["--json"])
        #expect(
            clean.code == 0 && clean.report?.inTarget == 6 && clean.report?.missing.isEmpty == true,
            "\(clean.out) \(clean.err)")
        // Remove one stored message from the target Maildir behind Dovecot's back (it notices on the next sync).
        let (victim, stored) = try #require(e2e.deliveredFiles("carol").sorted { $0.key < $1.key }.first)
        let server = try e2e.serverMessages("carol")
        let uidl = try #require(server.first { EndToEnd.lfOnly($0.value) == stored }?.key)
        try FileManager.default.removeItem(atPath: e2e.targetMaildir("carol") + "/" + victim)
        let result = try Self.verify(e2e, ["--json"])
        #expect(result.code == 1)
        #expect(result.report?.missing.map(\.uidl) == [uidl], "\(result.out)")
        #expect(result.report?.inTarget == 5)
    }

    /// LMTP hands messages on: nothing can be read back, so verify says "delivered per state, not verifiable" and
    /// still exits 0 when the state has every message delivered.
    @Test func lmtpTargetsAreDeliveredPerStateNotVerifiable() throws {
        let e2e = try EndToEnd("verify-lmtp", counts: ["dana": 4], kind: .lmtp)
        #expect(try e2e.run().code == 0)
        let result = try Self.verify(e2e, ["--json"])
        #expect(result.code == 0, "\(result.out) \(result.err)")
        let report = try #require(result.report)
        #expect((report.onServer, report.inTarget, report.notVerifiable, report.missing.count) == (4, 0, 4, 0))
        #expect(
            report.verdict.contains(
                "(4 of them delivered per state into LMTP/SMTP targets, which cannot be "
                    + "read back: not verifiable)"))
    }
}
