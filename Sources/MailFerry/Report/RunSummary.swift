import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// What happened to one mailbox in one run. Plain data: the terminal, the JSON report and the Markdown report are
/// all rendered from it.
public struct MailboxResult: Sendable, Codable, Equatable {
    public var key: String
    public var address: String
    public var target: String
    /// Messages on the server when it was listed (nil when listing never happened).
    public var onServer: Int?
    /// UIDLs seen for the first time in this run.
    public var new = 0
    public var delivered = 0
    /// Bytes of what was delivered in this run.
    public var bytes = 0
    /// Same bytes as a message already delivered from this mailbox: not delivered again.
    public var duplicate = 0
    /// Transient trouble: retried on a later run.
    public var deferred = 0
    /// Permanent trouble: left on the server, named in the report.
    public var failed = 0
    /// Deliveries of catch-all messages to the mailboxes their routing chose.
    public var routed = 0
    /// Messages delivered again after a crash to a target that cannot be asked (LMTP, SMTP): possibly twice.
    public var possibleDuplicates: [String] = []
    /// How envelopes were recovered: "recipients from X-Original-To (trusted)", "arrival from provider-received"...
    public var envelopeSources: [String: Int] = [:]
    /// Failed too often: set aside with their reason (still on the server).
    public var quarantined = 0
    /// Deleted at the source under the plan's retention policy.
    public var removed = 0
    /// Attempts a crash had left in doubt and that were found in the target (completed, not redelivered).
    public var reconciled = 0
    /// Attempts in doubt at an IMAP target, not found there and younger than its `settleSeconds`: not sent again
    /// (the server may still store the dead connection's APPEND), asked about again by a later run. Their UIDLs; nil
    /// when there were none (and in reports written before it existed).
    public var leftInDoubt: [String]?
    /// Work left for a later run because the run stopped early (interrupt or a lost connection).
    public var pending = 0
    /// Messages not yet delivered that this run's listing was the first to miss: the server lost them (or the person
    /// deleted them) before they were copied. Nil when there were none (and in reports written before it existed).
    public var vanished: [VanishedMessage]?
    /// Those beyond the first `Store.vanishedDetailLimit` per listing (nil when none).
    public var vanishedNotListed: Int?
    /// Delivered messages this run's listing was the first to miss: deleted on the server after their migration,
    /// which is normal (nil when none).
    public var goneAfterDelivery: Int?
    public var seconds = 0.0
    /// Why the mailbox was not worked on this time although nothing is wrong (LOGIN-DELAY, [IN-USE]).
    public var waiting: String?
    /// Things worth knowing that are not errors (no UIDL, shared UIDLs, LIST size mismatches).
    public var notes: [String] = []
    /// How we logged in and over what ("SASL CRAM-MD5", "TLSv1.3").
    public var authMethod: String?
    public var tlsVersion: String?
    /// Why the mailbox stopped early, if it did.
    public var error: String?
    public var errorKind: FailureKind?
    /// Problems with single messages: "uidl: reason".
    public var messageErrors: [String] = []
    /// The messages set aside as duplicates in this run, each with the UIDL whose delivery it repeats. Nil when
    /// there were none (and in reports written before it existed).
    public var duplicates: DuplicateList?

    /// Messages set aside as duplicates: their bytes are those of a message already delivered whose UIDL is gone
    /// from the server (a renumbered maildrop).
    public struct DuplicateList: Sendable, Codable, Equatable {
        /// The first `listLimit`, in the order they were met.
        public var entries: [Entry] = []
        /// Those beyond the first `listLimit` (the state database keeps every one: `duplicate_of`).
        public var notListed = 0

        public static let listLimit = 1000

        public struct Entry: Sendable, Codable, Equatable {
            public var uidl: String
            /// The UIDL of the message already delivered with the same bytes.
            public var duplicates: String
        }
    }

    mutating func noteDuplicate(uidl: String, of original: String) {
        var list = duplicates ?? DuplicateList()
        if list.entries.count < DuplicateList.listLimit {
            list.entries.append(
                .init(
                    uidl: sanitizeForDisplay(uidl, limit: 100),
                    duplicates: sanitizeForDisplay(original, limit: 100)))
        } else {
            list.notListed += 1
        }
        duplicates = list
        duplicate += 1
    }

    /// A catch-all's deliveries that rest on something less than a trusted envelope recipient: to the fallback
    /// mailbox, or guessed (To/Cc, or no trust boundary). Nil when there were none (and for people's mailboxes).
    public var routingProvenance: RoutingProvenance?

