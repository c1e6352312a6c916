import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// A table read from a CSV file (RFC 4180): the header and the records, each with the line it starts on and the
/// column each field starts at (counted in characters, from 1).
struct CSVTable {
    var header: [String]
    var headerLine: Int
    var headerColumns: [Int] = []
    var records: [(line: Int, fields: [String], columns: [Int])]
    /// Rows that could not be read (a quote in the middle of a field, a quote never closed), each with its place.
    /// The rows after them are still read, so one stray quote does not hide the problems of the rest of the list.
    private(set) var problems: [Failure] = []

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
        var reader = CSVReader(text: text, separator: separator)
        try reader.read()
        guard let header = reader.records.first else {
            throw Failure(
                line: 1,
                message: "the list is empty; the first line names the columns, e.g. "
                    + "mailbox,user,password")
        }
        return CSVTable(
            header: header.fields, headerLine: header.line, headerColumns: header.columns,
            records: Array(reader.records.dropFirst()), problems: reader.problems)
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

/// `CSVTable.parseAll` reading one character at a time: the row and field being read, and where it is.
private struct CSVReader {
    typealias Failure = CSVTable.Failure

    /// The text, with a line break added: a last record without one ends like the others.
    private let chars: [Character]
    private let separator: Character
    private(set) var records: [(line: Int, fields: [String], columns: [Int])] = []
    private(set) var problems: [Failure] = []
    private var fields: [String] = []
    private var columns: [Int] = []
    private var field = ""
    private var quoted = false  // inside quotes now
    private var wasQuoted = false  // this field had quotes (so it is not trimmed)
    private var atRecordStart = true
    private var line = 1
    private var column = 1  // of the character about to be read
    private var fieldColumn = 1
    private var recordLine = 1
    private var quoteLine = 1
    private var quoteColumn = 1
    private var quoteIndex = 0
    private var i = 0

    init(text: String, separator: Character) {
        var chars = Array(text)
        chars.append("\n")
        self.chars = chars
        self.separator = separator
    }

    static func isBreak(_ c: Character) -> Bool { c == "\n" || c == "\r\n" || c == "\r" }

    mutating func read() throws(Failure) {
        while i < chars.count {
            let c = chars[i]
            let at = column
            i += 1
            column = Self.isBreak(c) ? 1 : column + 1
            if quoted {
                try readQuoted(c)
                continue
            }
            if atRecordStart {
                recordLine = line
                if Self.isBreak(c) {
                    line += 1
                    continue
                }
                if c == "#" {
                    skipRestOfLine()
                    continue
                }
                atRecordStart = false
                fieldColumn = at
            }
            try readUnquoted(c, at: at)
        }
    }

    /// A character inside quotes: "" is a quote, a lone " closes them, anything else (line breaks too) is text.
    private mutating func readQuoted(_ c: Character) throws(Failure) {
        if c == "\"" {
            if i < chars.count && chars[i] == "\"" {
                field.append("\"")
                i += 1
                column += 1
            } else {
                quoted = false
            }
        } else {
            if Self.isBreak(c) { line += 1 }
            field.append(c)
        }
        if i == chars.count && quoted {
            // Never closed: report it where it opened and read on from the line after that one.
            let problem = Failure(
                line: quoteLine, column: quoteColumn,
                message: "a quote opened here is never "
                    + "closed; the rows below were read as if it ended its line")
            if records.isEmpty { throw problem }
            problems.append(problem)
            rereadAfterQuote()
        }
    }

    /// A character outside quotes, at `at` in its line.
    private mutating func readUnquoted(_ c: Character, at: Int) throws(Failure) {
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
                try dropRow(
                    Failure(
                        line: line, column: at,
                        message: "a quote in the middle of a field; put the "
                            + "whole field in quotes and double the quote inside (\"\")"))
            }
        case separator:
            endField()
            fieldColumn = at + 1
        case "\n", "\r\n", "\r":
            try endRecord()
        default:
            if wasQuoted && !c.isWhitespace && quoteLine < line && !records.isEmpty {
                // Most likely the quote far above was never meant to close here (a field "…" missing its end).
                problems.append(
                    Failure(
                        line: quoteLine, column: quoteColumn,
                        message: "a quote opened here "
                            + "closes only at line \(line), column \(at - 1), with text after it; the rows below were "
                            + "read as if it ended its line"))
                rereadAfterQuote()
            } else if wasQuoted && !c.isWhitespace {
                try dropRow(
                    Failure(
                        line: line, column: at,
                        message: "text after a closing quote; a field is "
                            + "either all in quotes or not at all"))
            } else if !wasQuoted {
                field.append(c)
            }
        }
    }

    private mutating func endField() {
        fields.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
        columns.append(fieldColumn)
        field = ""
        wasQuoted = false
    }

    /// A line break outside quotes: the row is complete (a row of one empty field is a blank line, not a record).
    private mutating func endRecord() throws(Failure) {
        endField()
        line += 1
        if !(fields.count == 1 && fields[0].isEmpty) { records.append((recordLine, fields, columns)) }
        fields = []
        columns = []
        atRecordStart = true
        if records.count > CSVTable.maxRecords + 1 {
            throw Failure(line: recordLine, message: "more than \(CSVTable.maxRecords) rows")
        }
    }

    /// Moves to the line break that ends the current line (it is read next).
    private mutating func skipRestOfLine() {
        while i < chars.count && !Self.isBreak(chars[i]) { i += 1 }
    }

    /// Forgets the row read so far: the next character starts a new one.
    private mutating func forgetRow() {
        fields = []
        columns = []
        field = ""
        wasQuoted = false
        quoted = false
        atRecordStart = true
    }

    /// Leaves the current row out and goes on at the line after the one its quote opened on: a quote that runs
    /// over lines by mistake must not swallow the rows below it.
    private mutating func rereadAfterQuote() {
        i = quoteIndex
        skipRestOfLine()
        if i < chars.count { i += 1 }
        line = quoteLine + 1
        column = 1
        forgetRow()
    }

    /// Leaves the current row out and goes on at the next line.
    private mutating func dropRow(_ problem: Failure) throws(Failure) {
        if records.isEmpty { throw problem }  // the header row: nothing can be read without it
        problems.append(problem)
        skipRestOfLine()
        forgetRow()
    }
}
