import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire
import Synchronization

/// `mailferry adopt PLAN`: rebuilds a lost state from the sources' listings and the targets, and delivers nothing
/// (docs/design.md, "A lost state").
///
/// Per mailbox: the source is listed (UIDLs, as a run lists them) and every message is looked for in its target:
/// - Maildir: by file name. A delivery's name carries the identity of (plan, mailbox, UIDL)
///   (`DeliveryIdentity`), so each message's file is found from the listing alone; the file's bytes give the row
///   its size and hash.
/// - IMAP: by Message-ID (or Date) and size, as an in-doubt APPEND is looked for; the message is read from the
///   source (RETR) for its exact size and hash.
/// - A catch-all's message is routed again from its headers (TOP), and each routed delivery is looked for in its
///   person's mailbox.
///
/// Found: the row is delivered. Not found: the row stays listed, and the next run delivers it. Undecidable (an LMTP
/// or SMTP target, which cannot be asked; an IMAP message with neither Message-ID nor Date): the row is set aside
/// as failed with the reason, so it is never delivered twice, and the report lists it.
package final class Adopter: Sendable {
    let plan: Plan
    let store: Store
    let runner: Runner

    package init(plan: Plan, store: Store) throws {
        self.plan = plan
        self.store = store
        runner = try Runner(plan: plan, store: store, cleanSpool: false)
    }

    package struct Outcome: Sendable {
        package var key: String
        package var onServer = 0
        package var matched = 0
        /// Not in the target: left listed, for the next run.
        package var absent = 0
        /// Set aside (failed) with the reason.
        package var undecided: [String] = []
        package var error: String?
    }

    package func run(parallel: Int) -> [Outcome] {
        let outcomes = Mutex<[String: Outcome]>([:])
        let mailboxes = plan.selectedMailboxes
        let sources = plan.sources
        let pool = WorkerPool(jobs: mailboxes, group: { $0.source }, limit: { sources[$0]?.maxConnections ?? 1 })
        pool.run(threads: min(max(1, parallel), max(1, mailboxes.count))) { mailbox in
            var outcome = Outcome(key: mailbox.key)
            do {
                try self.adopt(mailbox, &outcome)
            } catch {
                outcome.error = ErrorText.sentence(error)
            }
            outcomes.withLock { $0[mailbox.key] = outcome }
        }
        let collected = outcomes.withLock { $0 }
        return mailboxes.compactMap { collected[$0.key] }
    }

    func adopt(_ mailbox: Plan.Mailbox, _ outcome: inout Outcome) throws {
        guard let target = plan.targets[mailbox.target] else { throw MailError(.local, "no target \(mailbox.target)") }
        let session = try SourceSession.reading(mailbox, plan: plan)
        let (client, source) = (session.client, session.source)
        defer { client.quit() }
        let listing = try client.maildrop()
        var entries = listing.entries
        if !listing.hasUIDL {
            guard source.withoutUIDL == .headerFingerprint else {
                throw MailError(.permanent, "the server does not support UIDL, so its messages cannot be matched")
            }
            for index in entries.indices {
                entries[index].uidl = "hdr:" + (try client.headerFingerprint(entries[index].number)).prefix(40)
            }
        }
        outcome.onServer = entries.count
        let shared = listing.duplicateUIDLs
        for entry in entries where shared.contains(entry.uidl) {
            outcome.undecided.append(
                "\(sanitizeForDisplay(entry.uidl)): shares its UIDL with another message (a "
                    + "server bug); the next run tells them apart by content")
        }
        let unique = entries.filter { !shared.contains($0.uidl) }
        let mailboxID = try store.registerMailbox(
            key: mailbox.key, source: mailbox.source, user: mailbox.user,
            target: mailbox.target,
            address: mailbox.address)
        let rows = try store.syncListing(mailbox: mailboxID, entries: unique).work
        let byUIDL = Dictionary(uniqueKeysWithValues: unique.map { ($0.uidl, $0) })
        let search = TargetSearch(
            plan: plan, mailbox: mailbox, target: target, client: client,
            router: try mailbox.global.map { try runner.router(for: mailbox, global: $0) })
        defer { search.close() }
        for row in rows {
            guard let entry = byUIDL[row.uidl] else { continue }
            let (wanted, found, undecided, headers) = try search.look(for: row, entry)
            if let undecided {
                try store.markFailed(
                    id: row.id, kind: .permanent,
                    error: "adopt: \(undecided); set aside so it is "
                        + "not delivered twice (it stays on the server)")
                outcome.undecided.append("\(sanitizeForDisplay(row.uidl)): \(undecided)")
                continue
            }
            if let headers {
                // What verify and a later reconciliation search by.
                try store.recordEnvelope(
                    id: row.id, messageID: headers.messageID, dateHeader: headers.dateHeader,
                    json: "{}")
            }
            try record(row, wanted: wanted, found: found, mailbox: mailbox, mailboxID: mailboxID, &outcome)
        }
    }

    /// Records what was found of one listed message: matched (delivered) or absent (listed).
    private func record(
        _ row: MessageRecord, wanted: [TargetSearch.Wanted], found: [String: TargetSearch.Hit],
        mailbox: Plan.Mailbox, mailboxID: Int64, _ outcome: inout Outcome
    ) throws {
        if mailbox.global == nil {
            if let hit = found[mailbox.address] {
                try store.markAdopted(
                    id: row.id, token: hit.token, target: mailbox.target, targetRef: hit.ref,
                    size: hit.size, sha256: hit.sha256)
                outcome.matched += 1
            } else {
                outcome.absent += 1
            }
            return
        }
        // A catch-all: each routed delivery found is recorded; the message is done when all are.
        for item in wanted {
            guard let hit = found[item.address] else { continue }
            let child = try store.routedDelivery(parent: row, mailbox: mailboxID, address: item.address)
            try store.markAdopted(
                id: child.id, token: hit.token, target: mailbox.target, targetRef: hit.ref,
                size: hit.size, sha256: hit.sha256)
        }
        if found.count == wanted.count {
            try store.markDelivered(
                id: row.id,
                targetRef: "routed to "
                    + wanted.map(\.address).joined(separator: ", "))
            outcome.matched += 1
        } else {
            // Partly (or not) there: the next run fetches it again and makes only the deliveries not found.
            outcome.absent += 1
        }
    }
}

