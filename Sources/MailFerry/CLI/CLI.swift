import Foundation

/// Exit codes cron and scripts can rely on (README "Exit codes").
public enum ExitCode {
    public static let ok: Int32 = 0
    /// Some messages were deferred or failed, or a mailbox could not be worked on.
    public static let incomplete: Int32 = 1
    /// Bad plan or bad command line.
    public static let usage: Int32 = 2
    /// Another run holds the plan's lock (EX_TEMPFAIL).
    public static let locked: Int32 = 75
}

/// The command line, as a library function so tests can call it and the executable stays thin.
public enum MailFerryCLI {
    public static let version = "0.1.0"

    public static let help = """
        mailferry \(version): migrate legacy POP3 mailboxes into the mailboxes people use now.

        Usage:
          mailferry run PLAN [--parallel N] [--quiet]
              Copy every new message of every mailbox in PLAN to its target. Messages stay on the POP3 server.
              Safe to interrupt and rerun at any moment: nothing is lost, nothing arrives twice.
          mailferry --help | --version

        Options for run:
          --parallel N   work on N mailboxes at once (default: the plan's `parallel`, else 4)
          --quiet        print nothing when nothing new arrived and nothing failed (for cron)

        Exit codes:
          0    everything listed was delivered
          1    some messages were deferred or failed, or a mailbox could not be reached (see the report)
          2    bad plan or bad command line
          75   another run of this plan is in progress
          130  interrupted (SIGINT), 143 terminated (SIGTERM): rerun to continue

        Plans are JSON5 files (see jobs/demo.json5 and the README). Reports go to reports/<plan>/.
        """

    public static func main(_ arguments: [String], console: Console = Console()) -> Int32 {
        guard let command = arguments.first else {
            console.error(help)
            return ExitCode.usage
        }
        let rest = Array(arguments.dropFirst())
        switch command {
        case "run":
            return RunCommand.main(rest, console: console)
        case "--help", "-h", "help":
            console.line(help)
            return ExitCode.ok
        case "--version", "version":
            console.line("mailferry \(version)")
            return ExitCode.ok
        default:
            console.error("mailferry: unknown command \"\(sanitizeForDisplay(command))\""
                + suggestion(command, among: ["run", "help", "version"]) + "\nRun mailferry --help for usage.")
            return ExitCode.usage
        }
    }
}
