import Foundation

/// The text `mailferry route PLAN --dry-run` prints for one message: the recovered envelope with its provenance,
/// and the routing decision. Every value from the message has its control characters escaped (`\x1B`), so a
/// hostile header cannot drive the terminal; other Unicode (an 8-bit address, "→") is kept. The caller prints its own
/// first line per message (mailbox, UIDL, subject) and these lines under it.
public enum RoutePreview {
    public static func lines(envelope: RecoveredEnvelope, decision: RoutingDecision) -> [String] {
        var out: [String] = []
        func add(_ label: String, _ text: String) {
            out.append("  " + label.padding(toLength: 10, withPad: " ", startingAt: 0) + " " + text)
        }
        if let boundary = envelope.trustBoundary {
            add("trust", "boundary at field \(boundary), by \(shown(envelope.boundaryHost ?? "?"))")
        } else {
            add("trust", "no boundary: every envelope header is a guess")
        }
        switch envelope.sender {
        case nil: add("sender", "unknown")
        case ""?: add("sender", "<> (null sender)  [\(envelope.senderProvenance.map(\.description) ?? "?")]")
        case let sender?:
            add("sender", shown(sender) + "  [\(envelope.senderProvenance.map(\.description) ?? "?")]")
        }
        if envelope.recipients.isEmpty { add("recipient", "none recovered") }
        for recipient in envelope.recipients {
            let was = recipient.original.map { ", written \(shown($0))" } ?? ""
            add("recipient", shown(recipient.address) + "  [\(recipient.provenance)\(was)]")
        }
        for recipient in envelope.alsoSeen {
            add("seen", shown(recipient.address) + "  [\(recipient.provenance)] not used")
        }
        let written = MailDate(date: envelope.arrival, zoneOffset: envelope.arrivalZoneOffset).rfc5322
        let origin = envelope.arrivalProvenance.map { ": \($0.header) (field \($0.position))" } ?? ""
        add("arrival", "\(written)  [\(envelope.arrivalSource.rawValue)\(origin)]")
        for delivery in decision.deliveries {
            var flags: [String] = []
            if delivery.isFallback { flags.append("fallback") }
            if delivery.isGuessed { flags.append("guessed") }
            let tag = flags.isEmpty ? "" : "  (" + flags.joined(separator: ", ") + ")"
            add("deliver", shown(delivery.mailbox) + tag)
            for route in decision.routes where route.mailbox?.lowercased() == delivery.mailbox.lowercased() {
                add("", "because " + shown(route.reason, limit: 400))
            }
        }
        for note in envelope.notes + decision.notes { add("note", shown(note, limit: 400)) }
        return out
    }

    /// Control characters escaped, length bounded.
    package static func shown(_ text: String, limit: Int = 300) -> String {
        let safe = EncodedWords.escapingControls(text)
        return safe.count > limit ? String(safe.prefix(limit)) + "…" : safe
    }
}
