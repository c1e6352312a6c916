import Foundation
import MailCore
import MailFerry
import MailStore
import MailSystem
import MailWire

/// What `run --quiet` says about a mailbox, so cron mails the admin when something changed and not every ten
/// minutes for as long as a server is down:
///
/// - news: the mailbox delivered, found duplicates or confirmed what a crash left (always said);
/// - trouble (the mailbox stopped, or it has only waited for `[IN-USE]`/`[LOGIN-DELAY]` since its last listing more
///   than `remindAfter` ago): said when it starts and when it changes (another kind or another text), then again
///   at most every `remindAfter` while it lasts, as a reminder;
/// - recovery: the trouble last said is over (said once);
/// - a single message deferred or failed without the mailbox stopping: said (quarantine bounds how often).
///
/// What was said is kept per mailbox in the state (`mailboxes.said_*`), so runs in between stay silent. Only quiet
/// runs read and write it: a run by hand, on a terminal, tells cron's reader nothing.
struct QuietEtiquette: Sendable {
    let store: Store
    let remindAfter: Double
    /// Seconds added to the clock the reminders go by: `MAILFERRY_TEST_CLOCK_OFFSET`, for tests only (so a test
    /// shows a reminder after `remindAfter` without waiting for it). 0 otherwise.
    let clockOffset: Double

    init(plan: Plan, store: Store, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.store = store
        remindAfter = Double(plan.remindAfter)
        clockOffset = environment["MAILFERRY_TEST_CLOCK_OFFSET"].flatMap(Double.init) ?? 0
    }

    /// The text to add below the mailbox's line when it is to be said ("" for nothing more), or nil to stay
    /// silent. Records what was said.
    func say(_ r: MailboxResult) -> String? {
        let now = Date().timeIntervalSince1970 + clockOffset
        let known = (try? store.saidTrouble(key: r.key)) ?? (said: nil, lastListedAt: nil, createdAt: nil)
        let trouble = Self.trouble(
            r, lastListedAt: known.lastListedAt ?? known.createdAt, now: now, remind: remindAfter)
        let news =
            r.delivered > 0 || r.duplicate > 0 || r.reconciled > 0 || r.removed > 0
            || (r.error == nil
                && (r.deferred > 0 || r.failed > 0 || r.quarantined > 0 || r.pending > 0 || r.leftInDoubt != nil))
        guard let trouble else {
            guard let said = known.said else { return news ? "" : nil }
            // A mailbox that only waited this time never logged in: the trouble last said is not known to be over.
            if r.waiting != nil { return news ? "" : nil }
            record(r.key, nil)
            return "\n    recovered: \(Self.was(said)) since \(Self.time(said.since)) is over"
        }
        guard let said = known.said, said.kind == trouble.kind, said.text == trouble.text else {
            record(r.key, SaidTrouble(kind: trouble.kind, text: trouble.text, since: now, at: now))
            return ""
        }
        if now - said.at >= remindAfter {
            record(r.key, SaidTrouble(kind: said.kind, text: said.text, since: said.since, at: now))
            return "\n    still \(said.kind == "waiting" ? "waiting" : "failing") since \(Self.time(said.since))"
                + " (said again every \(Self.duration(remindAfter)) while it lasts)"
        }
        if news {
            record(r.key, SaidTrouble(kind: said.kind, text: said.text, since: said.since, at: now))
            return ""
        }
        return nil
    }

    /// The mailbox's trouble worth saying: why it stopped, or why it waits when it has not been listed for
    /// `remind` seconds (a server's LOGIN-DELAY every other run is no trouble; a maildrop held for days is).
    static func trouble(
        _ r: MailboxResult, lastListedAt: Double?, now: Double, remind: Double
    ) -> (kind: String, text: String)? {
        if let error = r.error { return ((r.errorKind ?? .local).rawValue, error) }
        if let waiting = r.waiting, now - (lastListedAt ?? now) >= remind { return ("waiting", waiting) }
        return nil
    }

    private func record(_ key: String, _ said: SaidTrouble?) {
        try? store.recordSaid(key: key, said)
    }

    static func was(_ said: SaidTrouble) -> String {
        (said.kind == "waiting" ? "the wait (" : "the \(said.kind) failure (")
            + sanitizeForDisplay(said.text, limit: 200) + ")"
    }

    static func time(_ unix: Double) -> String {
        UTCDate.string(Date(timeIntervalSince1970: unix), .iso8601)
    }

    /// "6 h", "90 s".
    static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds)
        for (unit, size) in [("d", 86_400), ("h", 3600), ("min", 60)] where whole >= size && whole % size == 0 {
            return "\(whole / size) \(unit)"
        }
        return "\(whole) s"
    }
}
