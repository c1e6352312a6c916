import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

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
        A Maildir target with keepPOP3UIDL must also give each person's message found there its legacy UIDL in
        Dovecot's dovecot-uidlist; those without are listed under "without the legacy POP3 UIDL" (exit 1).
        Every state file is first checked with SQLite's integrity_check (its result is printed before the verdict);
        a damaged state is reported with SQLite's complaints, nothing else is verified, and verify exits 1.
        Changes nothing on the servers (no DELE, no folder created) nor in the state; the verdict is kept in
        reports/<plan>/verify.json and shown on the dashboard.

        Options:
          --json         print the verdict as JSON
          --parallel N   verify N mailboxes at once (1-256; default: the plan's `parallel`, else 4)
          --state FILE   read this state file instead of the plan's and its shards' (repeat for several)
          --help, -h     show this text

        Exit codes:
          0    nothing is missing
          1    messages are missing, a mailbox could not be verified, the state database is damaged
               (integrity_check), or nothing has run yet
          2    bad plan or bad command line
          73   the verdict cannot be kept in the reports folder
          74   a state file cannot be read (the message names it and why)
        """

    static func main(_ arguments: [String], console: Console) -> Int32 {
        let input: StateArguments
        switch StateArguments.load(
            "verify", arguments, flags: ["--json": "--json"], options: ["--parallel"],
            console: console)
        {
        case .success(let loaded): input = loaded
        case .failure(let failure): return failure.code
        }
        // SQLite's own check first: a damaged state is not read further (its rows cannot be trusted).
        let integrity: [StateIntegrity]
        do {
            integrity = try input.stateFiles.filter { FileManager.default.fileExists(atPath: $0) }
                .map { try StateIntegrity.run(.full, path: $0) }
        } catch {
            let (text, code) = StateArguments.unreadable(error)
            console.error("mailferry verify: \(text)")
            return code
        }
        var report: VerifyReport
        if integrity.contains(where: { !$0.ok }) {
            report = VerifyReport(
                plan: input.plan.name, verifiedAt: Date(), stateFiles: integrity.map(\.path),
                mailboxes: [], missing: [], duplicates: [], exitCode: ExitCode.incomplete,
                stateIntegrity: integrity)
        } else {
            let files: [String]
            switch input.read("verify", console: console, reading: StateFiles.prepare) {
            case .success(let prepared): files = prepared
            case .failure(let failure): return failure.code
            }
            let parallel = (try? input.scanned.parallel()) ?? input.plan.parallel
            report = Verifier(plan: input.plan, stateFiles: files).run(parallel: parallel)
            report.stateIntegrity = integrity
            report.exitCode = report.complete ? ExitCode.ok : ExitCode.incomplete
        }
        do {
            try ReportWriter.createFolder(input.plan.reportsPath)
            try ReportWriter.writeAtomically(try report.json(), to: input.plan.reportsPath + "/verify.json")
            // A damaged state cannot be summed up for the dashboard; the verdict kept above says why.
            if report.damagedState.isEmpty {
                let summary = try StateFiles.read(input.stateFiles)
                try Dashboard.write(
                    status: PlanStatus(plan: input.plan, state: summary), runs: summary.runs,
                    reportsPath: input.plan.reportsPath)
            }
        } catch {
            console.error("mailferry verify: cannot keep the verdict: \(ErrorText.sentence(error))")
            report.exitCode = ExitCode.cannotCreate
        }
        if input.scanned.flags.contains("--json") {
            console.line(String(decoding: (try? report.json()) ?? Data(), as: UTF8.self))
        } else {
            console.line(
                "verify: plan \(sanitizeForDisplay(input.plan.name)), \(input.plan.mailboxes.count) mailbox"
                    + (input.plan.mailboxes.count == 1 ? "" : "es"))
            console.line(String(report.text().dropLast()))
        }
        return report.exitCode
    }
}
