import CSQLite
import Foundation
import Testing
@testable import MailFerry

@Suite struct StoreTests {
    func entries(_ uidls: [String]) -> [POP3Entry] {
        uidls.enumerated().map { POP3Entry(number: $0.offset + 1, uidl: $0.element, size: 100 + $0.offset) }
    }

    @Test func listingAddsOnlyNewUIDLsAndKeepsServerOrder() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/state/s.sqlite")
        let box = try store.registerMailbox(key: "isp/chris", source: "isp", user: "chris", target: "t", address: nil)
        #expect(try store.registerMailbox(key: "isp/chris", source: "isp", user: "chris", target: "t",
                                          address: nil) == box)
        let first = try store.syncListing(mailbox: box, entries: entries(["a", "b", "c"]))
        #expect(first.new == 3)
        #expect(first.work.map(\.uidl) == ["a", "b", "c"])
        try store.markDelivering(id: first.work[1].id, target: "t", token: "tok-b", size: 5, sha256: "hb")
        try store.markDelivered(id: first.work[1].id, targetRef: "new/tok-b")
        let second = try store.syncListing(mailbox: box, entries: entries(["c", "b", "a", "d"]))
        #expect(second.new == 1)
        #expect(second.work.map(\.uidl) == ["c", "a", "d"])
        #expect(try store.counts(mailbox: box) == [.listed: 3, .delivered: 1])
    }

    @Test func inDoubtRowsAndHashDefence() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let store = try Store(path: dir.path + "/s.sqlite")
        let box = try store.registerMailbox(key: "isp/a", source: "isp", user: "a", target: "t", address: nil)
        let rows = try store.syncListing(mailbox: box, entries: entries(["x", "y"])).work
        try store.markDelivering(id: rows[0].id, target: "t", token: "tok-x", size: 5, sha256: "same")
        #expect(try store.inDoubt(mailbox: box).map(\.token) == ["tok-x"])
        #expect(try store.deliveredCopy(mailbox: box, sha256: "same", excluding: rows[1].id) == rows[0].id)
        #expect(try store.deliveredCopy(mailbox: box, sha256: "other", excluding: rows[1].id) == nil)
        try store.markListed(id: rows[0].id)
        #expect(try store.inDoubt(mailbox: box).isEmpty)
        #expect(try store.message(id: rows[0].id)?.attempts == 1)
    }

    @Test func databaseIsPrivateAndVersioned() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let path = dir.path + "/s.sqlite"
        let store = try Store(path: path)
        #expect(store.schemaVersion == Schema.currentVersion)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        #expect(mode & 0o077 == 0)
        // A database from a newer mailferry is refused, not silently used.
        var db: OpaquePointer?
        sqlite3_open(path, &db)
        sqlite3_exec(db, "PRAGMA user_version = 99", nil, nil, nil)
        sqlite3_close(db)
        let error = #expect(throws: DatabaseError.self) { _ = try Store(path: path) }
        #expect(error?.message.contains("newer") == true)
    }
}
