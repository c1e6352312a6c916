import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// `mailferry status PLAN`: the cumulative view from the state database(s), as a table, JSON or the dashboard.
enum StatusCommand {
    static let help = """
        Usage: mailferry status PLAN [--json] [--html] [--state FILE]...

        Shows where the transition stands, from the plan's state database (no server is contacted): per mailbox,
        the messages on the server at the last poll, delivered, pending, deferred, failed and quarantined; when the
        last legacy message arrived and when the last successful poll was. After the plan's cutover date, mailboxes
        that still receive legacy mail are flagged (someone still writes to the old address, or MX has not moved).
        Below the table, "needs attention" lists the messages that vanished from the server before they were
        delivered (UIDL, size, what is known of them); they count in no other column.

        The plan's state file is read together with every shard file beside it (<stem>-shard-K-of-N.sqlite,
        written by run --shard K/N).

        Options:
          --json         print the status as JSON instead of a table
          --html         also write the dashboard, reports/<plan>/index.html (it is rewritten after every run too)
          --state FILE   read this state file instead (repeat for several: they are merged)
          --help, -h     show this text

        Exit codes:
          0    shown
          1    no state yet (nothing has run)
          2    bad plan or bad command line
          73   --html: the dashboard cannot be written (the reports folder)
          74   a state file cannot be read (the message names it and why)
        """

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let (input, state): (StateArguments, StateSummary)
        switch StateArguments.open(
            "status", arguments, flags: ["--json": "--json", "--html": "--html"], console: console,
            reading: StateFiles.read)
        {
        case .success(let opened): (input, state) = opened
        case .failure(let failure): return failure.code
        }
        let status = PlanStatus(plan: input.plan, state: state)
        if input.scanned.flags.contains("--json") {
            guard let json = try? StatusReport.json(status) else { return ExitCode.incomplete }
            console.line(String(decoding: json, as: UTF8.self))
        } else {
            console.line(String(StatusReport.text(status, workspace: input.plan.workspace).dropLast()))
        }
        if input.scanned.flags.contains("--html") {
            do {
                let path = try Dashboard.write(status: status, runs: state.runs, reportsPath: input.plan.reportsPath)
                if !input.scanned.flags.contains("--json") {
                    console.line("dashboard: \(RunCommand.relativeToCurrent(path))")
                }
            } catch {
                console.error("mailferry status: cannot write the dashboard: \(ErrorText.sentence(error))")
                return ExitCode.cannotCreate
            }
        }
        return ExitCode.ok
    }
}
