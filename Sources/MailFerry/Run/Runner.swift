import Foundation
import Synchronization
import MailCore
import MailSystem
import MailWire
import MailStore

/// Options of one `mailferry run`.
public struct RunOptions: Sendable {
    /// Mailboxes worked on at once; nil means the plan's `parallel`.
    public var parallel: Int?
    /// List what would be fetched and what a retention policy would delete, without fetching, delivering,
    /// deleting or recording anything.
    public var dryRun: Bool
    public init(parallel: Int? = nil, dryRun: Bool = false) {
        self.parallel = parallel
        self.dryRun = dryRun
    }
}

/// Receives what the runner does, as it happens (terminal output, tests).
public protocol RunObserver: Sendable {
    func mailboxStarted(_ mailbox: Plan.Mailbox)
    /// The mailbox is listed: `messages` (of `bytes` in all, by the server's sizes) are to be fetched this run.
    func mailboxPlanned(_ mailbox: Plan.Mailbox, messages: Int, bytes: Int)
    /// One of the planned messages is done with, whatever came of it (delivered, duplicate, set aside).
    func messageSettled(_ mailbox: Plan.Mailbox, bytes: Int)
    func mailboxFinished(_ result: MailboxResult)
}

extension RunObserver {
    public func mailboxPlanned(_ mailbox: Plan.Mailbox, messages: Int, bytes: Int) {}
    public func messageSettled(_ mailbox: Plan.Mailbox, bytes: Int) {}
}

/// Drives a plan: every mailbox through POP3 listing, retrieval and delivery, with the checkpoint kept in the store.
public final class Runner: Sendable {
    public let plan: Plan
    let store: Store
    let spoolFolder: String
    let observer: (any RunObserver)?
    /// `run --verbose` / `--trace FILE`: every session's commands and replies, secrets redacted by the clients.
    let trace: ProtocolTrace?

