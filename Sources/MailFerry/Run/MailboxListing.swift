import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// One message to fetch: either its row is known from its UIDL, or (a UIDL shared by several messages) its identity
/// comes from its content after retrieval.
enum WorkItem {
    case known(MessageRecord, POP3Entry)
    case byContent(POP3Entry)

    var entry: POP3Entry {
        switch self {
        case .known(_, let entry), .byContent(let entry): entry
        }
    }
}

/// A mailbox's listing, planned: the maildrop listed, new UIDLs recorded, and what to fetch, in the server's order.
struct MailboxListing {
    var items: [WorkItem]
    /// Every message listed (UIDLs stood in for where the server has none).
    var entries: [POP3Entry]
    /// Whether the entries carry the server's own UIDLs (not header fingerprints).
    var hasUIDL = true
    /// Messages whose UIDL broke RFC 1939 and has a stand-in.
    var standIns: Set<Int> = []

    /// The UIDL the server gave `entry`, as a POP3 client of it knows it; nil where a stand-in replaced it.
    func legacyUIDL(of entry: POP3Entry) -> String? {
        guard hasUIDL, !standIns.contains(entry.number), DovecotUIDList.recordable(entry.uidl) else { return nil }
        return entry.uidl
    }

    /// Lists the maildrop and plans the work; notes and counts go into `ledger`.
    static func plan(
        _ client: POP3Client, source: Plan.Source, store: Store, mailboxID: Int64,
        ledger: MailboxLedger
    ) throws -> MailboxListing {
        let listing = try client.maildrop()
        ledger.record(.listed(onServer: listing.entries.count))
        let entries = try identified(listing, client: client, source: source, ledger: ledger)
        if !listing.invalidUIDLs.isEmpty {
            ledger.record(
                .note(
                    counted(listing.invalidUIDLs.count, "message")
                        + " \(listing.invalidUIDLs.count == 1 ? "has" : "have") a unique id that breaks RFC 1939 "
                        + "(first: message \(listing.invalidUIDLs[0])); a hash of the server's id stands in for it"))
        }
        let shared = sharedUIDLs(listing, entries)
        if !shared.isEmpty {
            let affected = entries.filter { shared.contains($0.uidl) }.count
            ledger.record(
                .note(
                    "\(affected) messages share " + counted(shared.count, "unique id") + " (a server bug): each is "
                        + "fetched and told apart by its content"))
        }
        let unique = shared.isEmpty ? entries : entries.filter { !shared.contains($0.uidl) }
        let known = try store.knownSizes(mailbox: mailboxID)
        if let reset = UIDLReset.suspected(unique, known: known) {
            switch source.onUIDLReset {
            case .stop: throw reset.refusal(source)
            case .rekey:
                ledger.record(
                    .note(
                        "UIDL reset: \(reset.summary); re-keying by content (onUIDLReset: rekey); messages not "
                            + "delivered under their old ids are reported as vanished, and fetched again if the "
                            + "server lists them under new ones"))
            }
        }
        // Only a complete listing says a message is gone. Header fingerprints too (design.md, "Mail that vanished"):
        // a rewritten message's old row is reported once, not left to hold the exit code at 1 for ever.
        try noteGaps(entries, known: known, store: store, mailboxID: mailboxID, ledger: ledger)
        let (work, new) = try store.syncListing(mailbox: mailboxID, entries: unique, known: Set(known.keys))
        ledger.record(.new(new))
        let standIns = Set(listing.invalidUIDLs)
        if work.isEmpty && shared.isEmpty {  // the usual cron run
            return MailboxListing(items: [], entries: entries, hasUIDL: listing.hasUIDL, standIns: standIns)
        }
        let byUIDL = Dictionary(uniqueKeysWithValues: unique.map { ($0.uidl, $0) })
        let items =
            work.map { WorkItem.known($0, byUIDL[$0.uidl]!) }
            + entries.filter { shared.contains($0.uidl) }.map { WorkItem.byContent($0) }
        return MailboxListing(
            items: items.sorted { $0.entry.number < $1.entry.number }, entries: entries, hasUIDL: listing.hasUIDL,
            standIns: standIns)
    }

