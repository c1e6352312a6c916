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

/// Monitoring (issue 20) with the real binary and a real Dovecot: the metrics file a demo run leaves, what a
/// failing run changes in it and what it keeps, `--log-format json` on both output streams, and a metrics folder
/// that cannot be written.
@Suite(.serialized) struct MonitoringEndToEndTests {
    /// The metrics file after a run that delivers everything, then after one where a login is refused: promtool
    /// accepts both; the numbers are the report's and the state's; the last success survives the failing run.
    @Test func theMetricsFileFollowsTheRunsAndKeepsTheLastSuccess() throws {
        let e2e = try EndToEnd("metrics-e2e", counts: ["ana": 3, "ben": 2])
        try Truth.editPlan(e2e, "plan: \"e2e\",", "plan: \"e2e\", metricsFile: \"metrics/e2e.prom\",")
        let metricsPath = e2e.workspace + "/metrics/e2e.prom"
        let first = try EndToEnd.mailferry(["run", "jobs/e2e.json5"], in: e2e.workspace)
        #expect(first.code == 0, "\(first.out)\n\(first.err)")
        let firstReport = try e2e.lastReport()
        let firstText = try String(contentsOfFile: metricsPath, encoding: .utf8)
        let firstMetrics = MetricsExposition(firstText)
        let plan = ["plan": "e2e"]
        #expect(firstMetrics.value("mailferry_last_run_exit_code", plan) == 0)
        let lastSuccess = try Self.lastSuccess(e2e)
        #expect(lastSuccess != nil)
        #expect(
            firstMetrics.value("mailferry_last_success_timestamp_seconds", plan).map { Self.same($0, lastSuccess) }
                == true)
        try Self.expectReport(firstReport, in: firstMetrics, e2e: e2e)
        if let promtool = try MetricsExposition.promtool(metricsPath) {
            #expect(promtool.code == 0, "\(promtool.output)\n\(firstText)")
        } else {
            Issue.record("promtool is not installed (apt-get install prometheus): only the strict reader checked")
        }

