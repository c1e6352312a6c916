import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// `mailferry route PLAN --dry-run`: what the envelope recovery and routing make of each waiting message.
enum RouteCommand {
    static let help = """
        Usage: mailferry route PLAN --dry-run [--mailbox SOURCE/USER] [--limit N]

        For each message still waiting on the legacy server, print the envelope recovered from its trace headers
        (sender, recipients and arrival time, each with the header it came from and whether it is trusted) and the
        routing decision: which target mailbox(es) it would go to, and why. Only headers are read (TOP); nothing
        is delivered or recorded. Catch-all (global) mailboxes show their routing; others their own target.

        Options:
          --dry-run              required: route never delivers (use `mailferry run` for that)
          --mailbox SOURCE/USER  only this mailbox, named SOURCE/USER or by its address (default: every mailbox)
          --limit N              at most N messages per mailbox (default 50)

        Exit codes: 0 shown, 1 a mailbox could not be read, 2 bad plan or usage.
        """

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let scanned: ScannedArguments
        do {
            scanned = try ArgumentScanner.scan(
                arguments, flags: ["--dry-run": "--dry-run", "-n": "--dry-run"],
                options: ["--mailbox", "--limit"])
        } catch {
            return usage(console, ErrorText.sentence(error))
        }
        guard let plan = scanned.plan else {
            return usage(console, "route needs a plan file: mailferry route PLAN --dry-run")
        }
        var limit = 50
        if let text = scanned.values["--limit"] {
            guard let n = Int(text), n > 0 else { return usage(console, "--limit needs a positive number") }
            limit = n
        }
        let only = scanned.values["--mailbox"]
        let dryRun = scanned.flags.contains("--dry-run")
        guard dryRun else {
            return usage(console, "route only previews: add --dry-run (messages are delivered by mailferry run)")
        }
        guard let loaded = loadPlan(plan, command: "route", nothingDone: "nothing was shown", console: console) else {
            return ExitCode.usage
        }
        // A mailbox is named by its key (SOURCE/USER) or by its address.
        let mailboxes = loaded.mailboxes.filter {
            only == nil || $0.key == only || $0.address.lowercased() == only?.lowercased()
        }
        guard !mailboxes.isEmpty else {
            console.error(
                "mailferry route: no mailbox \(sanitizeForDisplay(only ?? "")) in plan \(loaded.name)"
                    + nearestMailbox(only ?? "", in: loaded))
            return ExitCode.usage
        }
        do {
            let store = try Store(path: loaded.statePath)
            let runner = try Runner(plan: loaded, store: store, cleanSpool: false)
            var failed = false
            for (index, mailbox) in mailboxes.enumerated() {
                if index > 0 { console.line("") }
                let lines = runner.routePreview(mailbox, limit: limit)
                failed = failed || lines.contains { $0.hasPrefix("  error: ") }
                console.line(lines.joined(separator: "\n"))
            }
            return failed ? ExitCode.incomplete : ExitCode.ok
        } catch {
            console.error("mailferry route: \(ErrorText.sentence(error))")
            return ExitCode.incomplete
        }
    }

    /// " (did you mean "isp/chris"?)": the mailbox whose key or address is nearest, however far (a typo in a user
    /// name is often more than two letters off); with how mailboxes are named when nothing is near.
    static func nearestMailbox(_ wanted: String, in plan: Plan) -> String {
        let lowered = wanted.lowercased()
        let scored = plan.mailboxes.prefix(10_000).map { mailbox -> (String, Int) in
            let byKey = editDistance(lowered, mailbox.key.lowercased())
            let byAddress = editDistance(lowered, mailbox.address.lowercased())
            return byAddress < byKey ? (mailbox.address, byAddress) : (mailbox.key, byKey)
        }
        guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else {
            return "; the plan has no mailboxes"
        }
        let count = plan.mailboxes.count
        return " (did you mean \"\(sanitizeForDisplay(best.0))\"?); mailboxes are named SOURCE/USER or by address, "
            + "\(count) in this plan"
    }

    static func usage(_ console: Console, _ message: String) -> Int32 {
        console.error("mailferry route: \(message)\nRun mailferry route --help for usage.")
        return ExitCode.usage
    }
}
