import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// What `status` and `verify` share: a plan, its state files (the plan's own and its shards', or `--state FILE`
/// given one or more times), read and merged.
struct StateArguments {
    var plan: Plan
    var scanned: ScannedArguments
    /// The state files to read: named with `--state`, else discovered beside the plan's state path.
    var stateFiles: [String]

    /// Parses the command line and loads the plan; on failure prints why and returns the exit code.
    static func load(
        _ command: String, _ arguments: [String], flags: [String: String], options: [String] = [],
        console: Console
    ) -> Result<StateArguments, ExitFailure> {
        let scanned: ScannedArguments
        do {
            scanned = try ArgumentScanner.scan(arguments, flags: flags, options: ["--state"] + options)
            _ = try scanned.parallel()
        } catch {
            console.error(
                "mailferry \(command): \(ErrorText.sentence(error))\nRun mailferry \(command) --help for usage.")
            return .failure(ExitFailure(code: ExitCode.usage))
        }
        guard let file = scanned.plan else {
            console.error(
                "mailferry \(command): \(command) needs a plan file: mailferry \(command) jobs/PLAN.json5\n"
                    + "Run mailferry \(command) --help for usage.")
            return .failure(ExitFailure(code: ExitCode.usage))
        }
        guard let plan = loadPlan(file, command: command, console: console) else {
            return .failure(ExitFailure(code: ExitCode.usage))
        }
        let cwd = FileManager.default.currentDirectoryPath
        let named = (scanned.repeated["--state"] ?? []).map { $0.hasPrefix("/") ? $0 : cwd + "/" + $0 }
        for path in named where !FileManager.default.fileExists(atPath: path) {
            console.error("mailferry \(command): --state \(sanitizeForDisplay(path)): no such file")
            return .failure(ExitFailure(code: ExitCode.usage))
        }
        return .success(
            StateArguments(
                plan: plan, scanned: scanned,
                stateFiles: named.isEmpty
                    ? StateFiles.discover(statePath: plan.statePath)
                    : named))
    }

    /// `load`, then `read`: the command line and the merged state, or the exit code (the reason already printed).
    /// `reading`: `StateFiles.read` (counted) or `StateFiles.prepare` (the files, for `verify` to read per mailbox).
    static func open<State>(
        _ command: String, _ arguments: [String], flags: [String: String],
        options: [String] = [], console: Console,
        reading: @escaping ([String]) throws -> State
    ) -> Result<(StateArguments, State), ExitFailure> {
        load(command, arguments, flags: flags, options: options, console: console).flatMap { input in
            input.read(command, console: console, reading: reading).map { (input, $0) }
        }
    }

    /// The merged state, or nil (with a message saying why) when nothing has run yet or a file cannot be read.
    func read<State>(
        _ command: String, console: Console,
        reading: ([String]) throws -> State
    ) -> Result<State, ExitFailure> {
        do {
            return .success(try reading(stateFiles))
        } catch let missing as StateSnapshot.Missing {
            console.error(
                "mailferry \(command): no state yet for plan \(sanitizeForDisplay(plan.name)): "
                    + "\(RunCommand.relativeToCurrent(missing.path)) does not exist (nothing has run yet). "
                    + "Start with: mailferry run \(sanitizeForDisplay(plan.file))")
            return .failure(ExitFailure(code: ExitCode.incomplete))
        } catch {
            let (text, code) = Self.unreadable(error)
            console.error("mailferry \(command): \(text)")
            return .failure(ExitFailure(code: code))
        }
    }

    /// A state file that exists but cannot be read, as a sentence with its path and the cause, and the exit code
    /// (74: someone must see to the file or its folder).
    static func unreadable(_ error: any Error) -> (text: String, code: Int32) {
        guard let database = error as? DatabaseError, let path = database.path else {
            return (ErrorText.sentence(error), ExitCode.cannotRead)
        }
        var text = "cannot read the state database \(RunCommand.relativeToCurrent(path)): "
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            return (text + "it is a folder, not a file", ExitCode.cannotRead)
        }
        text += database.reason ?? database.message
        let folder = SetupCheck.folder(of: path)
        if database.cannotOpen, access(folder, W_OK) != 0 {
            // SQLite needs its shared-memory file (-shm) beside a WAL database even to read it.
            text +=
                " (its folder \(RunCommand.relativeToCurrent(folder))/ cannot be written: \(errnoText()); "
                + "SQLite must create \((path as NSString).lastPathComponent)-shm there even to read)"
        }
        return (text, ExitCode.cannotRead)
    }
}

/// A command that stopped early, with the exit code to return (the message is already printed).
struct ExitFailure: Error {
    var code: Int32
}
