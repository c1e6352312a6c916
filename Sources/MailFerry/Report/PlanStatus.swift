import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire
import Synchronization

/// The cumulative view of a plan across every run so far (`mailferry status`, the dashboard): per mailbox what is
/// on the server, what arrived, what is still to do, and who still gets legacy mail after the cutover.
public struct PlanStatus: Sendable, Codable, Equatable {
    public var plan: String
    public var stateFiles: [String]
    public var transition: Transition
    public var generatedAt: Date
    public var mailboxes: [MailboxStatus]
    /// Messages the legacy servers received per day, over every mailbox: each message's known arrival (recovered
    /// from its headers, or its first sight when it came after the mailbox's first listing). A message that was
    /// already on the server at the first listing and whose headers were not read yet is not counted: its first
    /// sight is when mailferry looked, not when it arrived.
    public var arrivalsPerDay: [DayCount]
    /// Problems waiting for someone: messages deferred, failed or quarantined, and mailboxes whose last poll
    /// failed, by category (transient, permanent, quota, auth, tls, protocol, local), and messages that vanished
    /// before they were delivered ("vanished").
    public var errorsByCategory: [String: Int]
    /// The most recent messages waiting for someone (failed, quarantined, or deferred until the next run), newest
    /// first, each with its reason; at most `StateSummary.problemsListed` (the counts above are whole).
    public var problems: [Problem]
    /// Messages that vanished from the server before they were delivered (design.md, "Mail that vanished"), in the
    /// plan's mailbox order, oldest first per mailbox (at most `Store.vanishedDetailLimit` per state file; each
    /// mailbox's `vanished` counts them all).
    public var vanishedMessages: [VanishedMessage]

    public struct Transition: Sendable, Codable, Equatable {
        public var start: String?
        public var cutover: String?
        public var end: String?
    }

    public struct DayCount: Sendable, Codable, Equatable {
        /// YYYY-MM-DD (UTC).
        public var day: String
        public var count: Int
    }

    public struct Problem: Sendable, Codable, Equatable {
        public var key: String
        public var address: String
        public var uidl: String
        /// "failed", "quarantined" or "deferred".
        public var state: String
        /// The failure kind: "permanent", "quota", "transient"...
        public var kind: String?
        public var reason: String
        /// When its last attempt was recorded.
        public var at: Date
    }

    public struct MailboxStatus: Sendable, Codable, Equatable {
        public var key: String
        public var address: String
        public var target: String
        /// False for a mailbox the state knows but the plan no longer lists.
        public var inPlan: Bool
        /// Messages on the server at the last listing (nil: never listed).
        public var onServer: Int?
        /// Every message mailferry has seen in this mailbox (what is or was on the server).
        public var known = 0
        public var delivered = 0
        /// Same bytes as a delivered message: not delivered again.
        public var duplicate = 0
        /// Listed (or in doubt after a crash) and not yet delivered.
        public var pending = 0
        public var deferred = 0
        /// Failed for good (not counting the quarantined).
        public var failed = 0
        public var quarantined = 0
        /// Deleted at the source under a retention policy, after delivery.
        public var removed = 0
        /// Not delivered, and no longer listed by the server: needs someone's look. Counted here only, not in
        /// pending, deferred, failed or quarantined.
        public var vanished = 0
        /// Delivered, and since deleted on the server (normal after the migration); still counted in `delivered`.
        public var goneAfterDelivery = 0
        /// The latest known arrival of a legacy message (recovered from its headers, or first seen after the
        /// mailbox's first listing); nil when none is known yet.
        public var lastArrivalAt: Date?
        /// When mailferry last saw a message it had not seen before.
        public var lastNewSeenAt: Date?
        public var lastPollAt: Date?
        public var lastSuccessfulPollAt: Date?
        public var lastError: String?
        /// Messages known to have arrived after the plan's cutover day: by their recovered arrival, or first seen
        /// after the cutover when they were not on the server at the first listing. Never by the first sight of a
        /// message the first listing found (a first run after the cutover would flag 2005's mail).
        public var arrivedAfterCutover = 0
        /// The cutover has passed and legacy mail still arrives: someone writes to the old address, or MX has not
        /// moved.
        public var stillReceivingAfterCutover = false

        /// Messages that need nothing more: delivered (including later removed at the source) or duplicates.
        public var done: Int { delivered + duplicate + removed }
    }

    public var totals: MailboxStatus {
        var total = MailboxStatus(key: "total", address: "total", target: "", inPlan: true)
        for m in mailboxes {
            total.onServer = m.onServer.map { (total.onServer ?? 0) + $0 } ?? total.onServer
            total.known += m.known
            total.delivered += m.delivered
            total.duplicate += m.duplicate
            total.pending += m.pending
            total.deferred += m.deferred
            total.failed += m.failed
            total.quarantined += m.quarantined
            total.removed += m.removed
            total.vanished += m.vanished
            total.goneAfterDelivery += m.goneAfterDelivery
            total.arrivedAfterCutover += m.arrivedAfterCutover
            total.lastArrivalAt = [total.lastArrivalAt, m.lastArrivalAt].compactMap { $0 }.max()
            total.lastNewSeenAt = [total.lastNewSeenAt, m.lastNewSeenAt].compactMap { $0 }.max()
            total.lastPollAt = [total.lastPollAt, m.lastPollAt].compactMap { $0 }.max()
            total.lastSuccessfulPollAt = [total.lastSuccessfulPollAt, m.lastSuccessfulPollAt].compactMap { $0 }.max()
        }
        return total
    }

