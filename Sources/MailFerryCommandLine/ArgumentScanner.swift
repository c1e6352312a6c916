import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// What a command line said: one plan file, the flags given, and the options with their values.
struct ScannedArguments {
    var plan: String?
    /// Canonical names of the flags given ("--quiet" for "-q" too).
    var flags: Set<String> = []
    var values: [String: String] = [:]
    /// Every value of an option given more than once (`--state a --state b`), in order.
    var repeated: [String: [String]] = [:]

    /// `--parallel N`, when given: a number from 1 to 256.
    func parallel() throws -> Int? {
        guard let text = values["--parallel"] else { return nil }
        guard let n = Int(text), (1...256).contains(n) else {
            throw UsageError("--parallel needs a number from 1 to 256")
        }
        return n
    }
}

/// The one argument loop every command (`run`, `check`, `route`) shares: flags, options with a value (`--option
/// value` or `--option=value`), and a single plan file. Text from the command line is escaped before it is shown, and a misspelt option gets a suggestion.
enum ArgumentScanner {
    /// `flags` maps each spelling to its canonical name; `options` are the names that take a value.
    static func scan(_ arguments: [String], flags: [String: String], options: [String]) throws -> ScannedArguments {
        var scanned = ScannedArguments()
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if let canonical = flags[argument] {
                scanned.flags.insert(canonical)
            } else if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "="),
                options.contains(String(argument[..<equals]))
            {
                // --option=value, as GNU tools take it.
                let name = String(argument[..<equals])
                let value = String(argument[argument.index(after: equals)...])
                scanned.values[name] = value
                scanned.repeated[name, default: []].append(value)
            } else if options.contains(argument) {
                guard let value = iterator.next() else { throw UsageError("\(argument) needs a value") }
                scanned.values[argument] = value
                scanned.repeated[argument, default: []].append(value)
            } else if argument.hasPrefix("-") {
                let known = Array(Set(flags.values)) + options + ["--help"]
                throw UsageError(
                    "unknown option \(sanitizeForDisplay(argument))"
                        + suggestion(argument, among: known.sorted()))
            } else {
                guard scanned.plan == nil else {
                    throw UsageError("only one plan at a time (got \(sanitizeForDisplay(argument)) too)")
                }
                scanned.plan = argument
            }
        }
        return scanned
    }
}
