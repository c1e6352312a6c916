import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// The result of `mailferry check`, as JSON (`--json`) or as a table that fits the terminal.
struct CheckReport: Codable {
    var plan: String
    var ok: Bool
    var exitCode: Int32
    var seconds: Double
    var mailboxes: [CheckRow]
    /// What keeps any run from working on this machine (`SetupCheck`): one red row each. Absent when none.
    var setup: [SetupProblem]? = nil

    var jsonText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// "3 mailboxes (2 from CSV lists), 1 source, 1 target".
    static func counts(_ plan: Plan) -> String {
        let fromCSV = plan.mailboxes.filter { !$0.origin.label.hasPrefix("mailboxes[") }.count
        var text = counted(plan.mailboxes.count, "mailbox")
        if fromCSV > 0 { text += " (\(fromCSV) from CSV list\(plan.mailboxes.count == 1 ? "" : "s"))" }
        text += ", " + counted(plan.sources.count, "source") + ", " + counted(plan.targets.count, "target")
        return text
    }

    /// Capabilities the table shows (the JSON has them all).
    static let notableInTable = ["UIDL", "PIPELINING", "LOGIN-DELAY", "EXPIRE"]

    /// One line per mailbox, then its reasons (red) or notes, indented below it. Without a `width` (standard output
    /// is not a terminal: cron mail, a pipe, a file) every column is as wide as its widest cell. With one, columns
    /// narrow until the table fits and a cell too long for its column wraps onto the lines below, within its
    /// column; on a narrow terminal each mailbox takes two lines instead. No cell text is ever cut, and reason lines
    /// are never wrapped by us (the terminal does).
    static func table(_ rows: [CheckRow], width: Int?) -> String {
        let cells = rows.map(cells)
        // The status column is always 4 wide ("FAIL"), so rows line up the same whether or not one failed.
        let header = ["    ", "MAILBOX", "SOURCE", "TLS", "AUTH", "CAPABILITIES", "WAITING", "TARGET"]
        var lines: [String] = []
        let all = [header] + cells
        if let widths = width.map({ fit(all, width: $0, minimums: [4, 20, 14, 12, 4, 12, 8, 16]) }) ?? natural(all) {
            lines += render(header, widths)
            for (row, line) in zip(rows, cells) {
                lines += render(line, widths)
                lines += details(row)
            }
        } else {
            let width = width ?? 80
            // Two lines per mailbox: what and where, then how the source answered.
            let first = { (line: [String]) in [line[0], line[1], line[6], line[7]] }
            let second = { (line: [String]) in [line[2], line[3], line[4], line[5]].joined(separator: " · ") }
            let top = ["    ", "MAILBOX", "WAITING", "TARGET"]
            let widths =
                fit([top] + cells.map(first), width: width, minimums: [4, 12, 8, 10])
                ?? [4, 12, 8, max(10, width - 36)]
            lines += render(top, widths)
            lines += indented("SOURCE · TLS · AUTH · CAPABILITIES", width)
            for (row, line) in zip(rows, cells) {
                lines += render(first(line), widths)
                lines += indented(second(line), width)
                lines += details(row)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The cells of a row: status, mailbox, source, TLS, auth, capabilities, waiting, target.
    static func cells(_ row: CheckRow) -> [String] {
        let source = row.source
        var tls = "-"
        if let version = source.tlsVersion {
            tls = version + (source.certificateSubject.map { " " + commonName($0) } ?? "")
        } else if source.reachable && source.tls == "none" {
            tls = "none"
        }
        let caps =
            source.auth == nil
            ? "-"
            : source.capabilities
                .filter { cap in notableInTable.contains { cap == $0 || cap.hasPrefix($0 + " ") } }
                .joined(separator: " ")
        let waiting = source.messages.map { "\($0) (\(formatBytes(source.bytes ?? 0)))" } ?? "-"
        let target = "\(row.target.name) \(row.target.kind)" + (row.target.state.map { ": \($0)" } ?? "")
        return [
            row.ok ? "ok" : "FAIL", sanitizeForDisplay(row.mailbox, limit: 320),
            "\(source.name) \(source.server)", tls, source.auth ?? "-", caps.isEmpty ? "-" : caps, waiting,
            sanitizeForDisplay(target, limit: 400),
        ]
    }

    static func details(_ row: CheckRow) -> [String] {
        row.problems.map { indent + sanitizeForDisplay($0, limit: 600) }
            + row.notes.map { indent + "note: " + sanitizeForDisplay($0, limit: 600) }
    }

    static let gap = 2
    /// Where the reasons and the second line of a narrow table start.
    static let indent = String(repeating: " ", count: 6)

    /// Every column as wide as its widest cell.
    static func natural(_ lines: [[String]]) -> [Int] {
        (lines.first ?? []).indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
    }

    /// Column widths that fit `width`: the natural ones, then the widest column that can still give loses one
    /// character at a time. Nil when even the minimums do not fit.
    static func fit(_ lines: [[String]], width: Int, minimums: [Int]) -> [Int]? {
        var widths = natural(lines)
        var total = widths.reduce(0, +) + gap * (widths.count - 1)
        while total > width {
            let shrinkable = widths.indices.filter { widths[$0] > minimums[$0] }
            guard let column = shrinkable.max(by: { widths[$0] < widths[$1] }) else { return nil }
            widths[column] -= 1
            total -= 1
        }
        return widths
    }

    /// One table row: as many lines as its tallest cell wraps into, each cell in its column.
    static func render(_ line: [String], _ widths: [Int]) -> [String] {
        let wrapped = line.enumerated().map { column, cell in wrap(cell, widths[column]) }
        let height = wrapped.map(\.count).max() ?? 1
        return (0..<height).map { index in
            var out = ""
            for (column, parts) in wrapped.enumerated() {
                let text = index < parts.count ? parts[index] : ""
                out += text
                if column < line.count - 1 { out += String(repeating: " ", count: widths[column] - text.count + gap) }
            }
            // A cell that ends early on a continuation line leaves no trailing blanks behind.
            while out.hasSuffix(" ") { out.removeLast() }
            return out
        }
    }

    /// `text` after the indent, wrapped to `width` with the same indent on every line.
    static func indented(_ text: String, _ width: Int) -> [String] {
        wrap(text, max(20, width - indent.count)).map { indent + $0 }
    }

    /// `text` in lines of at most `width` characters, broken at a space (which goes) or after a "-", ".", "@" or
    /// "/" (which stays) where one is in the second half of the line, else inside a word. Nothing else is dropped.
    static func wrap(_ text: String, _ width: Int) -> [String] {
        guard width > 0, text.count > width else { return [text] }
        var lines: [String] = []
        var rest = Array(text)
        while rest.count > width {
            // A break before index `cut`: the line is rest[..<cut]; a space at `cut` is dropped.
            let cut = stride(from: width, through: max(1, width / 2), by: -1).first { cut in
                rest[cut] == " " || "-.@/".contains(rest[cut - 1])
            }
            let end = cut ?? width
            lines.append(String(rest[..<end]))
            rest = Array(rest[(end < rest.count && rest[end] == " " ? end + 1 : end)...])
        }
        lines.append(String(rest))
        return lines
    }

    /// "CN=mail.example" out of "/C=US/O=Example/CN=mail.example"; the whole subject when it has no CN.
    static func commonName(_ subject: String) -> String {
        guard let range = subject.range(of: "/CN=") else { return subject }
        let rest = subject[range.upperBound...]
        return "CN=" + String(rest.prefix { $0 != "/" })
    }

    /// One line per source used: how its TLS looked, and how many of its mailboxes are green; below it the
    /// fingerprint of each certificate its connections saw, written as the plan pins it (`tlsFingerprint`), so the
    /// admin can copy it. Then the same for each target reached over TLS.
    static func sourceSummary(_ rows: [CheckRow], plan: Plan) -> String {
        sourceLines(rows) + targetLines(rows)
    }

    /// `    tlsFingerprint: "sha256:…"` for each fingerprint seen, in order.
    static func fingerprintLines(_ fingerprints: [String?]) -> String {
        Set(fingerprints.compactMap { $0 }).sorted().map { "\n    tlsFingerprint: \"\($0)\"" }.joined()
    }

    static func targetLines(_ rows: [CheckRow]) -> String {
        let secured = rows.filter { $0.target.tlsVersion != nil }
        guard !secured.isEmpty else { return "" }
        var text = "\ntargets:"
        for name in Set(secured.map(\.target.name)).sorted() {
            let mine = secured.filter { $0.target.name == name }
            let versions = Set(mine.compactMap(\.target.tlsVersion)).sorted().joined(separator: ", ")
            text += "\n  \(name): \(mine.first?.target.server ?? "?"), \(versions)"
            text += fingerprintLines(mine.map(\.target.tlsFingerprint))
        }
        return text
    }

    static func sourceLines(_ rows: [CheckRow]) -> String {
        var lines = ["sources:"]
        for name in Set(rows.map(\.source.name)).sorted() {
            let mine = rows.filter { $0.source.name == name }
            let server = mine.first?.source.server ?? "?"
            let mode = mine.first?.source.tls ?? "?"
            var text = "  \(name): \(server), tls \(mode)"
            let seen = Set(
                mine.compactMap { row -> String? in
                    guard let version = row.source.tlsVersion else { return nil }
                    return "\(version) \(row.source.tlsCipher ?? "?"), certificate "
                        + (row.source.certificateSubject.map { $0.isEmpty ? "(none)" : $0 } ?? "(none)")
                }
            ).sorted()
            if !seen.isEmpty { text += ", " + seen.joined(separator: "; ") }
            let reached = mine.filter(\.source.reachable).count
            text +=
                "; \(mine.filter(\.source.ok).count) of " + counted(mine.count, "mailbox") + " logged in"
            if reached == 0 { text += " (not reached)" }
            lines.append(text + fingerprintLines(mine.map(\.source.tlsFingerprint)))
        }
        return lines.joined(separator: "\n")
    }

    static func finalLine(_ rows: [CheckRow], seconds: Double, exitCode: Int32) -> String {
        let failed = rows.filter { !$0.ok }.count
        var text = "check: " + counted(rows.count, "mailbox") + ", \(rows.count - failed) ok"
        if failed > 0 { text += ", \(failed) failed" }
        text += String(format: " in %.1f s", seconds) + "; exit \(exitCode)"
        return text
    }
}
