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

/// Mail that vanished from the server before it was copied (design.md, "Mail that vanished"): a message known from
/// an earlier run, not delivered, that a complete UIDL listing no longer shows is reported loudly once (exit 1), then
/// listed by `status` and the dashboard; one the server lists again is handled as before. Scripted servers here, one
/// session per run; the same story against Dovecot in `vanishedAtDovecot`.
@Suite(.serialized) struct VanishedTests {
    static let one = (uidl: "u-one", body: "From: a@wingtip.example\r\nSubject: first\r\n\r\nfirst\r\n")
    static let two = (
        uidl: "u-two",
        body: "From: Kelly <kelly@wingtip.example>\r\nSubject: =?UTF-8?Q?Q3_n=C3=BAmbers?=\r\n"
            + "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n\r\n" + String(repeating: "line of the body\r\n", count: 50)
    )

    /// A workspace with a Maildir target; each run's plan points at that run's scripted server.
    struct Workspace {
        let folder = TempFolder("vanished")
        var planFile: String { folder.path + "/jobs/v.json5" }
        var reports: String { folder.path + "/reports/v" }

        /// One `mailferry run` in-process against a server that runs `session` once.
        func run(
            quiet: Bool = false, _ session: @escaping @Sendable (FakeSession) throws -> Void
        ) throws -> (RunSummary, String) {
            let server = try FakeServer(connections: 1, timeout: 30, handler: session)
            let secret = folder.file("secrets/pw", "pw\n")
            _ = folder.file(
                "jobs/v.json5",
                """
                {
                  plan: "v",
                  sources: { odd: { host: "127.0.0.1", port: \(server.port), tls: "none", allowPlaintext: true,
                                    timeoutSeconds: 10, auth: ["user"] } },
                  targets: { box: { kind: "maildir", path: "target/{mailbox}" } },
                  mailboxes: [ { source: "odd", user: "u", password: { file: "\(secret)" }, target: "box",
                                 mailbox: "u@contoso.example" } ],
                }
                """)
            let plan = try PlanLoader.load(planFile)
            let store = try Store(path: plan.statePath)
            let output = folder.path + "/console.txt"
            let fd = open(output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let summary = RunCommand.execute(
                plan: plan, store: store, args: RunCommand.Arguments(plan: planFile, quiet: quiet, noProgress: true),
                console: Console(out: fd, err: fd))
            close(fd)
            server.finish()
            return (summary, (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
        }

        func report(_ summary: RunSummary) throws -> String {
            try String(contentsOfFile: "\(reports)/\(summary.runID).md", encoding: .utf8)
        }

        func status() throws -> (text: String, json: PlanStatus, html: String) {
            let plan = try PlanLoader.load(planFile)
            let state = try StateFiles.read(StateFiles.discover(statePath: plan.statePath))
            let status = PlanStatus(plan: plan, state: state)
            let html = Dashboard.html(status: status, runs: state.runs, verify: nil)
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let json = try decoder.decode(PlanStatus.self, from: StatusReport.json(status))
            return (StatusReport.text(status), json, html)
        }

        var delivered: [String] {
            let new = folder.path + "/target/u@contoso.example/new"
            return ((try? FileManager.default.contentsOfDirectory(atPath: new)) ?? []).compactMap {
                try? String(contentsOfFile: new + "/" + $0, encoding: .utf8)
            }.sorted()
        }
    }

    /// A session of a maildrop holding `messages`; `breaking` names a message whose RETR sends part of it and then
    /// drops the connection; `cutUIDL` drops it in the middle of the UIDL listing.
    static func maildrop(
        _ messages: [(uidl: String, body: String)], breaking: Int? = nil, cutUIDL: Bool = false
    ) -> @Sendable (FakeSession) throws -> Void {
        { session in
            try session.send("+OK ready\r\n")
            while let line = try session.nextLine() {
                if line == "RETR \(breaking ?? 0)" {
                    try session.send("+OK\r\n" + String(messages[breaking! - 1].body.prefix(120)))
                    session.close()
                    return
                }
                if line == "UIDL" && cutUIDL {
                    try session.send("+OK\r\n1 \(messages[0].uidl)\r\n")
                    session.close()
                    return
                }
                try session.send(AutologoutPOP3.answer(line, messages: messages, capabilities: ["USER", "UIDL"]))
                if line == "QUIT" { return }
            }
        }
    }

    @Test func aPendingMessageThatVanishesIsReportedOnceThenListed() throws {
        let w = Workspace()
        defer { w.folder.cleanup() }
        // Run 1: the second message's retrieval breaks; it is left for the next run.
        let (first, _) = try w.run(Self.maildrop([Self.one, Self.two], breaking: 2))
        #expect(first.exitCode == 1 && first.delivered == 1 && first.newlyVanished == 0)
        // Run 2: a listing cut short says nothing about what is missing from it.
        let (cut, _) = try w.run(Self.maildrop([Self.one, Self.two], cutUIDL: true))
        #expect(cut.exitCode == 1 && cut.newlyVanished == 0 && cut.mailboxes[0].error != nil)
        #expect(try w.status().json.totals.vanished == 0)
        // Run 3: the server no longer lists it (deleted there before it was copied): loud, exit 1, even under
        // --quiet (cron mails what a quiet run prints).
        let (second, console) = try w.run(quiet: true, Self.maildrop([Self.one]))
        #expect(second.exitCode == 1, "\(second.mailboxes)")
        #expect(second.newlyVanished == 1 && second.mailboxes[0].ok)
        let lost = try #require(second.mailboxes[0].vanished?.first)
        #expect(lost.uidl == "u-two" && lost.size == Self.two.body.utf8.count && lost.stood == "pending")
        // What the broken retrieval saw of its header, decoded.
        #expect(lost.from == "Kelly <kelly@wingtip.example>" && lost.subject == "Q3 númbers", "\(lost)")
        #expect(console.contains("1 message VANISHED from the server before it was delivered"), "\(console)")
        #expect(console.contains("u@contoso.example (odd/u): 1 on server, 0 new, 0 delivered (0 B), 1 VANISHED from"))
        let report = try w.report(second)
        #expect(report.contains("## Needs attention: mail that vanished before it was copied"), "\(report)")
        // The JSON report holds it, valid against the schema reports/README.md documents.
        let json = try ReportTests.json(Data(contentsOf: URL(fileURLWithPath: "\(w.reports)/\(second.runID).json")))
        let problems = SchemaValidator.problems(json, try ReportTests.schema())
        #expect(problems.isEmpty, "\(problems)")
        #expect(
            report.contains(
                "| u@contoso.example | u-two | \(formatBytes(Self.two.body.utf8.count)) | pending, 1 attempt |"))
        #expect(report.contains("Subject: Q3 númbers"))
        #expect(report.contains("outcome: incomplete (exit 1): mail vanished from the server before it was copied"))
        var status = try w.status()
        #expect(status.json.mailboxes[0].vanished == 1 && status.json.mailboxes[0].pending == 0)
        #expect(status.json.mailboxes[0].onServer == 1)
        #expect(status.json.vanishedMessages.map(\.uidl) == ["u-two"])
        #expect(status.json.errorsByCategory["vanished"] == 1)
        #expect(status.text.contains("needs attention: 1 message vanished from the server before it was delivered"))
        #expect(
            status.text.contains(
                "(odd/u): UIDL u-two; \(Self.two.body.utf8.count) bytes; pending; 1 attempt; "
                    + "From: Kelly <kelly@wingtip.example>; Subject: Q3 númbers"
            ), "\(status.text)")
        #expect(status.text.contains("! 1 vanished"), "\(status.text)")
        #expect(
            status.html.contains("<div class=\"card-title\">Needs attention</div><div class=\"card-value\">1</div>"))
        #expect(status.html.contains("mail that vanished before it was copied") && status.html.contains("u-two"))
        // Run 4: nothing new is wrong; the alarm is not repeated, and a quiet run says nothing.
        let (third, quiet) = try w.run(quiet: true, Self.maildrop([Self.one]))
        #expect(third.exitCode == 0 && third.newlyVanished == 0, "\(third.mailboxes)")
        let thirdReport = try w.report(third)
        #expect(quiet.isEmpty && !thirdReport.contains("Needs attention"), "\(quiet)")
        #expect(try w.status().json.vanishedMessages.map(\.uidl) == ["u-two"])
        // Run 5: the server lists it again under the same UIDL: fetched and delivered as before, once.
        let (back, _) = try w.run(Self.maildrop([Self.one, Self.two]))
        #expect(back.exitCode == 0 && back.delivered == 1, "\(back.mailboxes)")
        #expect(back.mailboxes[0].notes.contains { $0.contains("listed again (same UIDL)") })
        #expect(w.delivered == [Self.one.body, Self.two.body].sorted())
        status = try w.status()
        #expect(status.json.totals.vanished == 0 && status.json.totals.delivered == 2)
        // Run 6: the person deletes both after the migration: counted, not flagged.
        let (gone, _) = try w.run(Self.maildrop([]))
        #expect(gone.exitCode == 0 && gone.newlyVanished == 0 && gone.goneAfterDelivery == 2)
        #expect(try w.report(gone).contains("2 delivered messages are no longer on the legacy server"))
        let goneJSON = try ReportTests.json(Data(contentsOf: URL(fileURLWithPath: "\(w.reports)/\(gone.runID).json")))
        #expect(SchemaValidator.problems(goneJSON, try ReportTests.schema()).isEmpty)
        status = try w.status()
        #expect(status.json.totals.goneAfterDelivery == 2 && status.json.totals.vanished == 0)
        #expect(status.text.contains("2 delivered messages were since deleted on the legacy server"))
    }

