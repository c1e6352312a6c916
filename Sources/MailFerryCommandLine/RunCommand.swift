import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// `mailferry run PLAN`: one pass over every mailbox of a plan.
enum RunCommand {
    struct Arguments {
        var plan: String
        var parallel: Int?
        var quiet = false
        var dryRun = false
        var shard: Shard?
        /// Protocol trace to standard error (`--verbose`) and/or a file (`--trace FILE`).
        var verbose = false
        var trace: String?
        /// No live progress even on a terminal.
        var noProgress = false
        /// Accept a blank state although the plan delivered before (`StateGuard`): start over on purpose.
        var newState = false
        /// Mailboxes (SOURCE/USER, or "all") whose new target or target mailbox is meant (`--rebind`).
        var rebind: Set<String> = []
    }

    static func parse(_ arguments: [String]) throws -> Arguments {
        let scanned = try ArgumentScanner.scan(
            arguments,
            flags: [
                "--quiet": "--quiet", "-q": "--quiet",
                "--dry-run": "--dry-run", "-n": "--dry-run",
                "--verbose": "--verbose", "-v": "--verbose",
                "--no-progress": "--no-progress",
                "--new-state": "--new-state",
            ],
            options: ["--parallel", "--shard", "--trace", "--rebind"])
        guard let plan = scanned.plan else {
            throw UsageError("run needs a plan file: mailferry run jobs/PLAN.json5")
        }
        let shard: Shard?
        do {
            shard = try scanned.values["--shard"].map { try Shard(parsing: $0) }
        } catch {
            throw UsageError("\(error)")
        }
        return Arguments(
            plan: plan, parallel: try scanned.parallel(), quiet: scanned.flags.contains("--quiet"),
            dryRun: scanned.flags.contains("--dry-run"), shard: shard,
            verbose: scanned.flags.contains("--verbose"), trace: scanned.values["--trace"],
            noProgress: scanned.flags.contains("--no-progress"),
            newState: scanned.flags.contains("--new-state"),
            rebind: Set(
                (scanned.values["--rebind"] ?? "").split(separator: ",").map {
                    $0.trimmingCharacters(in: .whitespaces)
                }.filter { !$0.isEmpty }))
    }

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let args: Arguments
        do {
            args = try parse(arguments)
        } catch {
            console.error("mailferry run: \(error)\nRun mailferry --help for usage.")
            return ExitCode.usage
        }
        // The same closing line as `check`, so a cron mail says at once how much is wrong.
        guard var plan = loadPlan(args.plan, command: "run", nothingDone: "nothing was run", console: console) else {
            return ExitCode.usage
        }
        // Shards and whole-plan runs keep separate state files: mixing them would deliver messages again.
        if let problem = Shard.mixingProblem(shard: args.shard, planState: plan.statePath) {
            console.error("mailferry run: \(problem)")
            return ExitCode.usage
        }
        if let shard = args.shard { plan = plan.sharded(shard) }
        StopSignal.install()
        let lock: PlanLock
        let store: Store
        do {
            lock = try PlanLock.forState(plan.statePath)
            // Before any mail moves: a damaged state could deliver messages again or lose checkpoints (issue 16).
            if let damage = try StateIntegrity.beforeRun(path: plan.statePath), !damage.ok {
                console.error("mailferry run: " + damage.refusal(display: relativeToCurrent(plan.statePath)))
                return ExitCode.usage
            }
            store = try Store(path: plan.statePath)
        } catch let busy as PlanLock.Busy {
            console.error("mailferry: \(busy); not starting a second one")
            return ExitCode.locked
        } catch {
            console.error("mailferry: \(error)")
            return ExitCode.incomplete
        }
        // A blank or swapped state must not re-deliver what an earlier state delivered.
        var rebound: [String: String] = [:]
        do {
            try StateGuard.check(plan: plan, store: store, newState: args.newState)
            if let unknown = args.rebind.subtracting(["all"]).first(where: { key in
                !plan.mailboxes.contains { $0.key == key }
            }) {
                throw StateGuard.Refusal(
                    description: "--rebind \(sanitizeForDisplay(unknown)): no mailbox with that "
                        + "SOURCE/USER in the plan")
            }
            if !args.dryRun {
                rebound = try StateGuard.checkBindings(plan: plan, store: store, rebind: args.rebind)
                try StateGuard.stamp(plan: plan, store: store, newState: args.newState)
                // A test may kill the run here: the state has its id and the Maildir roots their markers, and
                // nothing else happened yet.
                CrashPoint.hit("after-state-stamp")
            }
        } catch let refusal as StateGuard.Refusal {
            console.error("mailferry run: \(refusal)")
            return ExitCode.usage
        } catch {
            console.error("mailferry: \(error)")
            return ExitCode.incomplete
        }
        let summary = execute(plan: plan, store: store, args: args, console: console, rebound: rebound)
        withExtendedLifetime(lock) {}
        return summary.exitCode
    }

    static func execute(
        plan: Plan, store: Store, args: Arguments, console: Console,
        rebound: [String: String] = [:]
    ) -> RunSummary {
        let started = Date()
        // Shards of one plan may start in the same millisecond (an Indexed Job): the shard is part of the run id,
        // and so of the report's file name.
        let runID = makeRunID(started) + (plan.shard.map { "-shard-\($0.index)-of-\($0.count)" } ?? "")
        let mailboxes = plan.selectedMailboxes
        try? store.startRun(id: runID)
        if !args.quiet {
            console.line(
                "mailferry: plan \(plan.name)"
                    + (plan.shard.map {
                        ", shard \($0) of \(plan.mailboxes.count) "
                            + "mailboxes"
                    } ?? "") + ", \(mailboxes.count) mailbox" + (mailboxes.count == 1 ? "" : "es")
                    + ", run \(runID)")
        }
        var results: [MailboxResult] = []
        do {
            let showTrace: (@Sendable (String) -> Void)? =
                args.verbose ? { @Sendable line in console.error(line) } : nil
            let trace =
                args.verbose || args.trace != nil
                ? try ProtocolTrace(path: args.trace, standardError: showTrace) : nil
            let lines = ConsoleObserver(console: console, quiet: args.quiet)
            let live =
                args.quiet || args.noProgress
                ? nil : LiveProgress.onTerminal(console: console, lines: lines, mailboxes: mailboxes.count)
            let runner = try Runner(plan: plan, store: store, observer: live ?? lines, trace: trace)
            results = runner.run(options: RunOptions(parallel: args.parallel, dryRun: args.dryRun), runID: runID)
            live?.finish()
        } catch {
            console.error("mailferry: \(error)")
            results = mailboxes.map {
                var r = MailboxResult(key: $0.key, address: $0.address, target: $0.target)
                r.error = "\(error)"
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
        if StopSignal.requested {
            summary.exitCode = StopSignal.exitCode
        } else if !results.allSatisfy(\.ok) {
            summary.exitCode = ExitCode.incomplete
        }
        // Mail that vanished from the server before it was copied: exit 1 the first time a run notices it (issue 22).
        if summary.newlyVanished > 0 && summary.exitCode == ExitCode.ok { summary.exitCode = ExitCode.incomplete }
        var reportPath = ""
        do {
            reportPath = try ReportWriter.write(summary, to: plan.reportsPath).markdown
        } catch {
            console.error("mailferry: cannot write the run report: \(error)")
        }
        if let json = try? ReportWriter.json(summary) {
            try? store.finishRun(
                id: runID, exitCode: summary.exitCode,
                summaryJSON: String(decoding: json, as: UTF8.self))
        }
        // A cron run every few minutes for months would leave tens of thousands of reports: keep the newest.
        ReportWriter.prune(folder: plan.reportsPath, keep: plan.keepReports, like: runID)
        _ = try? store.pruneRunSummaries(keep: plan.keepReports, sparing: runID)
        do {
            try Dashboard.refresh(plan: plan)
        } catch {
            console.error("mailferry: cannot write the dashboard: \(error)")
        }
        if !(args.quiet && summary.uneventful) {
            console.line(finalLine(summary))
            if !reportPath.isEmpty { console.line("report: \(relativeToCurrent(reportPath))") }
        }
        return summary
    }

    static func finalLine(_ s: RunSummary) -> String {
        var text = s.interrupted ? "interrupted: " : "done: "
        text += "\(s.mailboxes.count) mailbox\(s.mailboxes.count == 1 ? "" : "es"), \(s.delivered) message"
        text += "\(s.delivered == 1 ? "" : "s") delivered (\(formatBytes(s.bytes))) in "
        text += String(format: "%.1f s", s.seconds)
        var tail: [String] = []
        if s.duplicate > 0 { tail.append("\(s.duplicate) duplicate") }
        if s.reconciled > 0 { tail.append("\(s.reconciled) confirmed from an interrupted run") }
        if s.deferred > 0 { tail.append("\(s.deferred) deferred") }
        if s.quarantined > 0 { tail.append("\(s.quarantined) quarantined") }
        if s.removed > 0 { tail.append("\(s.removed) deleted from the source (retention)") }
        if s.failed > 0 { tail.append("\(s.failed) failed") }
        if s.pending > 0 { tail.append("\(s.pending) left for the next run") }
        if s.newlyVanished > 0 {
            tail.append(
                "\(s.newlyVanished) message\(s.newlyVanished == 1 ? "" : "s") VANISHED from the server before "
                    + "\(s.newlyVanished == 1 ? "it was" : "they were") delivered (see the report)")
        }
        if s.leftInDoubt > 0 {
            tail.append(
                "\(s.leftInDoubt) message\(s.leftInDoubt == 1 ? "" : "s") in doubt at the IMAP target, left "
                    + "for a later run so \(s.leftInDoubt == 1 ? "it is" : "they are") not delivered twice")
        }
        if s.waiting > 0 { tail.append("\(s.waiting) mailbox\(s.waiting == 1 ? "" : "es") waiting") }
        if s.mailboxesDeferred > 0 {
            tail.append("\(s.mailboxesDeferred) mailbox\(s.mailboxesDeferred == 1 ? "" : "es") deferred (transient)")
        }
        if s.mailboxErrors > 0 { tail.append("\(s.mailboxErrors) mailbox\(s.mailboxErrors == 1 ? "" : "es") stopped") }
        if !tail.isEmpty { text += "; " + tail.joined(separator: ", ") }
        text += "; exit \(s.exitCode)"
        return text
    }

    static func makeRunID(_ date: Date) -> String {
        UTCDate.string(date, .compact)
    }

    static func relativeToCurrent(_ path: String) -> String {
        DisplayPath.relativeToCurrent(path)
    }
}

struct UsageError: Error, CustomStringConvertible {
    var description: String
    init(_ text: String) { description = text }
}
