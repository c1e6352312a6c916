import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The dashboard's tables: the mailboxes, the open problems with their reasons, the verify findings. Each sits in a
/// `.scroll` box inside its card: a table wider than the card (a narrow window, long addresses) scrolls there
/// instead of spilling out of the card.
extension Dashboard {
    static func mailboxTable(_ status: PlanStatus) -> String {
        var out = """
            <section class="panel"><h2>Mailboxes</h2>
            <p class="note">Cumulative over every run. The bar shows each mailbox's messages by state.</p>
            <div class="scroll"><table class="boxes"><thead><tr><th>Mailbox</th><th class="bar-col">Progress</th><th class="n">On server</th><th class="n">Delivered</th><th class="n">Pending</th><th class="n">Deferred</th><th class="n">Failed</th><th class="n">Quarant.</th><th>Last legacy mail (UTC)</th><th>Last good poll (UTC)</th></tr></thead>
            <tbody>

            """
        for m in status.mailboxes { out += mailboxRow(m) }
        out += "</tbody></table></div>\n<div class=\"legend\">"
        for (name, value) in colors {
            out += "<span><i style=\"background:\(value)\"></i>\(name)</span>"
        }
        return out + "</div></section>\n"
    }

    static func mailboxRow(_ m: PlanStatus.MailboxStatus) -> String {
        let e = Charts.escape
        let parts = [
            ("delivered", m.delivered + m.removed), ("duplicate", m.duplicate), ("pending", m.pending),
            ("deferred", m.deferred), ("failed", m.failed), ("quarantined", m.quarantined),
            ("vanished", m.vanished),
        ]
        let sum = max(parts.reduce(0) { $0 + $1.1 }, 1)
        var bar = "<div class=\"bar\">"
        for (name, count) in parts where count > 0 {
            bar +=
                "<i style=\"width:\(String(format: "%.2f", Double(count) * 100 / Double(sum)))%;"
                + "background:\(color(name))\" title=\"\(name): \(count)\"></i>"
        }
        bar += "</div>"
        let percent = m.known == 0 ? "–" : String(format: "%.0f%%", Double(m.done) * 100 / Double(m.known))
        var badges = ""
        if m.stillReceivingAfterCutover {
            badges += "<span class=\"badge warn\">\(m.arrivedAfterCutover) after cutover</span>"
        }
        if m.lastError != nil { badges += "<span class=\"badge bad\">poll failed</span>" }
        if m.vanished > 0 { badges += "<span class=\"badge bad\">\(m.vanished) vanished</span>" }
        if !m.inPlan { badges += "<span class=\"badge\">not in plan</span>" }
        if m.lastPollAt == nil { badges += "<span class=\"badge\">never polled</span>" }
        // The reason is on the page, not in a tooltip: whoever reads it can act on it.
        let reason = m.lastError.map { "<div class=\"reason\">last poll failed: \(e($0))</div>" } ?? ""
        return
            "<tr><td class=\"who\"><div class=\"addr\">\(breakable(m.address))</div><div class=\"key\">\(e(m.key)) → "
            + "\(e(m.target))\(badges.isEmpty ? "" : " ")\(badges)</div>\(reason)</td>"
            + "<td class=\"bar-col\"><div class=\"progress\">\(bar)<div class=\"pct\">\(percent)</div></div></td>"
            + "<td class=\"n\">\(m.onServer.map(Charts.grouped) ?? "–")</td>"
            + "<td class=\"n\">\(Charts.grouped(m.delivered + m.removed))</td>"
            + "<td class=\"n\">\(Charts.grouped(m.pending))</td>"
            + "<td class=\"n\(m.deferred > 0 ? " warn" : "")\">\(Charts.grouped(m.deferred))</td>"
            + "<td class=\"n\(m.failed > 0 ? " bad" : "")\">\(Charts.grouped(m.failed))</td>"
            + "<td class=\"n\(m.quarantined > 0 ? " bad" : "")\">\(Charts.grouped(m.quarantined))</td>"
            + "<td class=\"when\">\(when(m.lastArrivalAt))</td>"
            + "<td class=\"when\">\(when(m.lastSuccessfulPollAt))</td></tr>\n"
    }

    /// An address, escaped, that a narrow column may break after its "@", dots and hyphens (and nowhere else):
    /// a long address wraps where a reader expects it, and does not push its table out of the card.
    static func breakable(_ address: String) -> String {
        var out = ""
        for character in Charts.escape(address) {
            out.append(character)
            if character == "@" || character == "." || character == "-" { out += "<wbr>" }
        }
        return out
    }

    /// "2026-12-20 14:03" (the column's header says UTC), or "–"; a narrow column breaks it between day and time.
    static func when(_ date: Date?) -> String {
        guard let date else { return "–" }
        return "<span class=\"day\">\(UTCDate.string(date, .day))</span> "
            + String(UTCDate.string(date, .dayMinute).suffix(5))
    }

    /// One line of the open problems: what is wrong with which mailbox or message, and why.
    struct ProblemRow {
        var address: String
        var key: String
        /// The message's UIDL; nil for a mailbox's own trouble.
        var uidl: String?
        /// "poll failed", "failed", "quarantined", "deferred"...
        var what: String
        /// "bad" (someone must act) or "warn" (retried by the next run).
        var tone: String
        var reason: String
        var at: Date?
    }

