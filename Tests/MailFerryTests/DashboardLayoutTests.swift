import Foundation
import Glibc
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The dashboard as a browser lays it out: headless Chromium renders a page with several runs, failures and a long
/// address at 800 and 1280 px, and a script added to the test's copy of the page (the dashboard itself has none)
/// measures every table cell against its card and writes the verdict into the DOM, which `--dump-dom` prints.
///
/// Chromium is a test dependency (scripts/setup, .ci/run). Without it the test is skipped with that reason, except
/// in CI (`CI=true`), where a missing browser is a failure: the layout would go unchecked.
@Suite(.serialized) struct DashboardLayoutTests {
    static let browser: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for folder in path.split(separator: ":") where access("\(folder)/\(name)", X_OK) == 0 {
                return "\(folder)/\(name)"
            }
        }
        return nil
    }()
    static let inCI = ProcessInfo.processInfo.environment["CI"] == "true"

    /// What the script found (see `probe`).
    struct Verdict: Decodable {
        /// The layout viewport's width, to be sure the window size took.
        var width: Int
        var cells: Int
        /// Cells drawn (at least partly) outside their card, described.
        var outside: [String]
        /// Cells not inside any card.
        var homeless: Int
        /// How wide the page is: wider than the window means it scrolls sideways.
        var pageWidth: Int
        /// `.scroll` boxes whose table is wider than they are (so they scroll).
        var scrolling: Int
        /// The address cell of the long address: its width and its card's.
        var longAddressWidth: Double
    }

    /// Measures with `getBoundingClientRect`. A cell inside a box that clips (`overflow` other than visible, as the
    /// scroll boxes do) counts as far as it is visible there: scrolled out of view is inside the card, drawn past
    /// the card's edge is not.
    static let probe = """
        <script>
        (function () {
          var cells = document.querySelectorAll('td, th');
          var outside = [], homeless = 0;
          cells.forEach(function (cell) {
            var card = cell.closest('.panel');
            if (!card) { homeless++; return; }
            var r = cell.getBoundingClientRect();
            var left = r.left, right = r.right, top = r.top, bottom = r.bottom;
            for (var e = cell.parentElement; e && e !== card; e = e.parentElement) {
              var style = getComputedStyle(e);
              var box = e.getBoundingClientRect();
              if (style.overflowX !== 'visible') { left = Math.max(left, box.left); right = Math.min(right, box.right); }
              if (style.overflowY !== 'visible') { top = Math.max(top, box.top); bottom = Math.min(bottom, box.bottom); }
            }
            if (right <= left || bottom <= top) { return; }
            var k = card.getBoundingClientRect();
            if (left < k.left - 0.5 || right > k.right + 0.5 || top < k.top - 0.5 || bottom > k.bottom + 0.5) {
              outside.push((card.querySelector('h2') || {}).textContent + ': ' + cell.textContent.slice(0, 40)
                + ' [' + Math.round(left) + '..' + Math.round(right) + ' in ' + Math.round(k.left) + '..'
                + Math.round(k.right) + ']');
            }
          });
          var scrolling = 0;
          document.querySelectorAll('.scroll').forEach(function (s) { if (s.scrollWidth > s.clientWidth + 1) scrolling++; });
          var long = Array.prototype.find.call(document.querySelectorAll('.addr'), function (a) {
            return a.textContent.indexOf('longname') >= 0;
          });
          var verdict = {
            width: window.innerWidth, cells: cells.length, outside: outside, homeless: homeless,
            pageWidth: document.documentElement.scrollWidth, scrolling: scrolling,
            longAddressWidth: long ? long.getBoundingClientRect().width : -1
          };
          var out = document.createElement('pre');
          out.id = 'layout-verdict';
          out.textContent = btoa(JSON.stringify(verdict));
          document.body.appendChild(out);
        })();
        </script>
        """

    static let longAddress = "christopher.alexander.longname-of-the-finance-department@contoso-subsidiary.example"

    /// The fixture's dashboard with more runs (three in one second, some that failed), a long address and a long
    /// reason.
    static func page() throws -> String {
        let fixture = try StatusFixture()
        defer { fixture.folder.cleanup() }
        let store = try Store(path: fixture.statePath)
        for (id, started, delivered, failed, exit) in [
            ("20261205T171839.120Z", "2026-12-05T17:18:39Z", 14, 0, Int32(0)),
            ("20261205T171839.480Z", "2026-12-05T17:18:39Z", 0, 2, 1),
            ("20261205T171839.910Z", "2026-12-05T17:18:39Z", 5, 0, 0),
            ("20261212T060000.000Z", "2026-12-12T06:00:00Z", 9, 1, 1),
            ("20261222T110000.000Z", "2026-12-22T11:00:00Z", 2, 0, 0),
        ] {
            try Self.run(store, id: id, started: started, delivered: delivered, failed: failed, exitCode: exit)
        }
        var status = try fixture.status()
        status.mailboxes[0].address = longAddress
        status.mailboxes[1].lastError =
            "pop3 127.0.0.1:995: the server closed the connection after PASS (it said: -ERR [SYS/TEMP] the "
            + "authentication backend is not available, try again later); nothing was fetched"
        let state = try StateFiles.read([fixture.statePath, fixture.shardPath])
        return Dashboard.html(status: status, runs: state.runs, verify: nil)
    }

    static func run(
        _ store: Store, id: String, started: String, delivered: Int, failed: Int, exitCode: Int32
    ) throws {
        try store.startRun(id: id)
        var result = MailboxResult(key: "isp/chris", address: "chris@contoso.example", target: "archive")
        result.delivered = delivered
        result.failed = failed
        let at = StatusFixture.at(started)
        let summary = RunSummary(
            runID: id, plan: "fixture", startedAt: at, finishedAt: at.addingTimeInterval(3), mailboxes: [result],
            interrupted: false, exitCode: exitCode)
        try store.finishRun(
            id: id, exitCode: exitCode, summaryJSON: String(decoding: try ReportWriter.json(summary), as: UTF8.self))
        let db = try Database(path: store.path)
        try db.prepare("UPDATE runs SET started_at = ? WHERE run_id = ?").run([
            .double(at.timeIntervalSince1970), .text(id),
        ])
    }

    /// Renders `html` at `width` px and returns what the probe found.
    static func measure(_ html: String, width: Int, browser: String) throws -> Verdict {
        let folder = TempFolder("layout")
        defer { folder.cleanup() }
        let file = folder.file("index.html", html.replacingOccurrences(of: "</body>", with: probe + "</body>"))
        var arguments = [
            "--headless", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--user-data-dir=\(folder.path)/profile", "--window-size=\(width),1200", "--virtual-time-budget=5000",
            "--dump-dom", "file://\(file)",
        ]
        if geteuid() == 0 { arguments.insert("--no-sandbox", at: 0) }
        let (code, out, err) = try ChildProcess(browser, arguments).finish(within: 120, "chromium --dump-dom")
        #expect(code == 0, "chromium exited \(code): \(err.suffix(2000))")
        guard let start = out.range(of: "<pre id=\"layout-verdict\">"),
            let end = out.range(of: "</pre>", range: start.upperBound..<out.endIndex),
            let json = Data(base64Encoded: String(out[start.upperBound..<end.lowerBound]))
        else {
            throw MailError(.local, "no verdict in chromium's DOM: \(out.suffix(500)) \(err.suffix(1000))")
        }
        return try JSONDecoder().decode(Verdict.self, from: json)
    }

    @Test(
        .enabled(
            if: browser != nil || inCI,
            "chromium is not installed (apt-get install chromium, or scripts/setup); in CI (CI=true) that fails"),
        arguments: [800, 1280])
    func noTableCellLiesOutsideItsCard(width: Int) throws {
        guard let browser = Self.browser else {
            Issue.record(
                "chromium is not installed: the dashboard's layout cannot be checked (apt-get install chromium)")
            return
        }
        let html = try Self.page()
        // MAILFERRY_LAYOUT_OUT=/tmp/layout.html keeps the page (without the probe), for scripts/dashboard-screenshot.
        if let out = ProcessInfo.processInfo.environment["MAILFERRY_LAYOUT_OUT"] {
            try html.write(toFile: out, atomically: true, encoding: .utf8)
        }
        let verdict = try Self.measure(html, width: width, browser: browser)
        #expect(verdict.width == width, "the window is \(verdict.width) px wide, not \(width)")
        // Mailboxes (3 rows), open problems (5 rows), each with its header row.
        #expect(verdict.cells >= 60, "only \(verdict.cells) cells: the tables are missing")
        #expect(verdict.homeless == 0)
        #expect(verdict.outside.isEmpty, "cells outside their card at \(width) px: \(verdict.outside)")
        #expect(verdict.pageWidth <= width, "the page is \(verdict.pageWidth) px wide at \(width) px")
        #expect(verdict.longAddressWidth > 0, "the long address is not on the page")
        if width == 800 {
            // The mailbox table needs more than 800 px: it must be what scrolls, inside its card.
            #expect(verdict.scrolling >= 1, "nothing scrolls at 800 px, so this page did not test the overflow")
        } else {
            #expect(verdict.scrolling == 0, "at 1280 px every table fits its card without scrolling")
        }
    }
}