    /// What a hostile message says of itself reaches the admin escaped: no terminal escape, no markup, no table
    /// broken.
    @Test func hostileHeadersAreShownEscaped() throws {
        let w = Workspace()
        defer { w.folder.cleanup() }
        let subject = Data("\u{1B}[2Jcleared | col".utf8).base64EncodedString()
        let hostile = (
            uidl: "u-bad",
            body: "From: <script>alert(1)</script>\r\nSubject: =?UTF-8?B?\(subject)?=\r\n\r\n"
                + String(repeating: "x", count: 200) + "\r\n"
        )
        _ = try w.run(Self.maildrop([hostile], breaking: 1))
        let (gone, console) = try w.run(Self.maildrop([]))
        #expect(gone.newlyVanished == 1 && gone.exitCode == 1)
        #expect(gone.mailboxes[0].vanished?.first?.subject == "\\x1B[2Jcleared | col")
        let report = try w.report(gone)
        #expect(report.contains("Subject: \\x1B[2Jcleared \\| col"), "\(report)")
        let status = try w.status()
        for text in [report, console, status.text, status.html] { #expect(!text.contains("\u{1B}")) }
        #expect(status.text.contains("Subject: \\x1B[2Jcleared | col"), "\(status.text)")
        #expect(
            !status.html.contains("<script>") && status.html.contains("From: &lt;script&gt;alert(1)&lt;/script&gt;"))
    }

