import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

extension MailboxRun {
    /// Fetches and delivers what the listing asks for. A message cut off for being too large leaves its session
    /// mid-reply: a fresh one fetches the rest. So does a session ended while a slow target held the run.
    func transferAll() throws {
        var sessions = 1
        var resumed = 0
        while true {
            do {
                try transfer()
                return
            } catch is SessionCutOff where sessions < Self.maxSessionsPerMailbox {
                sessions += 1
            } catch is SessionParked {
                resumed += 1
                guard resumed <= Self.maxResumedSessions else {
                    throw MailError(
                        .transient,
                        "the POP3 session was ended \(Self.maxResumedSessions) times while a slow target held the "
                            + "run; the rest of the mailbox waits for the next run")
                }
                ledger.record(
                    .note(
                        "the POP3 session was ended while the run waited for the target (QUIT after maxIdleSeconds, "
                            + "or lost), and the run resumed in a new session"))
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
        let expireNote = try session.settleIn(pacing)
        if let expireNote { ledger.record(.note(expireNote)) }
        // While the run waits for a target, the session is kept (NOOP) and, after maxIdleSeconds, ended.
        let keeper = SourceKeeper(
            client: session.client,
            clock: session.source.idleClock(
                loginDelay: session.client.capabilities.loginDelay ?? session.before.loginDelay),
            expiresRetrieved: expireNote != nil)
        defer { stopKeeper(keeper) }
        let listing = try MailboxListing.plan(
            session.client, source: session.source, store: store,
            mailboxID: mailboxID, ledger: ledger)
        try fetchAll(listing, session, keeper: keeper)
        guard !StopSignal.requested else { return }
        try keeper.waiting { try checkpointer.settle() }
        if let retention = Retention(session.source, store: store, mailboxID: mailboxID) {
            // Retention needs the session; a new one lists again first.
            if keeper.parked { throw SessionParked() }
            ledger.record(.removed(try retention.apply(session.client, entries: listing.entries)))
        }
    }

    /// Ends a session's keeper and notes what it did.
    private func stopKeeper(_ keeper: SourceKeeper) {
        keeper.stop()
        let done = keeper.report
        if done.keepalives > 0 {
            ledger.record(
                .note(
                    "\(done.keepalives) NOOP\(done.keepalives == 1 ? "" : "s") kept the POP3 session while the run "
                        + "waited for a slow target"))
        }
        if let lost = done.lost {
            ledger.record(.note("the POP3 session was lost while the run waited for the target: \(lost)"))
        }
    }

    /// Every planned message in turn. A failure that stops the mailbox leaves the rest (and this message, unless it
    /// was counted) pending for the next run.
    private func fetchAll(_ listing: MailboxListing, _ session: SourceSession, keeper: SourceKeeper) throws {
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
            // The keeper ended the session while a target held the run: a new one goes on from here.
            if keeper.parked { throw SessionParked() }
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
                    listed: listed, keeper: keeper, legacyUIDL: listing.legacyUIDL(of: item.entry))
            } catch let parked as SessionParked {
                throw parked
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
        spool: SpoolFile, listed: ListedUIDLs, keeper: SourceKeeper, legacyUIDL: String?
    ) throws {
        try spool.rewind()
        try keeper.waiting(judgesTarget: false) { try checkpointer.flushIfDue() }
        if keeper.parked { throw SessionParked() }
        keeper.sourceActive()
        // Nothing is pipelined ahead while the target is slow: a NOOP would have to read it all first.
        try retrieve(
            item, upcoming: keeper.pipelining ? upcoming : [], limit: limit, client: client, spool: spool)
        try spool.finish()
        try keeper.waiting { try handle(item, spool: spool, listed: listed, legacyUIDL: legacyUIDL) }
    }

    /// A retrieved message, from its checkpoint on.
    private func handle(_ item: WorkItem, spool: SpoolFile, listed: ListedUIDLs, legacyUIDL: String?) throws {
        let entry = item.entry
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
        try deliverOne(row, spool: spool, listed: listed, number: entry.number, legacyUIDL: legacyUIDL)
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
                // A test breaks the N-th message's retrieval after its first chunk, as a dropped connection does.
                if spool.size == chunk.count, let fault = FaultPoint.environment, fault.fails("pop3-retrieve") {
                    throw MailError(
                        .transient, "message \(entry.number): the connection dropped (fault point pop3-retrieve)")
                }
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
                // What the broken retrieval saw of the header: all a report can say of it should it vanish.
                try? SeenHeader(partial: spool).keep(row.id, in: store)
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
    private func deliverOne(
        _ row: MessageRecord, spool: SpoolFile, listed: ListedUIDLs, number: Int, legacyUIDL: String?
    ) throws {
        // A copy under a listed UIDL is a twin the person also has; under this message's own UIDL (its row named
        // while the UIDL was shared, or before) it is this very message.
        let family = ListedUIDLs.family(row.uidl)
        if let original = try store.deliveredCopy(
            mailbox: mailboxID, sha256: spool.sha256, excluding: row.id,
            isListed: { listed.contains($0) && ListedUIDLs.family($0) != family })
        {
            try store.markDuplicate(id: row.id, of: original.id, size: spool.size, sha256: spool.sha256)
            ledger.record(.duplicate(uidl: row.uidl, of: original.uidl), for: number)
            return
        }
        // What survives of the SMTP envelope: sender, recipients with provenance, the original arrival time.
        let headers = HeaderBlock(parsing: try spool.head(HeaderBlock.Limits.default.readBytes))
        let firstSeen = Date(timeIntervalSince1970: row.firstSeenAt)
        let envelope = mailbox.envelopeRecovery.recover(headers, firstSeen: firstSeen)
        // Only a person's own message keeps its legacy UIDL: a catch-all's routed copy was never theirs under it.
        let message = FetchedMessage(
            spool: spool, envelope: envelope,
            messageID: headers.first("Message-ID").map { $0.text.trimmingSpaces() },
            dateHeader: headers.first("Date").map { $0.text.trimmingSpaces() },
            pop3UIDL: splitter == nil ? legacyUIDL : nil)
        ledger.record(.envelope(envelope))
        // A message that is not delivered now keeps what its header says, for the report should it vanish.
        let seen = SeenHeader(headers)
        do {
            if try !deliver(row, message, headers: headers, number: number) { try seen.keep(row.id, in: store) }
        } catch {
            try? seen.keep(row.id, in: store)
            throw error
        }
    }

    /// Delivers a retrieved message to the mailbox's target, or through the catch-all's routing. Returns false when
    /// it was not delivered (nor staged): refused, deferred or set aside.
    private func deliver(_ row: MessageRecord, _ message: FetchedMessage, headers: HeaderBlock, number: Int) throws
        -> Bool
    {
        if let splitter { return try splitter.deliver(row, message, headers: headers, number: number, in: self) }
        let columns = Store.EnvelopeColumns(
            messageID: message.messageID, dateHeader: message.dateHeader,
            json: StoredEnvelope(envelope: message.envelope).json(),
            arrival: message.envelope.arrival)
        let attempt = Checkpointer.Row(
            record: row, address: mailbox.address,
            token: token(key: mailbox.key, uidl: row.uidl, message: message),
            credit: .delivered(bytes: message.spool.size), message: number)
        let results = try checkpointer.attempt([attempt], message: message, envelope: columns, mayStage: true)
        return !results.contains { if case .settled = $0 { true } else { false } }
    }

    /// Bytes per second below which a retrieval, on average and past its grace, is cut off as stalled.
    static let slowestRetrieval = 1024.0
    /// Sessions one mailbox may use in a run: each message cut off mid-RETR for its size costs one.
    static let maxSessionsPerMailbox = 8
    /// Sessions resumed in a run after the keeper ended one (each after a wait of maxIdleSeconds that ended with a
    /// message delivered or settled): a bound that is never reached in practice.
    static let maxResumedSessions = 1000
}

/// The source's session was ended (or lost) while a target held the run: a new one lists and goes on.
struct SessionParked: Error, CustomStringConvertible {
    var description: String { "the POP3 session was ended while the run waited for its target" }
}

/// The POP3 session had to stop reading in the middle of a reply (a message too large): it cannot go on.
struct SessionCutOff: Error, CustomStringConvertible {
    var description: String {
        "too many messages were cut off for their size; the rest of the mailbox waits for the next run"
    }
}
