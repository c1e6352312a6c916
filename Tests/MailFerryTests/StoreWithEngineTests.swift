import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The store's rows as the engine writes them: a catch-all parent row and its routed deliveries, and the arrival
/// columns written with a recovered envelope.
@Suite struct StoreWithEngineTests {
    func entries(_ uidls: [String]) -> [POP3Entry] {
        uidls.enumerated().map { POP3Entry(number: $0.offset + 1, uidl: $0.element, size: 100 + $0.offset) }
    }

    /// A new store in `dir` with one mailbox registered ("isp/a").
    func freshStore(in dir: TempFolder) throws -> (path: String, store: Store, box: Int64) {
        let path = dir.path + "/s.sqlite"
        let store = try Store(path: path)
        return (
            path, store,
            try store.registerMailbox(
                key: "isp/a", source: "isp", user: "a", target: "t",
                address: nil)
        )
    }

    /// A catch-all message fetched again after a crash finds its own routed deliveries by its hash: they are its
    /// progress, not an earlier copy (else it would be set aside as a duplicate and its other routes never made).
    @Test func hashDefenceIgnoresTheMessagesOwnRoutedDeliveries() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let (_, store, box) = try freshStore(in: dir)
        let rows = try store.syncListing(mailbox: box, entries: entries(["x", "y"])).work
        try store.markDelivering(id: rows[0].id, target: "t", token: Runner.routedToken, size: 5, sha256: "same")
        let child = try store.routedDelivery(parent: rows[0], mailbox: box, address: "bob@contoso.example")
        try store.markDelivering(id: child.id, target: "t", token: "tok-bob", size: 5, sha256: "same")
        try store.markDelivered(id: child.id, targetRef: "ref")
        try store.markListed(id: rows[0].id)
        #expect(try store.deliveredCopy(mailbox: box, sha256: "same", excluding: rows[0].id) == nil)
        // Another message with the same bytes is a copy: of the first message's delivery.
        #expect(try store.deliveredCopy(mailbox: box, sha256: "same", excluding: rows[1].id)?.id == child.id)
        // ... unless the first message is still listed beside it: two UIDLs on the server are two messages.
        #expect(
            try store.deliveredCopy(
                mailbox: box, sha256: "same", excluding: rows[1].id,
                isListed: { $0 == "x" }) == nil)
    }

    /// The arrival a run writes with each envelope is exactly what the schema's trigger derives from the envelope's
    /// JSON (SQLite's strftime over the written date): over the envelopes recovered from 400 corpus messages, and
    /// over a fractional first-seen arrival, which is left to the trigger.
    @Test func arrivalWrittenWithTheEnvelopeIsWhatTheTriggerDerives() throws {
        let dir = TempFolder("store")
        defer { dir.cleanup() }
        let (path, store, box) = try freshStore(in: dir)
        let messages = Corpus.benchMailbox(user: "u01", domain: "wingtip.example", count: 400, seed: 7, bigEvery: 0)
        let rows = try store.syncListing(mailbox: box, entries: entries(messages.indices.map { "m\($0)" })).work
        let recovery = EnvelopeRecovery(trustedHosts: ["wingtip.example"], localDomains: ["wingtip.example"])
        var given = 0
        for (row, bytes) in zip(rows, messages) {
            // A few never-dated messages arrive at their (fractional) first-seen time.
            let firstSeen = Date(timeIntervalSince1970: 1_790_000_000.75)
            let envelope = recovery.recover(HeaderBlock(parsing: bytes), firstSeen: firstSeen)
            let columns = Store.EnvelopeColumns(
                messageID: nil, dateHeader: nil,
                json: StoredEnvelope(envelope: envelope).json(), arrival: envelope.arrival)
            if columns.arrivalAt != nil { given += 1 }
            try store.markDelivering(
                id: row.id, target: "t", token: "t\(row.id)", size: 1, sha256: "h",
                envelope: columns)
        }
        #expect(given >= 390, "most arrivals are whole seconds from a Received field")
        let mismatched = try SQLiteProbe.dump(
            path,
            """
            SELECT id, arrival_at FROM messages WHERE arrival_at IS NOT
                CAST(strftime('%s', json_extract(envelope, '$.envelope.arrival')) AS INTEGER)
                OR arrival_at IS NULL
            """)
        #expect(mismatched.isEmpty, "\(mismatched.prefix(5))")
    }
}
