import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// `mailferry status` as text and JSON, rendered from a `PlanStatus`.
public enum StatusReport {
    /// The table a person reads: one row per mailbox, a total row, then who still gets legacy mail after the
    /// cutover and which mailboxes stopped.
    public static func text(_ status: PlanStatus, workspace: String? = nil) -> String {
        var out =
            "plan \(sanitizeForDisplay(status.plan)): " + counted(status.mailboxes.count, "mailbox") + "; state: "
            + status.stateFiles.map { shorten($0, workspace: workspace) }.joined(separator: ", ") + "\n"
        let t = status.transition
        if t.start != nil || t.cutover != nil || t.end != nil {
            out += "transition: start \(t.start ?? "–"), cutover \(t.cutover ?? "–"), end \(t.end ?? "–")\n"
        }
        out += "\n"
        let header = [
            "MAILBOX", "SOURCE", "ON SERVER", "DELIVERED", "PENDING", "DEFERRED", "FAILED", "QUARANTINED",
            "LAST LEGACY MAIL", "LAST GOOD POLL", "",
        ]
        var rows = status.mailboxes.map { row($0) }
        rows.append(row(status.totals))
        out += table([header] + rows, rightAligned: 2...7)
        out += vanishedText(status, total: status.totals)
        let flagged = status.flagged
        if let cutover = t.cutover {
            let over = PlanStatus.day(cutover).map { status.generatedAt.timeIntervalSince1970 >= $0 + 86_400 } ?? false
            if !over {
                out +=
                    "\nthe cutover (\(cutover)) is still ahead: mailboxes that still receive legacy mail after it "
                    + "will be flagged\n"
            } else if flagged.isEmpty {
                out += "\nafter the cutover (\(cutover)): no mailbox receives legacy mail\n"
            } else {
                out +=
                    "\nafter the cutover (\(cutover)): " + counted(flagged.count, "mailbox")
                    + (flagged.count == 1 ? " still receives" : " still receive")
                    + " legacy mail (someone still writes to the old address, or MX has not moved):\n"
                for m in flagged {
                    out +=
                        "  \(sanitizeForDisplay(m.address)) (\(sanitizeForDisplay(m.key))): "
                        + counted(m.arrivedAfterCutover, "message") + " since, the last "
                        + PlanStatus.timeText(m.lastArrivalAt) + "\n"
                }
            }
        }
        let stopped = status.mailboxes.filter { $0.lastError != nil }
        if !stopped.isEmpty {
            out += "\nlast poll failed:\n"
            for m in stopped {
                out += "  \(sanitizeForDisplay(m.address)): \(sanitizeForDisplay(m.lastError ?? "", limit: 300))\n"
            }
        }
        let gone = status.mailboxes.filter { !$0.inPlan }
        if !gone.isEmpty {
            out +=
                "\n* in the state database but no longer in the plan: "
                + gone.map { sanitizeForDisplay($0.key) }.joined(separator: ", ") + "\n"
        }
        return out
    }

    static func row(_ m: PlanStatus.MailboxStatus) -> [String] {
        let isTotal = m.key == "total" && m.address == "total"
        var flag = m.stillReceivingAfterCutover ? "! after cutover" : ""
        if m.lastError != nil { flag += flag.isEmpty ? "! last poll failed" : ", last poll failed" }
        if m.vanished > 0 { flag += (flag.isEmpty ? "! " : ", ") + "\(m.vanished) vanished" }
        if !m.inPlan { flag += "*" }
        return [
            sanitizeForDisplay(m.address, limit: 60), isTotal ? "" : sanitizeForDisplay(m.key, limit: 40),
            m.onServer.map(String.init) ?? "–", "\(m.delivered)", "\(m.pending)", "\(m.deferred)", "\(m.failed)",
            "\(m.quarantined)", PlanStatus.timeText(m.lastArrivalAt),
            isTotal ? "" : PlanStatus.timeText(m.lastSuccessfulPollAt), flag,
        ]
    }

    /// Columns padded to their widest cell, two spaces apart; trailing blanks trimmed.
    static func table(_ rows: [[String]], rightAligned: ClosedRange<Int>) -> String {
        var widths = [Int](repeating: 0, count: rows.map(\.count).max() ?? 0)
        for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
        var out = ""
        for row in rows {
            var line = ""
            for (index, cell) in row.enumerated() {
                let pad = String(repeating: " ", count: widths[index] - cell.count)
                line += (index == 0 ? "" : "  ") + (rightAligned.contains(index) ? pad + cell : cell + pad)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    public static func json(_ status: PlanStatus) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(status)
    }

    /// A path relative to the workspace when it lies inside it.
    static func shorten(_ path: String, workspace: String?) -> String {
        guard let workspace, path.hasPrefix(workspace + "/") else { return sanitizeForDisplay(path) }
        return sanitizeForDisplay(String(path.dropFirst(workspace.count + 1)))
    }
}
