import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// `mailferry adopt PLAN`: rebuilds a lost state database from the sources and the targets; delivers nothing.
enum AdoptCommand {
    static let help = """
        Usage: mailferry adopt PLAN [--parallel N] [--shard K/N]

        Rebuilds the state database of PLAN after it was lost (deleted, truncated, replaced by an empty one), from
        what is on the legacy servers and in the targets. Delivers nothing and changes nothing on any server.
        Every message on the legacy server is looked for in its target: a Maildir by the file name its delivery
        wrote (derived from the plan, the mailbox and the UIDL), an IMAP folder by Message-ID (or Date) and size.
        A catch-all's messages are routed again from their headers and looked for in each person's mailbox.
          found               recorded as delivered: no run delivers it again
          not in the target   left for the next run, which delivers it
          undecided           set aside (failed, with the reason) so it is never delivered twice: an LMTP or SMTP
                              target cannot be asked; an IMAP message with neither Message-ID nor Date cannot be
                              looked for. It stays on the legacy server; the report and status list it.
        A run refuses a missing or empty state once the plan has delivered (exit 2, naming what it found): run
        adopt then, and run again. Adopt refuses a state that a run has used. Safe to run again after a failure.

        Options:
          --parallel N   adopt N mailboxes at once (1-256; default: the plan's `parallel`, else 4)
          --shard K/N    rebuild shard K's state file (as run --shard K/N uses it)
          --help, -h     show this text

        Exit codes:
          0    every message was found in its target or is left for the next run
          1    some messages are undecided (set aside), or a mailbox could not be adopted
          2    bad plan or bad command line, or the state is not a lost one
          75   a run of this plan holds its lock
        """

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let scanned: ScannedArguments
        do {
            scanned = try ArgumentScanner.scan(arguments, flags: [:], options: ["--parallel", "--shard"])
        } catch {
            console.error("mailferry adopt: \(ErrorText.sentence(error))\nRun mailferry adopt --help for usage.")
            return ExitCode.usage
        }
        guard let file = scanned.plan else {
            console.error("mailferry adopt: adopt needs a plan file: mailferry adopt jobs/PLAN.json5")
            return ExitCode.usage
        }
        guard var plan = loadPlan(file, command: "adopt", nothingDone: "nothing was done", console: console) else {
            return ExitCode.usage
        }
        do {
            if let shard = try scanned.values["--shard"].map({ try Shard(parsing: $0) }) { plan = plan.sharded(shard) }
        } catch {
            console.error("mailferry adopt: \(ErrorText.sentence(error))")
            return ExitCode.usage
        }
        let parallel = ((try? scanned.parallel()) ?? nil) ?? plan.parallel
        let lock: PlanLock
        let store: Store
        do {
            lock = try PlanLock.forState(plan.statePath)
            store = try Store(path: plan.statePath)
        } catch let busy as PlanLock.Busy {
            console.error("mailferry: \(busy); adopt waits for no run: try again when it is done")
            return ExitCode.locked
        } catch {
            console.error("mailferry adopt: \(ErrorText.sentence(error))")
            return ExitCode.incomplete
        }
        defer { withExtendedLifetime(lock) {} }
        do {
            if try store.hasRuns() {
                console.error(
                    "mailferry adopt: the state database \(plan.statePath) has been used by runs of this "
                        + "plan: it is not a lost state, and adopt rebuilds only a lost one. To rebuild it anyway, move it "
                        + "away first (keep it: mailferry status --state FILE still reads it)")
                return ExitCode.usage
            }
            try StateGuard.check(plan: plan, store: store, newState: true)
        } catch {
            console.error("mailferry adopt: \(ErrorText.sentence(error))")
            return ExitCode.usage
        }
        console.line(
            "mailferry adopt: plan \(plan.name), \(plan.selectedMailboxes.count) mailbox"
                + (plan.selectedMailboxes.count == 1 ? "" : "es")
                + ", state \(RunCommand.relativeToCurrent(plan.statePath))")
        let outcomes: [Adopter.Outcome]
        do {
            outcomes = try Adopter(plan: plan, store: store).run(parallel: parallel)
            try StateGuard.stamp(plan: plan, store: store)
        } catch {
            console.error("mailferry adopt: \(ErrorText.sentence(error))")
            return ExitCode.incomplete
        }
        for outcome in outcomes {
            if let error = outcome.error {
                console.line("\(outcome.key): not adopted: \(sanitizeForDisplay(error))")
                continue
            }
            console.line(
                "\(outcome.key): \(outcome.onServer) on server, \(outcome.matched) matched, \(outcome.absent) "
                    + "not in the target, \(outcome.undecided.count) undecided")
            for line in outcome.undecided.prefix(50) { console.line("  undecided: \(line)") }
            if outcome.undecided.count > 50 { console.line("  … and \(outcome.undecided.count - 50) more") }
        }
        let matched = outcomes.reduce(0) { $0 + $1.matched }
        let absent = outcomes.reduce(0) { $0 + $1.absent }
        let undecided = outcomes.reduce(0) { $0 + $1.undecided.count }
        let failed = outcomes.filter { $0.error != nil }.count
        let code = undecided == 0 && failed == 0 ? ExitCode.ok : ExitCode.incomplete
        console.line(
            "adopt: \(matched) matched, \(absent) not in the target (the next run delivers them), "
                + "\(undecided) undecided (set aside)"
                + (failed > 0
                    ? ", \(failed) mailbox\(failed == 1 ? "" : "es") "
                        + "not adopted" : "") + "; exit \(code)")
        return code
    }
}
