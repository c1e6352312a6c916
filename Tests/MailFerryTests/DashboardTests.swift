import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// reports/<plan>/index.html: self-contained, well-formed SVG, the right numbers, every outside string escaped.
@Suite struct DashboardTests {
    static func page() throws -> (html: String, fixture: StatusFixture) {
        let fixture = try StatusFixture()
        let status = try fixture.status()
        let state = try StateFiles.read([fixture.statePath, fixture.shardPath])
        var verify = VerifyReport(
            plan: "fixture", verifiedAt: StatusFixture.now, stateFiles: state.files,
            mailboxes: [], missing: [], duplicates: [], exitCode: 1)
        var box = VerifyReport.Mailbox(
            key: "isp/kelly", address: "kelly@contoso.example", target: "archive",
            targetKind: "maildir")
        box.onServer = 3
        box.inTarget = 1
        box.missing = 2
        verify.mailboxes = [box]
        verify.missing = [
            VerifyReport.Finding(
                mailbox: "isp/kelly", address: "kelly@contoso.example",
                uidl: "k2<b>&\"", size: 1000, detail: "failed: <i>552</i>")
        ]
        return (Dashboard.html(status: status, runs: state.runs, verify: verify), fixture)
    }

    @Test func selfContainedWithoutScript() throws {
        let (html, fixture) = try Self.page()
        defer { fixture.folder.cleanup() }
        // MAILFERRY_DASHBOARD_OUT=/tmp/fixture.html keeps the page, for scripts/dashboard-screenshot.
        if let out = ProcessInfo.processInfo.environment["MAILFERRY_DASHBOARD_OUT"] {
            try html.write(toFile: out, atomically: true, encoding: .utf8)
        }
        let lower = html.lowercased()
        for forbidden in [
            "http:", "https:", "src=", "<script", "<link", "@import", "url(", "<iframe", "<img",
            "href=",
        ] {
            #expect(!lower.contains(forbidden), "the dashboard contains \(forbidden)")
        }
        #expect(lower.hasPrefix("<!doctype html>") && lower.contains("<style>"))
    }

    @Test func everySVGIsWellFormedXML() throws {
        let (html, fixture) = try Self.page()
        defer { fixture.folder.cleanup() }
        var rest = html[...]
        var count = 0
        while let start = rest.range(of: "<svg"),
            let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex)
        {
            let svg = String(rest[start.lowerBound..<end.upperBound])
            let parser = XMLParser(data: Data(svg.utf8))
            #expect(parser.parse(), "SVG \(count) does not parse: \(parser.parserError.map { "\($0)" } ?? "")")
            count += 1
            rest = rest[end.upperBound...]
        }
        // Messages per run, errors by category, arrivals per day.
        #expect(count == 3)
    }

    @Test func showsTheNumbersAndEscapesWhatMailAndServersSay() throws {
        let (html, fixture) = try Self.page()
        defer { fixture.folder.cleanup() }
        // Cumulative: 7 delivered + 1 duplicate of 12 seen; the cards and the table say so.
        #expect(html.contains("<div class=\"card-title\">Migrated</div><div class=\"card-value\">8</div>"))
        #expect(html.contains("of 12 messages seen · 66.7%"))
        #expect(html.contains("<div class=\"card-title\">Needs attention</div><div class=\"card-value\">3</div>"))
        #expect(html.contains("<div class=\"addr\">chris@<wbr>contoso.<wbr>example</div>"))
        #expect(
            html.contains(
                "<td class=\"n\">6</td><td class=\"n\">4</td><td class=\"n\">1</td><td class=\"n warn\">1</td>"))
        #expect(html.contains("1 after cutover"))
        // Runs: 4 then 3 messages (the run reports kept in both state files).
        #expect(html.contains("run 20261120T080000.000Z: 4 delivered"))
        #expect(html.contains("run 20261221T090000.000Z: 3 delivered"))
        // Arrivals: two on 2026-11-04 (sam's s2 and its duplicate s3 arrive the same day, plus s1).
        #expect(html.contains("2026-11-04: 3 messages"))
        #expect(html.contains("cutover 12-15"))
        // Errors by category, the verify verdict.
        #expect(html.contains("transient: 1") && html.contains("quota: 1") && html.contains("mailbox stopped: 1"))
        #expect(html.contains("1 of 3 messages on the legacy servers is missing from their target mailboxes"))
        // Hostile strings arrive escaped, never as markup.
        #expect(!html.contains("<script>alert(1)</script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains("k2<b>") && html.contains("k2&lt;b&gt;&amp;&quot;"))
        #expect(!html.contains("<i>552</i>"))
    }

    @Test func escapeDropsControlCharacters() {
        #expect(Charts.escape("a\u{0}b\u{1B}[31m<\u{85}>'") == "ab[31m&lt;&gt;&#39;")
    }
}

