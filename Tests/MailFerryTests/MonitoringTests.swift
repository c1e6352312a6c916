import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// Monitoring (issue 20): the plan's `metricsFile` for node_exporter's textfile collector, and `run --log-format
/// json`. Here against scripted POP3 servers, one per source, so one run has a mailbox that delivers, one with a
/// deferred and a quarantined message, one waiting ([IN-USE]), one deferred (transient) and one stopped (SYS/PERM).
@Suite(.serialized) struct MonitoringTests {
    typealias Runner = POP3RunnerBehaviourTests

    /// Five sources on five fake servers, each with its mailbox "u" (parallel 1: the lines come in plan order).
    struct Scenario {
        let folder = TempFolder("monitoring")
        let servers: [FakeServer]
        let planFile: String

        static let sources = ["good", "flaky", "busy", "down", "broken"]

        init() throws {
            let flaky =
                Runner.login() + [
                    .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
                    .expect("LIST"), .send("+OK\r\n1 \(Runner.message1.utf8.count)\r\n2 5000000000\r\n.\r\n"),
                    .expect("UIDL"), .send("+OK\r\n1 A\r\n2 B\r\n.\r\n"),
                    .expect("RETR 1"), .send("-ERR no such message\r\n"), .expect("QUIT"), .send("+OK\r\n"),
                ]
            let busy: [FakeStep] = [
                .send("+OK fake\r\n"), .expect("CAPA"), .send("+OK\r\nUSER\r\n.\r\n"),
                .expect("USER u"), .send("+OK\r\n"), .expect("PASS pw"),
                .send("-ERR [IN-USE] Mailbox locked by another session\r\n"), .expect("QUIT"), .send("+OK\r\n"),
            ]
            servers = [
                try FakeServer(steps: Runner.login() + Runner.listing(uidl: "1 A\r\n2 B") + Runner.retrieval),
                try FakeServer(steps: flaky), try FakeServer(steps: busy),
                try FakeServer(steps: Runner.passRefused("SYS/TEMP")),
                try FakeServer(steps: Runner.passRefused("SYS/PERM")),
            ]
            let secret = folder.file("secrets/pw", "pw\n")
            let sources = zip(Self.sources, servers).map { name, server in
                """
                \(name): { host: "127.0.0.1", port: \(server.port), tls: "none", allowPlaintext: true,
                           timeoutSeconds: 5, auth: ["user"] }
                """
            }
            let mailboxes = Self.sources.map { name in
                """
                { source: "\(name)", user: "u", password: { file: "\(secret)" }, target: "box",
                  mailbox: "\(name)@contoso.example" }
                """
            }
            planFile = folder.file(
                "jobs/mon.json5",
                """
                {
                  plan: "mon", parallel: 1, metricsFile: "metrics/mailferry.prom",
                  transition: { cutover: "2020-01-01" },
                  sources: { \(sources.joined(separator: ",\n")) },
                  targets: { box: { kind: "maildir", path: "target/{mailbox}" } },
                  mailboxes: [ \(mailboxes.joined(separator: ",\n")) ],
                }
                """)
        }

