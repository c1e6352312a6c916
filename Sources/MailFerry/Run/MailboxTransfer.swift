import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension MailboxRun {
    /// Fetches and delivers what the listing asks for. A message cut off for being too large leaves its session
    /// mid-reply: a fresh one fetches the rest.
    func transferAll() throws {
        var sessions = 1
        while true {
            do {
                try transfer()
                return
            } catch is SessionCutOff where sessions < Self.maxSessionsPerMailbox {
                sessions += 1
            }
        }
    }

    /// One POP3 session: log in, list, fetch and deliver, then apply the retention policy.
    func transfer() throws {
        // A later session of this mailbox in the same run logs in the way the first did: no method twice a run.
        let methods = ledger.authMethod.flatMap(POP3AuthMethod.init(rawValue:)).map { [$0] }
        let opening = try SourceSession.open(
            mailbox, plan: plan, methods: methods, trace: trace,
            pacing: pacing
        ) { step, client in
            if step == .connected { ledger.record(.connected(tlsVersion: client.tlsInfo?.version)) }
        }
        let session: SourceSession
        switch opening {
        case .waiting(let reason):
            ledger.record(.waiting(reason.message))
            return
        case .loggedIn(let opened):
            session = opened
        }
        defer { session.client.quit() }
        ledger.record(.loggedIn(method: session.method.rawValue))
        if let note = try session.settleIn(pacing) { ledger.record(.note(note)) }
        let listing = try MailboxListing.plan(
            session.client, source: session.source, store: store,
            mailboxID: mailboxID, ledger: ledger)
        try fetchAll(listing, session)
        guard !StopSignal.requested else { return }
        try checkpointer.settle()
        if let retention = Retention(session.source, store: store, mailboxID: mailboxID) {
            ledger.record(.removed(try retention.apply(session.client, entries: listing.entries)))
        }
    }

    /// Every planned message in turn. A failure that stops the mailbox leaves the rest (and this message, unless it
    /// was counted) pending for the next run.
    private func fetchAll(_ listing: MailboxListing, _ session: SourceSession) throws {
        let items = listing.items
        let limit = session.source.maxMessageBytes
        // Only what may be fetched is pipelined: a message LIST says is too large is never asked for.
        let numbers = items.filter { $0.entry.size <= limit }.map(\.entry.number)
        var fetched = 0
        observer?.mailboxPlanned(mailbox, messages: items.count, bytes: items.reduce(0) { $0 + $1.entry.size })
        let spool = try SpoolFile(path: "\(spoolFolder)/\(mailboxID).eml")
        defer { spool.discard() }
        let listed = ListedUIDLs(listing.entries)
        let client = session.client
        for (index, item) in items.enumerated() {
            if StopSignal.requested {
                ledger.record(.pending(items.count - index))
                break
            }
            let number = item.entry.number
            if item.entry.size > limit {
                try refuseTooLarge(item, size: "\(item.entry.size) bytes by LIST", source: session.source)
                observer?.messageSettled(mailbox, bytes: item.entry.size)
                continue
            }
            fetched += 1
            do {
                try transferOne(
                    item, upcoming: numbers[fetched...], limit: limit, client: client, spool: spool,
                    listed: listed)
            } catch let error as MailError where error.code == .tooLarge {
                try refuseTooLarge(
                    item, size: "more than \(limit) bytes by RETR (LIST said \(item.entry.size))",
                    source: session.source)
                throw SessionCutOff()
            } catch let error as MailError where !client.botched && client.refusedRetrieval == number {
                // This one message was refused (deleted meanwhile?); the session is fine, go on.
                try setAside(item, MailError(.transient, error.message))
                ledger.record(.messageError(error.message))
            } catch {
                ledger.record(.pending(items.count - index - (ledger.counted(message: number) ? 1 : 0)))
                throw error
            }
            observer?.messageSettled(mailbox, bytes: item.entry.size)
        }
    }

    private func transferOne(
        _ item: WorkItem, upcoming: ArraySlice<Int>, limit: Int, client: POP3Client,
        spool: SpoolFile, listed: ListedUIDLs
    ) throws {
        let entry = item.entry
        try spool.rewind()
        try checkpointer.flushIfDue()
        try retrieve(item, upcoming: upcoming, limit: limit, client: client, spool: spool)
        try spool.finish()
        // The previous message's "delivered" commit ran while this one was fetched.
        try checkpointer.keepUp()
        CrashPoint.hit("after-retr")
        if spool.size != entry.size && ledger.noteCount < 50 {
            ledger.record(
                .note(
                    "message \(sanitizeForDisplay(entry.uidl)): LIST said \(entry.size) bytes, RETR "
                        + "gave \(spool.size)"))
        }
        let row: MessageRecord
        switch item {
        case .known(let known, _):
            row = known
        case .byContent:
            var identified = entry
            identified.uidl = "\(entry.uidl.prefix(50))#\(spool.sha256.prefix(16))"
            guard let fresh = try store.messageNeedingWork(mailbox: mailboxID, entry: identified) else { return }
            row = fresh
        }
        try deliverOne(row, spool: spool, listed: listed, number: entry.number)
    }

    /// RETR into the spool, within the size limit and the slowest rate allowed. A session that breaks in the middle
    /// counts against the message, so one that breaks every session is set aside after `quarantineAfter` tries
    /// instead of holding up the rest for good.
    private func retrieve(
        _ item: WorkItem, upcoming: ArraySlice<Int>, limit: Int, client: POP3Client,
        spool: SpoolFile
    ) throws {
        let entry = item.entry
        let started = monotonicSeconds()
        // Each read has its timeout; a server that trickles a body just fast enough to meet it is cut off once the
        // grace is over and the message has come slower than the floor on average.
        let grace = 2 * client.endpoint.timeout
        do {
            try client.retrieve(entry.number, upcoming: upcoming) { chunk in
                // LIST may lie, and a body may never end: stop reading at the limit, whatever was announced.
                if spool.size + chunk.count > limit {
                    throw MailError(
                        .permanent, "message \(entry.number) is larger than \(limit) bytes",
                        code: .tooLarge)
                }
                try spool.append(chunk)
                let elapsed = monotonicSeconds() - started
                if elapsed > grace && Double(spool.size) < elapsed * Self.slowestRetrieval {
                    throw MailError(
                        .transient,
                        "message \(entry.number) came too slowly: \(spool.size) bytes in "
                            + "\(Int(elapsed)) s, less than \(Int(Self.slowestRetrieval)) bytes/s; the session was cut")
                }
            }
        } catch let error as MailError where client.botched && error.code != .tooLarge && !StopSignal.requested {
            if case .known(let row, _) = item {
                let attempts = try store.noteRetrievalFailure(id: row.id, error: error.message)
                if attempts >= plan.quarantineAfter {
                    try store.markQuarantined(
                        id: row.id, kind: error.kind,
                        error: "quarantined after \(attempts) "
                            + "retrievals broke the session: \(error.message)")
                    ledger.record(.settled(.quarantined(attempts: attempts)), for: entry.number)
                    ledger.record(
                        .messageError(
                            "message \(sanitizeForDisplay(row.uidl)) quarantined after "
                                + "\(attempts) retrievals broke the session: \(error.message)"))
                }
            }
            throw error
        }
    }

    /// A retrieval the server refused: deferred, or quarantined after `quarantineAfter` tries (it counts as one).
    private func setAside(_ item: WorkItem, _ error: MailError) throws {
        guard case .known(let row, _) = item else {
            ledger.record(.settled(.deferred(retryAt: Date().timeIntervalSince1970)), for: item.entry.number)
            return
        }
        let disposition = Disposition.setAside(
            error.kind, attempts: row.attempts + 1,
            quarantineAfter: plan.quarantineAfter,
            now: Date().timeIntervalSince1970)
        try store.record(disposition, id: row.id, kind: error.kind, error: error.message, countAttempt: true)
        ledger.record(.settled(disposition), for: item.entry.number)
    }

    /// Sets a message larger than `maxMessageBytes` aside for good (failed, quarantined; it stays on the server),
    /// with an error that names the mailbox, the UIDL, the size and the setting.
    private func refuseTooLarge(_ item: WorkItem, size: String, source: Plan.Source) throws {
        let message =
            "message \(sanitizeForDisplay(item.entry.uidl)) of \(mailbox.key) refused: \(size), more "
            + "than maxMessageBytes (\(source.maxMessageBytes)) of sources.\(source.name); left on the server"
        if case .known(let row, _) = item {
            try store.markQuarantined(id: row.id, kind: .permanent, error: message)
            ledger.record(.settled(.quarantined(attempts: row.attempts)), for: item.entry.number)
        } else {
            ledger.record(.settled(.deferred(retryAt: Date().timeIntervalSince1970)), for: item.entry.number)
        }
        ledger.record(.messageError(message))
    }

    /// A retrieved message: a copy already delivered under a vanished UIDL is a duplicate; else its envelope is
    /// recovered and it goes to the mailbox's target, or through the catch-all's routing.
    private func deliverOne(_ row: MessageRecord, spool: SpoolFile, listed: ListedUIDLs, number: Int) throws {
        if let original = try store.deliveredCopy(
            mailbox: mailboxID, sha256: spool.sha256, excluding: row.id,
            isListed: listed.contains)
        {
            try store.markDuplicate(id: row.id, of: original.id, size: spool.size, sha256: spool.sha256)
            ledger.record(.duplicate(uidl: row.uidl, of: original.uidl), for: number)
            return
        }
        // What survives of the SMTP envelope: sender, recipients with provenance, the original arrival time.
        let headers = HeaderBlock(parsing: try spool.head(HeaderBlock.Limits.default.readBytes))
        let firstSeen = Date(timeIntervalSince1970: row.firstSeenAt)
        let envelope = mailbox.envelopeRecovery.recover(headers, firstSeen: firstSeen)
        let message = FetchedMessage(
            spool: spool, envelope: envelope,
            messageID: headers.first("Message-ID").map { $0.text.trimmingSpaces() },
            dateHeader: headers.first("Date").map { $0.text.trimmingSpaces() })
        ledger.record(.envelope(envelope))
        if let splitter {
            try splitter.deliver(row, message, headers: headers, number: number, in: self)
            return
        }
        let columns = Store.EnvelopeColumns(
            messageID: message.messageID, dateHeader: message.dateHeader,
            json: StoredEnvelope(envelope: envelope).json(),
            arrival: envelope.arrival)
        let attempt = Checkpointer.Row(
            record: row, address: mailbox.address,
            token: token(key: mailbox.key, uidl: row.uidl, message: message),
            credit: .delivered(bytes: spool.size), message: number)
        _ = try checkpointer.attempt([attempt], message: message, envelope: columns, mayStage: true)
    }

    /// Bytes per second below which a retrieval, on average and past its grace, is cut off as stalled.
    static let slowestRetrieval = 1024.0
    /// Sessions one mailbox may use in a run: each message cut off mid-RETR for its size costs one.
    static let maxSessionsPerMailbox = 8
}

/// The POP3 session had to stop reading in the middle of a reply (a message too large): it cannot go on.
struct SessionCutOff: Error, CustomStringConvertible {
    var description: String {
        "too many messages were cut off for their size; the rest of the mailbox waits for the next run"
    }
}
