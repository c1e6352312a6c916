import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem

/// Messages that vanished from the server (design.md, "Mail that vanished"): the marks a complete listing sets and
/// clears, what is kept of each, and how `status` counts them.
@Suite struct StoreVanishedTests {
    func entries(_ uidls: [String]) -> [ListedEntry] {
        uidls.enumerated().map { ListedEntry(number: $0.offset + 1, uidl: $0.element, size: 100 + $0.offset) }
    }

    /// A store with one mailbox whose five messages stand delivered, deferred, quarantined, pending and removed.
    func fiveStates(_ dir: TempFolder) throws -> (store: Store, box: Int64, ids: [String: Int64]) {
        let store = try Store(path: dir.path + "/s.sqlite")
        let box = try store.registerMailbox(key: "isp/a", source: "isp", user: "a", target: "t", address: nil)
        let rows = try store.syncListing(mailbox: box, entries: entries(["done", "later", "bad", "new", "gone"])).work
        let ids = Dictionary(uniqueKeysWithValues: rows.map { ($0.uidl, $0.id) })
        for uidl in ["done", "gone"] {
            try store.markDelivering(id: ids[uidl]!, target: "t", token: "tok-\(uidl)", size: 5, sha256: "h-\(uidl)")
            try store.markDelivered(id: ids[uidl]!, targetRef: "new/\(uidl)")
        }
        try store.markRemoved(mailbox: box, uidls: ["gone"])
        try store.markDeferred(id: ids["later"]!, kind: .quota, error: "over quota", retryAt: 0, countAttempt: true)
        try store.markQuarantined(id: ids["bad"]!, kind: .permanent, error: "refused five times")
        _ = try store.noteRetrievalFailure(id: ids["new"]!, error: "the connection dropped")
        try store.noteSeenHeader(id: ids["new"]!, from: "Kelly <k@wingtip.example>", subject: "Q3 numbers", date: nil)
        return (store, box, ids)
    }

    @Test func aListingMarksWhatItMissesOnceAndCountsTheDeliveredApart() throws {
        let dir = TempFolder("vanished")
        defer { dir.cleanup() }
        let (store, box, _) = try fiveStates(dir)
        let polled = try #require(try StateFiles.read([store.path]).mailboxes["isp/a"]?.lastPollAt)
        let gaps = try store.noteListingGaps(mailbox: box, gone: ["done", "later", "bad", "new", "gone"], back: [])
        #expect(gaps.goneAfterDelivery == 1)
        #expect(gaps.back == 0 && gaps.newlyVanishedNotListed == 0)
        #expect(gaps.newlyVanished.map(\.uidl) == ["later", "bad", "new"])
        #expect(gaps.newlyVanished.map(\.stood) == ["deferred", "quarantined", "pending"])
        let new = try #require(gaps.newlyVanished.last)
        #expect(new.mailbox == "isp/a" && new.size == 103 && new.attempts == 1)
        #expect(new.from == "Kelly <k@wingtip.example>" && new.subject == "Q3 numbers" && new.date == nil)
        #expect(new.lastError == "the connection dropped")
        // Last seen: the listing before this one (the one that recorded the rows).
        #expect(new.lastSeenAt.timeIntervalSince1970 == polled)
        #expect(new.vanishedAt >= new.lastSeenAt)
        #expect(try store.vanishedUIDLs(mailbox: box) == ["done", "later", "bad", "new", "gone"])
        // Already marked: a later listing that misses them again says nothing new.
        let again = try store.noteListingGaps(mailbox: box, gone: ["later", "done"], back: [])
        #expect(again == Store.ListingGaps())
        #expect(try store.vanishedMessages(mailbox: box).map(\.uidl) == ["later", "bad", "new"])
        // The checkpoint states are untouched.
        #expect(try store.counts(mailbox: box) == [.delivered: 1, .deferred: 1, .failed: 1, .listed: 1, .removed: 1])
    }

