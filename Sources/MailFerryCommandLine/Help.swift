import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// Every help text a person reads, in one place (snapshotted by the golden-file tests in Tests/MailFerryTests/Golden).
enum HelpText {
    static let exitCodes = """
        Exit codes:
          0    done: every listed message is delivered (run), every row is green (check), nothing is missing
               (verify), shown (status), files written (init)
          1    messages are not delivered yet: pending, deferred (also while waiting for their next try), failed
               or in doubt, or a mailbox could not be reached (run); a row is red (check); messages are missing
               or a mailbox could not be verified (verify); no state yet (status)
          2    bad plan or bad command line; the state database is damaged (run: nothing moved)
          73   a folder or file mailferry must write cannot be: the state folder, the reports folder, the trace
               file, the metrics file (run: nothing moved; fix it, a rerun alone will not)
          74   the state database cannot be read (status, verify)
          75   another run of this plan is in progress
          78   a caFile holds no usable certificate (run: nothing moved)
          130  interrupted (SIGINT), 143 terminated (SIGTERM): rerun to continue
        """

    static var top: String {
        """
        mailferry \(MailFerryCLI.version): migrate legacy POP3 mailboxes into the mailboxes people use now.

        Usage:
          mailferry run PLAN [--parallel N] [--shard K/N] [--quiet] [--dry-run] [--no-progress] [--verbose]
              [--trace FILE] [--timestamps WHEN] [--log-format FORMAT] [--new-state]
              Copy every new message of every mailbox in PLAN to its target. Messages stay on the POP3 server.
              Safe to interrupt and rerun at any moment: nothing is lost, nothing arrives twice.
          mailferry check PLAN [--parallel N] [--json] [--offline]
              Validate PLAN, resolve its secrets, log in to every source and target, and show a table per mailbox.
              Moves no mail.
          mailferry status PLAN [--json] [--html] [--state FILE]...
              Where the transition stands, from the state database: per mailbox on the server, delivered, pending,
              deferred, failed; the last legacy mail; who still gets legacy mail after the cutover. --html writes
              the dashboard reports/<plan>/index.html (also rewritten after every run).
          mailferry verify PLAN [--json] [--parallel N] [--state FILE]...
              Compare every message on the legacy servers with the state and the targets; list what is missing
              or duplicated, and check the state database with SQLite's integrity_check. Changes nothing.
          mailferry backup PLAN FILE [--shard K/N] [--force]
              Copy the state database to FILE, consistently, even while a run is writing it.
          mailferry route PLAN --dry-run [--mailbox SOURCE/USER] [--limit N]
              Show, per waiting message, the envelope recovered from its headers and where routing would send it.
          mailferry adopt PLAN [--parallel N] [--shard K/N]
              Rebuild a lost state database from the legacy servers and the targets. Delivers nothing.
          mailferry init [PATH]
              Write a commented example plan (default jobs/example.json5) and its CSV list of people.
          mailferry help COMMAND      (or mailferry COMMAND --help): more about one command
          mailferry --version [--verbose]
              --verbose adds how this process guards its secrets ("process: core dumps off").

        \(exitCodes)

        Plans are JSON5 files (see mailferry init and the README). Reports go to reports/<plan>/.
        """
    }

