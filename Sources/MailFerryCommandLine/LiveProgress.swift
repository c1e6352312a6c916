import Foundation
import Glibc
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire
import Synchronization

/// Live progress for `run` on a terminal: a line per active mailbox and a total line with messages, bytes, rate
/// and ETA, kept as the console's status block below the per-mailbox result lines (which `lines` still prints).
/// Redrawn on every settled message (at most ten times a second) and twice a second by a ticker, so the rate and
/// ETA move while one large message is on its way.
final class LiveProgress: RunObserver {
    /// One mailbox being worked on.
    struct Active {
        var address: String
        /// Messages and bytes to fetch this run, once listed.
        var planned: (messages: Int, bytes: Int)?
        var messages = 0
        var bytes = 0
    }

    struct State {
        var active: [String: Active] = [:]
        /// Keys of the active mailboxes, in the order they started.
        var order: [String] = []
        var finished = 0
        /// Mailboxes listed so far (finished or active) and what they planned.
        var listed = 0
        /// Mailboxes that ended before they were listed (a login refused, a server down).
        var endedUnlisted = 0
        var plannedMessages = 0
        var plannedBytes = 0
        var messages = 0
        var bytes = 0
        var lastDraw = Date.distantPast
        var stopped = false
    }

    private let console: Console
    private let lines: any RunObserver
    private let mailboxes: Int
    private let color: Bool
    private let started = Date()
    private let state = Mutex(State())
    /// Lines for at most this many active mailboxes; the rest are counted in one line.
    static let shownMailboxes = 10

    /// Live progress when stdout is a terminal that can take it (not TERM=dumb); nil otherwise.
    static func onTerminal(console: Console, lines: any RunObserver, mailboxes: Int) -> LiveProgress? {
        let environment = ProcessInfo.processInfo.environment
        guard isatty(1) == 1, environment["TERM"] != "dumb" else { return nil }
        // NO_COLOR (https://no-color.org): present and not empty means no colour.
        let color = (environment["NO_COLOR"] ?? "").isEmpty
        return LiveProgress(console: console, lines: lines, mailboxes: mailboxes, color: color)
    }

    init(console: Console, lines: any RunObserver, mailboxes: Int, color: Bool) {
        self.console = console
        self.lines = lines
        self.mailboxes = mailboxes
        self.color = color
        let ticker = Thread { [weak self] in
            // Bounded by the run: stops once `finish` is called (or this object is gone).
            while let progress = self, !progress.state.withLock({ $0.stopped }) {
                progress.draw(force: true)
                usleep(500_000)
            }
        }
        ticker.name = "mailferry-progress"
        ticker.start()
    }

    func mailboxStarted(_ mailbox: Plan.Mailbox) {
        state.withLock {
            $0.active[mailbox.key] = Active(address: mailbox.address)
            $0.order.append(mailbox.key)
        }
        lines.mailboxStarted(mailbox)
        draw(force: true)
    }

    func mailboxPlanned(_ mailbox: Plan.Mailbox, messages: Int, bytes: Int) {
        state.withLock {
            // A mailbox listed a second time (after settling what a crash left in doubt) adds to its plan.
            if let before = $0.active[mailbox.key]?.planned {
                $0.active[mailbox.key]?.planned = (before.messages + messages, before.bytes + bytes)
            } else {
                $0.active[mailbox.key]?.planned = (messages, bytes)
                $0.listed += 1
            }
            $0.plannedMessages += messages
            $0.plannedBytes += bytes
        }
        draw(force: false)
    }

    func messageSettled(_ mailbox: Plan.Mailbox, bytes: Int) {
        state.withLock {
            $0.active[mailbox.key]?.messages += 1
            $0.active[mailbox.key]?.bytes += bytes
            $0.messages += 1
            $0.bytes += bytes
        }
        draw(force: false)
    }

    func mailboxFinished(_ result: MailboxResult) {
        state.withLock {
            if let active = $0.active.removeValue(forKey: result.key) {
                if let planned = active.planned {
                    // What was planned but not done (stopped, deferred) leaves the totals, so the bar can end full.
                    $0.plannedMessages -= planned.messages - active.messages
                    $0.plannedBytes -= planned.bytes - active.bytes
                } else {
                    $0.endedUnlisted += 1
                }
            }
            $0.order.removeAll { $0 == result.key }
            $0.finished += 1
        }
        lines.mailboxFinished(result)
        draw(force: true)
    }

    /// Removes the progress block for good (before the run's last lines).
    func finish() {
        state.withLock {
            $0.stopped = true
            console.setStatus([])
        }
    }

