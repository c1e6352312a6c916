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
        /// The time at the start of each output line (`--timestamps`).
        var timestamps = Timestamps.auto
        /// `--log-format text|json`: lines for people, or one JSON object per line for journald and log shippers.
        var logFormat = LogFormat.text
    }

    /// `--timestamps always|never|auto`: auto stamps the lines when standard output is not a terminal (cron, a log).
    enum Timestamps: String, CaseIterable {
        case always, never, auto

        func enabled(onTerminal: Bool) -> Bool {
            switch self {
            case .always: true
            case .never: false
            case .auto: !onTerminal
            }
        }
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
            options: ["--parallel", "--shard", "--trace", "--rebind", "--timestamps", "--log-format"])
        guard let plan = scanned.plan else {
            throw UsageError("run needs a plan file: mailferry run jobs/PLAN.json5")
        }
        let shard: Shard?
        do {
            shard = try scanned.values["--shard"].map { try Shard(parsing: $0) }
        } catch {
            throw UsageError(ErrorText.sentence(error))
        }
        let timestamps = try scanned.values["--timestamps"].map { text in
            guard let value = Timestamps(rawValue: text) else {
                throw UsageError(
                    "--timestamps takes always, never or auto (got \(sanitizeForDisplay(text, limit: 40)))")
            }
            return value
        }
        let logFormat = try scanned.values["--log-format"].map { text in
            guard let value = LogFormat(rawValue: text) else {
                throw UsageError("--log-format takes text or json (got \(sanitizeForDisplay(text, limit: 40)))")
            }
            return value
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
                }.filter { !$0.isEmpty }),
            timestamps: timestamps ?? .auto, logFormat: logFormat ?? .text)
    }

    /// Whether the command line asks for `--log-format json`, read before the rest is checked: so that even a
    /// mistake elsewhere on it is said as JSON.
    static func asksForJSON(_ arguments: [String]) -> Bool {
        arguments.contains("--log-format=json")
            || zip(arguments, arguments.dropFirst()).contains { $0 == "--log-format" && $1 == "json" }
    }

    static func main(_ arguments: [String], console: Console) -> Int32 {
        if asksForJSON(arguments) { console.logJSON(plan: nil) }
        let args: Arguments
        do {
            args = try parse(arguments)
        } catch {
            console.error("mailferry run: \(ErrorText.sentence(error))\nRun mailferry --help for usage.")
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
        // From here on every line says when (under cron, in a log), unless asked otherwise; a JSON line has the time
        // as a field, and the plan's name.
        console.stampLines(args.timestamps.enabled(onTerminal: console.outputIsTerminal))
        if args.logFormat == .json { console.logJSON(plan: plan.name) }
        StopSignal.install()
        // Before any mail moves, and before the lock or the state is touched: what no rerun fixes by itself.
        let problems = SetupCheck.prepare(plan: plan, trace: args.trace.map(absolutePath), dryRun: args.dryRun)
        if let code = ExitCode.setup(problems) {
            for problem in problems {
                console.say(
                    LogEntry(
                        .error, event: "setup-problem",
                        fields: [
                            ("path", .text(DisplayPath.relativeToCurrent(problem.path))),
                            ("cause", .text(problem.cause)),
                        ],
                        message: "mailferry run: \(problem)"), toError: true)
            }
            console.error("mailferry run: nothing was run and no mail moved; exit \(code)")
            return code
        }
        let lock: PlanLock
        let store: Store
        let rebound: [String: String]
        switch openState(plan, console: console).flatMap({ opened in
            // A blank or swapped state must not re-deliver what an earlier state delivered.
            guardState(plan, store: opened.1, args: args, console: console).map { (opened.0, opened.1, $0) }
        }) {
        case .success(let opened): (lock, store, rebound) = opened
        case .failure(let failure): return failure.code
        }
        let summary = execute(plan: plan, store: store, args: args, console: console, rebound: rebound)
        withExtendedLifetime(lock) {}
        return summary.exitCode
    }

    /// The plan's lock and its state, checked; else the exit code (the reason printed): 75 another run holds the
    /// lock, 2 the state is damaged, 73 the lock cannot be made, 74 the state cannot be opened.
    static func openState(_ plan: Plan, console: Console) -> Result<(PlanLock, Store), ExitFailure> {
        let nothingDone = "; nothing was run and no mail moved"
        let lock: PlanLock
        do {
            lock = try PlanLock.forState(plan.statePath)
        } catch let busy as PlanLock.Busy {
            console.error("mailferry: \(busy); not starting a second one")
            return .failure(ExitFailure(code: ExitCode.locked))
        } catch {
            console.error("mailferry run: " + ErrorText.sentence(error) + nothingDone)
            return .failure(ExitFailure(code: ExitCode.cannotCreate))
        }
        do {
            // Before any mail moves: a damaged state could deliver messages again or lose checkpoints (issue 16).
            if let damage = try StateIntegrity.beforeRun(path: plan.statePath), !damage.ok {
                console.error("mailferry run: " + damage.refusal(display: relativeToCurrent(plan.statePath)))
                return .failure(ExitFailure(code: ExitCode.usage))
            }
            return .success((lock, try Store(path: plan.statePath)))
        } catch {
            console.error("mailferry run: " + ErrorText.sentence(error) + nothingDone)
            return .failure(ExitFailure(code: ExitCode.cannotRead))
        }
    }

    /// `StateGuard`'s checks and the state's stamp (not for a dry run): the mailboxes `--rebind` moved; else the exit
    /// code (the reason printed): 2 a refusal, 73 a Maildir root or marker that cannot be written, 74 the state.
    static func guardState(
        _ plan: Plan, store: Store, args: Arguments, console: Console
    ) -> Result<[String: String], ExitFailure> {
        do {
            try StateGuard.check(plan: plan, store: store, newState: args.newState)
            if let unknown = args.rebind.subtracting(["all"]).first(where: { key in
                !plan.mailboxes.contains { $0.key == key }
            }) {
                throw StateGuard.Refusal(
                    description: "--rebind \(sanitizeForDisplay(unknown)): no mailbox with that "
                        + "SOURCE/USER in the plan")
            }
            guard !args.dryRun else { return .success([:]) }
            let rebound = try StateGuard.checkBindings(plan: plan, store: store, rebind: args.rebind)
            try StateGuard.stamp(plan: plan, store: store, newState: args.newState)
            // A test may kill the run here: the state has its id and the Maildir roots their markers, and nothing
            // else happened yet.
            CrashPoint.hit("after-state-stamp")
            return .success(rebound)
        } catch let refusal as StateGuard.Refusal {
            console.error("mailferry run: \(refusal)")
            return .failure(ExitFailure(code: ExitCode.usage))
        } catch {
            console.error("mailferry run: " + ErrorText.sentence(error) + "; nothing was run and no mail moved")
            return .failure(ExitFailure(code: error is MailError ? ExitCode.cannotCreate : ExitCode.cannotRead))
        }
    }

    /// A path from the command line, absolute (relative to the folder mailferry was started in).
    static func absolutePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
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
