import Foundation

/// `EnvelopeRecovery.trustedHosts` made ready for matching once per recovery instead of once per question: a
/// `.suffix` entry as written, an exact entry as a host name (`hostName`: brackets and trailing dots dropped).
struct TrustedHosts {
    let entries: [(isSuffix: Bool, name: String)]

    init(_ trustedHosts: [String]) {
        entries = trustedHosts.map { $0.hasPrefix(".") ? (true, $0) : (false, ReceivedHeader.hostName($0)) }
    }

    func contains(_ host: String) -> Bool {
        let name = ReceivedHeader.hostName(host)
        guard !name.isEmpty else { return false }
        return entries.contains { $0.isSuffix ? name.hasSuffix($0.name) : name == $0.name }
    }
}

/// Hosts that are the same machine as the hop above them (a content filter re-injecting over loopback).
let loopbackHosts: Set<String> = ["localhost", "localhost.localdomain", "127.0.0.1", "::1"]

/// Where the fields recovery reads stand in a header block (their positions, topmost first), found in one pass over
/// the field names instead of one per name.
struct TraceFields {
    var received: [Int] = []
    /// X-Original-To, Envelope-To, X-Envelope-To, each with its name in the usual spelling.
    var originalRecipient: [(position: Int, name: String)] = []
    var deliveredTo: [Int] = []
    var returnPath: [Int] = []
    var envelopeFrom: [Int] = []
    var date: [Int] = []
    /// To and Cc, each with its name in the usual spelling.
    var toCc: [(position: Int, name: String)] = []
    /// The topmost of each list field.
    var listID: Int?
    var listPost: Int?
    var mailingList: Int?
    var xMailingList: Int?

    static let originalHeaders = ["X-Original-To", "Envelope-To", "X-Envelope-To"]

    /// A field's position is its index in `fields` (`HeaderField.index`).
    init(_ fields: [HeaderField]) {
        for position in fields.indices {
            // The name alone, not a copy of the whole field.
            let name = fields[position].name
            let named = { (wanted: String) in HeaderField.sameName(name, wanted) }
            if named("Received") {
                received.append(position)
            } else if let usual = Self.originalHeaders.first(where: named) {
                originalRecipient.append((position, usual))
            } else if named("Delivered-To") {
                deliveredTo.append(position)
            } else if named("Return-Path") {
                returnPath.append(position)
            } else if named("X-Envelope-From") {
                envelopeFrom.append(position)
            } else if named("Date") {
                date.append(position)
            } else if named("To") || named("Cc") {
                toCc.append((position, named("To") ? "To" : "Cc"))
            } else if named("List-Id") {
                listID = listID ?? position
            } else if named("List-Post") {
                listPost = listPost ?? position
            } else if named("Mailing-List") {
                mailingList = mailingList ?? position
            } else if named("X-Mailing-List") {
                xMailingList = xMailingList ?? position
            }
        }
    }
}

/// One recovery: the state of reading one header block.
struct RecoveryPass {
    let recovery: EnvelopeRecovery
    let headers: HeaderBlock
    let firstSeen: Date
    var notes = BoundedNotes(limit: 120)
    let fields: TraceFields
    let trusted: TrustedHosts
    /// The Received fields, topmost first: their positions and what they say.
    var received: [(position: Int, trace: ReceivedHeader)] = []
    var boundary: Int?

    init(recovery: EnvelopeRecovery, headers: HeaderBlock, firstSeen: Date) {
        self.recovery = recovery
        self.headers = headers
        self.firstSeen = firstSeen
        fields = TraceFields(headers.fields)
        trusted = TrustedHosts(recovery.trustedHosts)
    }

    /// The value of the field at `position` as text.
    func text(_ position: Int) -> String { headers.fields[position].text }

    mutating func run() -> RecoveredEnvelope {
        for note in headers.notes { notes.add("header: " + note) }
        received = fields.received.map { ($0, ReceivedHeader(parsing: text($0))) }
        let boundaryHost = drawBoundary()
        let (recipients, source, alsoSeen) = recoverRecipients()
        let (sender, senderProvenance) = recoverSender()
        let arrival = recoverArrival()
        var envelope = RecoveredEnvelope(
            sender: sender, senderProvenance: senderProvenance, recipients: recipients, recipientSource: source,
            alsoSeen: alsoSeen, headerRecipients: headerRecipients(), mailingList: mailingList(),
            arrival: arrival.date, arrivalZoneOffset: arrival.zone, arrivalSource: arrival.source,
            arrivalProvenance: arrival.provenance, trustBoundary: boundary, boundaryHost: boundaryHost, notes: [])
        if headers.truncated { notes.add("the header was not read to its end; recovery used what was read") }
        envelope.notes = notes.all
        return envelope
    }
}
