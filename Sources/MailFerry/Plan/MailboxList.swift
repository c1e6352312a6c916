import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// `mailboxList`: people listed in CSV files, in the spirit of Exchange Online migration batches.
///
/// Columns (header names, any case): `mailbox` (alias `EmailAddress`), `user` (alias `UserName`), `password` and
/// `token` (a secret reference: `env:NAME` or `file:PATH`, never the password itself), and optionally `source` and
/// `target`, which override the list's. Only `user` and one of `password`/`token` are required.
extension PlanValidator {
    static let mailboxListKeys = ["csv", "source", "target", "mailbox"]
    static let csvColumns = ["mailbox", "user", "password", "token", "source", "target"]
    static let csvAliases = [
        "emailaddress": "mailbox", "email": "mailbox", "address": "mailbox",
        "username": "user", "login": "user",
    ]

    /// Every row of every list, as drafts with what their list lets them inherit.
    mutating func mailboxLists(_ value: JSONValue?, names: Names) -> [(MailboxDraft, Inherited)] {
        guard let value else { return [] }
        switch value {
        case .object:
            return mailboxList(value, at: "mailboxList", names: names)
        case .array(let items):
            if items.isEmpty { problem("mailboxList", "the list is empty") }
            return items.enumerated().flatMap { index, item in
                mailboxList(item, at: PlanPath.element("mailboxList", index), names: names)
            }
        default:
            problem(
                "mailboxList",
                "must be { csv: \"jobs/people.csv\", source: ..., target: ... } or a list of "
                    + "those, found \(value.typeName)")
            return []
        }
    }

    /// One `{ csv, source, target, mailbox }` entry: its rows as drafts, each with what the entry lets it inherit.
    private mutating func mailboxList(_ value: JSONValue, at: String, names: Names) -> [(MailboxDraft, Inherited)] {
        guard case .object(let list) = value else {
            problem(
                at,
                "must be an object like { csv: \"jobs/people.csv\", source: \"isp\", target: \"archive\" }, "
                    + "found \(value.typeName)")
            return []
        }
        checkKeys(list, allowed: Self.mailboxListKeys, at: at)
        var inherited = Inherited()
        inheritedFields(list, at: at, names: names, into: &inherited)
        guard let csv = nonEmptyString(list, "csv", at: at, required: true), let file = readList(csv, at: at),
            let columns = listColumns(file.table, shown: file.shown)
        else { return [] }
        let (table, shown) = file
        if table.records.isEmpty {
            problem(
                at: PlanLocation(file: shown, line: table.headerLine, column: 1), "",
                "the list has a header but no people")
        }
        var drafts: [(MailboxDraft, Inherited)] = []
        for record in table.records {
            let row = CSVRow(
                file: shown, line: record.line, fields: record.fields, starts: record.columns,
                columns: columns)
            guard record.fields.count == table.header.count else {
                problem(
                    at: row.here, "",
                    counted(record.fields.count, "field") + ", but "
                        + "the first row names \(table.header.count) columns")
                continue
            }
            if let draft = listMailbox(row) { drafts.append((draft, inherited)) }
        }
        return drafts
    }

