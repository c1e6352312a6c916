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
        var text = "\(plan.mailboxes.count) mailbox\(plan.mailboxes.count == 1 ? "" : "es")"
        if fromCSV > 0 { text += " (\(fromCSV) from CSV list\(plan.mailboxes.count == 1 ? "" : "s"))" }
        text += ", \(plan.sources.count) source\(plan.sources.count == 1 ? "" : "s")"
        text += ", \(plan.targets.count) target\(plan.targets.count == 1 ? "" : "s")"
        return text
    }

    /// Capabilities the table shows (the JSON has them all).
    static let notableInTable = ["UIDL", "PIPELINING", "LOGIN-DELAY", "EXPIRE"]

    /// One line per mailbox, then its reasons (red) or notes, indented below it. Columns shrink (cells end in "…")
    /// until the table fits `width`; on a narrow terminal each mailbox takes two lines instead. Reason lines are
    /// never cut.
    static func table(_ rows: [CheckRow], width: Int) -> String {
        let cells = rows.map(cells)
        // The status column is always 4 wide ("FAIL"), so rows line up the same whether or not one failed.
        let header = ["    ", "MAILBOX", "SOURCE", "TLS", "AUTH", "CAPABILITIES", "WAITING", "TARGET"]
        var lines: [String] = []
        if let widths = fit([header] + cells, width: width, minimums: [4, 20, 14, 12, 4, 12, 8, 16]) {
            lines.append(render(header, widths))
            for (row, line) in zip(rows, cells) {
                lines.append(render(line, widths))
                lines += details(row)
            }
        } else {
            // Two lines per mailbox: what and where, then how the source answered.
            let first = { (line: [String]) in [line[0], line[1], line[6], line[7]] }
            let second = { (line: [String]) in [line[2], line[3], line[4], line[5]].joined(separator: " · ") }
            let top = ["    ", "MAILBOX", "WAITING", "TARGET"]
            let widths =
                fit([top] + cells.map(first), width: width, minimums: [4, 12, 8, 10])
                ?? [4, 12, 8, max(10, width - 36)]
            lines.append(render(top, widths))
            lines.append(cut("      SOURCE · TLS · AUTH · CAPABILITIES", width))
            for (row, line) in zip(rows, cells) {
                lines.append(render(first(line), widths))
                lines.append(cut("      " + second(line), width))
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
            row.ok ? "ok" : "FAIL", sanitizeForDisplay(row.mailbox, limit: 100),
            "\(source.name) \(source.server)", tls, source.auth ?? "-", caps.isEmpty ? "-" : caps, waiting,
            sanitizeForDisplay(target, limit: 200),
        ]
    }

    static func details(_ row: CheckRow) -> [String] {
        row.problems.map { "      " + sanitizeForDisplay($0, limit: 600) }
            + row.notes.map { "      note: " + sanitizeForDisplay($0, limit: 600) }
    }

    static let gap = 2

    /// Column widths that fit `width`: the natural ones, then the widest column that can still give loses one
    /// character at a time. Nil when even the minimums do not fit.
    static func fit(_ lines: [[String]], width: Int, minimums: [Int]) -> [Int]? {
        var widths = minimums.indices.map { column in lines.map { $0[column].count }.max() ?? 0 }
        var total = widths.reduce(0, +) + gap * (widths.count - 1)
        while total > width {
            let shrinkable = widths.indices.filter { widths[$0] > minimums[$0] }
            guard let column = shrinkable.max(by: { widths[$0] < widths[$1] }) else { return nil }
            widths[column] -= 1
            total -= 1
        }
        return widths
    }

    static func render(_ line: [String], _ widths: [Int]) -> String {
        var out = ""
        for (column, cell) in line.enumerated() {
            let text = cut(cell, widths[column])
            let padding = column == line.count - 1 ? 0 : widths[column] - text.count + gap
            out += text + String(repeating: " ", count: padding)
        }
        return out
    }

    static func cut(_ text: String, _ width: Int) -> String {
        text.count > width ? String(text.prefix(max(0, width - 1))) + "…" : text
    }

    /// "CN=mail.example" out of "/C=US/O=Example/CN=mail.example"; the whole subject when it has no CN.
    static func commonName(_ subject: String) -> String {
        guard let range = subject.range(of: "/CN=") else { return subject }
        let rest = subject[range.upperBound...]
        return "CN=" + String(rest.prefix { $0 != "/" })
    }

    /// One line per source used: how its TLS looked, and how many of its mailboxes are green.
    static func sourceSummary(_ rows: [CheckRow], plan: Plan) -> String {
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
                "; \(mine.filter(\.source.ok).count) of \(mine.count) mailbox\(mine.count == 1 ? "" : "es") "
                + "logged in"
            if reached == 0 { text += " (not reached)" }
            lines.append(text)
        }
        return lines.joined(separator: "\n")
    }

    static func finalLine(_ rows: [CheckRow], seconds: Double, exitCode: Int32) -> String {
        let failed = rows.filter { !$0.ok }.count
        var text = "check: \(rows.count) mailbox\(rows.count == 1 ? "" : "es"), \(rows.count - failed) ok"
        if failed > 0 { text += ", \(failed) failed" }
        text += String(format: " in %.1f s", seconds) + "; exit \(exitCode)"
        return text
    }
}
