import Foundation

/// `mailferry verify PLAN`: are all messages on the legacy servers in their target mailboxes?
enum VerifyCommand {
    static let help = """
        Usage: mailferry verify PLAN [--json] [--parallel N] [--state FILE]...

        Logs in to every legacy mailbox, lists its messages (UIDL) and compares them with the state database and
        with the targets: a Maildir must hold the file the delivery wrote (in new/ or cur/); an IMAP folder is
        searched by Message-ID (or Date) and size. LMTP and SMTP targets cannot be read back: their messages count
        as delivered per state, not verifiable. Prints every missing message and every duplicate (by mailbox and
        UIDL, never by content), then the verdict:
          all N messages on the legacy servers are in their target mailboxes; 0 duplicates
        Changes nothing on the servers (no DELE, no folder created) nor in the state; the verdict is kept in
        reports/<plan>/verify.json and shown on the dashboard.

        Options:
          --json         print the verdict as JSON
          --parallel N   verify N mailboxes at once (1-256; default: the plan's `parallel`, else 4)
          --state FILE   read this state file instead of the plan's and its shards' (repeat for several)
          --help, -h     show this text

        Exit codes:
          0    nothing is missing
          1    messages are missing, a mailbox could not be verified, or nothing has run yet
          2    bad plan or bad command line
        """

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let (input, files): (StateArguments, [String])
        switch StateArguments.open("verify", arguments, flags: ["--json": "--json"], options: ["--parallel"],
                                   console: console, reading: StateFiles.prepare) {
        case .success(let opened): (input, files) = opened
        case .failure(let failure): return failure.code
        }
        let parallel = (try? input.scanned.parallel()) ?? input.plan.parallel
        let report = Verifier(plan: input.plan, stateFiles: files).run(parallel: parallel)
        do {
            try ReportWriter.createFolder(input.plan.reportsPath)
            try ReportWriter.writeAtomically(try report.json(), to: input.plan.reportsPath + "/verify.json")
            let summary = try StateFiles.read(input.stateFiles)
            try Dashboard.write(status: PlanStatus(plan: input.plan, state: summary), runs: summary.runs,
                                reportsPath: input.plan.reportsPath)
        } catch {
            console.error("mailferry verify: cannot keep the verdict: \(error)")
        }
        if input.scanned.flags.contains("--json") {
            console.line(String(decoding: (try? report.json()) ?? Data(), as: UTF8.self))
        } else {
            console.line("verify: plan \(sanitizeForDisplay(input.plan.name)), \(input.plan.mailboxes.count) mailbox"
                + (input.plan.mailboxes.count == 1 ? "" : "es"))
            console.line(String(report.text().dropLast()))
        }
        return report.exitCode
    }
}