        /// `mailferry run` in-process, as `RunCommand.main` does it once the plan is loaded: the setup check, then
        /// the run. The summary, what standard output and standard error showed, and the plan.
        func run(json: Bool) throws -> (summary: RunSummary, out: String, err: String, plan: Plan) {
            let plan = try PlanLoader.load(planFile)
            #expect(SetupCheck.prepare(plan: plan).isEmpty)
            let store = try Store(path: plan.statePath)
            let outPath = folder.path + "/out-\(UUID().uuidString.prefix(8)).txt"
            let errPath = folder.path + "/err-\(UUID().uuidString.prefix(8)).txt"
            let out = open(outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let err = open(errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            let console = Console(out: out, err: err)
            if json { console.logJSON(plan: plan.name) }
            var args = RunCommand.Arguments(plan: planFile, noProgress: true)
            args.logFormat = json ? .json : .text
            let summary = RunCommand.execute(plan: plan, store: store, args: args, console: console)
            close(out)
            close(err)
            for server in servers { server.finish() }
            return (
                summary, (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "", plan
            )
        }

        /// Sizes, times, run ids, ports and this workspace's path made the same across two scenarios.
        func normalised(_ text: String) -> String {
            Truth.normalised(text)
                .replacingOccurrences(of: folder.path, with: "WS")
                .replacingOccurrences(of: #"127\.0\.0\.1:[0-9]+"#, with: "127.0.0.1:PORT", options: .regularExpression)
        }
    }

    /// The JSON lines parsed, each one object; an issue for a line that is not.
    static func objects(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if object == nil { Issue.record("not a JSON object: \(line)", sourceLocation: sourceLocation) }
            return object
        }
    }

    /// The same run in text and in JSON: each JSON line is one object whose message is the text line, with the
    /// time, the level, the plan, the mailbox, the event and the counts as fields that agree with the run report.
    @Test func jsonLinesCarryTheSameFactsAsTheTextLines() throws {
        let textRun = try Scenario()
        defer { textRun.folder.cleanup() }
        let text = try textRun.run(json: false)
        let jsonRun = try Scenario()
        defer { jsonRun.folder.cleanup() }
        let json = try jsonRun.run(json: true)
        #expect(text.summary.exitCode == 1 && json.summary.exitCode == 1, "\(text.out)\n\(json.out)")
        #expect(text.err.isEmpty && json.err.isEmpty, "\(text.err)\n\(json.err)")
        let objects = Self.objects(json.out)
        #expect(objects.count == json.out.split(separator: "\n").count)
        // The messages, joined, are the text output: the same lines say the same things.
        let messages = objects.compactMap { $0["message"] as? String }
        #expect(
            jsonRun.normalised(messages.joined(separator: "\n") + "\n") == textRun.normalised(text.out),
            "\(json.out)\n---\n\(text.out)")
        for object in objects {
            #expect(object["plan"] as? String == "mon", "\(object)")
            let time = object["time"] as? String ?? ""
            #expect(
                time.range(
                    of: #"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"#,
                    options: .regularExpression) != nil, "\(object)")
        }
        #expect(
            objects.map { $0["event"] as? String ?? "" } == ["run-start"] + Array(repeating: "mailbox", count: 5) + [
                "run-end", "report",
            ])
        let byMailbox = Dictionary(
            objects.filter { $0["event"] as? String == "mailbox" }.map { ($0["mailbox"] as? String ?? "", $0) },
            uniquingKeysWith: { first, _ in first })
        #expect(
            Scenario.sources.map { byMailbox["\($0)/u"]?["level"] as? String }
                == ["info", "error", "warning", "warning", "error"], "\(byMailbox)")
        for result in json.summary.mailboxes {
            let object = try #require(byMailbox[result.key], "\(result.key)")
            let counts = object["counts"] as? [String: Int] ?? [:]
            #expect(counts["delivered"] == result.delivered && counts["deferred"] == result.deferred, "\(object)")
            #expect(counts["quarantined"] == result.quarantined && counts["failed"] == result.failed, "\(object)")
            #expect(counts["bytes"] == result.bytes && counts["onServer"] == result.onServer, "\(object)")
            #expect(object["waiting"] as? String == result.waiting, "\(object)")
            #expect(object["error"] as? String == result.error, "\(object)")
            #expect(object["errorKind"] as? String == result.errorKind?.rawValue, "\(object)")
            #expect(object["address"] as? String == result.address, "\(object)")
        }
        #expect(byMailbox["flaky/u"]?["counts"] as? [String: Int] != nil)
        let flaky = byMailbox["flaky/u"]?["counts"] as? [String: Int] ?? [:]
        #expect(flaky["deferred"] == 1 && flaky["quarantined"] == 1 && flaky["delivered"] == 0, "\(flaky)")
        #expect((byMailbox["busy/u"]?["waiting"] as? String)?.contains("[IN-USE]") == true)
        #expect(byMailbox["down/u"]?["errorKind"] as? String == "transient")
        #expect(byMailbox["broken/u"]?["errorKind"] as? String == "permanent")