    /// Issue 22's scenario against Dovecot as the POP3 source: the first run's retrieval of the second message breaks
    /// (fault point `pop3-retrieve`), the file is deleted from the source Maildir between runs, the second run exits
    /// 1 and its report, `status` and the dashboard name the message with its UIDL and size; a third run does not
    /// raise the alarm again (exit 0).
    @Test func vanishedAtDovecot() throws {
        let e2e = try EndToEnd("vanished-e2e", counts: ["vera": 3])
        let server = try e2e.serverMessages("vera")
        let first = try e2e.run(environment: ["MAILFERRY_FAIL_AT": "pop3-retrieve@2"])
        #expect(first.code == 1, "\(first.out) \(first.err)")
        let pending = try e2e.rows("vera").filter { $0.state == "listed" }.map(\.uidl)
        #expect(pending.count == 2, "\(pending)")
        // The message whose retrieval broke: the first still pending in the server's order.
        let order = try Self.listing(e2e, "vera")
        let lostUIDL = try #require(order.first { pending.contains($0.uidl) }).uidl
        let lostBytes = try #require(server[lostUIDL])
        // Deleted on the server before the next run (a mail program's "remove from server after N days").
        let maildir = e2e.lab.maildir(of: "vera").path
        var removed = 0
        for sub in ["new", "cur"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(maildir)/\(sub)")) ?? [] {
                let path = "\(maildir)/\(sub)/\(name)"
                let bytes = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
                if DovecotLab.served(bytes) == lostBytes, unlink(path) == 0 { removed += 1 }
            }
        }
        #expect(removed == 1)
        let second = try e2e.run()
        #expect(second.code == 1, "\(second.out) \(second.err)")
        #expect(second.out.contains("1 message VANISHED from the server before it was delivered"), "\(second.out)")
        let report = try e2e.lastReport()
        #expect(report.newlyVanished == 1 && report.delivered == 1 && report.mailboxes.allSatisfy(\.ok))
        let lost = try #require(report.mailboxes.first?.vanished?.first)
        #expect(lost.uidl == lostUIDL && lost.size == lostBytes.count && lost.stood == "pending", "\(lost)")
        let subject = HeaderBlock(parsing: lostBytes).first("Subject")?.displayValue
        #expect(subject != nil && lost.subject == subject, "\(lost)")
        let markdown = try String(
            contentsOfFile: e2e.workspace + "/reports/e2e/\(report.runID).md", encoding: .utf8)
        #expect(markdown.contains("## Needs attention: mail that vanished before it was copied"))
        #expect(markdown.contains("| vera@contoso.example | \(lostUIDL) | \(formatBytes(lostBytes.count)) | pending"))
        let status = try EndToEnd.mailferry(["status", e2e.planFile], in: e2e.workspace)
        #expect(status.code == 0)
        #expect(status.out.contains("needs attention: 1 message vanished"), "\(status.out)")
        #expect(status.out.contains("(isp/vera): UIDL \(lostUIDL); \(lostBytes.count) bytes; pending"), "\(status.out)")
        let json = try EndToEnd.mailferry(["status", "--json", e2e.planFile], in: e2e.workspace)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let decoded = try decoder.decode(PlanStatus.self, from: Data(json.out.utf8))
        #expect(decoded.vanishedMessages.map(\.uidl) == [lostUIDL])
        #expect(decoded.vanishedMessages.first?.size == lostBytes.count)
        #expect(decoded.totals.vanished == 1 && decoded.totals.pending == 0 && decoded.totals.onServer == 2)
        let dashboard = try String(contentsOfFile: e2e.workspace + "/reports/e2e/index.html", encoding: .utf8)
        #expect(dashboard.contains("<div class=\"card-title\">Needs attention</div><div class=\"card-value\">1</div>"))
        #expect(dashboard.contains("1 vanished before delivery") && dashboard.contains(lostUIDL))
        // The third run finds nothing new wrong: no alarm, exit 0; status still lists the message.
        let third = try e2e.run()
        #expect(third.code == 0, "\(third.out) \(third.err)")
        #expect(!third.out.contains("VANISHED"))
        #expect(try e2e.lastReport().newlyVanished == 0)
        let after = try EndToEnd.mailferry(["status", e2e.planFile], in: e2e.workspace)
        #expect(after.out.contains("UIDL \(lostUIDL)"))
    }

    /// The user's maildrop listing in the server's order.
    static func listing(_ e2e: EndToEnd, _ user: String) throws -> [POP3Entry] {
        let client = POP3Client(
            endpoint: ServerEndpoint(
                host: "127.0.0.1", port: e2e.lab.ports.pop3s, tls: .implicit,
                tlsSettings: TLSSettings(caFile: e2e.lab.caFile.path)))
        defer { client.quit() }
        try client.connect()
        try client.login(user: user, password: e2e.users[user]!)
        return try client.listing()
    }
}