/// Looks for a mailbox's listed messages in its target, for `adopt`: by identity digest in Maildir file names, by
/// Message-ID/Date and exact size at an IMAP target (one session per target mailbox, for the whole listing).
final class TargetSearch {
    /// What to look for: the mailbox itself, or each routed delivery of a catch-all's message.
    typealias Wanted = (address: String, key: String, uidl: String)
    /// What was found: the token and reference to record, and the size and hash of the bytes.
    typealias Hit = (token: String, ref: String, size: Int?, sha256: String?)
    /// The headers an IMAP target was searched by.
    typealias Searched = (messageID: String?, dateHeader: String?)

    private let plan: Plan
    private let mailbox: Plan.Mailbox
    private let target: Plan.Target
    private let client: POP3Client
    /// The catch-all's router, built once for the mailbox.
    private let router: Router?
    private var maildirs = MaildirIndex()
    private var sessions: [String: IMAPDelivery] = [:]

    init(plan: Plan, mailbox: Plan.Mailbox, target: Plan.Target, client: POP3Client, router: Router?) {
        self.plan = plan
        self.mailbox = mailbox
        self.target = target
        self.client = client
        self.router = router
    }

    func close() {
        for session in sessions.values { session.close() }
    }

    /// What is wanted for one listed message, what of it the target has, or why that cannot be known; and the
    /// headers an IMAP target was searched by.
    func look(for row: MessageRecord, _ entry: POP3Entry) throws
        -> (wanted: [Wanted], found: [String: Hit], undecided: String?, searched: Searched?)
    {
        var wanted: [Wanted] = [(mailbox.address, mailbox.key, row.uidl)]
        var headers: HeaderBlock?
        if let router {
            let head = HeaderBlock(parsing: try client.headers(entry.number))
            headers = head
            let envelope = mailbox.envelopeRecovery.recover(head, firstSeen: Date())
            let decision = router.route(envelope, headers: head)
            wanted = decision.mailboxes.map { ($0, "\(mailbox.key)>\($0)", "\(row.uidl.prefix(60))>\($0)") }
        }
        switch target.kind {
        case .maildir(let template, _, _):
            return (wanted, try maildirHits(wanted, template: template), nil, nil)
        case .imap:
            let head = try headers ?? HeaderBlock(parsing: client.headers(entry.number))
            let messageID = head.first("Message-ID").map { $0.text.trimmingSpaces() }
            let dateHeader = head.first("Date").map { $0.text.trimmingSpaces() }
            guard messageID != nil || dateHeader != nil else {
                return (
                    wanted, [:], "has neither Message-ID nor Date, so it cannot be looked for at the IMAP target",
                    nil
                )
            }
            return (
                wanted, try imapHits(wanted, entry, messageID: messageID, dateHeader: dateHeader), nil,
                (messageID, dateHeader)
            )
        case .lmtp, .smtp:
            return (
                wanted, [:], "an \(target.kind.kindName) target cannot be asked whether it already has the message",
                nil
            )
        }
    }