    /// Reads and parses the list's CSV file, reporting what cannot be read; nil when no row can be.
    private mutating func readList(_ csv: String, at: String) -> (table: CSVTable, shown: String)? {
        let path = resolve(csv)
        let csvSpot = locations.spot(PlanPath.member(at, "csv"))
        let shown = PlanLoader.display(path)
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
            problem(csvSpot, "\(shown) is a folder, not a CSV file")
            return nil
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            problem(csvSpot, "cannot read \(shown)" + (exists ? "" : ": no such file"))
            return nil
        }
        let table: CSVTable
        do {
            table = try CSVTable.parseAll(data)
        } catch {
            problem(at: PlanLocation(file: shown, line: error.line, column: error.column ?? 1), "", error.message)
            return nil
        }
        for failure in table.problems {
            problem(at: PlanLocation(file: shown, line: failure.line, column: failure.column ?? 1), "", failure.message)
        }
        return (table, shown)
    }

    /// The list's columns by what they mean (`user` → its index), from the header row; nil when the user or
    /// password column is missing, as then no row can be read.
    private mutating func listColumns(_ table: CSVTable, shown: String) -> [String: Int]? {
        var columns: [String: Int] = [:]
        let headerAt = PlanLocation(file: shown, line: table.headerLine, column: 1)
        func headerCell(_ index: Int) -> PlanLocation {
            PlanLocation(
                file: shown, line: table.headerLine,
                column: index < table.headerColumns.count ? table.headerColumns[index] : 1)
        }
        for (index, name) in table.header.enumerated() {
            let normalized = name.lowercased().replacingOccurrences(of: " ", with: "")
                .replacingOccurrences(of: "_", with: "")
            let meaning = Self.csvColumns.contains(normalized) ? normalized : Self.csvAliases[normalized]
            guard let meaning else {
                problem(
                    at: headerCell(index), "",
                    "unknown column \"\(sanitizeForDisplay(name, limit: 40))\""
                        + suggestion(normalized, among: Self.csvColumns) + "; the columns are "
                        + Self.csvColumns.joined(separator: ", ") + ", named in the first row")
                continue
            }
            if columns[meaning] != nil {
                problem(at: headerCell(index), "", "a second \(meaning) column")
                continue
            }
            columns[meaning] = index
        }
        var ok = true
        if columns["user"] == nil {
            problem(
                at: headerAt, "",
                "no user column: the first row must name the columns, e.g. "
                    + "mailbox,user,password")
            ok = false
        }
        if columns["password"] == nil && columns["token"] == nil {
            problem(
                at: headerAt, "",
                "no password column: each row names where its password is (env:NAME or "
                    + "file:PATH)")
            ok = false
        }
        return ok ? columns : nil
    }

    /// One row of a list, with where each of its cells is written.
    private struct CSVRow {
        var file: String
        var line: Int
        var fields: [String]
        /// The column each field starts at.
        var starts: [Int]
        /// Column meaning → field index.
        var columns: [String: Int]

        var here: PlanLocation { PlanLocation(file: file, line: line, column: 1) }

        /// Where the cell of a column is: its line and the column it starts at.
        func spot(_ meaning: String) -> PlanSpot {
            guard let index = columns[meaning], index < starts.count else {
                return PlanSpot(path: meaning, location: here)
            }
            return PlanSpot(path: meaning, location: PlanLocation(file: file, line: line, column: starts[index]))
        }

        /// The text of a column's cell; nil when the list has no such column or the cell is empty.
        func cell(_ meaning: String) -> String? {
            guard let index = columns[meaning] else { return nil }
            let value = fields[index]
            return value.isEmpty ? nil : value
        }
    }

    /// The mailbox a row describes, before inheritance; nil (and a problem) when the row has no user or secret.
    private mutating func listMailbox(_ row: CSVRow) -> MailboxDraft? {
        let here = row.here
        var draft = MailboxDraft(
            label: "\(row.file):\(row.line)", here: PlanSpot(path: "", location: here),
            missing: { PlanSpot(path: $0, location: here) })
        for meaning in row.columns.keys { draft.spots[meaning] = row.spot(meaning) }
        draft.user = row.cell("user")
        if draft.user == nil {
            problem(row.spot("user"), "empty")
            return nil
        }
        draft.address = row.cell("mailbox")
        draft.source = row.cell("source")
        draft.target = row.cell("target")
        if draft.source == nil { draft.spots["source"] = nil }
        if draft.target == nil { draft.spots["target"] = nil }
        if draft.address == nil { draft.spots["mailbox"] = nil }
        return listSecret(row, into: &draft) ? draft : nil
    }

    /// The row's password or token (exactly one of them); false when there is none or it is refused.
    private mutating func listSecret(_ row: CSVRow, into draft: inout MailboxDraft) -> Bool {
        switch (row.cell("password"), row.cell("token")) {
        case (nil, nil):
            problem(
                row.spot(row.columns["password"] != nil ? "password" : "token"),
                "empty: write where the secret is, env:NAME or file:PATH")
            return false
        case (.some, .some):
            problem(row.spot("token"), "give either password or token, not both")
            return false
        case (let text?, nil):
            guard let ref = csvSecret(text, column: "password", at: row.spot("password").location) else { return false }
            draft.password = ref
            draft.spots["token"] = nil
        case (nil, let text?):
            guard let ref = csvSecret(text, column: "token", at: row.spot("token").location) else { return false }
            draft.token = ref
            draft.spots["password"] = nil
        }
        return true
    }

    /// `env:NAME` or `file:PATH` (relative to the workspace, like every path). Anything else is taken to be a
    /// password written in the list, refused, and never repeated in the message.
    private mutating func csvSecret(_ text: String, column: String, at here: PlanLocation) -> SecretRef? {
        let lower = text.lowercased()
        if lower.hasPrefix("env:") {
            let name = String(text.dropFirst(4)).trimmingCharacters(in: .whitespaces)
            guard Self.isVariableName(name) else {
                problem(
                    at: here, column,
                    "the name after env: has letters, digits and '_' only, and does not start "
                        + "with a digit")
                return nil
            }
            return .env(name)
        }
        if lower.hasPrefix("file:") {
            let path = String(text.dropFirst(5)).trimmingCharacters(in: .whitespaces)
            guard !path.isEmpty else {
                problem(at: here, column, "file: needs a path")
                return nil
            }
            return .file(resolve(path))
        }
        if lower.hasPrefix("command:") {
            problem(
                at: here, column,
                "command secrets can only be written in the plan file "
                    + "({ command: [\"program\", \"arg\"] }); here use env:NAME or file:PATH")
            return nil
        }
        problem(
            at: here, column,
            "a \(column) written in the list is refused (lists get mailed and copied); put it "
                + "in an environment variable or a file readable only by you, and write env:NAME or file:PATH")
        return nil
    }
}
