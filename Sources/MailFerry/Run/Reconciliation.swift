import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension MailboxRun {
    /// Settles attempts a crash left in doubt, before they are retried: found in the target means delivered,
    /// absent means it goes back to be delivered again (design.md, per-message states). A target that cannot be
    /// asked (LMTP, SMTP) gets the message again, and the report lists it as a possible duplicate. Returns how many
    /// messages went back to be fetched again.
    ///
    /// An IMAP folder that does not show a searchable attempt is no proof it will not: the server may still be
    /// storing what the dead connection sent (design.md, "IMAP in doubt"). Such an attempt is held, not sent again,
    /// until the target's `settleSeconds` have passed since the first run that found it in doubt, and the run says
    /// so (`leftInDoubt`, exit 1).
    @discardableResult
    func reconcile() throws -> Int {
        let doubtful = try store.inDoubt(mailbox: mailboxID)
        guard !doubtful.isEmpty else { return 0 }
        var relisted = 0
        // Each row is settled where its attempt went, even when the plan has since moved the mailbox
        // (`run --rebind`): by the attempt's target and mailbox.
        var byAddress: [Attempted: [MessageRecord]] = [:]
        for row in doubtful {
            if row.token == Runner.routedToken {
                // A catch-all message whose routed deliveries each carry their own checkpoint: fetched and routed
                // again, the deliveries already made are skipped.
                try store.markListed(id: row.id)
                relisted += 1
                continue
            }
            let attempted = Attempted(
                target: row.attemptTarget ?? mailbox.target,
                address: row.attemptAddress ?? row.address ?? mailbox.address)
            byAddress[attempted, default: []].append(row)
        }
        for (attempted, rows) in byAddress.sorted(by: {
            ($0.key.target, $0.key.address) < (
                $1.key.target,
                $1.key.address
            )
        }) {
            relisted += try reconcile(rows, at: attempted)
        }
        return relisted
    }

    /// The rows in doubt at one target mailbox.
    private func reconcile(_ rows: [MessageRecord], at attempted: Attempted) throws -> Int {
        let delivery = try self.delivery(at: attempted, doubtful: rows.count)
        defer { if attempted.target != mailbox.target { delivery.close() } }
        let found = try delivery.reconcile(rows.filter { $0.token != nil }.map(\.inDoubtAttempt))
        let now = Date().timeIntervalSince1970
        let settle = Double(plan.targets[attempted.target]?.settleSeconds ?? 0)
        let traits = delivery.traits
        var relisted = 0
        for row in rows {
            if let token = row.token, let ref = found[token] {
                try store.markDelivered(id: row.id, targetRef: ref)
                ledger.record(.reconciled)
            } else if traits.inDoubt == .search, traits.confirmsLater(row.inDoubtAttempt),
                try store.holdInDoubt(id: row.id, until: now + settle) > now
            {
                ledger.record(.heldInDoubt(uidl: row.uidl))
            } else {
                try store.markListed(id: row.id)
                relisted += 1
                // LMTP/SMTP cannot be asked, nor an IMAP folder for a message without Message-ID, Date or
                // provenance header: delivered again, it may be there twice.
                if traits.inDoubt == .unanswerable || !traits.confirmsLater(row.inDoubtAttempt) {
                    ledger.record(.possibleDuplicate(uidl: row.uidl))
                }
            }
        }
        return relisted
    }

    /// The delivery an attempt went to: the mailbox's own target, or one the plan has since moved it from.
    private func delivery(at attempted: Attempted, doubtful: Int) throws -> any Delivery {
        if attempted.target == mailbox.target { return try targets.delivery(for: attempted.address) }
        guard plan.targets[attempted.target] != nil else {
            throw MailError(
                .permanent,
                counted(doubtful, "message") + " \(doubtful == 1 ? "was" : "were") left in doubt at target "
                    + "\(attempted.target), which the plan no longer has; put that target back into the plan so "
                    + "\(doubtful == 1 ? "it" : "they") can be settled there (\(doubtful == 1 ? "it" : "they") must "
                    + "not be delivered twice)")
        }
        var old = mailbox
        old.target = attempted.target
        return try plan.delivery(for: old, address: attempted.address, trace: trace)
    }
}

extension Plan.Target {
    /// How long an IMAP APPEND left in doubt is held before it is sent again; nil for other kinds.
    var settleSeconds: Int? {
        guard case .imap(let imap) = kind else { return nil }
        return imap.settleSeconds
    }

    /// LMTP and SMTP carry an envelope: one transaction can hold several recipients.
    var carriesEnvelope: Bool {
        switch kind {
        case .lmtp, .smtp: return true
        case .maildir, .imap: return false
        }
    }
}

extension MessageRecord {
    /// What the target is asked about this row's attempt when a crash left it in doubt.
    var inDoubtAttempt: InDoubtAttempt {
        InDoubtAttempt(
            token: token ?? "", messageID: messageID, size: size, dateHeader: dateHeader, pop3UIDL: legacyUIDL)
    }

    /// The legacy UIDL a Maildir keeping them records for this row when its attempt is found after a crash: the
    /// row's UIDL as the server gave it; never for a routed delivery (`legacyPOP3UIDL`).
    var legacyUIDL: String? {
        parentID == nil ? legacyPOP3UIDL(uidl) : nil
    }
}

/// Where an attempt went: a target of the plan and its mailbox.
struct Attempted: Hashable {
    var target: String
    var address: String
}

/// A message's key in the state as the UIDL its legacy server gave it, to be recorded as its POP3 UIDL; nil where the
/// key is mailferry's own (a header fingerprint, an RFC 1939 stand-in, a UIDL shared by several messages told apart by
/// content) or no RFC 1939 UIDL. A key that only looks like one of those goes without: never a wrong UIDL.
func legacyPOP3UIDL(_ key: String) -> String? {
    guard DovecotUIDList.recordable(key), !key.hasPrefix("hdr:") else { return nil }
    if key.hasPrefix("~") && key.count == 41 { return nil }
    if let hash = key.lastIndex(of: "#"), key[key.index(after: hash)...].count == 16 { return nil }
    return key
}