        let end = try #require(objects.first { $0["event"] as? String == "run-end" })
        let endCounts = end["counts"] as? [String: Int] ?? [:]
        let standing = json.summary.standing
        #expect(end["exitCode"] as? Int == 1 && end["level"] as? String == "warning", "\(end)")
        #expect(end["runID"] as? String == json.summary.runID)
        #expect(
            endCounts == [
                "mailboxes": 5, "delivered": 2, "bytes": json.summary.bytes, "duplicate": 0, "reconciled": 0,
                "deferred": standing.deferred, "quarantined": standing.quarantined, "removed": 0,
                "failed": standing.failed, "pending": standing.pending, "vanished": 0, "inDoubt": 0, "leftInDoubt": 0,
                "mailboxesWaiting": 1, "mailboxesDeferred": 1, "mailboxesStopped": 1,
            ], "\(end)")
        #expect(standing.deferred == 1 && standing.quarantined == 1)
        let report = try #require(objects.last)
        #expect(
            report["path"] as? String
                == DisplayPath.relativeToCurrent(
                    json.plan.reportsPath + "/\(json.summary.runID).md"))
    }

    /// The metrics file after that run: every number the run's report and the state say, in a file the format's
    /// strict reader and `promtool check metrics` accept, 0644, with no temporary file left beside it.
    @Test func theMetricsFileSaysWhatTheReportAndTheStateSay() throws {
        let scenario = try Scenario()
        defer { scenario.folder.cleanup() }
        let run = try scenario.run(json: false)
        let path = try #require(run.plan.metricsFile)
        #expect(path == scenario.folder.path + "/metrics/mailferry.prom")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let metrics = MetricsExposition(text)
        let plan = ["plan": "mon"]
        #expect(metrics.value("mailferry_last_run_exit_code", plan) == 1)
        #expect(metrics.value("mailferry_last_success_timestamp_seconds", plan) == 0, "no run exited 0 yet")
        let start = try #require(metrics.value("mailferry_last_run_start_timestamp_seconds", plan))
        let end = try #require(metrics.value("mailferry_last_run_end_timestamp_seconds", plan))
        #expect(abs(start - run.summary.startedAt.timeIntervalSince1970) < 0.001)
        #expect(abs(end - run.summary.finishedAt.timeIntervalSince1970) < 0.001)
        #expect(metrics.value("mailferry_mailboxes", plan) == 5)
        #expect(metrics.value("mailferry_mailboxes_waiting", plan) == 1)
        #expect(metrics.value("mailferry_mailboxes_stopped", plan) == 2)
        // What `status` says of the same state.
        let status = PlanStatus(plan: run.plan, state: try StateFiles.read([run.plan.statePath]))
        #expect(
            metrics.value("mailferry_mailboxes_receiving_after_cutover", plan) == Double(status.flagged.count))
        let store = try Store(path: run.plan.statePath)
        for result in run.summary.mailboxes {
            let mailbox = plan.merging(["mailbox": result.key]) { a, _ in a }
            func messages(_ state: String) -> Double? {
                metrics.value("mailferry_mailbox_messages", mailbox.merging(["state": state]) { a, _ in a })
            }
            // Where the report's mailbox stands after the run (what `status` counts), and what the state holds.
            let standing = result.standing ?? MailboxStanding()
            #expect(messages("pending") == Double(standing.pending + standing.inDoubt), "\(result.key)")
            #expect(messages("deferred") == Double(standing.deferred), "\(result.key)")
            #expect(messages("failed") == Double(standing.failed), "\(result.key)")
            #expect(messages("quarantined") == Double(standing.quarantined), "\(result.key)")
            let counts = try store.mailboxID(key: result.key).map { try store.counts(mailbox: $0) } ?? [:]
            #expect(messages("delivered") == Double(counts[.delivered] ?? 0), "\(result.key)")
            #expect(messages("duplicate") == 0 && messages("removed") == 0 && messages("vanished") == 0)
            #expect(
                metrics.value("mailferry_mailbox_waiting", mailbox) == (result.waiting == nil ? 0 : 1), "\(result.key)")
            #expect(
                metrics.value("mailferry_mailbox_stopped", mailbox) == (result.error == nil ? 0 : 1), "\(result.key)")
            let shown = try #require(status.mailboxes.first { $0.key == result.key })
            #expect(
                metrics.value("mailferry_mailbox_legacy_after_cutover_messages", mailbox)
                    == Double(shown.arrivedAfterCutover))
            let lastPoll = metrics.all("mailferry_mailbox_last_successful_poll_timestamp_seconds").first {
                $0.labels == mailbox
            }
            #expect(
                lastPoll.map { abs($0.value - shown.lastSuccessfulPollAt!.timeIntervalSince1970) < 0.001 }
                    ?? (shown.lastSuccessfulPollAt == nil), "\(result.key)")
        }
        #expect(
            metrics.value("mailferry_mailbox_messages", ["plan": "mon", "mailbox": "good/u", "state": "delivered"]) == 2
        )
        #expect(
            metrics.value("mailferry_mailbox_messages", ["plan": "mon", "mailbox": "flaky/u", "state": "deferred"]) == 1
        )
        #expect(
            metrics.value("mailferry_mailbox_messages", ["plan": "mon", "mailbox": "flaky/u", "state": "quarantined"])
                == 1)
        // The mailboxes stopped at their login have no last good poll.
        #expect(
            metrics.all("mailferry_mailbox_last_successful_poll_timestamp_seconds").map { $0.labels["mailbox"] ?? "" }
                .sorted() == ["busy/u", "flaky/u", "good/u"])
        #expect(metrics.help.keys.allSatisfy { $0.hasPrefix("mailferry_") })

        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o644)
        let beside = try FileManager.default.contentsOfDirectory(atPath: scenario.folder.path + "/metrics")
        #expect(beside == ["mailferry.prom"], "\(beside)")
        if let promtool = try MetricsExposition.promtool(path) {
            #expect(promtool.code == 0, "\(promtool.output)\n\(text)")
        }
    }

    /// Label values with a quote, a backslash and a line break are escaped as the format says, and read back whole.
    @Test func labelValuesAreEscaped() throws {
        var result = MailboxResult(key: "isp/a\"b\\c\nd", address: "x", target: "t")
        result.waiting = "[IN-USE]"
        let summary = RunSummary(
            runID: "r", plan: "p", startedAt: Date(timeIntervalSince1970: 1_800_000_000.25),
            finishedAt: Date(timeIntervalSince1970: 1_800_000_060.5), mailboxes: [result], interrupted: false,
            exitCode: 0, shard: "1/4")
        let status = PlanStatus(
            plan: try PlanLoader.load(
                TempFolder("labels").file(
                    "jobs/p.json5",
                    """
                    { plan: "p", sources: { isp: { host: "127.0.0.1" } },
                      targets: { t: { kind: "maildir", path: "target/{mailbox}" } },
                      mailboxes: [ { source: "isp", user: "u", password: { env: "U_PW" }, target: "t" } ] }
                    """)),
            state: StateSummary(files: [], runs: .init()))
        let text = MetricsFile.text(
            .init(summary: summary, status: status, mailboxes: [result.key], lastSuccess: 1_800_000_060.5))
        #expect(text.contains(#"mailbox="isp/a\"b\\c\nd""#), "\(text)")
        let metrics = MetricsExposition(text)
        let labels = ["plan": "p", "shard": "1/4", "mailbox": "isp/a\"b\\c\nd"]
        #expect(metrics.value("mailferry_mailbox_waiting", labels) == 1)
        #expect(
            metrics.value("mailferry_last_success_timestamp_seconds", ["plan": "p", "shard": "1/4"]) == 1_800_000_060.5)
        #expect(
            metrics.value("mailferry_last_run_start_timestamp_seconds", ["plan": "p", "shard": "1/4"])
                == 1_800_000_000.25)
        #expect(metrics.all("mailferry_mailbox_legacy_after_cutover_messages").isEmpty, "no cutover in the plan")
        let file = TempFolder("promtool")
        defer { file.cleanup() }
        if let promtool = try MetricsExposition.promtool(file.file("m.prom", text)) {
            #expect(promtool.code == 0, "\(promtool.output)\n\(text)")
        }
    }

    /// `metricsFile` must name a `.prom` file (what node_exporter reads); it is resolved against the workspace, and a
    /// shard writes its own file beside it.
    @Test func theMetricsFileKeyIsChecked() throws {
        let folder = TempFolder("metrics-key")
        defer { folder.cleanup() }
        func plan(_ value: String) throws -> Plan {
            try PlanLoader.load(
                folder.file(
                    "jobs/p.json5",
                    """
                    { plan: "p", metricsFile: \(value), sources: { isp: { host: "127.0.0.1" } },
                      targets: { t: { kind: "maildir", path: "target/{mailbox}" } },
                      mailboxes: [ { source: "isp", user: "u", password: { env: "U_PW" }, target: "t" } ] }
                    """))
        }
        let good = try plan(#""metrics/p.prom""#)
        let workspace = URL(fileURLWithPath: folder.path).standardizedFileURL.path
        #expect(good.metricsFile == workspace + "/metrics/p.prom")
        #expect(good.metricsPath == good.metricsFile)
        #expect(try good.sharded(Shard(index: 2, count: 5)).metricsPath == workspace + "/metrics/p-shard-2-of-5.prom")
        #expect(try plan(#""/var/lib/node/m.prom""#).metricsFile == "/var/lib/node/m.prom")
        for bad in [#""metrics/p.txt""#, #""metrics/.prom""#, #""metrics/p.prom/""#, #""""#, "42"] {
            do {
                _ = try plan(bad)
                Issue.record("\(bad) was accepted")
            } catch let error as PlanError {
                #expect(error.problems.count == 1 && error.problems[0].path == "metricsFile", "\(bad): \(error)")
            }
        }
        do {
            _ = try plan(#""metrics/p.txt""#)
        } catch let error as PlanError {
            #expect(
                error.problems.first?.message
                    == "\"metrics/p.txt\" must be a file name ending in .prom, such as "
                    + "\"/var/lib/prometheus/node-exporter/mailferry.prom\": node_exporter's textfile collector "
                    + "reads only those")
        }
    }
}
