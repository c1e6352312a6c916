import Foundation
import MailCore
import MailFerry
import MailStore

/// `run`'s own lines as log entries: the text a person reads, and for `--log-format json` the same facts as counts
/// and fields (the JSON's `message` is the text line itself).
enum RunLog {
    /// "mailferry: plan …, N mailboxes, run …".
    static func start(plan: Plan, runID: String, mailboxes: Int, message: String) -> LogEntry {
        var fields: [(String, LogEntry.Value)] = [("runID", .text(runID))]
        if let shard = plan.shard { fields.append(("shard", .text(shard.description))) }
        return LogEntry(event: "run-start", counts: [("mailboxes", mailboxes)], fields: fields, message: message)
    }

    /// A mailbox's line: what it did in this run, and why it waited or stopped.
    static func mailbox(_ r: MailboxResult, message: String) -> LogEntry {
        let deferredEarlier = max(0, (r.standing?.deferred ?? r.deferred) - r.deferred)
        var counts: [(String, Int)] = r.onServer.map { [("onServer", $0), ("new", r.new)] } ?? []
        counts += [
            ("delivered", r.delivered), ("bytes", r.bytes), ("routed", r.routed), ("duplicate", r.duplicate),
            ("reconciled", r.reconciled), ("deferred", r.deferred), ("failed", r.failed),
            ("quarantined", r.quarantined), ("removed", r.removed), ("pending", r.pending),
            ("vanished", r.newlyVanished), ("deferredEarlier", deferredEarlier),
            ("leftInDoubt", r.leftInDoubt?.count ?? 0),
        ]
        var fields: [(String, LogEntry.Value)] = [("address", .text(r.address)), ("seconds", .decimal(r.seconds))]
        if let waiting = r.waiting { fields.append(("waiting", .text(waiting))) }
        if let error = r.error {
            fields.append(("error", .text(error)))
            fields.append(("errorKind", .text(r.errorKind?.rawValue ?? "unknown")))
        }
        let level: LogEntry.Level
        if (r.error != nil && r.errorKind != .transient) || r.failed > 0 || r.quarantined > 0 || r.newlyVanished > 0 {
            level = .error
        } else if r.error != nil || r.waiting != nil || r.deferred > 0 || r.pending > 0 || r.leftInDoubt != nil
            || deferredEarlier > 0
        {
            level = .warning
        } else {
            level = .info
        }
        return LogEntry(level, event: "mailbox", mailbox: r.key, counts: counts, fields: fields, message: message)
    }

    /// The closing line: what the run did, where its mailboxes stand in the state (as `status` counts them), and
    /// the exit code.
    static func end(_ s: RunSummary, message: String) -> LogEntry {
        let standing = s.standing
        let counts = [
            ("mailboxes", s.mailboxes.count), ("delivered", s.delivered), ("bytes", s.bytes),
            ("duplicate", s.duplicate), ("reconciled", s.reconciled), ("deferred", standing.deferred),
            ("quarantined", standing.quarantined), ("removed", s.removed), ("failed", standing.failed),
            ("pending", standing.pending), ("vanished", s.newlyVanished),
            ("inDoubt", max(0, standing.inDoubt - s.leftInDoubt)), ("leftInDoubt", s.leftInDoubt),
            ("mailboxesWaiting", s.waiting), ("mailboxesDeferred", s.mailboxesDeferred),
            ("mailboxesStopped", s.mailboxErrors),
        ]
        let level: LogEntry.Level =
            switch s.exitCode {
            case ExitCode.ok: .info
            case ExitCode.incomplete, 130, 143: .warning
            default: .error
            }
        return LogEntry(
            level, event: "run-end", counts: counts,
            fields: [
                ("runID", .text(s.runID)), ("exitCode", .number(Int(s.exitCode))), ("seconds", .decimal(s.seconds)),
                ("interrupted", .flag(s.interrupted)),
            ], message: message)
    }

    /// "report: reports/<plan>/<run>.md".
    static func report(_ path: String) -> LogEntry {
        LogEntry(event: "report", fields: [("path", .text(path))], message: "report: \(path)")
    }
}
