import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The deliveries one mailbox run uses, one per target mailbox address: a person's mailbox has one, a catch-all
/// mailbox fans out to several. Each is opened on first use (so an IMAP connection is reused across messages for
/// the same mailbox) and all are closed when the mailbox is done. Every address of a mailbox goes to the same
/// plan target, so all share one description, `traits` (known before the first is opened).
final class TargetPool {
    let traits: DeliveryTraits
    private let make: (String) throws -> any Delivery
    private var open: [String: any Delivery] = [:]

    init(traits: DeliveryTraits, make: @escaping (String) throws -> any Delivery) {
        self.traits = traits
        self.make = make
    }

    /// The delivery for `address` if it is open already.
    func opened(for address: String) -> (any Delivery)? {
        open[address]
    }

    func delivery(for address: String) throws -> any Delivery {
        if let existing = open[address] { return existing }
        let created = try make(address)
        open[address] = created
        return created
    }

    func closeAll() {
        for delivery in open.values { delivery.close() }
        open.removeAll()
    }
}

/// What the state database keeps of a message's envelope: the recovered envelope with provenance, and for a
/// catch-all mailbox the routing decision.
struct StoredEnvelope: Codable {
    var envelope: RecoveredEnvelope
    var routing: RoutingDecision?

    func json() -> String {
        if let written = handWrittenJSON() { return written }
        return encodedJSON()
    }

    /// What `json()` writes, through `JSONEncoder`: the form for a routing decision, and the reference the hand
    /// writer is tested against.
    func encodedJSON() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
