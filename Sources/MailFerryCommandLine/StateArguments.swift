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
            console.error("mailferry \(command): \(error)\nRun mailferry \(command) --help for usage.")
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
            console.error("mailferry \(command): \(error)")
            return .failure(ExitFailure(code: ExitCode.incomplete))
        }
    }
}

/// A command that stopped early, with the exit code to return (the message is already printed).
struct ExitFailure: Error {
    var code: Int32
}