    /// Everything the "Needs attention" card counts and more, each with its reason: mailboxes whose last poll
    /// failed, then the most recent messages failed, quarantined or deferred. Another kind of trouble is another
    /// `ProblemRow` here (and a part in `attentionParts`).
    static func problemRows(_ status: PlanStatus) -> [ProblemRow] {
        let stopped = status.mailboxes.compactMap { m -> ProblemRow? in
            guard let error = m.lastError else { return nil }
            return ProblemRow(
                address: m.address, key: m.key, uidl: nil, what: "poll failed", tone: "bad", reason: error,
                at: m.lastPollAt)
        }
        let messages = status.problems.map { p in
            ProblemRow(
                address: p.address, key: p.key, uidl: p.uidl,
                what: p.state + (p.kind.map { " (\($0))" } ?? ""), tone: p.state == "deferred" ? "warn" : "bad",
                reason: p.reason, at: p.at)
        }
        return stopped + messages
    }

    /// The open problems with their reasons; nothing when there are none (the errors chart then says so).
    static func problemsPanel(_ status: PlanStatus) -> String {
        let rows = problemRows(status)
        guard !rows.isEmpty else { return "" }
        let e = Charts.escape
        var body =
            "<div class=\"scroll\"><table class=\"problems\"><thead><tr><th>Mailbox</th><th>Message</th>"
            + "<th>What</th><th>Reason</th><th>When (UTC)</th></tr></thead><tbody>"
        for row in rows {
            body +=
                "<tr><td class=\"who\"><div class=\"addr\">\(breakable(row.address))</div><div class=\"key\">\(e(row.key))"
                + "</div></td><td>\(row.uidl.map { "<code>\(e($0))</code>" } ?? "–")</td>"
                + "<td><span class=\"badge \(row.tone)\">\(e(row.what))</span></td>"
                + "<td class=\"reason-col\">\(e(row.reason))</td>"
                + "<td class=\"when\">\(when(row.at))</td></tr>"
        }
        body += "</tbody></table></div>"
        let total = status.totals
        let listed = status.problems.count
        let open = total.failed + total.quarantined + total.deferred
        if open > listed {
            body +=
                "<p class=\"note\">The \(listed) most recent of \(Charts.grouped(open)) open "
                + "\(pluralized("message", count: open)); each run's report names the messages it could not "
                + "deliver.</p>"
        }
        return panel(
            "Open problems",
            note: "Why mail is waiting, as the last attempt recorded it. Failed and quarantined messages stay on "
                + "the legacy server until someone acts; deferred ones are tried again by the next run.",
            body: body)
    }

    static func verifyPanel(_ verify: VerifyReport?) -> String {
        let e = Charts.escape
        guard let verify else {
            return panel(
                "Verify", note: "Compares every message on the legacy servers with its target mailbox.",
                body: "<p class=\"empty\">Not verified yet. Run <code>mailferry verify PLAN</code>.</p>")
        }
        var body =
            "<div class=\"verdict \(verify.complete ? "good" : "bad")\"><span class=\"mark\">"
            + (verify.complete ? "✓" : "!") + "</span><div><div class=\"verdict-text\">\(e(verify.verdict))</div>"
            + "<div class=\"verdict-sub\">Verified \(e(PlanStatus.timeText(verify.verifiedAt))) · "
            + "\(Charts.grouped(verify.inTarget)) found in their targets"
            + (verify.notVerifiable > 0
                ? " · \(Charts.grouped(verify.notVerifiable)) delivered per state into "
                    + "LMTP/SMTP (not verifiable)" : "") + " · exit \(verify.exitCode)</div></div></div>\n"
        for (title, findings) in [("Missing", verify.missing), ("Duplicates", verify.duplicates)]
        where !findings.isEmpty {
            body +=
                "<h3>\(title) (\(findings.count))</h3><div class=\"scroll\"><table class=\"findings\"><thead><tr>"
                + "<th>Mailbox</th><th>UIDL</th><th class=\"n\">Size</th><th>Detail</th></tr></thead><tbody>"
            for f in findings.prefix(50) {
                body +=
                    "<tr><td class=\"who\">\(breakable(f.address))<div class=\"key\">\(e(f.mailbox))</div></td><td><code>"
                    + "\(e(f.uidl))</code></td><td class=\"n\">\(f.size.map { e(formatBytes($0)) } ?? "–")</td>"
                    + "<td class=\"reason-col\">\(e(f.detail))</td></tr>"
            }
            body += "</tbody></table></div>"
            if findings.count > 50 { body += "<p class=\"note\">… and \(findings.count - 50) more in verify.json.</p>" }
        }
        for m in verify.unchecked {
            body += "<p class=\"problem\"><b>\(e(m.address))</b> not verified: \(e(m.error ?? ""))</p>"
        }
        return panel(
            "Verify",
            note: "The last mailferry verify: every message on the legacy servers compared with "
                + "the state and with its target mailbox.", body: body)
    }
}
