import Foundation
import Testing

@testable import MailCore
@testable import MailFerry
@testable import MailFerryCommandLine
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem
@testable import MailWire

/// The envelope column is written by hand for speed; these tests hold it to the bytes `JSONEncoder` writes.
@Suite struct StoredEnvelopeJSONTests {
    static func expectSame(_ envelope: RecoveredEnvelope, _ label: String) {
        let stored = StoredEnvelope(envelope: envelope)
        #expect(stored.json() == stored.encodedJSON(), "\(label)")
    }

    @Test(arguments: EnvelopeCorpus.cases)
    func everyCorpusEnvelope(_ item: EnvelopeCorpusCase) {
        let envelope = item.provider.recovery.recover(
            HeaderBlock(parsing: item.message),
            firstSeen: EnvelopeCorpus.firstSeen)
        Self.expectSame(envelope, item.name)
        // Without trusted hosts too (the common mailbox: no catch-all), which changes provenance and notes.
        let plain = EnvelopeRecovery(trustedHosts: [], localDomains: []).recover(
            HeaderBlock(parsing: item.message),
            firstSeen: EnvelopeCorpus.firstSeen)
        Self.expectSame(plain, item.name + " (no trusted hosts)")
    }

    @Test func everyOptionalAndAwkwardText() {
        let awkward =
            (0..<0x20).map { String(UnicodeScalar(UInt8($0))) }.joined()
            + "\"\\/ é 日本 \u{7F} \u{2028}\u{2029} \u{1F600}"
        let provenance = Provenance(header: "X-Original-To", position: 3, trusted: true)
        var envelope = RecoveredEnvelope(
            sender: awkward, senderProvenance: provenance,
            recipients: [RecoveredRecipient(address: "a@b.example", provenance: provenance, original: awkward)],
            recipientSource: .deliveredTo,
            alsoSeen: [RecoveredRecipient(address: "c@d.example", provenance: provenance)],
            headerRecipients: [], mailingList: MailingList(id: "list.example", address: awkward),
            arrival: Date(timeIntervalSince1970: 1_551_776_400), arrivalZoneOffset: -3600,
            arrivalSource: .providerReceived, arrivalProvenance: provenance, trustBoundary: 7,
            boundaryHost: "mx1.example", notes: [awkward, "", "plain"])
        Self.expectSame(envelope, "all set")
        envelope.mailingList = MailingList()
        envelope.sender = ""
        envelope.notes = []
        Self.expectSame(envelope, "empty list, null sender")
        envelope.mailingList = MailingList(id: nil, address: "x@y")
        envelope.sender = nil
        envelope.senderProvenance = nil
        envelope.trustBoundary = nil
        envelope.boundaryHost = nil
        envelope.arrivalZoneOffset = nil
        envelope.arrivalProvenance = nil
        Self.expectSame(envelope, "nil optionals")
        for seconds in [
            0, 1, 59, 951_782_400, 1_763_625_600.5, 1_763_625_600.999, -1, -86_400.25, 4_102_444_800,
            253_402_300_799,
        ] as [Double] {
            envelope.arrival = Date(timeIntervalSince1970: seconds)
            Self.expectSame(envelope, "arrival \(seconds)")
        }
    }
}
