import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// `mailferry backup PLAN FILE`: a consistent copy of the plan's state database, safe while a run goes on.
enum BackupCommand {
    static let help = """
        Usage: mailferry backup PLAN FILE [--shard K/N] [--force]

        Copies the plan's state database to FILE with SQLite's online backup API: the copy is the state as of one
        commit, taken while a run may be writing it (no plan lock is taken, so a cron run is neither blocked nor
        stopped). FILE is written beside itself as a temporary file, checked with SQLite's quick_check, fsynced and
        renamed into place; it is created 0600 (it names mailboxes and people) and is one self-contained file (no
        -wal beside it). To restore: stop the cron runs, copy FILE over the state file (and remove its -wal and
        -shm), then run mailferry verify PLAN. See docs/operations.md.

        Options:
          --shard K/N    copy the state file of shard K of N (<state>-shard-K-of-N.sqlite) instead of the plan's
          --force        replace FILE if it exists (by rename: a reader of the old FILE keeps reading it whole)
          --help, -h     show this text

        Exit codes:
          0    FILE written
          1    no state yet (nothing has run), or the copy could not be made or checked
          2    bad plan or bad command line, or FILE exists and --force was not given
        """

    struct Arguments {
        var plan: String
        var file: String
        var shard: Shard?
        var force = false
    }

    static func parse(_ arguments: [String]) throws -> Arguments {
        var positional: [String] = []
        var shard: Shard?
        var force = false
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--force":
                force = true
            case "--shard":
                guard let value = iterator.next() else { throw UsageError("--shard needs a value") }
                do {
                    shard = try Shard(parsing: value)
                } catch {
                    throw UsageError(ErrorText.sentence(error))
                }
            default:
                if argument.hasPrefix("-") && argument != "-" {
                    throw UsageError(
                        "unknown option \(sanitizeForDisplay(argument))"
                            + suggestion(argument, among: ["--force", "--help", "--shard"]))
                }
                positional.append(argument)
            }
        }
        guard positional.count == 2 else {
            throw UsageError(
                positional.count < 2
                    ? "backup needs a plan and a file: mailferry backup jobs/PLAN.json5 "
                        + "backups/PLAN.sqlite"
                    : "backup takes one plan and one file (got \(positional.count) arguments)")
        }
        return Arguments(plan: positional[0], file: positional[1], shard: shard, force: force)
    }

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let args: Arguments
        do {
            args = try parse(arguments)
        } catch {
            console.error("mailferry backup: \(ErrorText.sentence(error))\nRun mailferry backup --help for usage.")
            return ExitCode.usage
        }
        guard var plan = loadPlan(args.plan, command: "backup", console: console) else { return ExitCode.usage }
        if let shard = args.shard { plan = plan.sharded(shard) }
        let source = RunCommand.relativeToCurrent(plan.statePath)
        guard FileManager.default.fileExists(atPath: plan.statePath) else {
            console.error(
                "mailferry backup: no state yet for plan \(sanitizeForDisplay(plan.name)): \(source) "
                    + "does not exist (nothing has run yet)")
            return ExitCode.incomplete
        }
        let started = Date()
        do {
            let result = try StateBackup.copy(from: plan.statePath, to: args.file, replace: args.force)
            console.line(
                "backup: \(source) → \(sanitizeForDisplay(args.file)) (\(formatBytes(result.bytes)), "
                    + "quick_check ok) in " + String(format: "%.1f s", Date().timeIntervalSince(started)))
            return ExitCode.ok
        } catch let exists as StateBackup.Exists {
            console.error("mailferry backup: \(sanitizeForDisplay(exists.description))")
            return ExitCode.usage
        } catch {
            console.error("mailferry backup: \(sanitizeForDisplay(ErrorText.sentence(error), limit: 600))")
            return ExitCode.incomplete
        }
    }
}