    /// `cleanSpool: false` for read-only uses (route previews) that may run beside a run holding the lock.
    public init(plan: Plan, store: Store, observer: (any RunObserver)? = nil, cleanSpool: Bool = true,
                trace: ProtocolTrace? = nil) throws {
        self.plan = plan
        self.store = store
        self.observer = observer
        self.trace = trace
        spoolFolder = (plan.statePath as NSString).deletingLastPathComponent + "/spool-\(plan.name)"
            + (plan.shard.map { "-shard-\($0.index)-of-\($0.count)" } ?? "")
        do {
            try FileManager.default.createDirectory(atPath: spoolFolder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            // Spool files are only ever half-way: left behind by a crash, they are fetched again.
            for name in try FileManager.default.contentsOfDirectory(atPath: spoolFolder) where cleanSpool {
                unlink("\(spoolFolder)/\(name)")
            }
        } catch {
            throw MailError(.local, "cannot prepare spool folder \(spoolFolder): \(error.localizedDescription)")
        }
    }

    /// Migrates every mailbox of the plan once. Never throws for a mailbox's trouble: that goes into its result.
    public func run(options: RunOptions = RunOptions(), runID: String) -> [MailboxResult] {
        let results = Mutex<[String: MailboxResult]>([:])
        let sources = plan.sources
        let mailboxes = plan.selectedMailboxes
        let pool = WorkerPool(jobs: mailboxes, group: { $0.source },
                              limit: { sources[$0]?.maxConnections ?? 1 })
        pool.run(threads: min(options.parallel ?? plan.parallel, max(1, mailboxes.count))) { mailbox in
            self.observer?.mailboxStarted(mailbox)
            let result = options.dryRun ? self.preview(mailbox) : self.migrate(mailbox)
            results.withLock { $0[mailbox.key] = result }
            self.observer?.mailboxFinished(result)
        }
        let collected = results.withLock { $0 }
        return mailboxes.compactMap { collected[$0.key] }
    }

    // MARK: - One mailbox

    func migrate(_ mailbox: Plan.Mailbox) -> MailboxResult {
        let started = Date()
        var result = MailboxResult(key: mailbox.key, address: mailbox.address, target: mailbox.target)
        var mailboxID: Int64?
        do {
            let id = try store.registerMailbox(key: mailbox.key, source: mailbox.source, user: mailbox.user,
                                               target: mailbox.target, address: mailbox.address)
            mailboxID = id
            let targets = TargetPool { address in try self.makeDelivery(for: mailbox, address: address) }
            defer {
                // Whatever stopped the mailbox, staged deliveries are flushed and their checkpoints committed.
                try? settle(targets, &result)
                targets.closeAll()
            }
            try reconcile(mailbox, mailboxID: id, targets: targets, result: &result)
            try transferAll(mailbox, mailboxID: id, targets: targets, result: &result)
            try settle(targets, &result)
            if result.leftInDoubt != nil && !StopSignal.requested {
                // What is held in doubt is asked about once more at the end: a dead connection's APPEND has had the
                // whole run to be stored. Not a time bound (nothing is sent again for it), only fewer runs that end
                // with exit 1. A hold that ran out meanwhile sends its message now, and a catch-all message whose
                // routed delivery was held (deferred, due at once) is completed once that delivery is found.
                result.leftInDoubt = nil
                let reconciled = result.reconciled
                if try reconcile(mailbox, mailboxID: id, targets: targets, result: &result) > 0
                    || (mailbox.global != nil && result.reconciled > reconciled) {
                    try transferAll(mailbox, mailboxID: id, targets: targets, result: &result)
                    try settle(targets, &result)
                }
            }
            try store.finishPoll(mailbox: id, error: nil)
        } catch where StopSignal.requested {
            // Stopped by SIGINT/SIGTERM mid-way: not the mailbox's fault. What was in flight is abandoned safely
            // (nothing partial is delivered; an in-doubt attempt is reconciled next run).
            result.notes.append("interrupted: \((error as? MailError)?.message ?? "\(error)")")
            if result.pending == 0 { result.pending = 1 }
        } catch {
            let mailError = error as? MailError ?? MailError(.local, "\(error)")
            result.error = mailError.message
            result.errorKind = mailError.kind
            if let mailboxID { try? store.finishPoll(mailbox: mailboxID, error: mailError.message) }
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// The delivery into one target mailbox: the mailbox's own address, or for a catch-all one of the addresses its
    /// routing chose. Templates ({mailbox}, {local}, ...) are filled with that address.
    func makeDelivery(for mailbox: Plan.Mailbox, address: String) throws -> any Delivery {
        try plan.delivery(for: mailbox, address: address, trace: trace, staged: true)
    }

    /// The router of a catch-all mailbox, from its plan settings. Addresses the plan knows as people's mailboxes
    /// make "unknown local address" detectable (then the fallback gets the message); a plan listing none accepts
    /// every rewritten address.
    func router(for mailbox: Plan.Mailbox, global: Plan.GlobalRouting) throws -> Router {
        let people = Set(plan.mailboxes.filter { $0.global == nil }.map { $0.address.lowercased() })
        var rules: [RoutingRules.Rule] = []
        for rule in global.rules {
            guard let match = RoutingRules.Match(planText: rule.match) else {
                throw MailError(.permanent, "global routing rule \"\(sanitizeForDisplay(rule.match))\" cannot be read")
            }
            rules.append(RoutingRules.Rule(match: match, mailbox: rule.mailbox))
        }
        let fallback = global.fallback ?? mailbox.address
        let settings = RoutingRules(domains: global.domains, rewrite: global.rewrite, aliases: global.aliases,
                                    rules: rules, fallback: fallback,
                                    knownMailboxes: people.isEmpty ? nil : people.union([fallback.lowercased()]))
        do {
            return try Router(settings)
        } catch {
            throw MailError(.permanent, "global routing of \(mailbox.key): "
                + error.problems.map { "\($0.setting): \($0.message)" }.joined(separator: "; "))
        }
    }

    /// Fetches and delivers what the listing asks for. A message cut off for being too large leaves its session
    /// mid-reply: a fresh one fetches the rest.
    func transferAll(_ mailbox: Plan.Mailbox, mailboxID: Int64, targets: TargetPool,
                     result: inout MailboxResult) throws {
        var sessions = 1
        while true {
            do {
                try transfer(mailbox, mailboxID: mailboxID, targets: targets, result: &result)
                return
            } catch is SessionCutOff where sessions < Self.maxSessionsPerMailbox {
                sessions += 1
            }
        }
    }

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
    func reconcile(_ mailbox: Plan.Mailbox, mailboxID: Int64, targets: TargetPool,
                   result: inout MailboxResult) throws -> Int {
        let doubtful = try store.inDoubt(mailbox: mailboxID)
        guard !doubtful.isEmpty else { return 0 }
        let now = Date().timeIntervalSince1970
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
            let attempted = Attempted(target: row.attemptTarget ?? mailbox.target,
                                      address: row.attemptAddress ?? row.address ?? mailbox.address)
            byAddress[attempted, default: []].append(row)
        }
        for (attempted, rows) in byAddress.sorted(by: { ($0.key.target, $0.key.address) < ($1.key.target,
                                                                                         $1.key.address) }) {
            let delivery: any Delivery
            if attempted.target == mailbox.target {
                delivery = try targets.delivery(for: attempted.address)
            } else {
                guard plan.targets[attempted.target] != nil else {
                    throw MailError(.permanent, "\(rows.count) message(s) were left in doubt at target "
                        + "\(attempted.target), which the plan no longer has; put that target back into the plan so "
                        + "they can be settled there (they must not be delivered twice)")
                }
                var old = mailbox
                old.target = attempted.target
                delivery = try plan.delivery(for: old, address: attempted.address, trace: trace)
            }
            defer { if attempted.target != mailbox.target { delivery.close() } }
            let attempts = rows.filter { $0.token != nil }.map(\.inDoubtAttempt)
            let found = try delivery.reconcile(attempts)
            let settle = Double(plan.targets[attempted.target]?.settleSeconds ?? 0)
            for row in rows {
                if let token = row.token, let ref = found[token] {
                    try store.markDelivered(id: row.id, targetRef: ref)
                    result.reconciled += 1
                } else if delivery.inDoubtPolicy == .search, delivery.confirmsLater(row.inDoubtAttempt),
                          try store.holdInDoubt(id: row.id, until: now + settle) > now {
                    result.noteLeftInDoubt(row.uidl)
                } else {
                    try store.markListed(id: row.id)
                    relisted += 1
                    // LMTP/SMTP cannot be asked, nor an IMAP folder for a message without Message-ID, Date or
                    // provenance header: delivered again, it may be there twice.
                    if delivery.inDoubtPolicy == .unanswerable || !delivery.confirmsLater(row.inDoubtAttempt) {
                        result.possibleDuplicates.append(row.uidl)
                    }
                }
            }
        }
        return relisted
    }

    /// One message to fetch: either its row is known from its UIDL, or (a UIDL shared by several messages) its
    /// identity comes from its content after retrieval.
    enum WorkItem {
        case known(MessageRecord, POP3Entry)
        case byContent(POP3Entry)

        var entry: POP3Entry {
            switch self {
            case .known(_, let entry), .byContent(let entry): entry
            }
        }
    }

    func transfer(_ mailbox: Plan.Mailbox, mailboxID: Int64, targets: TargetPool,
                  result: inout MailboxResult) throws {
        guard let source = plan.sources[mailbox.source] else {
            throw MailError(.local, "no source named \(mailbox.source)")
        }
        let now = Date().timeIntervalSince1970
        if let next = try store.nextLoginAllowed(mailbox: mailboxID), next > now {
            result.waiting = "the server allows the next login in \(Int(next - now)) s (LOGIN-DELAY)"
            return
        }
        let credential: POP3Credential
        if let token = mailbox.token {
            credential = .token(try token.resolve())
        } else {
            credential = .password(try mailbox.password!.resolve())
        }
        let client = POP3Client(endpoint: source.endpoint)
        client.trace = trace?.session("\(mailbox.key) pop3 \(source.endpoint.label)")
        defer { client.quit() }
        try client.connect()
        result.tlsVersion = client.tlsInfo?.version
        let before = client.capabilities
        // A later session of this mailbox in the same run logs in the way the first did: no method twice a run.
        let methods = result.authMethod.flatMap(POP3AuthMethod.init(rawValue:)).map { [$0] } ?? source.auth
        do {
            result.authMethod = try client.login(user: mailbox.user, credential: credential, allowed: methods,
                                                 planNamesMethods: source.authNamed).rawValue
        } catch let error as MailError where error.code == .pop3(.inUse) || error.code == .pop3(.loginDelay) {
            // RFC 2449 §8.1.1 / RFC 3206: someone else holds the maildrop, or it is too early. Not a failure:
            // the next run tries again (after the announced delay, if any).
            if error.code == .pop3(.loginDelay) {
                let remembered = try store.loginDelay(mailbox: mailboxID)
                let delay = before.loginDelay ?? remembered ?? 300
                try store.postponeLogin(mailbox: mailboxID, until: now + Double(delay))
            }
            result.waiting = error.message
            return
        }
        try client.refreshCapabilitiesAfterLogin()
        let after = client.capabilities
        try store.recordLogin(mailbox: mailboxID, delay: after.loginDelay ?? before.loginDelay)
        if after.known ? after.expireZero : before.expireZero {
            guard source.allowExpireZero else {
                throw MailError(.permanent, "the server announces EXPIRE 0: every message retrieved would be deleted "
                    + "from \(mailbox.user)'s mailbox, which someone may still read; refusing (set allowExpireZero: "
                    + "true on sources.\(source.name) to accept that)")
            }
            // Allowed, but the report must say what it costs: the server no longer holds what was fetched.
            result.notes.append("the server announces EXPIRE 0: messages retrieved are deleted from the server "
                + "(allowed by allowExpireZero on sources.\(source.name))")
        }
        let (items, entries) = try plannedWork(client: client, source: source, mailboxID: mailboxID, result: &result)
        let listed = ListedUIDLs(entries)
        let limit = source.maxMessageBytes
        // Only what may be fetched is pipelined: a message LIST says is too large is never asked for.
        let numbers = items.filter { $0.entry.size <= limit }.map(\.entry.number)
        var fetched = 0
        observer?.mailboxPlanned(mailbox, messages: items.count, bytes: items.reduce(0) { $0 + $1.entry.size })
        let spool = try SpoolFile(path: "\(spoolFolder)/\(mailboxID).eml")
        defer { spool.discard() }
        for (index, item) in items.enumerated() {
            if StopSignal.requested {
                result.pending += items.count - index
                break
            }
            if item.entry.size > limit {
                try refuseTooLarge(item, size: "\(item.entry.size) bytes by LIST", mailbox: mailbox, source: source,
                                   result: &result)
                observer?.messageSettled(mailbox, bytes: item.entry.size)
                continue
            }
            fetched += 1
            // Staged messages a failed flush takes back move from settled to pending: count both.
            let countedBefore = result.settled + result.pending
            do {
                try transferOne(item, upcoming: numbers[fetched...], limit: limit, client: client, spool: spool,
                                mailbox: mailbox, mailboxID: mailboxID, targets: targets, listed: listed,
                                result: &result)
            } catch let error as MailError where error.code == .tooLarge {
                try refuseTooLarge(item, size: "more than \(limit) bytes by RETR (LIST said \(item.entry.size))",
                                   mailbox: mailbox, source: source, result: &result)
                throw SessionCutOff()
            } catch let error as MailError where !client.botched && client.refusedRetrieval == item.entry.number {
                // This one message was refused (deleted meanwhile?); the session is fine, go on.
                if case .known(let row, _) = item {
                    try setAside(row, error: MailError(.transient, error.message), countAttempt: true,
                                 result: &result)
                } else {
                    result.deferred += 1
                }
                result.messageErrors.append(error.message)
            } catch {
                // The mailbox stops here (a broken POP3 session, a target in trouble, the store failing): what is
                // left, including this message unless it was already counted, waits for the next run.
                result.pending += items.count - index - (result.settled + result.pending == countedBefore ? 0 : 1)
                throw error
            }
            observer?.messageSettled(mailbox, bytes: item.entry.size)
        }
        if !StopSignal.requested {
            try settle(targets, &result)
            try applyRetention(client: client, entries: entries, source: source, mailboxID: mailboxID, dryRun: false,
                               result: &result)
        }
    }

    /// Retention (only when the plan names `deleteFromSourceAfterDays`): DELE what was confirmed delivered long
    /// enough ago, then QUIT; the rows become `removed` only once the server confirmed the QUIT.
    func applyRetention(client: POP3Client, entries: [POP3Entry], source: Plan.Source, mailboxID: Int64,
                        dryRun: Bool, result: inout MailboxResult) throws {
        guard let days = source.deleteFromSourceAfterDays else { return }
        let cutoff = Date().timeIntervalSince1970 - Double(days) * 86_400
        let removable = try store.removable(mailbox: mailboxID, deliveredBefore: cutoff)
        let doomed = entries.filter { removable.contains($0.uidl) }
        guard !doomed.isEmpty else { return }
        if dryRun {
            result.notes.append("would delete \(doomed.count) message(s) from the server (delivered over \(days) "
                + "days ago): " + doomed.prefix(20).map { "\($0.number) \(sanitizeForDisplay($0.uidl))" }
                .joined(separator: ", ") + (doomed.count > 20 ? ", …" : ""))
            return
        }
        try client.deleteAndQuit(doomed.map(\.number))
        try store.markRemoved(mailbox: mailboxID, uidls: doomed.map(\.uidl))
        result.removed = doomed.count
    }

    /// `run --dry-run` for one mailbox: logs in and lists, then says what a run would fetch and delete. Nothing is
    /// fetched, delivered, deleted or recorded.
    func preview(_ mailbox: Plan.Mailbox) -> MailboxResult {
        let started = Date()
        var result = MailboxResult(key: mailbox.key, address: mailbox.address, target: mailbox.target)
        do {
            guard let source = plan.sources[mailbox.source] else {
                throw MailError(.local, "no source named \(mailbox.source)")
            }
            let credential: POP3Credential = try mailbox.token.map { .token(try $0.resolve()) }
                ?? .password(try mailbox.password!.resolve())
            let client = POP3Client(endpoint: source.endpoint)
            client.trace = trace?.session("\(mailbox.key) pop3 \(source.endpoint.label)")
            defer { client.quit() }
            try client.connect()
            result.tlsVersion = client.tlsInfo?.version
            result.authMethod = try client.login(user: mailbox.user, credential: credential,
                                                 allowed: source.auth, planNamesMethods: source.authNamed).rawValue
            let listing = try client.maildrop()
            result.onServer = listing.entries.count
            let id = try store.mailboxID(key: mailbox.key)
            let known = try id.map { try store.knownSizes(mailbox: $0) } ?? [:]
            let fresh = listing.entries.filter { known[$0.uidl] == nil }
            result.new = fresh.count
            result.notes.append("would fetch \(fresh.count) new message(s), \(formatBytes(fresh.reduce(0) { $0 + $1.size }))"
                + (listing.hasUIDL ? "" : " (the server has no UIDL)"))
            if let id {
                try applyRetention(client: client, entries: listing.entries, source: source, mailboxID: id,
                                   dryRun: true, result: &result)
            }
        } catch {
            let mailError = error as? MailError ?? MailError(.local, "\(error)")
            result.error = mailError.message
            result.errorKind = mailError.kind
        }
        result.seconds = Date().timeIntervalSince(started)
        return result
    }

    /// Lists the maildrop, records new UIDLs and returns what to fetch, in the server's order.
    func plannedWork(client: POP3Client, source: Plan.Source, mailboxID: Int64,
                     result: inout MailboxResult) throws -> (items: [WorkItem], entries: [POP3Entry]) {
        let listing = try client.maildrop()
        result.onServer = listing.entries.count
        var entries = listing.entries
        if !listing.hasUIDL {
            guard source.withoutUIDL == .headerFingerprint else {
                throw MailError(.permanent, "the server does not support UIDL, so messages cannot be told apart "
                    + "across runs; set withoutUIDL: \"header-fingerprint\" on sources.\(source.name) to identify "
                    + "them by their headers instead")
            }
            for index in entries.indices {
                entries[index].uidl = "hdr:" + (try client.headerFingerprint(entries[index].number)).prefix(40)
            }
            result.notes.append("the server has no UIDL: messages identified by a fingerprint of their headers")
        }
        if !listing.invalidUIDLs.isEmpty {
            result.notes.append("\(listing.invalidUIDLs.count) message(s) have a unique id that breaks RFC 1939 "
                + "(first: message \(listing.invalidUIDLs[0])); a hash of the server's id stands in for it")
        }
        var shared = listing.duplicateUIDLs
        if !listing.hasUIDL {
            // Fingerprints stand in for UIDLs: they may collide too.
            var seen = Set<String>(minimumCapacity: entries.count)
            for entry in entries where !seen.insert(entry.uidl).inserted { shared.insert(entry.uidl) }
        }
        if !shared.isEmpty {
            let affected = entries.filter { shared.contains($0.uidl) }.count
            result.notes.append("\(affected) messages share \(shared.count) unique id(s) (a server bug): each is "
                + "fetched and told apart by its content")
        }
        let unique = shared.isEmpty ? entries : entries.filter { !shared.contains($0.uidl) }
        let known = try store.knownSizes(mailbox: mailboxID)
        try checkForUIDLReset(unique, known: known, source: source, result: &result)
        let (work, new) = try store.syncListing(mailbox: mailboxID, entries: unique, known: Set(known.keys))
        result.new += new
        if work.isEmpty && shared.isEmpty { return ([], entries) }  // a poll with nothing new: the usual cron run
        let byUIDL = Dictionary(uniqueKeysWithValues: unique.map { ($0.uidl, $0) })
        let items = work.map { WorkItem.known($0, byUIDL[$0.uidl]!) }
            + entries.filter { shared.contains($0.uidl) }.map { WorkItem.byContent($0) }
        return (items.sorted { $0.entry.number < $1.entry.number }, entries)
    }

    /// The circuit breaker for renumbered UIDLs (a provider migration): many unknown UIDLs whose LIST sizes match
    /// messages delivered earlier whose UIDLs vanished. Sizes alone can collide, a mass of them cannot.
    func checkForUIDLReset(_ entries: [POP3Entry], known: [String: Int], source: Plan.Source,
                           result: inout MailboxResult) throws {
        guard known.count >= 10 else { return }
        let unknown = entries.filter { known[$0.uidl] == nil }
        guard unknown.count >= 10 else { return }
        let listed = Set(entries.map(\.uidl))
        var vanishedSizes: [Int: Int] = [:]
        for (uidl, size) in known where !listed.contains(uidl) { vanishedSizes[size, default: 0] += 1 }
        var matching = 0
        for entry in unknown where (vanishedSizes[entry.size] ?? 0) > 0 {
            vanishedSizes[entry.size]! -= 1
            matching += 1
        }
        guard matching >= 10 && matching * 2 >= unknown.count else { return }
        let summary = "\(unknown.count) of the \(entries.count) messages listed have unique ids never seen before, "
            + "and \(matching) of them have exactly the size of a message delivered earlier whose id is gone"
        switch source.onUIDLReset {
        case .stop:
            throw MailError(.permanent, "UIDL reset suspected: \(summary). The server seems to have renumbered its "
                + "messages (a provider migration?); nothing was fetched. If so, set onUIDLReset: \"rekey\" on "
                + "sources.\(source.name): messages already delivered are then recognised by their content and not "
                + "delivered again")
        case .rekey:
            result.notes.append("UIDL reset: \(summary); re-keying by content (onUIDLReset: rekey)")
        }
    }

    func transferOne(_ item: WorkItem, upcoming: ArraySlice<Int>, limit: Int, client: POP3Client, spool: SpoolFile,
                     mailbox: Plan.Mailbox, mailboxID: Int64, targets: TargetPool, listed: ListedUIDLs,
                     result: inout MailboxResult) throws {
        let entry = item.entry
        try spool.rewind()
        try settleUnconfirmed(targets.flushIfDue(), result: &result)
        let started = monotonicSeconds()
        // Each read has its timeout; a server that trickles a body just fast enough to meet it is cut off once the
        // grace is over and the message has come slower than the floor on average.
        let grace = 2 * client.endpoint.timeout
        do {
            try client.retrieve(entry.number, upcoming: upcoming) { chunk in
                // LIST may lie, and a body may never end: stop reading at the limit, whatever was announced.
                if spool.size + chunk.count > limit {
                    throw MailError(.permanent, "message \(entry.number) is larger than \(limit) bytes",
                                    code: .tooLarge)
                }
                try spool.append(chunk)
                let elapsed = monotonicSeconds() - started
                if elapsed > grace && Double(spool.size) < elapsed * Self.slowestRetrieval {
                    throw MailError(.transient, "message \(entry.number) came too slowly: \(spool.size) bytes in "
                        + "\(Int(elapsed)) s, less than \(Int(Self.slowestRetrieval)) bytes/s; the session was cut")
                }
            }
        } catch let error as MailError where client.botched && error.code != .tooLarge && !StopSignal.requested {
            // The session broke in the middle of this message: count it against the message, so one that breaks
            // every session is set aside after `quarantineAfter` tries instead of holding up the rest for good.
            if case .known(let row, _) = item {
                let attempts = try store.noteRetrievalFailure(id: row.id, error: error.message)
                if attempts >= plan.quarantineAfter {
                    try store.markQuarantined(id: row.id, kind: error.kind, error: "quarantined after \(attempts) "
                        + "retrievals broke the session: \(error.message)")
                    result.quarantined += 1
                    result.messageErrors.append("message \(sanitizeForDisplay(row.uidl)) quarantined after "
                        + "\(attempts) retrievals broke the session: \(error.message)")
                }
            }
            throw error
        }
        try spool.finish()
        // The previous message's "delivered" commit ran while this one was fetched.
        try keepUp(targets, &result)
        CrashPoint.hit("after-retr")
        if spool.size != entry.size && result.notes.count < 50 {
            result.notes.append("message \(sanitizeForDisplay(entry.uidl)): LIST said \(entry.size) bytes, RETR "
                + "gave \(spool.size)")
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
        try deliverOne(row, spool: spool, mailbox: mailbox, mailboxID: mailboxID, targets: targets, listed: listed,
                       result: &result)
    }

    /// Bytes per second below which a retrieval, on average and past its grace, is cut off as stalled.
    static let slowestRetrieval = 1024.0
    /// Sessions one mailbox may use in a run: each message cut off mid-RETR for its size costs one.
    static let maxSessionsPerMailbox = 8

    /// The POP3 session had to stop reading in the middle of a reply (a message too large): it cannot go on.
    struct SessionCutOff: Error, CustomStringConvertible {
        var description: String {
            "too many messages were cut off for their size; the rest of the mailbox waits for the next run"
        }
    }

    /// Sets a message larger than `maxMessageBytes` aside for good (failed, quarantined; it stays on the server),
    /// with an error that names the mailbox, the UIDL, the size and the setting.
    func refuseTooLarge(_ item: WorkItem, size: String, mailbox: Plan.Mailbox, source: Plan.Source,
                        result: inout MailboxResult) throws {
        let message = "message \(sanitizeForDisplay(item.entry.uidl)) of \(mailbox.key) refused: \(size), more "
            + "than maxMessageBytes (\(source.maxMessageBytes)) of sources.\(source.name); left on the server"
        if case .known(let row, _) = item {
            try store.markQuarantined(id: row.id, kind: .permanent, error: message)
            result.quarantined += 1
        } else {
            result.deferred += 1
        }
        result.messageErrors.append(message)
    }

    /// The token a catch-all message's own row carries while its routed deliveries are under way.
    static let routedToken = "routed"

    func deliverOne(_ row: MessageRecord, spool: SpoolFile, mailbox: Plan.Mailbox, mailboxID: Int64,
                    targets: TargetPool, listed: ListedUIDLs, result: inout MailboxResult) throws {
        if let original = try store.deliveredCopy(mailbox: mailboxID, sha256: spool.sha256, excluding: row.id,
                                                  isListed: listed.contains) {
            try store.markDuplicate(id: row.id, of: original.id, size: spool.size, sha256: spool.sha256)
            result.noteDuplicate(uidl: row.uidl, of: original.uidl)
            return
        }
        // What survives of the SMTP envelope: sender, recipients with provenance, the original arrival time.
        let headers = HeaderBlock(parsing: try spool.head(HeaderBlock.Limits.default.readBytes))
        let firstSeen = Date(timeIntervalSince1970: row.firstSeenAt)
        let envelope = mailbox.envelopeRecovery.recover(headers, firstSeen: firstSeen)
        let messageID = headers.first("Message-ID").map { $0.text.trimmingSpaces() }
        let dateHeader = headers.first("Date").map { $0.text.trimmingSpaces() }
        result.countEnvelope(envelope)
        let message = Message(spool: spool, envelope: envelope, messageID: messageID, dateHeader: dateHeader)

        guard let global = mailbox.global else {
            let columns = Store.EnvelopeColumns(messageID: messageID, dateHeader: dateHeader,
                                                json: StoredEnvelope(envelope: envelope).json(),
                                                arrival: envelope.arrival)
            if try attempt(row, address: mailbox.address, key: mailbox.key, message: message, envelope: columns,
                           mailbox: mailbox, targets: targets, mayStage: true, result: &result) {
                result.delivered += 1
                result.bytes += spool.size
            }
            return
        }
        // A catch-all: route to each target mailbox once; each routed delivery has its own checkpoint row.
        let decision = try router(for: mailbox, global: global).route(envelope, headers: headers)
        try store.recordEnvelope(id: row.id, messageID: messageID, dateHeader: dateHeader,
                                 json: StoredEnvelope(envelope: envelope, routing: decision).json())
        try store.markDelivering(id: row.id, target: mailbox.target, token: Runner.routedToken, size: spool.size,
                                 sha256: spool.sha256)
        var finished = 0
        var failedRoutes = 0
        var held = 0
        var waiting: [(row: MessageRecord, address: String)] = []
        for routed in decision.deliveries {
            let child = try store.routedDelivery(parent: row, mailbox: mailboxID, address: routed.mailbox)
            if child.state == .delivered {
                finished += 1
            } else if child.state == .failed || child.state == .duplicate {
                failedRoutes += 1
            } else if child.state == .delivering {
                // Held in doubt by `reconcile` (an IMAP folder that may still store it): not sent again now.
                held += 1
            } else {
                waiting.append((child, routed.mailbox))
            }
        }
        let columns = Store.EnvelopeColumns(messageID: messageID, dateHeader: dateHeader, json: "{}")
        let routes = Dictionary(decision.deliveries.map { ($0.mailbox, $0) }, uniquingKeysWith: { first, _ in first })
        // The fallback copy may carry why it is there (global.reasonHeader): other bytes, so it goes on its own.
        var alone: [(row: MessageRecord, address: String)] = []
        if global.reasonHeader {
            alone = waiting.filter { routes[$0.address]?.isFallback == true }
            waiting.removeAll { routes[$0.address]?.isFallback == true }
        }
        if waiting.count > 1, plan.targets[mailbox.target]?.carriesEnvelope == true {
            // LMTP and SMTP take every routed recipient in one transaction (one RCPT each) and answer per recipient.
            let outcome = try attemptTogether(waiting, message: message, envelope: columns, mailbox: mailbox,
                                              targets: targets, result: &result)
            finished += outcome.delivered
            failedRoutes += outcome.failed
            result.routed += outcome.delivered
            for (child, address) in waiting {
                guard let routed = routes[address], routed.isFallback || routed.isGuessed,
                      try store.message(id: child.id)?.state == .delivered else { continue }
                result.noteRouting(uidl: row.uidl, routed)
            }
        } else {
            alone = waiting + alone
        }
        for (child, address) in alone {
            var copy = message
            if global.reasonHeader, let routed = routes[address], routed.isFallback {
                let field = RoutingHeader.fallbackField(reason: routed.because,
                                                        lineEnding: RoutingHeader.lineEnding(of: try spool.head(1000)))
                copy.spool = try RoutingHeader.prefixed(spool, with: field, path: spool.path + ".routing")
            }
            defer { if copy.spool !== spool { copy.spool.discard() } }
            if try attempt(child, address: address, key: "\(mailbox.key)>\(address)", message: copy,
                           envelope: columns, mailbox: mailbox, targets: targets, result: &result) {
                finished += 1
                result.routed += 1
                if let routed = routes[address] { result.noteRouting(uidl: row.uidl, routed) }
            } else if let now = try store.message(id: child.id), now.state == .failed {
                failedRoutes += 1
            }
        }
        if finished + failedRoutes == decision.deliveries.count {
            // Done only once every routed delivery's checkpoint is committed: a routed delivery left in doubt under
            // a message that is never fetched again could not be completed.
            try settle(targets, &result)
            if failedRoutes == 0 {
                try store.markDelivered(id: row.id, targetRef: "routed to " + decision.mailboxes.joined(separator: ", "))
                result.delivered += 1
                result.bytes += spool.size
            } else {
                try store.markFailed(id: row.id, kind: .permanent,
                                     error: "\(failedRoutes) of \(decision.deliveries.count) routed deliveries failed")
            }
        } else {
            // Some routed delivery waits for a later run: so does the message (it is fetched and routed again, and
            // the deliveries already made are skipped). One held in doubt is asked about again by the next run.
            try store.markDeferred(id: row.id, kind: .transient, error: "a routed delivery is deferred",
                                   retryAt: held > 0 ? Date().timeIntervalSince1970
                                       : Runner.retryTime(attempts: row.attempts + 1, kind: .transient),
                                   countAttempt: false)
        }
    }

    /// A retrieved message and what was recovered of its envelope.
    struct Message {
        var spool: SpoolFile
        var envelope: RecoveredEnvelope
        var messageID: String?
        var dateHeader: String?
    }

    /// One delivery attempt, checkpointed: "delivering" (with the envelope) committed before the target is touched,
    /// "delivered" after it confirmed. Returns whether it was delivered (or staged: see below); failures are
    /// deferred, quarantined or failed here.
    ///
    /// Every commit goes through the store's group commit (shared with the other mailboxes' workers, one fsync per
    /// group). Where the target answers exactly after a crash (`Delivery.confirmsLater`: Maildir, IMAP with a
    /// searchable message) the "delivered" commit is not waited for here but while the next message is fetched:
    /// a crash in between leaves the message in doubt, and the next run finds it in the target. LMTP and SMTP wait.
    ///
    /// Such a target may also stage the message (`mayStage`: a person's own mailbox, never a routed delivery): a
    /// Maildir batch, an IMAP APPEND pipelined behind the previous ones. It counts as delivered now; its checkpoint
    /// is queued once the target's flush answered for it, and a refusal then is settled by `settleUnconfirmed`.
    func attempt(_ row: MessageRecord, address: String, key: String, message: Message,
                 envelope: Store.EnvelopeColumns, mailbox: Plan.Mailbox, targets: TargetPool, mayStage: Bool = false,
                 result: inout MailboxResult) throws -> Bool {
        let spool = message.spool
        let token = DeliveryIdentity(plan: plan.name, mailboxKey: key, uidl: row.uidl).token(
            sha256: spool.sha256, arrival: message.envelope)
        let asked = InDoubtAttempt(token: token, messageID: message.messageID, size: spool.size,
                                   dateHeader: message.dateHeader)
        try keepUp(targets, &result)
        // A delivery that stays out of sight until its batch is flushed (Maildir's tmp/) need not wait for its
        // "delivering" checkpoint here: the flush waits for it before anything becomes visible. Every other one
        // waits, so that nothing can land in a target unknown to the next run's reconciliation.
        var delivering: GroupCommit.Pending?
        if mayStage, let open = targets.opened(for: address), open.stagesUnseen, open.confirmsLater(asked) {
            delivering = store.markDeliveringLater(id: row.id, target: mailbox.target, address: address, token: token,
                                                   size: spool.size, sha256: spool.sha256, envelope: envelope)
        } else {
            try store.markDelivering(id: row.id, target: mailbox.target, address: address, token: token,
                                     size: spool.size, sha256: spool.sha256, envelope: envelope)
            CrashPoint.hit("after-delivering-commit")
        }
        do {
            let delivery = try targets.delivery(for: address)
            let answersLater = delivery.confirmsLater(asked)
            let request = DeliveryRequest(token: token, spool: spool, arrival: message.envelope.arrival,
                                          sender: message.envelope.sender, mayStage: mayStage && answersLater)
            let outcome = try delivery.deliverToAll(request)
            let id = row.id
            if outcome.staged {
                // Acknowledged at the flush; the crash point "after-target-ack" is there.
                targets.awaitFlush(TargetPool.Staged(token: token, row: row, size: spool.size,
                                                     delivering: delivering) { reference in
                    self.store.markDeliveredLater(id: id, targetRef: reference)
                })
                return true
            }
            // Not staged after all (a target that stages unseen always stages what it may): commit before going on.
            try delivering?.wait()
            CrashPoint.hit("after-target-ack")
            if answersLater {
                targets.confirmLater(store.markDeliveredLater(id: id, targetRef: outcome.reference))
            } else {
                try store.markDelivered(id: id, targetRef: outcome.reference)
            }
            return true
        } catch let error as MailError where error.code == .inDoubt {
            // The target may have stored it: the row stays "delivering" for the next run's reconciliation (which
            // finds it, or delivers it again and, where the target cannot be asked, lists a possible duplicate).
            // The connection is gone, so the mailbox stops here.
            try delivering?.wait()
            result.messageErrors.append("message \(sanitizeForDisplay(row.uidl)): \(error.message)")
            throw error
        } catch let error as MailError {
            try settleRefusal(row, error: error, result: &result)
            if Runner.isTargetTrouble(error) { throw error }
            return false
        }
    }

    /// A refused delivery: failed for good, deferred, or set aside (quarantined after `quarantineAfter` tries). A
    /// target in trouble (`isTargetTrouble`) is not the message's fault: no attempt is counted against it, and the
    /// caller stops the mailbox, keeping the rest for later.
    func settleRefusal(_ row: MessageRecord, error: MailError, for address: String? = nil,
                       result: inout MailboxResult) throws {
        let whom = address.map { " for \($0)" } ?? ""
        result.messageErrors.append("message \(sanitizeForDisplay(row.uidl))\(whom): \(error.message)")
        switch error.kind {
        case .permanent:
            try store.markFailed(id: row.id, kind: error.kind, error: error.message)
            result.failed += 1
        case .local, .quota, .auth, .tls:
            try store.markDeferred(id: row.id, kind: error.kind, error: error.message,
                                   retryAt: Runner.retryTime(attempts: row.attempts + 1, kind: error.kind),
                                   countAttempt: false)
            result.deferred += 1
        default:
            try setAside(row, error: error, countAttempt: false, result: &result)
        }
    }

    /// The target itself is in trouble, not the message: disk full, permissions, over quota, a refused login or
    /// certificate. The mailbox stops at the first such refusal: one refused login per run, not one per message
    /// (no lockout of an admin account), and no message is quarantined for it.
    static func isTargetTrouble(_ error: MailError) -> Bool {
        [.local, .quota, .auth, .tls].contains(error.kind)
    }

    /// Between messages: flushes what the targets staged once a batch is due, and waits for queued checkpoints.
    func keepUp(_ targets: TargetPool, _ result: inout MailboxResult) throws {
        try settleUnconfirmed(targets.keepUp(), result: &result)
    }

    /// Flushes everything staged and waits until every checkpoint is committed.
    func settle(_ targets: TargetPool, _ result: inout MailboxResult) throws {
        try settleUnconfirmed(targets.settleCheckpoints(), result: &result)
    }

    /// Staged deliveries a flush did not confirm were counted delivered when staged: take them back. A refused one
    /// is settled like any refusal; one in doubt (the flush failed as a whole) stays "delivering" for the next
    /// run's reconciliation. Then the flush's own failure, or a target in trouble, stops the mailbox.
    func settleUnconfirmed(_ outcome: TargetPool.FlushOutcome, result: inout MailboxResult) throws {
        var trouble: MailError?
        for unconfirmed in outcome.unconfirmed {
            result.delivered -= 1
            result.bytes -= unconfirmed.size
            guard let error = unconfirmed.error else {
                result.pending += 1
                continue
            }
            try settleRefusal(unconfirmed.row, error: error, result: &result)
            if Runner.isTargetTrouble(error) { trouble = trouble ?? error }
        }
        if let failure = outcome.failure { throw failure }
        if let trouble { throw trouble }
    }

    /// A catch-all message's routed deliveries into an LMTP or SMTP target, in one transaction: each routed row is
    /// checkpointed "delivering" first, then MAIL FROM, one RCPT TO per recipient, DATA, and each recipient's answer
    /// settles its own row (LMTP answers per recipient after DATA; partial success is normal). Returns how many rows
    /// were delivered and how many failed for good.
    func attemptTogether(_ routed: [(row: MessageRecord, address: String)], message: Message,
                         envelope: Store.EnvelopeColumns, mailbox: Plan.Mailbox, targets: TargetPool,
                         result: inout MailboxResult) throws -> (delivered: Int, failed: Int) {
        let spool = message.spool
        try keepUp(targets, &result)
        var tokens: [String] = []
        for (row, address) in routed {
            let token = DeliveryIdentity(plan: plan.name, mailboxKey: "\(mailbox.key)>\(address)", uidl: row.uidl)
                .token(sha256: spool.sha256, arrival: message.envelope)
            try store.markDelivering(id: row.id, target: mailbox.target, address: address, token: token,
                                     size: spool.size, sha256: spool.sha256, envelope: envelope)
            tokens.append(token)
        }
        CrashPoint.hit("after-delivering-commit")
        var outcome = (delivered: 0, failed: 0)
        let answers: [RecipientResult]
        do {
            let delivery = try targets.delivery(for: routed[0].address)
            let request = DeliveryRequest(token: tokens[0], spool: spool, arrival: message.envelope.arrival,
                                          sender: message.envelope.sender, recipients: routed.map(\.address))
            let delivered = try delivery.deliverMessage(request)
            CrashPoint.hit("after-target-ack")
            answers = delivered.recipients
        } catch let error as MailError where error.code == .inDoubt {
            // The message went out and no answer came back: every routed row stays in doubt, as in `attempt`.
            result.messageErrors.append("message \(sanitizeForDisplay(routed[0].row.uidl)): \(error.message)")
            throw error
        } catch let error as MailError {
            // Nobody got it: every routed row shares the one error. A target in trouble stops the mailbox, as in
            // `attempt`.
            if Runner.isTargetTrouble(error) {
                for (row, address) in routed { try settleRefusal(row, error: error, for: address, result: &result) }
                throw error
            }
            answers = routed.map { RecipientResult(recipient: $0.address, error: error, reply: error.message) }
        }
        for (index, (row, address)) in routed.enumerated() {
            let error = index < answers.count ? answers[index].error
                : MailError(.protocol, "the server gave no answer for \(address)")
            guard let error else {
                try store.markDelivered(id: row.id, targetRef: answers[index].reply)
                outcome.delivered += 1
                continue
            }
            try settleRefusal(row, error: error, for: address, result: &result)
            if error.kind == .permanent { outcome.failed += 1 }
        }
        return outcome
    }

    /// Defers a message after a failure, or quarantines it once it has failed `quarantineAfter` times, so one
    /// poisonous message cannot hold up a mailbox run after run.
    func setAside(_ row: MessageRecord, error: MailError, countAttempt: Bool, result: inout MailboxResult) throws {
        // `attempts` counted this attempt already when it went through "delivering"; a RETR refusal counts now.
        let attempts = row.attempts + 1
        if attempts >= plan.quarantineAfter {
            try store.markQuarantined(id: row.id, kind: error.kind,
                                      error: "quarantined after \(attempts) failed attempts: \(error.message)")
            result.quarantined += 1
        } else {
            try store.markDeferred(id: row.id, kind: error.kind, error: error.message,
                                   retryAt: Runner.retryTime(attempts: attempts, kind: error.kind),
                                   countAttempt: countAttempt)
            result.deferred += 1
        }
    }

    /// Backoff for deferred messages: local trouble is worth retrying on the very next run; remote trouble waits
    /// 5 minutes, doubling per attempt up to 6 hours.
    static func retryTime(attempts: Int, kind: FailureKind) -> Double {
        let now = Date().timeIntervalSince1970
        if kind == .local || kind == .quota { return now }
        return now + min(300 * pow(2, Double(max(0, attempts - 1))), 21600)
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
        InDoubtAttempt(token: token ?? "", messageID: messageID, size: size, dateHeader: dateHeader)
    }
}

/// The UIDLs the server lists this run, as the store names their rows: a message whose copy was delivered under
/// one of them is a twin the person also has, not a duplicate (`Store.deliveredCopy`).
struct ListedUIDLs {
    private let names: Set<String>

    init(_ entries: [POP3Entry]) {
        var names = Set<String>(minimumCapacity: entries.count)
        for entry in entries {
            names.insert(entry.uidl)
            // Messages that share a UIDL (a server bug) are stored as "<first 50 characters>#<hash>".
            names.insert(String(entry.uidl.prefix(50)))
        }
        self.names = names
    }

    func contains(_ uidl: String) -> Bool {
        if names.contains(uidl) { return true }
        guard let hash = uidl.lastIndex(of: "#") else { return false }
        return names.contains(String(uidl[..<hash]))
    }
}

/// Where an attempt went: a target of the plan and its mailbox.
struct Attempted: Hashable {
    var target: String
    var address: String
}