    private func maildirHits(_ wanted: [Wanted], template: String) throws -> [String: Hit] {
        var found: [String: Hit] = [:]
        for item in wanted {
            var routed = mailbox
            routed.address = item.address
            let path = try maildirLocation(template, mailbox: routed).path
            let identity = DeliveryIdentity(plan: plan.name, mailboxKey: item.key, uidl: item.uidl)
            if let file = maildirs.file(in: path, digests: [identity.identityDigest, identity.legacyDigest]) {
                let data = FileManager.default.contents(atPath: path + "/" + file)
                found[item.address] = (
                    String(file.split(separator: "/").last!.prefix { $0 != "," && $0 != ":" }),
                    file, data?.count, data.map { SHA256Hasher.hex([UInt8]($0)) }
                )
            }
        }
        return found
    }

    private func imapHits(
        _ wanted: [Wanted], _ entry: POP3Entry, messageID: String?,
        dateHeader: String?
    ) throws -> [String: Hit] {
        let hasher = SHA256Hasher()
        var size = 0
        try client.retrieve(entry.number) { chunk in
            hasher.update(chunk)
            size += chunk.count
        }
        let sha256 = hasher.finalizeHex()
        var found: [String: Hit] = [:]
        for item in wanted {
            guard let imap = try session(item.address) else { continue }
            let token = DeliveryIdentity(plan: plan.name, mailboxKey: item.key, uidl: item.uidl).identityDigest
            let uids =
                try imap.locate([
                    InDoubtAttempt(
                        token: token, messageID: messageID, size: size,
                        dateHeader: dateHeader)
                ])[token] ?? []
            if let uid = uids.first {
                found[item.address] = ("adopted-\(token)", "\(imap.settings.folder);UID=\(uid)", size, sha256)
            }
        }
        return found
    }

    private func session(_ address: String) throws -> IMAPDelivery? {
        if let open = sessions[address] { return open }
        guard let made = try plan.delivery(for: mailbox, address: address) as? IMAPDelivery else { return nil }
        sessions[address] = made
        return made
    }
}

/// The mailferry-named files of Maildirs, by identity digest, each folder listed once.
struct MaildirIndex {
    private var folders: [String: [String: String]] = [:]

    /// The file ("new/…" or "cur/…") in the Maildir at `path` that carries one of `digests`, or nil.
    mutating func file(in path: String, digests: [String]) -> String? {
        if folders[path] == nil {
            var index: [String: String] = [:]
            for sub in ["new", "cur"] {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: path + "/" + sub)) ?? [] {
                    if let digest = DeliveryIdentity.digest(inFileName: name) { index[digest] = sub + "/" + name }
                }
            }
            folders[path] = index
        }
        let index = folders[path]!
        return digests.lazy.compactMap { index[$0] }.first
    }
}
