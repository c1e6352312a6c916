import Foundation
import Glibc
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire
import Synchronization

/// `mailferry check PLAN`: validate, resolve secrets, log in everywhere, move nothing.
enum CheckCommand {
    struct Arguments {
        var plan: String
        var parallel: Int?
        var json = false
        var offline = false
    }

    static func parse(_ arguments: [String]) throws -> Arguments {
        let scanned = try ArgumentScanner.scan(
            arguments, flags: ["--json": "--json", "--offline": "--offline"],
            options: ["--parallel"])
        guard let plan = scanned.plan else {
            throw UsageError("check needs a plan file: mailferry check jobs/PLAN.json5")
        }
        return Arguments(
            plan: plan, parallel: try scanned.parallel(), json: scanned.flags.contains("--json"),
            offline: scanned.flags.contains("--offline"))
    }

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let args: Arguments
        do {
            args = try parse(arguments)
        } catch {
            console.error("mailferry check: \(ErrorText.sentence(error))\nRun mailferry check --help for usage.")
            return ExitCode.usage
        }
        let started = Date()
        guard let plan = loadPlan(args.plan, command: "check", nothingDone: "nothing was checked", console: console)
        else { return ExitCode.usage }
        let parallel = args.parallel ?? plan.parallel
        let (secrets, secretProblems) = Checker.resolveSecrets(plan, parallel: parallel)
        if !secretProblems.isEmpty {
            let error = PlanError(file: plan.file, problems: secretProblems)
            console.error(error.description)
            console.error("mailferry check: \(error.countText) with secrets; nothing was checked")
            return ExitCode.usage
        }
        // What a run needs of this machine (folders it writes, CA files), asked without writing anything.
        let setup = SetupCheck.inspect(plan: plan)
        if args.offline { return offline(plan, setup: setup, json: args.json, console: console) }
        if !args.json {
            console.line("mailferry check: plan \(plan.name), " + CheckReport.counts(plan))
            for problem in setup { console.line(Self.setupRow(problem)) }
        }
        let progress = ProgressLine(total: plan.mailboxes.count, enabled: !args.json && isatty(2) == 1)
        let checker = Checker(plan: plan, secrets: secrets)
        let rows = checker.run(parallel: parallel) { _ in progress.step() }
        progress.finish()
        let seconds = Date().timeIntervalSince(started)
        let exitCode = rows.allSatisfy(\.ok) && setup.isEmpty ? ExitCode.ok : ExitCode.incomplete
        if args.json {
            let report = CheckReport(
                plan: plan.name, ok: exitCode == ExitCode.ok, exitCode: exitCode,
                seconds: (seconds * 1000).rounded() / 1000, mailboxes: rows, setup: setup.isEmpty ? nil : setup)
            console.line(report.jsonText)
        } else {
            console.line(CheckReport.table(rows, width: terminalWidth()))
            console.line(CheckReport.sourceSummary(rows, plan: plan))
            console.line(
                Self.withSetup(CheckReport.finalLine(rows, seconds: seconds, exitCode: exitCode), setup, exitCode))
        }
        return exitCode
    }

    /// `check --offline`: the plan and its secrets are fine (exit 0), unless a setup problem makes a red row (1).
    static func offline(_ plan: Plan, setup: [SetupProblem], json: Bool, console: Console) -> Int32 {
        let exitCode = setup.isEmpty ? ExitCode.ok : ExitCode.incomplete
        if json {
            let report = CheckReport(
                plan: plan.name, ok: setup.isEmpty, exitCode: exitCode, seconds: 0, mailboxes: [],
                setup: setup.isEmpty ? nil : setup)
            console.line(report.jsonText)
            return exitCode
        }
        for problem in setup { console.line(setupRow(problem)) }
        let secrets = plan.mailboxes.count + plan.targets.values.filter(\.hasSecret).count
        let text =
            "plan \(plan.name) is valid: " + CheckReport.counts(plan)
            + "; " + counted(secrets, "secret") + " resolved (values not shown); nothing contacted"
        console.line(setup.isEmpty ? text : text + "; " + problemCount(setup) + "; exit \(exitCode)")
        return exitCode
    }

    /// A red row for a setup problem, lined up with the table's rows: "FAIL  the state folder state/: …".
    static func setupRow(_ problem: SetupProblem) -> String {
        "FAIL  " + problem.description
    }

    static func problemCount(_ setup: [SetupProblem]) -> String {
        counted(setup.count, "setup problem") + " (see FAIL above)"
    }

    /// The table's closing line with the setup problems counted before its exit code.
    static func withSetup(_ line: String, _ setup: [SetupProblem], _ exitCode: Int32) -> String {
        guard !setup.isEmpty, line.hasSuffix("; exit \(exitCode)") else { return line }
        return String(line.dropLast("; exit \(exitCode)".count)) + "; " + problemCount(setup) + "; exit \(exitCode)"
    }

    /// The width the table must fit: the terminal's, else COLUMNS when set; nil when output goes to a pipe or a
    /// file (cron mail, `| tee`): the table then takes the width its cells need, so nothing is cut or wrapped.
    static func terminalWidth() -> Int? {
        var size = winsize()
        if isatty(1) == 1, ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 40 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), columns >= 40 {
            return columns
        }
        return nil
    }
}

/// "checked 57/200" on a terminal's stderr while a long check runs; nothing when stderr is not a terminal.
final class ProgressLine: Sendable {
    let total: Int
    let enabled: Bool
    private let done = Mutex(0)

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled && total > 5
    }

    func step() {
        guard enabled else { return }
        let count = done.withLock { value -> Int in
            value += 1
            return value
        }
        let text = "\rchecked \(count)/\(total)"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }

    func finish() {
        guard enabled else { return }
        let text = "\r\u{1B}[K"
        _ = text.withCString { write(2, $0, strlen($0)) }
    }
}

extension Plan.Target {
    var hasSecret: Bool {
        switch kind {
        case .imap(let t): t.password != nil || t.token != nil
        case .smtp(let t): t.password != nil || t.token != nil
        case .maildir, .lmtp: false
        }
    }
}