    /// Catch-all deliveries of one run worth a person's look, with why they went where they went.
    public struct RoutingProvenance: Sendable, Codable, Equatable {
        /// Deliveries to the fallback mailbox.
        public var fallback = 0
        /// Deliveries resting on a guessed recipient.
        public var guessed = 0
        /// The first `listLimit` of those deliveries (one entry each, even when both fallback and guessed).
        public var deliveries: [Entry] = []
        /// Those not listed, beyond the first `listLimit`.
        public var notListed = 0

        public static let listLimit = 50

        public struct Entry: Sendable, Codable, Equatable {
            /// The source message's UIDL.
            public var uidl: String
            /// The target mailbox the routing chose.
            public var mailbox: String
            public var fallback: Bool
            public var guessed: Bool
            /// The routing's reasons, provenance included ("x@wingtiptoys.com from To (field 4, guessed): …").
            public var reason: String
        }
    }

    /// Notes a routed delivery that was made, when it went to the fallback or rests on a guess.
    mutating func noteRouting(uidl: String, _ delivery: RoutedDelivery) {
        guard delivery.isFallback || delivery.isGuessed else { return }
        var provenance = routingProvenance ?? RoutingProvenance()
        if delivery.isFallback { provenance.fallback += 1 }
        if delivery.isGuessed { provenance.guessed += 1 }
        if provenance.deliveries.count < RoutingProvenance.listLimit {
            // Control characters escaped, other Unicode ("→", an 8-bit address) kept, as `route --dry-run` shows it.
            provenance.deliveries.append(
                .init(
                    uidl: sanitizeForDisplay(uidl, limit: 100),
                    mailbox: RoutePreview.shown(delivery.mailbox, limit: 200),
                    fallback: delivery.isFallback, guessed: delivery.isGuessed,
                    reason: RoutePreview.shown(delivery.because, limit: 500)))
        } else {
            provenance.notListed += 1
        }
        routingProvenance = provenance
    }

    mutating func countEnvelope(_ envelope: RecoveredEnvelope) {
        envelopeSources["arrival: \(envelope.arrivalSource.rawValue)", default: 0] += 1
        if let first = envelope.recipients.first {
            let trust = first.provenance.trusted ? "trusted" : "guessed"
            envelopeSources["recipients: \(first.provenance.header) (\(trust))", default: 0] += 1
        } else {
            envelopeSources["recipients: none recovered", default: 0] += 1
        }
        envelopeSources["sender: " + (envelope.senderProvenance.map { $0.header } ?? "not recovered"), default: 0] += 1
    }

    public init(key: String, address: String, target: String) {
        self.key = key
        self.address = address
        self.target = target
    }

    /// Messages of this run that reached a final or deferred state.
    public var settled: Int { delivered + duplicate + deferred + failed + quarantined }

    /// What this run's counters say: nothing went wrong in this run. Not the verdict (`complete`): a message
    /// deferred by an earlier run and waiting for its next try is not this run's, and still not delivered.
    public var ok: Bool {
        error == nil && deferred == 0 && failed == 0 && quarantined == 0 && pending == 0 && leftInDoubt == nil
    }

    /// Where the mailbox's messages stand in the state once this run is over (what `status` shows for it); nil
    /// when the run never got to its rows (a dry run, a mailbox it could not register) and in older reports.
    public var standing: MailboxStanding?
    /// True when the state could not tell where the mailbox's messages stand after the run: not a complete run.
    public var standingUnreadable: Bool?

    /// The verdict: every message the state knows of this mailbox is delivered (or a duplicate, or removed under
    /// retention) and the mailbox was worked on. Read from the state, not from this run's counters; a mailbox that
    /// only waits (`[IN-USE]`, `[LOGIN-DELAY]`) is not a failure, so its waiting alone does not make it incomplete.
    public var complete: Bool {
        guard error == nil, leftInDoubt == nil else { return false }
        guard standingUnreadable != true else { return false }
        guard let standing else { return ok }
        // A mailbox that only waited and was never listed has had nothing migrated: not worked on.
        if waiting != nil && standing.neverListed == true { return false }
        // Each further way a listed message can end up not delivered is one more condition here.
        return standing.undelivered == 0
    }

    /// Undelivered messages this run was the first to find gone from the server: each is a reason for exit 1, once.
    public var newlyVanished: Int { (vanished?.count ?? 0) + (vanishedNotListed ?? 0) }