/// What the dashboard says about failures and runs, in its text (issue 19): reasons on the page, runs told apart.
extension DashboardTests {
    @Test func failureReasonsAreOnThePageNotOnlyInTooltips() throws {
        let (html, fixture) = try Self.page()
        defer { fixture.folder.cleanup() }
        // kelly's last poll failed: the reason is text in her row and in the open problems, escaped.
        let hostile = Charts.escape(StatusFixture.hostileError)
        #expect(html.contains("<div class=\"reason\">last poll failed: \(hostile)</div>"))
        #expect(!html.contains("title=\"\(hostile)\""))
        // Every open problem with its reason: the failed and quarantined messages, the deferred one.
        #expect(html.contains("<h2>Open problems</h2>"))
        for (uidl, what, reason) in [
            ("k2&lt;b&gt;&amp;&quot;", "failed (permanent)", "552 message refused"),
            ("k3", "quarantined (quota)", "mailbox full"), ("c5", "deferred (transient)", "connection reset"),
        ] {
            #expect(
                html.contains(
                    "<td><code>\(uidl)</code></td><td><span class=\"badge \(what.hasPrefix("deferred") ? "warn" : "bad")\">"
                        + "\(what)</span></td><td class=\"reason-col\">\(reason)</td>"), "\(uidl)")
        }
        #expect(html.contains("<span class=\"badge bad\">poll failed</span></td><td class=\"reason-col\">\(hostile)"))
        // The card counts what needs someone: 1 failed, 1 quarantined, 1 mailbox stopped.
        #expect(
            html.contains(
                "<div class=\"card-title\">Needs attention</div><div class=\"card-value\">3</div><div "
                    + "class=\"card-detail\">1 failed · 1 quarantined · 1 mailbox stopped</div>"))
    }

    @Test func runBarsAreLabelledWithDayAndTime() throws {
        let (html, fixture) = try Self.page()
        defer { fixture.folder.cleanup() }
        // The fixture's two runs: 2026-11-20 08:00 and 2026-12-21 09:00, a day line and a time line each.
        for (day, time) in [("2026-11-20", "08:00"), ("2026-12-21", "09:00")] {
            #expect(html.contains(">\(day)</text>"), "\(day)")
            #expect(html.contains(">\(time)</text>"), "\(time)")
        }
    }

    @Test func runsCloseTogetherAreToldApart() {
        func run(_ id: String, _ at: String) -> RunSummary {
            RunSummary(
                runID: id, plan: "p", startedAt: StatusFixture.at(at), finishedAt: StatusFixture.at(at),
                mailboxes: [], interrupted: false, exitCode: 0)
        }
        let apart = [run("a", "2026-12-21T17:18:00Z"), run("b", "2026-12-22T17:18:00Z")]
        #expect(Dashboard.runTimes(apart) == ["17:18", "17:18"])
        let sameMinute = [run("a", "2026-12-21T17:18:39Z"), run("b", "2026-12-21T17:18:52Z")]
        #expect(Dashboard.runTimes(sameMinute) == ["17:18:39", "17:18:52"])
        let sameSecond = [
            run("20261221T171839.120Z", "2026-12-21T17:18:39Z"), run("20261221T171839.480Z", "2026-12-21T17:18:39Z"),
            run("20261221T171839.910Z-shard-1-of-2", "2026-12-21T17:18:39Z"),
        ]
        #expect(Dashboard.runTimes(sameSecond) == ["17:18:39.120", "17:18:39.480", "17:18:39.910"])
        // Only the runs that would read the same get the finer time.
        let mixed = [run("a", "2026-12-21T08:00:00Z")] + sameSecond + [run("b", "2026-12-21T17:18:52Z")]
        #expect(Dashboard.runTimes(mixed) == ["08:00", "17:18:39.120", "17:18:39.480", "17:18:39.910", "17:18:52"])
    }
}

extension DashboardTests {
    /// The open problems come from every state file, newest first, and a message that another file has further
    /// along (delivered by a shard) is not a problem any more.
    @Test func openProblemsTakeEachMessagesFurthestRow() throws {
        let fixture = try StatusFixture()
        defer { fixture.folder.cleanup() }
        let before = try StateFiles.read([fixture.statePath, fixture.shardPath]).problems
        #expect(before.map(\.uidl).sorted() == ["c5", "k2<b>&\"", "k3"])
        #expect(before.first { $0.uidl == "k3" }?.quarantined == true)
        #expect(before.first { $0.uidl == "c5" }?.lastError == "connection reset")
        // The shard's file delivers kelly's failed message later on.
        try StatusFixture.mailbox(
            try Store(path: fixture.shardPath), "kelly", poll: "2026-12-21T09:30:00Z", ok: "2026-12-21T09:30:00Z",
            messages: [("k2<b>&\"", .delivered, "2026-11-06T12:00:00Z")])
        let after = try StateFiles.read([fixture.statePath, fixture.shardPath]).problems
        #expect(after.map(\.uidl).sorted() == ["c5", "k3"])
        #expect(after.map(\.updatedAt) == after.map(\.updatedAt).sorted(by: >))
        let status = PlanStatus(
            plan: try fixture.plan(), state: try StateFiles.read([fixture.statePath, fixture.shardPath]),
            now: StatusFixture.now)
        #expect(
            status.problems.map { "\($0.address) \($0.uidl) \($0.state) \($0.kind ?? "-"): \($0.reason)" }.sorted()
                == [
                    "chris@contoso.example c5 deferred transient: connection reset",
                    "kelly@contoso.example k3 quarantined quota: mailbox full",
                ])
    }
}
