import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// One run once the plan, the setup, the lock and the state are in order: the mailboxes, then the verdict from the
/// state, the report and the dashboard.
extension RunCommand {
    static func execute(
        plan: Plan, store: Store, args: Arguments, console: Console,
        rebound: [String: String] = [:]
    ) -> RunSummary {
        let started = Date()
        // Shards of one plan may start in the same millisecond (an Indexed Job): the shard is part of the run id,
        // and so of the report's file name.
        let runID = makeRunID(started) + (plan.shard.map { "-shard-\($0.index)-of-\($0.count)" } ?? "")
        let mailboxes = plan.selectedMailboxes
        let trace: ProtocolTrace?
        do {
            trace = try openTrace(args, plan: plan, runID: runID, console: console)
        } catch {
            console.error("mailferry run: \(ErrorText.sentence(error)); nothing was run and no mail moved")
            return RunSummary(
                runID: runID, plan: plan.name, startedAt: started, finishedAt: Date(), mailboxes: [],
                interrupted: false, exitCode: ExitCode.cannotCreate)
        }
        // A dry run changes nothing: no run row, no report, no dashboard.
        if !args.dryRun { try? store.startRun(id: runID) }
        if !args.quiet {
            let text =
                "mailferry: plan \(plan.name)"
                + (plan.shard.map { ", shard \($0) of \(plan.mailboxes.count) mailboxes" } ?? "")
                + ", " + counted(mailboxes.count, "mailbox") + ", run \(runID)"
            console.say(RunLog.start(plan: plan, runID: runID, mailboxes: mailboxes.count, message: text))
        }
        let etiquette = args.quiet && !args.dryRun ? QuietEtiquette(plan: plan, store: store) : nil
        let lines = ConsoleObserver(console: console, quiet: args.quiet, etiquette: etiquette)
        var results: [MailboxResult] = []
        do {
            let live =
                args.quiet || args.noProgress || args.logFormat == .json
                ? nil : LiveProgress.onTerminal(console: console, lines: lines, mailboxes: mailboxes.count)
            let runner = try Runner(plan: plan, store: store, observer: live ?? lines, trace: trace)
            results = runner.run(options: RunOptions(parallel: args.parallel, dryRun: args.dryRun), runID: runID)
            live?.finish()
        } catch {
            console.error("mailferry run: \(ErrorText.sentence(error))")
            results = mailboxes.map {
                var r = MailboxResult(key: $0.key, address: $0.address, target: $0.target)
                r.error = ErrorText.sentence(error)
                return r
            }
        }
        for index in results.indices {
            if let note = rebound[results[index].key] { results[index].notes.insert(note, at: 0) }
        }
        var summary = RunSummary(
            runID: runID, plan: plan.name, startedAt: started, finishedAt: Date(),
            mailboxes: results, interrupted: StopSignal.requested, exitCode: ExitCode.ok)
        summary.shard = plan.shard?.description
        summary.exitCode = verdict(summary, selected: mailboxes.count)
        let reportPath = args.dryRun ? nil : finish(&summary, plan: plan, store: store, console: console)
        if !args.quiet || lines.said > 0 || summary.newlyVanished > 0 || summary.exitCode == ExitCode.cannotCreate {
            console.say(RunLog.end(summary, message: finalLine(summary)))
            if let reportPath { console.say(RunLog.report(relativeToCurrent(reportPath))) }
            if args.dryRun { console.line("dry run: nothing was fetched, delivered or deleted; no report written") }
        }
        return summary
    }

    /// The exit code from the state, not from this run's counters: 0 only when every message listed is delivered
    /// (or a duplicate) and every mailbox was worked on; 1 when anything is pending, deferred (a backoff included),
    /// failed or in doubt; 130/143 when interrupted.
    static func verdict(_ summary: RunSummary, selected: Int) -> Int32 {
        if summary.interrupted { return StopSignal.exitCode }
        // Mail that vanished from the server before it was copied: exit 1 the first time a run notices it.
        if summary.newlyVanished > 0 { return ExitCode.incomplete }
        return summary.complete && summary.mailboxes.count == selected ? ExitCode.ok : ExitCode.incomplete
    }