    /// The listing's entries, each with the name its row has: the server's UIDL, or without UIDL (where the plan
    /// allows it) a fingerprint of its headers.
    private static func identified(
        _ listing: POP3Listing, client: POP3Client, source: Plan.Source, ledger: MailboxLedger
    ) throws -> [POP3Entry] {
        var entries = listing.entries
        guard !listing.hasUIDL else { return entries }
        guard source.withoutUIDL == .headerFingerprint else {
            throw MailError(
                .permanent,
                "the server does not support UIDL, so messages cannot be told apart "
                    + "across runs; set withoutUIDL: \"header-fingerprint\" on sources.\(source.name) to identify "
                    + "them by their headers instead")
        }
        for index in entries.indices {
            entries[index].uidl = "hdr:" + (try client.headerFingerprint(entries[index].number)).prefix(40)
        }
        ledger.record(.note("the server has no UIDL: messages identified by a fingerprint of their headers"))
        return entries
    }

    /// UIDLs several messages share (a server bug), fingerprints standing in for UIDLs included.
    private static func sharedUIDLs(_ listing: POP3Listing, _ entries: [POP3Entry]) -> Set<String> {
        var shared = listing.duplicateUIDLs
        if !listing.hasUIDL {
            // Fingerprints stand in for UIDLs: they may collide too.
            var seen = Set<String>(minimumCapacity: entries.count)
            for entry in entries where !seen.insert(entry.uidl).inserted { shared.insert(entry.uidl) }
        }
        return shared
    }
}

/// The circuit breaker for renumbered UIDLs (a provider migration): many unknown UIDLs whose LIST sizes match
/// messages delivered earlier whose UIDLs vanished. Sizes alone can collide, a mass of them cannot.
struct UIDLReset: Equatable {
    var summary: String

    /// The suspicion for a listing, given the known UIDLs and their sizes; nil when there is none.
    static func suspected(_ entries: [POP3Entry], known: [String: Int]) -> UIDLReset? {
        guard known.count >= 10 else { return nil }
        let unknown = entries.filter { known[$0.uidl] == nil }
        guard unknown.count >= 10 else { return nil }
        let listed = Set(entries.map(\.uidl))
        var vanishedSizes: [Int: Int] = [:]
        for (uidl, size) in known where !listed.contains(uidl) { vanishedSizes[size, default: 0] += 1 }
        var matching = 0
        for entry in unknown where (vanishedSizes[entry.size] ?? 0) > 0 {
            vanishedSizes[entry.size]! -= 1
            matching += 1
        }
        guard matching >= 10 && matching * 2 >= unknown.count else { return nil }
        return UIDLReset(
            summary: "\(unknown.count) of the " + counted(entries.count, "message") + " listed have unique ids never "
                + "seen before, and \(matching) of them have exactly the size of a message delivered earlier whose id "
                + "is gone")
    }

    /// The error that stops the mailbox (`onUIDLReset: stop`, the default).
    func refusal(_ source: Plan.Source) -> MailError {
        MailError(
            .permanent,
            "UIDL reset suspected: \(summary). The server seems to have renumbered its "
                + "messages (a provider migration?); nothing was fetched. If so, set onUIDLReset: \"rekey\" on "
                + "sources.\(source.name): messages already delivered are then recognised by their content and not "
                + "delivered again")
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

    /// The UIDL a row's name stands for: "<UIDL>#<hash>" (rows of messages that shared it) and the UIDL itself name
    /// one family. A copy with the same bytes in the same family is the same message, whether it was fetched while
    /// the UIDL was shared or not: never a twin to deliver again (`MailboxTransfer.deliverOne`).
    static func family(_ name: String) -> String {
        if let hash = name.lastIndex(of: "#") {
            let suffix = name[name.index(after: hash)...]
            if suffix.count == 16 && suffix.allSatisfy(\.isHexDigit) { return String(name[..<hash]) }
        }
        return String(name.prefix(50))
    }
}