    mutating func noteGaps(_ gaps: Store.ListingGaps) {
        if !gaps.newlyVanished.isEmpty { vanished = (vanished ?? []) + gaps.newlyVanished }
        if gaps.newlyVanishedNotListed > 0 {
            vanishedNotListed = (vanishedNotListed ?? 0) + gaps.newlyVanishedNotListed
        }
        if gaps.goneAfterDelivery > 0 { goneAfterDelivery = (goneAfterDelivery ?? 0) + gaps.goneAfterDelivery }
        if gaps.back > 0 {
            let one = gaps.back == 1
            notes.append(
                "\(gaps.back) message\(one ? "" : "s") that had vanished from the server \(one ? "is" : "are") listed "
                    + "again (same UIDL): handled as before, nothing delivered twice")
        }
    }

    mutating func noteLeftInDoubt(_ uidl: String) {
        leftInDoubt = (leftInDoubt ?? []) + [uidl]
    }
}

/// A whole run: what the reports and the summary line are made of.
public struct RunSummary: Sendable, Codable, Equatable {
    public var runID: String
    public var plan: String
    public var startedAt: Date
    public var finishedAt: Date
    public var mailboxes: [MailboxResult]
    public var interrupted: Bool
    public var exitCode: Int32
    /// "K/N" for a `run --shard K/N`.
    public var shard: String?

    public var seconds: Double { finishedAt.timeIntervalSince(startedAt) }
    public var delivered: Int { mailboxes.reduce(0) { $0 + $1.delivered } }
    public var bytes: Int { mailboxes.reduce(0) { $0 + $1.bytes } }
    public var duplicate: Int { mailboxes.reduce(0) { $0 + $1.duplicate } }
    public var deferred: Int { mailboxes.reduce(0) { $0 + $1.deferred } }
    public var failed: Int { mailboxes.reduce(0) { $0 + $1.failed } }
    public var reconciled: Int { mailboxes.reduce(0) { $0 + $1.reconciled } }
    public var quarantined: Int { mailboxes.reduce(0) { $0 + $1.quarantined } }
    public var removed: Int { mailboxes.reduce(0) { $0 + $1.removed } }
    public var pending: Int { mailboxes.reduce(0) { $0 + $1.pending } }
    public var leftInDoubt: Int { mailboxes.reduce(0) { $0 + ($1.leftInDoubt?.count ?? 0) } }
    /// Undelivered messages this run was the first to find gone from the server (design.md, "Mail that vanished"):
    /// a reason for exit 1 of its own, not part of `MailboxResult.ok`, so a later run does not repeat the alarm.
    public var newlyVanished: Int { mailboxes.reduce(0) { $0 + $1.newlyVanished } }
    /// Delivered messages this run found deleted on the server (normal after their migration).
    public var goneAfterDelivery: Int { mailboxes.reduce(0) { $0 + ($1.goneAfterDelivery ?? 0) } }
    /// Mailboxes stopped by a lasting problem (credentials, TLS, a refusal), which needs someone to act.
    public var mailboxErrors: Int { mailboxes.filter { $0.error != nil && $0.errorKind != .transient }.count }
    /// Mailboxes stopped by transient trouble (a timeout, a dropped connection): retried by the next run.
    public var mailboxesDeferred: Int { mailboxes.filter { $0.error != nil && $0.errorKind == .transient }.count }
    public var waiting: Int { mailboxes.filter { $0.waiting != nil }.count }

    /// Where the run's mailboxes stand in the state after it (`status`'s pending, deferred, failed, quarantined),
    /// added up; for a mailbox without a standing (a dry run), its own counters. What the closing line, the
    /// report's outcome and the exit code say.
    public var standing: MailboxStanding {
        mailboxes.reduce(MailboxStanding()) { total, m in
            total
                + (m.standing
                    ?? MailboxStanding(
                        pending: m.pending, inDoubt: m.leftInDoubt?.count ?? 0, deferred: m.deferred,
                        failed: m.failed, quarantined: m.quarantined))
        }
    }

    /// Every message listed is delivered (or a duplicate) and every mailbox was worked on: exit 0's promise.
    public var complete: Bool { !interrupted && mailboxes.allSatisfy(\.complete) }

    /// True when the run found nothing to do and nothing went wrong: what `--quiet` stays silent about.
    public var uneventful: Bool {
        delivered == 0 && duplicate == 0 && reconciled == 0 && mailboxes.allSatisfy(\.ok) && newlyVanished == 0
    }

    package init(
        runID: String, plan: String, startedAt: Date, finishedAt: Date, mailboxes: [MailboxResult], interrupted: Bool,
        exitCode: Int32, shard: String? = nil
    ) {
        self.runID = runID
        self.plan = plan
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.mailboxes = mailboxes
        self.interrupted = interrupted
        self.exitCode = exitCode
        self.shard = shard
    }
}

/// Human-friendly byte counts: "512 B", "3.4 MiB".
public func formatBytes(_ count: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(count)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(count) B" : String(format: "%.1f %@", value, units[unit])
}
