import Foundation

@testable import MailCore
@testable import MailFerry
@testable import MailSystem
@testable import MailWire

/// The header parser and envelope recovery (Message/HeaderParser.swift, Envelope.swift, Received.swift,
/// MailAddress.swift, MailDate.swift, EncodedWords.swift). The parser only points into the bytes: every field lies
/// inside the header, in order, its name where it says; the body starts after the header; parsing a prefix of at
/// least `limits.readBytes` (what the runner reads from the spool) gives the same result as the whole message; limits
/// bound everything. Recovery never fails and its result survives JSON (the state database stores it).
@Sendable func fuzzHeaders(_ input: inout FuzzInput) {
    let limits = HeaderBlock.Limits(
        bytes: input.int(in: 0...4096), fields: input.int(in: 1...64),
        valueBytes: input.int(in: 1...600), notes: input.int(in: 1...8))
    let bytes = input.rest()
    let block = HeaderBlock(parsing: bytes, limits: limits)
    let scanned = min(bytes.count, limits.bytes)

    require(block.headerEnd <= scanned, "headerEnd \(block.headerEnd) past the \(scanned) bytes scanned")
    if let body = block.bodyOffset {
        require(block.headerEnd <= body && body <= bytes.count, "body at \(body), header ends \(block.headerEnd)")
        require(!block.truncated, "a header that ended cannot be truncated")
    }
    require(block.fields.count <= limits.fields, "\(block.fields.count) fields kept, limit \(limits.fields)")
    require(block.notes.count <= limits.notes + 1, "\(block.notes.count) notes kept, limit \(limits.notes)")
    var previousEnd = 0
    for (position, field) in block.fields.enumerated() {
        require(field.index == position, "field \(position) has index \(field.index)")
        require(
            previousEnd <= field.range.lowerBound && field.range.upperBound <= block.headerEnd,
            "field \(field.range) outside \(previousEnd)..<\(block.headerEnd)")
        require(
            field.range.lowerBound <= field.valueRange.lowerBound
                && field.valueRange.upperBound <= field.range.upperBound,
            "value \(field.valueRange) outside field \(field.range)")
        require(bytes[field.range].starts(with: Array(field.name.utf8)), "field does not start with its name")
        require(
            !field.name.isEmpty && field.name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != 58 },
            "bad field name \(field.name.debugDescription)")
        require(field.value.count <= limits.valueBytes, "value of \(field.value.count) bytes kept")
        requireDisplaySafe(field.displayValue, "display value")
        previousEnd = field.range.upperBound
    }
    // What the runner does: parse only the first `limits.readBytes` of the spool file.
    require(
        HeaderBlock(parsing: Array(bytes.prefix(limits.readBytes)), limits: limits) == block,
        "parsing the prefix the runner reads differs from parsing the whole message")

    let recovery = EnvelopeRecovery(
        trustedHosts: ["mx1.isp.example", ".relay.isp.example"],
        localDomains: ["wingtiptoys.com"])
    let envelope = recovery.recover(block, firstSeen: Date(timeIntervalSince1970: 1_750_000_000))
    require(envelope.recipients.count <= 8 * EnvelopeRecovery.maxAddresses, "\(envelope.recipients.count) recipients")
    require(envelope.arrival.timeIntervalSince1970.isFinite, "arrival is not a finite date")
    for recipient in envelope.recipients {
        require(!recipient.address.isEmpty, "an empty recipient address")
    }
    do {
        let json = try JSONEncoder().encode(envelope)
        _ = try JSONDecoder().decode(RecoveredEnvelope.self, from: json)
    } catch {
        require(false, "the envelope does not survive JSON: \(error)")
    }
    for field in block.fields.prefix(8) {
        _ = MailDate.parse(field.text)
        for address in MailAddress.list(field.text, limit: 50) {
            require(MailAddress.normalize(address) != nil, "a listed address does not normalize: \(address)")
        }
        _ = ReceivedHeader(parsing: field.text)
    }
}