    static let run = """
        Usage: mailferry run PLAN [--parallel N] [--shard K/N] [--quiet] [--dry-run] [--no-progress] [--verbose]
                         [--trace FILE] [--timestamps WHEN] [--log-format FORMAT] [--new-state]
                         [--rebind MAILBOXES]

        Copies every new message of every mailbox in PLAN to its target, one pass. Messages stay on the POP3
        server: no DELE is sent unless a source sets deleteFromSourceAfterDays. Every message is checkpointed in the plan's state database before its
        target is touched: interrupt or kill a run at any moment, run it again, and nothing is lost and nothing
        arrives twice. Each run prints a line per mailbox and writes a report to reports/<plan>/. On a terminal a
        live view sits below those lines: a progress bar per active mailbox and a total with messages, bytes, rate
        and ETA (NO_COLOR=1 drops the colour; not a terminal, as under cron: no live view).

        Options:
          --parallel N   work on N mailboxes at once (1-256; default: the plan's `parallel`, else 4). A source's
                         maxConnections still caps the sessions to that server.
          --shard K/N    run only shard K (0 to N-1) of N: a stable share of the mailboxes (by a hash of
                         SOURCE/USER) with its own state file, <state>-shard-K-of-N.sqlite, and lock; for a
                         Kubernetes Indexed Job (K = JOB_COMPLETION_INDEX) or N cron hosts. Keep N once chosen
          --quiet, -q    for cron: print only what changed: what a mailbox delivered, and its trouble when it
                         starts, changes or ends, with a reminder every remindAfter (plan key, default 6 h) while
                         it lasts; nothing when nothing arrived and nothing changed (the exit code still says)
          --dry-run, -n  list what would be fetched (and, under a retention policy, deleted); change nothing:
                         no report, no dashboard, nothing recorded
          --verbose, -v  trace every POP3, IMAP, LMTP and SMTP command and reply on standard error; passwords,
                         tokens and SASL exchanges are redacted where they are sent, message bodies shown as sizes
          --trace FILE   append that trace to FILE (created 0600 with its folder; a header line per run, every
                         line dated) instead of, or with --verbose as well as, stderr
          --timestamps WHEN  start every output line with its UTC time (2026-12-21T09:00:03Z): always, never,
                         or auto (the default: when standard output is not a terminal, as under cron)
          --log-format FORMAT  text (the default) or json: every line the run prints, on standard output and
                         error, is one JSON object (time, level, plan, mailbox, event, counts, and the text line
                         as message) for journald and log shippers; no live view, no time stamp before it
          --no-progress  no live view even on a terminal
          --new-state    accept a missing or empty state database although this plan delivered before (a run
                         refuses it otherwise, exit 2): every message is delivered again. Use it only when the
                         targets were emptied; after a lost state, run mailferry adopt instead
          --rebind MAILBOXES  accept a new target or target mailbox for these mailboxes (SOURCE/USER, comma-
                         separated, or all): a run refuses a mailbox whose plan entry moved since it delivered, exit 2
          --help, -h     show this text

        Before any mail moves, a run checks what no rerun fixes by itself: the state and reports folders can be
        written (created when missing, as are the trace file's and the metrics file's folders) and every caFile
        is a PEM bundle with at least one certificate. A problem stops it there, with the path and the cause.

        After every run (not a dry run), a plan with metricsFile gets that file rewritten for Prometheus'
        node_exporter (textfile collector): the run's start, end and exit code, the last run that exited 0, and
        per mailbox its messages by state (as mailferry status counts them), waiting, stopped and legacy mail
        after the cutover. See docs/operations.md, "Monitoring".

        Exit codes (from the state after the run, as mailferry status shows it, not only from this run):
          0    every listed message is delivered (or a duplicate), and every mailbox was worked on (one that
               only waits for [IN-USE] or [LOGIN-DELAY] is not a failure, unless it was never listed; the
               output and the report say so)
          1    messages are not delivered yet: pending, deferred (also those waiting for their next try, which
               this run did not retry), failed, quarantined or in doubt; a message was found gone from the
               server before it was delivered (vanished; said once); or a mailbox could not be worked on: see
               the report
          2    bad plan or bad command line; the state database is damaged (SQLite's quick_check: restore a
               backup, see docs/operations.md); or it is missing, empty or another state's while the targets
               hold this plan's deliveries (see mailferry adopt)
          73   the state folder, the reports folder, the metrics file's folder or the trace file cannot be
               written (nothing moved; or, after the run, its report, dashboard or metrics file could not be)
          74   the state database cannot be opened (nothing moved)
          75   another run of this plan holds its lock
          78   a caFile holds no usable certificate (nothing moved)
          130  interrupted (SIGINT), 143 terminated (SIGTERM): the checkpoint is written, rerun to continue
        """

    static let check = """
        Usage: mailferry check PLAN [--parallel N] [--json] [--offline]

        Checks that a run of PLAN can work, without moving any mail:
          1. validates the plan and its CSV lists, reporting every problem with FILE:LINE:COL;
          2. resolves every secret (environment variables, private files, commands); values are never shown;
          3. per mailbox, connects to its source, checks TLS, logs in, reads the capabilities and the listing
             (never RETR, never DELE; the session ends with QUIT), and checks that its target would take the
             mail: a Maildir can be written, an IMAP folder can be opened, an LMTP/SMTP server accepts the
             recipient (RSET before any DATA). Nothing is left behind.
        Prints a table: one row per mailbox, green (ok) or red (FAIL) with the reason below it. On a terminal it
        fits the width (a long cell wraps within its column); otherwise (cron mail, a pipe, a file) it is as wide
        as its cells need. No cell is ever cut.

        Options:
          --parallel N   check N mailboxes at once (1-256; default: the plan's `parallel`, else 4). A source's
                         maxConnections still caps the sessions to that server.
          --json         print the result as JSON instead of a table
          --offline      stop after steps 1 and 2 and the setup check: no network, nothing written
          --help, -h     show this text

        Before the mailboxes (with --offline too), what a run needs of this machine, asked without writing
        anything: the state and reports folders can be written (or created), and every caFile is a PEM bundle
        with at least one certificate. Each problem is a red row of its own (FAIL), with the path and the cause.

        A source that announces LOGIN-DELAY counts the check's login too: the next run may have to wait.

        Exit codes:
          0    every row is green (or, with --offline, the plan, its secrets and the setup are fine)
          1    at least one row is red (a mailbox, or the setup)
          2    bad plan (including a secret that cannot be resolved) or bad command line
        """

    static let initCommand = """
        Usage: mailferry init [PATH]

        Writes a commented example plan to PATH (default: jobs/example.json5) and the CSV list of people it
        names, beside it (PATH without .json5, plus -people.csv). Edit both, then run mailferry check PATH.
        Existing files are never overwritten.

        Options:
          --help, -h     show this text

        Exit codes:
          0    files written
          2    a file exists already, cannot be written, or bad command line
        """

    static func forCommand(_ command: String) -> String? {
        switch command {
        case "run": run
        case "check": check
        case "init": initCommand
        case "route": RouteCommand.help
        case "status": StatusCommand.help
        case "verify": VerifyCommand.help
        case "adopt": AdoptCommand.help
        case "backup": BackupCommand.help
        default: nil
        }
    }
}
