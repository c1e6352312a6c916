import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// Exit codes cron and scripts can rely on (README "Exit codes").
public enum ExitCode {
    public static let ok: Int32 = 0
    /// Messages are not delivered yet (pending, deferred, failed, in doubt), or a mailbox could not be worked on.
    public static let incomplete: Int32 = 1
    /// Bad plan or bad command line.
    public static let usage: Int32 = 2
    /// A file or folder mailferry must create or write cannot be: the state folder, the reports folder, the trace
    /// file (EX_CANTCREAT). Someone must fix it; a rerun alone will not.
    public static let cannotCreate: Int32 = 73
    /// A file mailferry must read cannot be read: the state database (EX_IOERR).
    public static let cannotRead: Int32 = 74
    /// Another run holds the plan's lock (EX_TEMPFAIL).
    public static let locked: Int32 = 75
    /// A file the plan names is not what it must be: a caFile that holds no certificate (EX_CONFIG).
    public static let configuration: Int32 = 78

    /// The exit code of setup problems found before any mail moved: the first one's.
    static func setup(_ problems: [SetupProblem]) -> Int32? {
        problems.first.map { setup($0.kind) }
    }

    static func setup(_ kind: SetupProblem.Kind) -> Int32 {
        switch kind {
        case .cannotCreate: cannotCreate
        case .cannotRead: cannotRead
        case .configuration: configuration
        }
    }
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
            if rest.first == "--man" { return ManPage.main(Array(rest.dropFirst()), console: console) }
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
            console.line(versionLine)
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
