import Foundation
import Glibc
import MailCore
import MailStore
import MailSystem

/// The plan's `metricsFile`: what a monitoring system watches, in Prometheus' text exposition format (version
/// 0.0.4) for node_exporter's textfile collector. Rewritten after every run (not a dry run), atomically: a temporary
/// file in the same folder (not named `*.prom`, so the collector never reads it half-written), fsync, rename.
///
/// Its numbers are those of the run's report and of `status`: the run's start, end and exit code; the end of the
/// latest run that exited 0, read from the state's runs table (so a failing run leaves it as it was); and per
/// mailbox of the run, where its messages stand in the state (`PlanStatus`, what `status` counts), whether it waited
/// or stopped, and its legacy mail after the cutover.
public enum MetricsFile {
    /// What the file is made of.
    public struct Input: Sendable {
        public var summary: RunSummary
        public var status: PlanStatus
        /// The run's mailboxes (SOURCE/USER), in plan order: a shard's own only.
        public var mailboxes: [String]
        /// The end of the latest run that exited 0 (unix time), nil when none has.
        public var lastSuccess: Double?

        public init(summary: RunSummary, status: PlanStatus, mailboxes: [String], lastSuccess: Double?) {
            self.summary = summary
            self.status = status
            self.mailboxes = mailboxes
            self.lastSuccess = lastSuccess
        }
    }

    /// World-readable (node_exporter runs as its own user); it names mailboxes, as the dashboard does, but no secret.
    static let fileMode: mode_t = 0o644

    /// The message states counted per mailbox, in the order written: `status`'s columns (pending counts the
    /// messages in doubt too, as `status` does).
    static let states = [
        "delivered", "duplicate", "pending", "deferred", "failed", "quarantined", "removed", "vanished",
    ]

    /// Writes the file at `path`, atomically, 0644.
    public static func write(_ input: Input, to path: String) throws {
        try ReportWriter.writeAtomically(Data(text(input).utf8), to: path, mode: fileMode)
    }

    /// The exposition text: each metric family once, with its HELP and TYPE lines, then its samples.
    public static func text(_ input: Input) -> String {
        var out = ""
        for family in families(input) where !family.samples.isEmpty {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n# TYPE \(family.name) gauge\n"
            for sample in family.samples {
                let labels = sample.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",")
                out += "\(family.name){\(labels)} \(sample.value)\n"
            }
        }
        return out
    }

    struct Family {
        var name: String
        var help: String
        var samples: [(labels: [(String, String)], value: String)] = []
    }

    static func families(_ input: Input) -> [Family] {
        let s = input.summary
        var plan = [("plan", s.plan)]
        if let shard = s.shard { plan.append(("shard", shard)) }
        func one(_ name: String, _ help: String, _ value: String) -> Family {
            Family(name: "mailferry_" + name, help: help, samples: [(plan, value)])
        }
        var families = [
            one("last_run_start_timestamp_seconds", "When the last run started (Unix time).", seconds(s.startedAt)),
            one("last_run_end_timestamp_seconds", "When the last run ended (Unix time).", seconds(s.finishedAt)),
            one("last_run_exit_code", "The last run's exit code (0: every message delivered).", "\(s.exitCode)"),
            one(
                "last_success_timestamp_seconds",
                "When the latest run that exited 0 ended (Unix time); 0 when none has yet.",
                input.lastSuccess.map { seconds(Date(timeIntervalSince1970: $0)) } ?? "0"),
            one("mailboxes", "Mailboxes the last run worked on.", "\(input.mailboxes.count)"),
            one(
                "mailboxes_waiting", "Mailboxes the last run found waiting ([IN-USE], [LOGIN-DELAY]).",
                "\(s.waiting)"),
            one(
                "mailboxes_stopped", "Mailboxes the last run could not work on (a transient or lasting problem).",
                "\(s.mailboxes.filter { $0.error != nil }.count)"),
        ]
        families += mailboxFamilies(input, plan: plan)
        return families
    }

    /// Per mailbox of the run: its messages by state, whether it waited or stopped, its last good poll and, when the
    /// plan names a cutover, its legacy mail after it.
    static func mailboxFamilies(_ input: Input, plan: [(String, String)]) -> [Family] {
        let byKey = Dictionary(input.status.mailboxes.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        let results = Dictionary(input.summary.mailboxes.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        var messages = Family(
            name: "mailferry_mailbox_messages",
            help: "Messages of the mailbox by where they stand in the state, as status counts them.")
        var waiting = Family(
            name: "mailferry_mailbox_waiting", help: "1 when the last run found the mailbox waiting, else 0.")
        var stopped = Family(
            name: "mailferry_mailbox_stopped", help: "1 when the last run could not work on the mailbox, else 0.")
        var lastPoll = Family(
            name: "mailferry_mailbox_last_successful_poll_timestamp_seconds",
            help: "When the mailbox was last listed without trouble (Unix time).")
        var afterCutover = Family(
            name: "mailferry_mailbox_legacy_after_cutover_messages",
            help: "Legacy messages known to have arrived after the plan's cutover day.")
        for key in input.mailboxes {
            let m = byKey[key]
            let labels = plan + [("mailbox", key)]
            for state in states {
                messages.samples.append((labels + [("state", state)], "\(m.map { count(state, $0) } ?? 0)"))
            }
            waiting.samples.append((labels, results[key]?.waiting == nil ? "0" : "1"))
            stopped.samples.append((labels, results[key]?.error == nil ? "0" : "1"))
            if let at = m?.lastSuccessfulPollAt { lastPoll.samples.append((labels, seconds(at))) }
            if input.status.transition.cutover != nil {
                afterCutover.samples.append((labels, "\(m?.arrivedAfterCutover ?? 0)"))
            }
        }
        var families = [messages, waiting, stopped, lastPoll, afterCutover]
        if input.status.transition.cutover != nil {
            let flagged = input.status.mailboxes.filter { input.mailboxes.contains($0.key) }.filter(
                \.stillReceivingAfterCutover)
            families.append(
                Family(
                    name: "mailferry_mailboxes_receiving_after_cutover",
                    help: "Mailboxes that still receive legacy mail after the cutover day has passed.",
                    samples: [(plan, "\(flagged.count)")]))
        }
        return families
    }

    static func count(_ state: String, _ m: PlanStatus.MailboxStatus) -> Int {
        switch state {
        case "delivered": m.delivered
        case "duplicate": m.duplicate
        case "pending": m.pending
        case "deferred": m.deferred
        case "failed": m.failed
        case "quarantined": m.quarantined
        case "removed": m.removed
        default: m.vanished
        }
    }

    /// Unix time with milliseconds.
    static func seconds(_ date: Date) -> String {
        String(format: "%.3f", date.timeIntervalSince1970)
    }

    /// A label value as the exposition format wants it: backslash, double quote and line feed escaped.
    static func escapeLabel(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A HELP text: backslash and line feed escaped.
    static func escapeHelp(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
