import Foundation
import MailCore
import MailSystem
import MailWire
import MailStore

/// A table read from a CSV file (RFC 4180): the header and the records, each with the line it starts on and the
/// column each field starts at (counted in characters, from 1).
struct CSVTable {
    var header: [String]
    var headerLine: Int
    var headerColumns: [Int] = []
    var records: [(line: Int, fields: [String], columns: [Int])]
    /// Rows that could not be read (a quote in the middle of a field, a quote never closed), each with its place.
    /// The rows after them are still read, so one stray quote does not hide the problems of the rest of the list.
    var problems: [Failure] = []

    struct Failure: Error {
        var line: Int
        var column: Int? = nil
        var message: String
    }

    static let maxBytes = 16 << 20
    static let maxRecords = 100_000

    /// Parses RFC 4180 CSV and throws at the first problem (see `parseAll`).
    static func parse(_ data: Data) throws(Failure) -> CSVTable {
        let table = try parseAll(data)
        if let first = table.problems.first { throw first }
        return table
    }

    /// Parses RFC 4180 CSV: quoted fields with "" for a quote and line breaks inside quotes, CRLF or LF. Also what
    /// spreadsheets write: a UTF-8 byte order mark, and ';' as the separator when the header has no ','. Blank
    /// lines and lines starting with '#' are skipped; unquoted fields are trimmed.
    ///
    /// A row that cannot be read is left out and noted in `problems`, and reading goes on at the next line; a quote
    /// that is never closed would take the rest of the file into one field, so reading goes on at the line after
    /// the one it opened on. Throws only for what spoils the whole file (size, encoding, no header row, a broken
    /// header row).
    static func parseAll(_ data: Data) throws(Failure) -> CSVTable {
        guard data.count <= maxBytes else { throw Failure(line: 1, message: "the file is larger than 16 MiB") }
        guard var text = String(data: data, encoding: .utf8) else {
            throw Failure(line: firstBadUTF8Line(data), message: "not valid UTF-8; save the list as CSV UTF-8")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        let firstLine = text.prefix { $0 != "\n" && $0 != "\r\n" }
        let separator: Character = !firstLine.contains(",") && firstLine.contains(";") ? ";" : ","

        var records: [(line: Int, fields: [String], columns: [Int])] = []
        var problems: [Failure] = []
        var fields: [String] = []
        var columns: [Int] = []
        var field = ""
        var quoted = false       // inside quotes now
        var wasQuoted = false    // this field had quotes (so it is not trimmed)
        var atRecordStart = true
        var line = 1
        var column = 1           // of the character about to be read
        var fieldColumn = 1
        var recordLine = 1
        var quoteLine = 1
        var quoteColumn = 1
        var quoteIndex = 0
        var chars = Array(text)
        chars.append("\n")  // a last record without a line break ends like the others
        var i = 0
        func isBreak(_ c: Character) -> Bool { c == "\n" || c == "\r\n" || c == "\r" }
        func endField() {
            fields.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
            columns.append(fieldColumn)
            field = ""
            wasQuoted = false
        }
        /// Forgets the row read so far: the next character starts a new one.
        func forgetRow() {
            fields = []
            columns = []
            field = ""
            wasQuoted = false
            quoted = false
            atRecordStart = true
        }
        /// Leaves the current row out and goes on at the line after the one its quote opened on: a quote that runs
        /// over lines by mistake must not swallow the rows below it.
        func rereadAfterQuote() {
            i = quoteIndex
            while i < chars.count && !isBreak(chars[i]) { i += 1 }
            if i < chars.count { i += 1 }
            line = quoteLine + 1
            column = 1
            forgetRow()
        }
        /// Leaves the current row out and goes on at the next line.
        func dropRow(_ problem: Failure) throws(Failure) {
            if records.isEmpty { throw problem }  // the header row: nothing can be read without it
            problems.append(problem)
            while i < chars.count && !isBreak(chars[i]) { i += 1 }
            forgetRow()
        }
        while i < chars.count {
            let c = chars[i]
            let at = column
            i += 1
            column = isBreak(c) ? 1 : column + 1
            if quoted {
                if c == "\"" {
                    if i < chars.count && chars[i] == "\"" {
                        field.append("\"")
                        i += 1
                        column += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if isBreak(c) { line += 1 }
                    field.append(c)
                }
                if i == chars.count && quoted {
                    // Never closed: report it where it opened and read on from the line after that one.
                    let problem = Failure(line: quoteLine, column: quoteColumn, message: "a quote opened here is never "
                        + "closed; the rows below were read as if it ended its line")
                    if records.isEmpty { throw problem }
                    problems.append(problem)
                    rereadAfterQuote()
                }
                continue
            }
            if atRecordStart {
                recordLine = line
                if isBreak(c) {
                    line += 1
                    continue
                }
                if c == "#" {
                    while i < chars.count && !isBreak(chars[i]) { i += 1 }
                    continue
                }
                atRecordStart = false
                fieldColumn = at
            }
            switch c {
            case "\"":
                if field.trimmingCharacters(in: .whitespaces).isEmpty && !wasQuoted {
                    field = ""
                    quoted = true
                    wasQuoted = true
                    quoteLine = line
                    quoteColumn = at
                    quoteIndex = i
                } else {
                    try dropRow(Failure(line: line, column: at, message: "a quote in the middle of a field; put the "
                        + "whole field in quotes and double the quote inside (\"\")"))
                }
            case separator:
                endField()
                fieldColumn = at + 1
            case "\n", "\r\n", "\r":
                endField()
                line += 1
                if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields, columns)) }
                fields = []
                columns = []
                atRecordStart = true
                if records.count > maxRecords + 1 {
                    throw Failure(line: recordLine, message: "more than \(maxRecords) rows")
                }
            default:
                if wasQuoted && !c.isWhitespace && quoteLine < line && !records.isEmpty {
                    // Most likely the quote far above was never meant to close here (a field "…" missing its end).
                    problems.append(Failure(line: quoteLine, column: quoteColumn, message: "a quote opened here "
                        + "closes only at line \(line), column \(at - 1), with text after it; the rows below were "
                        + "read as if it ended its line"))
                    rereadAfterQuote()
                } else if wasQuoted && !c.isWhitespace {
                    try dropRow(Failure(line: line, column: at, message: "text after a closing quote; a field is "
                        + "either all in quotes or not at all"))
                } else if !wasQuoted {
                    field.append(c)
                }
            }
        }
        guard let header = records.first else {
            throw Failure(line: 1, message: "the list is empty; the first line names the columns, e.g. "
                + "mailbox,user,password")
        }
        return CSVTable(header: header.fields, headerLine: header.line, headerColumns: header.columns,
                        records: Array(records.dropFirst()), problems: problems)
    }

    private static func firstBadUTF8Line(_ data: Data) -> Int {
        var line = 1
        var iterator = data.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar): if scalar == "\n" { line += 1 }
            case .emptyInput, .error: return line
            }
        }
    }
}

