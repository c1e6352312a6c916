import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

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
    public static let version = MailFerryRelease.version

    /// The top-level help; each command has its own (`mailferry COMMAND --help`), see CLI/Help.swift.
    public static var help: String { HelpText.top }

    static let commands = ["run", "check", "status", "verify", "backup", "adopt", "init", "route", "help", "version"]

    public static func main(_ arguments: [String], console: Console = Console()) -> Int32 {
        guard let command = arguments.first else {
            console.error(help)
            return ExitCode.usage
        }
        let rest = Array(arguments.dropFirst())
        if let text = HelpText.forCommand(command), rest.contains(where: { $0 == "--help" || $0 == "-h" }) {
            console.line(text)
            return ExitCode.ok
        }
        switch command {
        case "run":
            return RunCommand.main(rest, console: console)
        case "check":
            return CheckCommand.main(rest, console: console)
        case "init":
            return InitCommand.main(rest, console: console)
        case "route":
            return RouteCommand.main(rest, console: console)
        case "status":
            return StatusCommand.main(rest, console: console)
        case "verify":
            return VerifyCommand.main(rest, console: console)
        case "adopt":
            return AdoptCommand.main(rest, console: console)
        case "backup":
            return BackupCommand.main(rest, console: console)
        case "--help", "-h", "help":
            if let topic = rest.first {
                guard let text = HelpText.forCommand(topic) else {
                    console.error(
                        "mailferry help: no command \"\(sanitizeForDisplay(topic))\""
                            + suggestion(
                                topic,
                                among: [
                                    "run", "check", "status", "verify", "backup", "adopt", "init",
                                    "route",
                                ])
                            + "\nRun mailferry --help for usage.")
                    return ExitCode.usage
                }
                console.line(text)
            } else {
                console.line(help)
            }
            return ExitCode.ok
        case "--version", "version":
            console.line("mailferry \(version)")
            if rest.contains("--verbose") { console.line(ProcessHygiene.statusLine) }
            return ExitCode.ok
        default:
            console.error(
                "mailferry: unknown command \"\(sanitizeForDisplay(command))\""
                    + suggestion(command, among: commands) + "\nRun mailferry --help for usage.")
            return ExitCode.usage
        }
    }
}
