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

/// Targets that say no, through the real binary: a Dovecot mailbox over quota (the rest waits, nothing is lost, a
/// later run delivers it once the quota is raised) and a Postfix relay refusing one of the people a catch-all
/// message is routed to (the others get it, the refusal is recorded with the server's reply).
@Suite(.serialized) struct TargetRefusalEndToEndTests {
    struct StateRow {
        var uidl: String
        var state: String
        var kind: String?
        var error: String?
        var nextTry: Double?
        var attempts: Int
    }

    static func stateRows(_ statePath: String, where condition: String) throws -> [StateRow] {
        let db = try Database(path: statePath)
        return try db.prepare(
            """
            SELECT uidl, state, error_kind, last_error, next_try_at, attempts FROM messages WHERE \(condition)
            ORDER BY uidl
            """
        ).rows {
            StateRow(
                uidl: $0.text(0) ?? "", state: $0.text(1) ?? "", kind: $0.text(2), error: $0.text(3),
                nextTry: $0.text(4).flatMap(Double.init), attempts: Int($0.int(5)))
        }
    }

    /// A "<user>-new" account with room for about two fifths of the mail: the run delivers what fits, defers what
    /// Dovecot refuses (IMAP NO [OVERQUOTA], LMTP 552 5.2.2; classified `quota`) and stops the mailbox there, as for
    /// any target in trouble, leaving the rest untouched for the next run. LMTP sends one message at a time, so
    /// exactly one is refused; IMAP pipelines its APPENDs, so the ones already on the wire behind the first refusal
    /// are answered too (refused, or stored when small enough to fit) and each is settled by its own answer. Nothing
    /// is lost or deleted from the POP3 server. Once the quota is raised, the next run (a quota deferral is due at
    /// once) delivers everything else, and every message is there exactly once.
    @Test(arguments: [EndToEnd.Kind.imap, .lmtp])
    func overQuotaDefersTheRestUntilTheQuotaIsRaised(kind: EndToEnd.Kind) throws {
        let count = 40
        let e2e = try EndToEnd("e2e-quota-\(kind.rawValue)", counts: ["quinn": count], kind: kind, quota: true)
        let server = try e2e.serverMessages("quinn")
        let total = server.values.reduce(0) { $0 + EndToEnd.lfOnly($1).count }
        try e2e.lab.setQuota(user: "quinn-new", bytes: total * 2 / 5)

        let first = try e2e.run()
        #expect(first.code != 0, "\(first.out)")
        let rows = try Self.stateRows(e2e.statePath, where: "1")  // UIDLs sort in POP3 order (pop3_uidl_format)
        let states = rows.map(\.state)
        let delivered = rows.filter { $0.state == "delivered" }
        let refused = rows.filter { $0.state == "deferred" }
        let untouched = rows.filter { $0.state == "listed" }
        // Every message is delivered (and in the target), deferred for the quota, or not yet tried: none in doubt.
        #expect(delivered.count + refused.count + untouched.count == count, "\(states)")
        #expect(delivered.count > 0 && !refused.isEmpty && !untouched.isEmpty, "\(states)")
        #expect(e2e.deliveredCount() == delivered.count)
        #expect(untouched.allSatisfy { $0.attempts == 0 })
        for row in refused {
            #expect(row.kind == "quota" && row.error?.lowercased().contains("quota") == true, "\(row)")
            #expect((row.nextTry ?? .infinity) <= Date().timeIntervalSince1970, "a quota deferral is due at once")
        }
        let firstRefused = try #require(rows.firstIndex { $0.state == "deferred" })
        #expect(rows[..<firstRefused].allSatisfy { $0.state == "delivered" }, "\(states)")
        if kind == .lmtp {
            // One message at a time: stopped at the first refusal, everything after it not even tried.
            #expect(refused.count == 1 && rows[(firstRefused + 1)...].allSatisfy { $0.state == "listed" }, "\(states)")
        } else {
            // At most a pipeline's worth of APPENDs was on the wire behind the first refusal.
            #expect(
                rows[(firstRefused + 1)...].filter { $0.state != "listed" }.count < IMAPDelivery.runPipelineDepth,
                "\(states)")
        }
        let report = try e2e.lastReport()
        let mailbox = try #require(report.mailboxes.first)
        #expect(
            mailbox.delivered == delivered.count && mailbox.deferred == refused.count
                && mailbox.pending == untouched.count, "\(mailbox)")
        #expect(
            mailbox.errorKind == .quota && mailbox.error?.lowercased().contains("quota") == true,
            "\(mailbox.error ?? "")")
        #expect(mailbox.messageErrors.count == refused.count)
        for row in refused {
            #expect(
                mailbox.messageErrors.contains { $0.contains(row.uidl) && $0.contains("Quota exceeded") },
                "\(mailbox.messageErrors)")
        }
        let markdown = try String(contentsOfFile: e2e.workspace + "/reports/e2e/\(report.runID).md", encoding: .utf8)
        #expect(markdown.contains(refused[0].uidl) && markdown.contains("Quota exceeded"), "\(markdown)")
        #expect(try e2e.serverMessages("quinn").count == count, "nothing is deleted from the POP3 server")

        try e2e.lab.setQuota(user: "quinn-new", bytes: nil)
        let second = try e2e.run()
        #expect(second.code == 0, "\(second.out)\n\(second.err)")
        #expect(try e2e.lastReport().mailboxes.first?.delivered == count - delivered.count)
        try e2e.expectExactlyOnce("quinn")
    }

    /// A catch-all message for three people (Exim's Envelope-To on the provider's own Received) through the SMTP
    /// target, where the relay refuses one of them at RCPT by policy: the other two get it once, the refused routed
    /// delivery is `failed` with Postfix's 5xx reply as its last error (no retry: a permanent refusal), the whole
    /// message is failed ("1 of 3 routed deliveries failed") and the report lists the refusal. A rerun delivers
    /// nothing again.
    @Test func relayRefusingOneRoutedRecipient() throws {
        let message = Array(
            [
                "Return-Path: <partner@example.net>",
                "Envelope-To: bob@wingtiptoys.com, dana@wingtiptoys.com, erin@wingtiptoys.com",
                "Received: from mail.example.net (mail.example.net [192.0.2.5])",
                "\tby mx1.wingtip-isp.example with esmtp (Exim 4.96) id 1qX-0002",
                "\tfor bob@wingtiptoys.com; Fri, 6 Nov 2026 16:45:10 +0000",
                "From: partner@example.net",
                "To: bob@wingtiptoys.com, dana@wingtiptoys.com, erin@wingtiptoys.com",
                "Subject: for three people, one of them refused",
                "Message-ID: <three-1@example.net>",
                "",
                "All three of you.",
                "",
            ].joined(separator: "\n").utf8)
        let folder = TempFolder("e2e-refuse")
        defer { folder.cleanup() }
        let people = ["bob", "dana", "erin", "postmaster"]
        var users = ["everyone": "pw-everyone-\(UUID().uuidString.prefix(6))"]
        for person in people { users[person] = "unused-\(UUID().uuidString)" }
        let lab = try DovecotLab.start(users: users)
        defer { lab.stop() }
        try lab.seed(user: "everyone", messages: [message])
        let relay = try PostfixLab.start(
            relayingTo: lab, recipients: people.map { "\($0)@contoso.example" },
            saslUsers: [EndToEnd.relayUser: EndToEnd.relayPassword], requireAuth: true,
            refusing: ["erin@contoso.example"])
        defer { try? relay.destroy() }
        let secret = folder.file("secrets/everyone", users["everyone"]! + "\n")
        let plan = folder.file(
            "jobs/refuse.json5",
            """
            { plan: "refuse",
              sources: { isp: { host: "127.0.0.1", port: \(lab.ports.pop3s), caFile: "\(lab.caFile.path)" } },
              targets: { relay: \(EndToEnd.target(.smtp, lab: lab, postfix: relay, folder: folder)) },
              mailboxes: [
                { source: "isp", user: "everyone", password: { file: "\(secret)" }, target: "relay",
                  mailbox: "everyone@contoso.example",
                  global: { domains: ["wingtiptoys.com"], rewrite: "{local}@contoso.example",
                            trustedHosts: ["mx1.wingtip-isp.example"], fallback: "postmaster@contoso.example" } },
              ] }
            """)
        let tracePath = folder.path + "/trace.log"
        func mailferry() throws -> (code: Int32, out: String) {
            let child = try ChildProcess(EndToEnd.binary, ["run", plan, "--trace", tracePath])
            defer { child.removeOutput() }
            return (child.wait(timeout: 120) ?? -1, child.stdout + child.stderr)
        }
        func inbox(_ person: String) -> Int { maildirFileCount(lab.maildir(of: person).path) }

        let (code, out) = try mailferry()
        #expect(code != 0, "\(out)")
        // One transaction for the three routed recipients: one MAIL FROM, one RCPT TO each, one DATA.
        let trace = try String(contentsOfFile: tracePath, encoding: .utf8).split(separator: "\n")
        let sent = trace.compactMap { line in line.range(of: "C: ").map { String(line[$0.upperBound...]) } }
        // The smtp target's default envelopeFrom ("plan") with from "": the null sender, not partner@example.net.
        #expect(sent.filter { $0.hasPrefix("MAIL FROM:<>") }.count == 1, "\(sent)")
        #expect(
            sent.filter { $0.hasPrefix("RCPT TO:") } == [
                "RCPT TO:<bob@contoso.example>",
                "RCPT TO:<dana@contoso.example>",
                "RCPT TO:<erin@contoso.example>",
            ], "\(sent)")
        #expect(sent.filter { $0 == "DATA" }.count == 1, "\(sent)")
        #expect(relay.waitForEmptyQueue(timeout: 30), "\(relay.logTail())")
        #expect(inbox("bob") == 1 && inbox("dana") == 1, "\(relay.logTail())")
        #expect(inbox("erin") == 0 && inbox("postmaster") == 0)
        let workspace = URL(fileURLWithPath: folder.path).standardizedFileURL.path
        let statePath = workspace + "/state/refuse.sqlite"
        let db = try Database(path: statePath)
        let routed = try db.prepare(
            """
            SELECT address, state, coalesce(last_error, '') FROM messages WHERE parent_id IS NOT NULL ORDER BY address
            """
        ).rows { ($0.text(0) ?? "", $0.text(1) ?? "", $0.text(2) ?? "") }
        #expect(routed.map(\.0) == ["bob@contoso.example", "dana@contoso.example", "erin@contoso.example"])
        #expect(routed.map(\.1) == ["delivered", "delivered", "failed"])
        let reply = routed.last?.2 ?? ""
        #expect(
            reply.contains("554 5.7.1") && reply.contains("<erin@contoso.example>: Recipient address rejected"),
            "\(reply)")
        let parent = try Self.stateRows(statePath, where: "parent_id IS NULL")
        #expect(parent.map(\.state) == ["failed"] && parent.first?.error?.contains("1 of 3") == true, "\(parent)")

        let reports = workspace + "/reports/refuse"
        let markdownName = try #require(
            try FileManager.default.contentsOfDirectory(atPath: reports)
                .filter { $0.hasSuffix(".md") }.sorted().last)
        let markdown = try String(contentsOfFile: reports + "/" + markdownName, encoding: .utf8)
        #expect(markdown.contains("554 5.7.1") && markdown.contains("erin@contoso.example"), "\(markdown)")

        let (again, againOut) = try mailferry()
        #expect(againOut.contains("0 messages delivered"), "\(again): \(againOut)")
        #expect(relay.waitForEmptyQueue(timeout: 30))
        #expect(inbox("bob") == 1 && inbox("dana") == 1 && inbox("erin") == 0)
    }
}