    @Test func aMessageListedAgainIsHandledAsBefore() throws {
        let dir = TempFolder("vanished")
        defer { dir.cleanup() }
        let (store, box, ids) = try fiveStates(dir)
        _ = try store.noteListingGaps(mailbox: box, gone: ["done", "new"], back: [])
        let back = try store.noteListingGaps(mailbox: box, gone: [], back: ["new", "done"])
        #expect(back.back == 2 && back.newlyVanished.isEmpty)
        #expect(try store.vanishedUIDLs(mailbox: box).isEmpty)
        #expect(try store.vanishedMessages(mailbox: box).isEmpty)
        // Pending as it was: the next listing hands it out for work again, the delivered one not.
        let work = try store.syncListing(mailbox: box, entries: entries(["done", "later", "bad", "new"])).work
        #expect(work.map(\.id).contains(ids["new"]!))
        #expect(!work.map(\.id).contains(ids["done"]!))
        // And it can vanish again, loudly again.
        let twice = try store.noteListingGaps(mailbox: box, gone: ["new"], back: [])
        #expect(twice.newlyVanished.map(\.uidl) == ["new"])
    }

    @Test func aCatchAllMessageNamesTheMailboxesItNeverReached() throws {
        let dir = TempFolder("vanished")
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/s.sqlite")
        let box = try store.registerMailbox(key: "isp/all", source: "isp", user: "all", target: "t", address: nil)
        let parent = try #require(try store.syncListing(mailbox: box, entries: entries(["p"])).work.first)
        let made = try store.routedDelivery(parent: parent, mailbox: box, address: "kelly@contoso.example")
        _ = try store.routedDelivery(parent: parent, mailbox: box, address: "sam@contoso.example")
        try store.markDelivering(id: made.id, target: "t", token: "tok", size: 5, sha256: "h")
        try store.markDelivered(id: made.id, targetRef: "new/x")
        try store.markDeferred(
            id: parent.id, kind: .transient, error: "a routed delivery is deferred", retryAt: 0, countAttempt: false)
        // The routed deliveries' own rows are not listed by the server and are never marked: the parent is.
        let gaps = try store.noteListingGaps(mailbox: box, gone: ["p"], back: [])
        #expect(gaps.newlyVanished.map(\.uidl) == ["p"])
        #expect(gaps.newlyVanished.first?.notRoutedTo == ["sam@contoso.example"])
        #expect(try store.vanishedUIDLs(mailbox: box) == ["p"])
    }

    @Test func statusCountsVanishedApartFromTheirStates() throws {
        let dir = TempFolder("vanished")
        defer { dir.cleanup() }
        let (store, box, _) = try fiveStates(dir)
        let before = try #require(try StateFiles.read([store.path]).tallies["isp/a"])
        #expect(before.vanished == 0 && before.errors == ["quota": 1, "permanent": 1])
        _ = try store.noteListingGaps(mailbox: box, gone: ["done", "later", "new"], back: [])
        let summary = try StateFiles.read([store.path])
        let tally = try #require(summary.tallies["isp/a"])
        #expect(tally.known == 5)
        #expect(tally.vanished == 2 && tally.goneAfterDelivery == 1)
        #expect(tally.listed(.deferred) == 0 && tally.listed(.listed) == 0 && tally.listedQuarantined == 1)
        // A vanished message's delivery trouble is no longer an open error of its kind.
        #expect(tally.errors == ["permanent": 1])
        #expect(summary.vanished["isp/a"]?.map(\.uidl) == ["later", "new"])
    }

    /// Two state files that know the same mailbox (a plan re-sharded): the row further along wins, so a message one
    /// file saw vanish and the other delivered counts as delivered.
    @Test func mergedFilesListOnlyWhatTheWinningRowSaysVanished() throws {
        let dir = TempFolder("vanished")
        defer { dir.cleanup() }
        let one = try Store(path: dir.path + "/state/p.sqlite")
        let two = try Store(path: dir.path + "/state/p-shard-1-of-2.sqlite")
        for store in [one, two] {
            let box = try store.registerMailbox(key: "isp/a", source: "isp", user: "a", target: "t", address: nil)
            _ = try store.syncListing(mailbox: box, entries: entries(["x", "y"]))
        }
        let oneBox = try #require(try one.mailboxID(key: "isp/a"))
        _ = try one.noteListingGaps(mailbox: oneBox, gone: ["x", "y"], back: [])
        let twoBox = try #require(try two.mailboxID(key: "isp/a"))
        let x = try #require(try two.syncListing(mailbox: twoBox, entries: entries(["x", "y"])).work.first)
        try two.markDelivering(id: x.id, target: "t", token: "tok", size: 5, sha256: "h")
        try two.markDelivered(id: x.id, targetRef: "new/x")
        let summary = try StateFiles.read([one.path, two.path])
        #expect(summary.tallies["isp/a"]?.vanished == 1)
        #expect(summary.vanished["isp/a"]?.map(\.uidl) == ["y"])
    }
}