    /// Writes the report, records the run's end, refreshes the dashboard and writes the metrics file; a report,
    /// dashboard or metrics file that cannot be written makes the exit code 73 (someone must see to its folder).
    /// Returns the Markdown report's path.
    static func finish(_ summary: inout RunSummary, plan: Plan, store: Store, console: Console) -> String? {
        var reportPath: String?
        do {
            reportPath = try ReportWriter.write(summary, to: plan.reportsPath).markdown
        } catch {
            console.error("mailferry run: cannot write the run report: \(ErrorText.sentence(error))")
            if !summary.interrupted { summary.exitCode = ExitCode.cannotCreate }
        }
        func record() {
            guard let json = try? ReportWriter.json(summary) else { return }
            try? store.finishRun(
                id: summary.runID, exitCode: summary.exitCode, summaryJSON: String(decoding: json, as: UTF8.self))
        }
        record()
        // A cron run every few minutes for months would leave tens of thousands of reports: keep the newest.
        ReportWriter.prune(folder: plan.reportsPath, keep: plan.keepReports, like: summary.runID)
        _ = try? store.pruneRunSummaries(keep: plan.keepReports, sparing: summary.runID)
        func failed(_ what: String, _ error: any Error) {
            console.error("mailferry run: cannot write \(what): \(ErrorText.sentence(error))")
            if !summary.interrupted && summary.exitCode != ExitCode.cannotCreate {
                summary.exitCode = ExitCode.cannotCreate
                record()
            }
        }
        var status: PlanStatus?
        do {
            let state = try StateFiles.read(StateFiles.discover(statePath: plan.statePath))
            status = PlanStatus(plan: plan, state: state)
            try Dashboard.write(status: status!, runs: state.runs, reportsPath: plan.reportsPath)
        } catch {
            failed("the dashboard", error)
        }
        if let path = plan.metricsPath {
            do {
                try writeMetrics(summary, status: status, plan: plan, store: store, to: path)
            } catch {
                failed("the metrics file", error)
            }
        }
        return reportPath
    }

    /// The plan's metrics file, from the run's summary, where its mailboxes stand (`status`) and the state's last
    /// run that exited 0. The exit code is the one recorded: a metrics file that cannot be written is not written.
    static func writeMetrics(
        _ summary: RunSummary, status: PlanStatus?, plan: Plan, store: Store, to path: String
    ) throws {
        guard let status else {
            throw MailError(.local, "\(path): the state could not be read for its numbers")
        }
        let input = MetricsFile.Input(
            summary: summary, status: status, mailboxes: plan.selectedMailboxes.map(\.key),
            lastSuccess: try store.lastSuccessfulRunEnd())
        try MetricsFile.write(input, to: path)
    }

    /// `--trace FILE` (appended to, a header per run) and/or `--verbose` (standard error); nil for neither.
    static func openTrace(_ args: Arguments, plan: Plan, runID: String, console: Console) throws -> ProtocolTrace? {
        guard args.verbose || args.trace != nil else { return nil }
        let showTrace: (@Sendable (String) -> Void)? =
            args.verbose
            ? { @Sendable line in console.say(LogEntry(.debug, event: "trace", message: line), toError: true) } : nil
        let trace = try ProtocolTrace(path: args.trace.map(absolutePath), standardError: showTrace)
        trace.header(
            "mailferry \(MailFerryCLI.version) run \(runID), plan \(plan.name) (\(plan.file))"
                + (plan.shard.map { ", shard \($0)" } ?? ""))
        return trace
    }

    /// The closing line: what this run did, then where the run's mailboxes stand (as `status` counts them), then
    /// the exit code.
    static func finalLine(_ s: RunSummary) -> String {
        var text = s.interrupted ? "interrupted: " : "done: "
        text += counted(s.mailboxes.count, "mailbox") + ", " + counted(s.delivered, "message")
        text += " delivered (\(formatBytes(s.bytes))) in "
        text += String(format: "%.1f s", s.seconds)
        let standing = s.standing
        var tail: [String] = []
        if s.duplicate > 0 { tail.append("\(s.duplicate) duplicate") }
        if s.reconciled > 0 { tail.append("\(s.reconciled) confirmed from an interrupted run") }
        if standing.deferred > 0 { tail.append("\(standing.deferred) deferred") }
        if standing.quarantined > 0 { tail.append("\(standing.quarantined) quarantined") }
        if s.removed > 0 { tail.append("\(s.removed) deleted from the source (retention)") }
        if standing.failed > 0 { tail.append("\(standing.failed) failed") }
        if standing.pending > 0 { tail.append("\(standing.pending) left for the next run") }
        if s.newlyVanished > 0 {
            tail.append(
                counted(s.newlyVanished, "message") + " VANISHED from the server before "
                    + "\(s.newlyVanished == 1 ? "it was" : "they were") delivered (see the report)")
        }
        let doubt = standing.inDoubt - s.leftInDoubt
        if doubt > 0 {
            tail.append("\(doubt) in doubt after an interrupted attempt (the next run asks the target first)")
        }
        if s.leftInDoubt > 0 {
            tail.append(
                counted(s.leftInDoubt, "message") + " in doubt at the IMAP target, left "
                    + "for a later run so \(s.leftInDoubt == 1 ? "it is" : "they are") not delivered twice")
        }
        if s.waiting > 0 { tail.append(counted(s.waiting, "mailbox") + " waiting") }
        if s.mailboxesDeferred > 0 {
            tail.append(counted(s.mailboxesDeferred, "mailbox") + " deferred (transient)")
        }
        if s.mailboxErrors > 0 { tail.append(counted(s.mailboxErrors, "mailbox") + " stopped") }
        if !tail.isEmpty { text += "; " + tail.joined(separator: ", ") }
        text += "; exit \(s.exitCode)"
        return text
    }
}
