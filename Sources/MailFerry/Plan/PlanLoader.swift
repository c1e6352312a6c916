import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// A place in a plan file or one of its CSV lists, as problems print it: `jobs/x.json5:12:7`, `jobs/users.csv:4`.
public struct PlanLocation: Sendable, Equatable, CustomStringConvertible {
    /// The file as shown to the user: the plan as given on the command line; a CSV relative to the current folder.
    public var file: String
    public var line: Int?
    public var column: Int?

    public init(file: String, line: Int? = nil, column: Int? = nil) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if line != nil, let column { text += ":\(column)" }
        return text
    }
}

/// Where each key path of a plan file is written.
public struct PlanLocations: Sendable {
    public var file: String = ""
    var positions: [String: TextPosition] = [:]

    /// The place of `path`, or of its nearest enclosing key that is written (a missing key points at its object).
    public func location(of path: String) -> PlanLocation {
        var current: String? = path
        while let candidate = current {
            if let position = positions[candidate] {
                return PlanLocation(file: file, line: position.line, column: position.column)
            }
            current = PlanPath.parent(candidate)
        }
        return PlanLocation(file: file)
    }

    public func spot(_ path: String) -> PlanSpot { PlanSpot(path: path, location: location(of: path)) }
}

/// One thing wrong with a plan: where, which key (or CSV column), and what.
public struct PlanProblem: Sendable, Equatable, CustomStringConvertible {
    public var location: PlanLocation?
    /// The key path ("mailboxes[2].source") or, in a CSV row, the column; "" for the whole file.
    public var path: String
    public var message: String

    public init(location: PlanLocation? = nil, path: String, message: String) {
        self.location = location
        self.path = path
        self.message = message
    }

    public init(spot: PlanSpot, _ message: String) {
        self.init(location: spot.location, path: spot.path, message: message)
    }

    /// `FILE:LINE:COL: path: message`, like a compiler, so editors can jump to it.
    public var description: String {
        var text = location.map { "\($0): " } ?? ""
        if !path.isEmpty { text += "\(path): " }
        return text + message
    }
}

/// A plan that cannot be used, with every problem found (not just the first), in file order.
public struct PlanError: Error, CustomStringConvertible, Sendable {
    public var file: String
    public var problems: [PlanProblem]
    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }

    /// "3 problems" / "1 problem".
    public var countText: String { counted(problems.count, "problem") }

    package init(file: String, problems: [PlanProblem]) {
        self.file = file
        self.problems = problems
    }
}

/// Reads and validates plan files.
public enum PlanLoader {
    /// Relative paths in a plan are resolved against its workspace: the parent of the `jobs/` folder the plan lives
    /// in (where `state/` and `reports/` sit), or else the plan file's own folder. So `jobs/x.json5` can say
    /// `state: "state/x.sqlite"` and mean `<workspace>/state/x.sqlite`, wherever mailferry is started from. The
    /// same rule holds for every path in the plan (caFile, secret files, CSV lists, Maildirs) and for paths in
    /// its CSV lists.
    public static func workspace(for planFile: String) -> String {
        let absolute = URL(fileURLWithPath: planFile).standardizedFileURL
        let folder = absolute.deletingLastPathComponent()
        if folder.lastPathComponent == "jobs" {
            return folder.deletingLastPathComponent().path
        }
        return folder.path
    }

    /// Loads and validates a plan. Nothing is resolved that needs a secret or the network; `check` does that.
    public static func load(_ file: String) throws -> Plan {
        var info = stat()
        if stat(file, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
            throw PlanError(
                file: file,
                problems: [
                    PlanProblem(
                        location: PlanLocation(file: file), path: "",
                        message: "is a folder, not a plan file")
                ])
        }
        if stat(file, &info) == 0 && Int(info.st_size) > JSON5Parser.maxBytes {
            throw PlanError(
                file: file,
                problems: [
                    PlanProblem(
                        location: PlanLocation(file: file), path: "",
                        message: "the file is larger than 16 MiB; a plan never needs to be that big")
                ])
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            let reason = FileManager.default.fileExists(atPath: file) ? "cannot be read" : "does not exist"
            throw PlanError(
                file: file,
                problems: [
                    PlanProblem(
                        location: PlanLocation(file: file), path: "",
                        message: "the plan file \(reason)")
                ])
        }
        let document: JSON5Document
        do {
            document = try JSON5Parser.parse(data)
        } catch let error as JSON5SyntaxError {
            let location = PlanLocation(file: file, line: error.position.line, column: error.position.column)
            throw PlanError(
                file: file,
                problems: [
                    PlanProblem(
                        location: location, path: "",
                        message: "syntax error: \(error.message)"
                            + (yamlHint(file: file, data: data).map { ". " + $0 } ?? ""))
                ])
        }
        var validator = PlanValidator(file: file, workspace: workspace(for: file), positions: document.positions)
        for duplicate in document.duplicateKeys {
            validator.problem(
                at: PlanLocation(
                    file: file, line: duplicate.position.line,
                    column: duplicate.position.column),
                duplicate.path,
                "written twice in the same object (first at line "
                    + "\(duplicate.first.line)); only this one would count, so remove one")
        }
        let plan = validator.build(document.value)
        let problems = validator.sortedProblems()
        if let plan, problems.isEmpty { return plan }
        throw PlanError(file: file, problems: problems)
    }

    /// A path as the user should see it: relative to the current folder when it is inside it.
    static func display(_ path: String) -> String {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL.path
        return path.hasPrefix(cwd + "/") ? String(path.dropFirst(cwd.count + 1)) : path
    }
}

/// ` (did you mean "x"?)` when a close enough candidate exists, else "".
package func suggestion(_ word: String, among candidates: [String]) -> String {
    guard let best = closest(word, among: candidates) else { return "" }
    return " (did you mean \"\(best)\"?)"
}

/// The candidate nearest to `word` in edit distance, if it is near enough to be a likely typo.
func closest(_ word: String, among candidates: [String]) -> String? {
    guard word.count <= 200 else { return nil }
    let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }),
        best.1 <= max(2, word.count / 3), best.1 < max(word.count, best.0.count)
    else { return nil }
    return best.0
}

package func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