    /// Draws under the state's lock, so a draw that began before `finish` cannot put the block back after it.
    private func draw(force: Bool) {
        let now = Date()
        state.withLock {
            guard !$0.stopped, force || now.timeIntervalSince($0.lastDraw) >= 0.1 else { return }
            $0.lastDraw = now
            console.setStatus(
                render($0, width: CheckCommand.terminalWidth() ?? 120, elapsed: now.timeIntervalSince(started)))
        }
    }

    // MARK: - Rendering

    /// The block's lines, each narrower than `width` (a wrapped line would break the redraw).
    func render(_ s: State, width: Int, elapsed: TimeInterval) -> [String] {
        let usable = max(20, width - 1)
        let shown = s.order.prefix(Self.shownMailboxes).compactMap { s.active[$0] }
        let nameWidth = min(32, shown.map { $0.address.count }.max() ?? 0)
        var lines: [String] = []
        for mailbox in shown {
            let name = Self.fit(sanitizeForDisplay(mailbox.address), nameWidth).padding(
                toLength: nameWidth,
                withPad: " ",
                startingAt: 0)
            guard let planned = mailbox.planned else {
                lines.append(Self.fit("  \(name)  logging in and listing…", usable))
                continue
            }
            let counts = "\(mailbox.messages)/\(planned.messages)  \(formatBytes(mailbox.bytes))"
            let barWidth = min(24, usable - nameWidth - counts.count - 8)
            let fraction = planned.messages == 0 ? 1 : Double(mailbox.messages) / Double(planned.messages)
            lines.append(
                barWidth >= 5
                    ? "  \(name)  \(bar(fraction, width: barWidth))  \(counts)"
                    : Self.fit("  \(name)  \(counts)", usable))
        }
        if s.order.count > shown.count {
            lines.append("  … and \(s.order.count - shown.count) more mailboxes being worked on")
        }
        lines.append(totalLine(s, width: usable, elapsed: elapsed))
        return lines
    }

    private func totalLine(_ s: State, width: Int, elapsed: TimeInterval) -> String {
        var parts = [
            "\(s.messages)/\(s.plannedMessages) messages",
            "\(formatBytes(s.bytes)) of \(formatBytes(s.plannedBytes))",
        ]
        if elapsed >= 1, s.messages > 0 {
            parts.append(String(format: "%.0f msg/s", Double(s.messages) / elapsed))
            parts.append("\(formatBytes(Int(Double(s.bytes) / elapsed)))/s")
        }
        if let eta = eta(s, elapsed: elapsed) { parts.append("ETA \(Self.clock(eta))") }
        parts.append("\(s.finished)/\(mailboxes) mailboxes done")
        let done = s.plannedBytes == 0 ? (s.listed == 0 ? 0 : 1) : Double(s.bytes) / Double(s.plannedBytes)
        let barWidth = 20
        var text = "total \(bar(done, width: barWidth))"
        var visible = 6 + barWidth + 2
        for part in parts {
            guard visible + 3 + part.count <= width else { break }
            text += (text.hasSuffix("]") ? " " : " · ") + part
            visible += 3 + part.count
        }
        return text
    }

    /// Seconds left: what the listed mailboxes still hold, plus the unlisted ones estimated at the listed ones'
    /// average, at the byte rate so far. Nil until there is a rate to go by.
    func eta(_ s: State, elapsed: TimeInterval) -> TimeInterval? {
        guard elapsed >= 1, s.bytes > 0, s.listed > 0 else { return nil }
        let unlisted = max(0, mailboxes - s.listed - s.endedUnlisted)
        let remaining =
            Double(max(0, s.plannedBytes - s.bytes))
            + Double(unlisted) * Double(s.plannedBytes) / Double(s.listed)
        return remaining / (Double(s.bytes) / elapsed)
    }

    /// "[█████░░░░░]", the filled part green unless NO_COLOR.
    func bar(_ fraction: Double, width: Int) -> String {
        let filled = Int((min(1, max(0, fraction)) * Double(width)).rounded(.down))
        let full = String(repeating: "█", count: filled)
        let empty = String(repeating: "░", count: width - filled)
        return color ? "[\u{1B}[32m\(full)\u{1B}[0m\(empty)]" : "[\(full)\(empty)]"
    }

    /// `text` cut to `width` characters, with "…" where it was cut.
    static func fit(_ text: String, _ width: Int) -> String {
        text.count <= width ? text : String(text.prefix(max(0, width - 1))) + "…"
    }

    /// "0:42", "12:05", "3:04:10".
    static func clock(_ seconds: TimeInterval) -> String {
        let total = Int(seconds.rounded(.up))
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