    /// Mailboxes flagged for still receiving legacy mail after the cutover.
    public var flagged: [MailboxStatus] { mailboxes.filter(\.stillReceivingAfterCutover) }

    /// The plan's mailboxes (in plan order), then those only the state knows.
    public init(plan: Plan, state: StateSummary, now: Date = Date()) {
        self.plan = plan.name
        stateFiles = state.files
        transition = Transition(
            start: plan.transition.start, cutover: plan.transition.cutover,
            end: plan.transition.end)
        generatedAt = now
        // Arrivals are counted by UTC day: one on or after the day after the cutover arrived after it.
        let cutoverEnd = plan.transition.cutover.flatMap(Self.day).map { $0 + 86_400 }
        let cutoverEndDay = cutoverEnd.map(StateSummary.Tally.day)
        var keys = plan.mailboxes.map(\.key)
        let planned = Set(keys)
        keys += state.mailboxes.keys.filter { !planned.contains($0) }.sorted()
        var perDay: [Int: Int] = [:]
        var errors: [String: Int] = [:]
        let plannedByKey = Dictionary(plan.mailboxes.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        mailboxes = keys.map { key in
            let planned = plannedByKey[key]
            let stored = state.mailboxes[key]
            var m = MailboxStatus(
                key: key, address: planned?.address ?? stored?.address ?? key,
                target: planned?.target ?? stored?.target ?? "", inPlan: planned != nil)
            m.onServer = stored?.serverCount
            m.lastPollAt = stored?.lastPollAt.map(Date.init(timeIntervalSince1970:))
            m.lastSuccessfulPollAt = stored?.lastOkAt.map(Date.init(timeIntervalSince1970:))
            m.lastError = stored?.lastError
            if m.lastError != nil { errors["mailbox stopped", default: 0] += 1 }
            if let tally = state.tallies[key] {
                m.known = tally.known
                // A vanished message counts as vanished only, whatever its checkpoint state.
                m.pending = tally.listed(.listed) + tally.listed(.delivering)
                m.delivered = tally.count(.delivered)
                m.duplicate = tally.count(.duplicate)
                m.deferred = tally.listed(.deferred)
                m.failed = tally.listed(.failed)
                m.quarantined = tally.listedQuarantined
                m.removed = tally.count(.removed)
                m.vanished = tally.vanished
                m.goneAfterDelivery = tally.goneAfterDelivery
                errors.merge(tally.errors, uniquingKeysWith: +)
                if tally.vanished > 0 { errors["vanished", default: 0] += tally.vanished }
                m.lastArrivalAt = tally.lastArrivalAt.map(Date.init(timeIntervalSince1970:))
                m.lastNewSeenAt = tally.lastSeenAt.map(Date.init(timeIntervalSince1970:))
                for (day, count) in tally.arrivalsPerDay {
                    perDay[day, default: 0] += count
                    if let cutoverEndDay, day >= cutoverEndDay { m.arrivedAfterCutover += count }
                }
            }
            if let cutoverEnd, now.timeIntervalSince1970 >= cutoverEnd, m.arrivedAfterCutover > 0 {
                m.stillReceivingAfterCutover = true
            }
            return m
        }
        arrivalsPerDay = perDay.sorted { $0.key < $1.key }.map { day, count in
            DayCount(day: UTCDate.string(Date(timeIntervalSince1970: Double(day) * 86_400), .day), count: count)
        }
        errorsByCategory = errors
        vanishedMessages = keys.flatMap { state.vanished[$0] ?? [] }
        problems = Self.problems(state.problems, mailboxes: mailboxes)
    }

    /// The state's open problems, each with its mailbox's address.
    static func problems(_ open: [StateSummary.OpenProblem], mailboxes: [MailboxStatus]) -> [Problem] {
        let addresses = Dictionary(mailboxes.map { ($0.key, $0.address) }, uniquingKeysWith: { first, _ in first })
        return open.map { p in
            Problem(
                key: p.mailboxKey, address: addresses[p.mailboxKey] ?? p.mailboxKey, uidl: p.uidl,
                state: p.quarantined ? "quarantined" : p.state.rawValue, kind: p.errorKind,
                reason: p.lastError ?? "no reason was recorded", at: Date(timeIntervalSince1970: p.updatedAt))
        }
    }

    /// Midnight UTC of a YYYY-MM-DD day, as unix time.
    static func day(_ text: String) -> Double? {
        UTCDate.day(text)
    }

    /// "2026-12-20 14:03 UTC", or "–".
    static func timeText(_ date: Date?) -> String {
        guard let date else { return "–" }
        return UTCDate.string(date, .dayMinute) + " UTC"
    }
}