        // ben's password is wrong now: his mailbox stops, the run exits 1, and says so as JSON lines.
        try "wrong\n".write(toFile: e2e.workspace + "/secrets/ben", atomically: false, encoding: .utf8)
        let second = try EndToEnd.mailferry(
            ["run", "jobs/e2e.json5", "--log-format", "json"], in: e2e.workspace)
        #expect(second.code == 1, "\(second.out)\n\(second.err)")
        let objects = MonitoringTests.objects(second.out) + MonitoringTests.objects(second.err)
        #expect(
            objects.count == (second.out + second.err).split(separator: "\n").count && !objects.isEmpty,
            "\(second.out)\n\(second.err)")
        let ben = try #require(objects.first { $0["mailbox"] as? String == "isp/ben" }, "\(second.out)")
        #expect(ben["level"] as? String == "error" && ben["errorKind"] as? String == "auth", "\(ben)")
        let end = try #require(objects.first { $0["event"] as? String == "run-end" })
        #expect(end["exitCode"] as? Int == 1 && (end["counts"] as? [String: Int])?["mailboxesStopped"] == 1)
        #expect(
            (end["message"] as? String)?.hasSuffix("1 mailbox stopped; exit 1") == true, "\(end)")

        let secondReport = try e2e.lastReport()
        #expect(secondReport.runID != firstReport.runID)
        let secondText = try String(contentsOfFile: metricsPath, encoding: .utf8)
        let metrics = MetricsExposition(secondText)
        #expect(metrics.value("mailferry_last_run_exit_code", plan) == 1)
        #expect(
            metrics.value("mailferry_last_success_timestamp_seconds", plan).map { Self.same($0, lastSuccess) } == true,
            "the failing run keeps the last success")
        #expect(try Self.lastSuccess(e2e) == lastSuccess)
        #expect(metrics.value("mailferry_mailbox_stopped", ["plan": "e2e", "mailbox": "isp/ben"]) == 1)
        #expect(metrics.value("mailferry_mailboxes_stopped", plan) == 1)
        try Self.expectReport(secondReport, in: metrics, e2e: e2e)
        if let promtool = try MetricsExposition.promtool(metricsPath) {
            #expect(promtool.code == 0, "\(promtool.output)\n\(secondText)")
        }
        var info = stat()
        #expect(stat(metricsPath, &info) == 0 && info.st_mode & 0o777 == 0o644)
        #expect(try FileManager.default.contentsOfDirectory(atPath: e2e.workspace + "/metrics") == ["e2e.prom"])
        try e2e.expectExactlyOnce("ana")
    }

    /// A metrics folder on a read-only file system: the run stops before any mail moves (exit 73, the folder and
    /// the cause named), each line one JSON object under `--log-format json`; `check --offline` has a red row.
    @Test func anUnwritableMetricsFolderStopsTheRunBeforeAnyMailMoves() throws {
        let e2e = try EndToEnd("metrics-readonly", counts: ["sam": 2])
        try Truth.editPlan(e2e, "plan: \"e2e\",", "plan: \"e2e\", metricsFile: \"metrics/e2e.prom\",")
        let metrics = e2e.workspace + "/metrics"
        try FileManager.default.createDirectory(atPath: metrics, withIntermediateDirectories: true)
        let run = try Truth.mailferry(
            ["run", "jobs/e2e.json5", "--log-format", "json"], readOnly: [metrics], in: e2e.workspace)
        #expect(run.code == 73 && run.out.isEmpty, "\(run.out)\n\(run.err)")
        let objects = MonitoringTests.objects(run.err)
        #expect(
            objects.map { $0["message"] as? String ?? "" } == [
                "mailferry run: the metrics file's folder metrics/: cannot write there: Read-only file system",
                "mailferry run: nothing was run and no mail moved; exit 73",
            ], "\(run.err)")
        #expect(objects.first?["event"] as? String == "setup-problem" && objects.first?["level"] as? String == "error")
        #expect(objects.first?["path"] as? String == "metrics" && objects.first?["plan"] as? String == "e2e")
        // Stopped before the lock and the state (and so before any connection): no state file was made.
        #expect(!FileManager.default.fileExists(atPath: e2e.statePath), "the run went past its setup check")
        #expect(!FileManager.default.fileExists(atPath: e2e.statePath + ".lock"))
        #expect(e2e.deliveredCount("sam") == 0)
        let check = try Truth.mailferry(
            ["check", "jobs/e2e.json5", "--offline"], readOnly: [metrics], in: e2e.workspace)
        #expect(check.code == 1, "\(check.out)\n\(check.err)")
        #expect(
            (check.out + check.err).contains("the metrics file's folder metrics/: cannot write there"), "\(check.out)")
    }

    /// `--log-format` takes text or json; with json, even a mistake on the command line or in the plan is said as
    /// JSON lines.
    @Test func mistakesAreSaidAsJSONToo() throws {
        let folder = TempFolder("log-format")
        defer { folder.cleanup() }
        _ = folder.file(
            "jobs/p.json5",
            """
            { plan: "p", metricsFile: "m.txt", sources: { isp: { host: "127.0.0.1" } },
              targets: { t: { kind: "maildir", path: "target/{mailbox}" } },
              mailboxes: [ { source: "isp", user: "u", password: { env: "U_PW" }, target: "t" } ] }
            """)
        let wrong = try EndToEnd.mailferry(["run", "jobs/p.json5", "--log-format", "xml"], in: folder.path)
        #expect(wrong.code == 2 && wrong.out.isEmpty, "\(wrong.err)")
        #expect(
            wrong.err == "mailferry run: --log-format takes text or json (got xml)\nRun mailferry --help for usage.\n",
            "\(wrong.err)")
        let unknown = try EndToEnd.mailferry(["run", "jobs/p.json5", "--log-format=json", "--bogus"], in: folder.path)
        #expect(unknown.code == 2 && unknown.out.isEmpty, "\(unknown.err)")
        let said = MonitoringTests.objects(unknown.err)
        #expect(said.count == 1 && unknown.err.split(separator: "\n").count == 1, "\(unknown.err)")
        #expect(
            (said.first?["message"] as? String)?.hasPrefix("mailferry run: unknown option --bogus") == true, "\(said)")
        #expect(said.first?["level"] as? String == "error" && said.first?["plan"] == nil)
        let badPlan = try EndToEnd.mailferry(["run", "jobs/p.json5", "--log-format", "json"], in: folder.path)
        #expect(badPlan.code == 2 && badPlan.out.isEmpty, "\(badPlan.err)")
        let problems = MonitoringTests.objects(badPlan.err)
        #expect(problems.count == badPlan.err.split(separator: "\n").count && problems.count == 2, "\(badPlan.err)")
        #expect((problems.first?["message"] as? String)?.contains("metricsFile: \"m.txt\" must be a file name") == true)
    }

    /// The end of the latest run that exited 0, from the state's runs table.
    static func lastSuccess(_ e2e: EndToEnd) throws -> Double? {
        let db = try Database(path: e2e.statePath)
        defer { withExtendedLifetime(db) {} }
        return try db.prepare("SELECT max(finished_at) FROM runs WHERE exit_code = 0").rows {
            $0.isNull(0) ? nil : $0.double(0)
        }.first ?? nil
    }

    /// Equal to the millisecond the file writes.
    static func same(_ value: Double, _ expected: Double?) -> Bool {
        guard let expected else { return false }
        return abs(value - expected) < 0.001
    }

    /// The run's report in the metrics: its start, end (the report says them to the second) and exit code, and each
    /// mailbox's standing and state rows.
    static func expectReport(
        _ report: RunSummary, in metrics: MetricsExposition, e2e: EndToEnd,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let plan = ["plan": "e2e"]
        #expect(metrics.value("mailferry_last_run_exit_code", plan) == Double(report.exitCode))
        #expect(
            metrics.value("mailferry_last_run_start_timestamp_seconds", plan).map {
                abs($0 - report.startedAt.timeIntervalSince1970) < 1
            } == true, sourceLocation: sourceLocation)
        #expect(
            metrics.value("mailferry_last_run_end_timestamp_seconds", plan).map {
                abs($0 - report.finishedAt.timeIntervalSince1970) < 1
            } == true, sourceLocation: sourceLocation)
        #expect(metrics.value("mailferry_mailboxes", plan) == Double(report.mailboxes.count))
        #expect(metrics.value("mailferry_mailboxes_waiting", plan) == Double(report.waiting))
        for result in report.mailboxes {
            let user = String(result.key.dropFirst("isp/".count))
            let labels = ["plan": "e2e", "mailbox": result.key]
            func messages(_ state: String) -> Double? {
                metrics.value("mailferry_mailbox_messages", labels.merging(["state": state]) { a, _ in a })
            }
            let standing = try #require(result.standing, sourceLocation: sourceLocation)
            #expect(messages("pending") == Double(standing.pending + standing.inDoubt), sourceLocation: sourceLocation)
            #expect(messages("deferred") == Double(standing.deferred), sourceLocation: sourceLocation)
            #expect(messages("failed") == Double(standing.failed), sourceLocation: sourceLocation)
            #expect(messages("quarantined") == Double(standing.quarantined), sourceLocation: sourceLocation)
            #expect(
                messages("delivered") == Double(try e2e.rows(user).filter { $0.state == "delivered" }.count),
                sourceLocation: sourceLocation)
            #expect(
                metrics.value("mailferry_mailbox_stopped", labels) == (result.error == nil ? 0 : 1),
                sourceLocation: sourceLocation)
        }
    }
}