/// `mailboxList`: people listed in CSV files, in the spirit of Exchange Online migration batches.
///
/// Columns (header names, any case): `mailbox` (alias `EmailAddress`), `user` (alias `UserName`), `password` and
/// `token` (a secret reference: `env:NAME` or `file:PATH`, never the password itself), and optionally `source` and
/// `target`, which override the list's. Only `user` and one of `password`/`token` are required.
extension PlanValidator {
    static let mailboxListKeys = ["csv", "source", "target", "mailbox"]
    static let csvColumns = ["mailbox", "user", "password", "token", "source", "target"]
    static let csvAliases = ["emailaddress": "mailbox", "email": "mailbox", "address": "mailbox",
                             "username": "user", "login": "user"]

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
            problem("mailboxList", "must be { csv: \"jobs/people.csv\", source: ..., target: ... } or a list of "
                + "those, found \(value.typeName)")
            return []
        }
    }

    private mutating func mailboxList(_ value: JSONValue, at: String, names: Names) -> [(MailboxDraft, Inherited)] {
        guard case .object(let list) = value else {
            problem(at, "must be an object like { csv: \"jobs/people.csv\", source: \"isp\", target: \"archive\" }, "
                + "found \(value.typeName)")
            return []
        }
        checkKeys(list, allowed: Self.mailboxListKeys, at: at)
        var inherited = Inherited()
        inheritedFields(list, at: at, names: names, into: &inherited)
        guard let csv = nonEmptyString(list, "csv", at: at, required: true) else { return [] }
        let path = resolve(csv)
        let csvSpot = locations.spot(PlanPath.member(at, "csv"))
        let shown = PlanLoader.display(path)
        var info = stat()
        if stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR {
            problem(csvSpot, "\(shown) is a folder, not a CSV file")
            return []
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            problem(csvSpot, "cannot read \(shown)" + (exists ? "" : ": no such file"))
            return []
        }
        let table: CSVTable
        do {
            table = try CSVTable.parseAll(data)
        } catch {
            problem(at: PlanLocation(file: shown, line: error.line, column: error.column ?? 1), "", error.message)
            return []
        }
        for failure in table.problems {
            problem(at: PlanLocation(file: shown, line: failure.line, column: failure.column ?? 1), "", failure.message)
        }
        // Columns, by what they mean.
        var columns: [String: Int] = [:]
        let headerAt = PlanLocation(file: shown, line: table.headerLine, column: 1)
        func headerCell(_ index: Int) -> PlanLocation {
            PlanLocation(file: shown, line: table.headerLine,
                         column: index < table.headerColumns.count ? table.headerColumns[index] : 1)
        }
        for (index, name) in table.header.enumerated() {
            let normalized = name.lowercased().replacingOccurrences(of: " ", with: "")
                .replacingOccurrences(of: "_", with: "")
            let meaning = Self.csvColumns.contains(normalized) ? normalized : Self.csvAliases[normalized]
            guard let meaning else {
                problem(at: headerCell(index), "", "unknown column \"\(sanitizeForDisplay(name, limit: 40))\""
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
            problem(at: headerAt, "", "no user column: the first row must name the columns, e.g. "
                + "mailbox,user,password")
            ok = false
        }
        if columns["password"] == nil && columns["token"] == nil {
            problem(at: headerAt, "", "no password column: each row names where its password is (env:NAME or "
                + "file:PATH)")
            ok = false
        }
        guard ok else { return [] }
        if table.records.isEmpty {
            problem(at: headerAt, "", "the list has a header but no people")
        }
        var drafts: [(MailboxDraft, Inherited)] = []
        for record in table.records {
            let here = PlanLocation(file: shown, line: record.line, column: 1)
            /// Where the cell of a column is: its line and the column it starts at.
            func spot(_ meaning: String) -> PlanSpot {
                guard let index = columns[meaning], index < record.columns.count else {
                    return PlanSpot(path: meaning, location: here)
                }
                return PlanSpot(path: meaning, location: PlanLocation(file: shown, line: record.line,
                                                                      column: record.columns[index]))
            }
            guard record.fields.count == table.header.count else {
                problem(at: here, "", "\(record.fields.count) field\(record.fields.count == 1 ? "" : "s"), but the "
                    + "first row names \(table.header.count) columns")
                continue
            }
            func cell(_ meaning: String) -> String? {
                guard let index = columns[meaning] else { return nil }
                let value = record.fields[index]
                return value.isEmpty ? nil : value
            }
            var draft = MailboxDraft(label: "\(shown):\(record.line)", here: PlanSpot(path: "", location: here),
                                     missing: { PlanSpot(path: $0, location: here) })
            for meaning in columns.keys { draft.spots[meaning] = spot(meaning) }
            draft.user = cell("user")
            if draft.user == nil {
                problem(spot("user"), "empty")
                continue
            }
            draft.address = cell("mailbox")
            draft.source = cell("source")
            draft.target = cell("target")
            if draft.source == nil { draft.spots["source"] = nil }
            if draft.target == nil { draft.spots["target"] = nil }
            if draft.address == nil { draft.spots["mailbox"] = nil }
            let password = cell("password")
            let token = cell("token")
            switch (password, token) {
            case (nil, nil):
                problem(spot(columns["password"] != nil ? "password" : "token"),
                        "empty: write where the secret is, env:NAME or file:PATH")
                continue
            case (.some, .some):
                problem(spot("token"), "give either password or token, not both")
                continue
            case (let text?, nil):
                guard let ref = csvSecret(text, column: "password", at: spot("password").location) else { continue }
                draft.password = ref
                draft.spots["token"] = nil
            case (nil, let text?):
                guard let ref = csvSecret(text, column: "token", at: spot("token").location) else { continue }
                draft.token = ref
                draft.spots["password"] = nil
            }
            drafts.append((draft, inherited))
        }
        return drafts
    }

    /// `env:NAME` or `file:PATH` (relative to the workspace, like every path). Anything else is taken to be a
    /// password written in the list, refused, and never repeated in the message.
    private mutating func csvSecret(_ text: String, column: String, at here: PlanLocation) -> SecretRef? {
        let lower = text.lowercased()
        if lower.hasPrefix("env:") {
            let name = String(text.dropFirst(4)).trimmingCharacters(in: .whitespaces)
            guard Self.isVariableName(name) else {
                problem(at: here, column, "the name after env: has letters, digits and '_' only, and does not start "
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
            problem(at: here, column, "command secrets can only be written in the plan file "
                + "({ command: [\"program\", \"arg\"] }); here use env:NAME or file:PATH")
            return nil
        }
        problem(at: here, column, "a \(column) written in the list is refused (lists get mailed and copied); put it "
            + "in an environment variable or a file readable only by you, and write env:NAME or file:PATH")
        return nil
    }
}
