import Foundation

/// Where a piece of the recovered envelope was read: which header field, where, and whether it is believed.
///
/// `trusted` means the field lies at or above the provider's entry hop (see `EnvelopeRecovery`), so the legacy
/// provider wrote it. `false` means "guessed": no trust boundary could be drawn (no `trustedHosts`, or none of them
/// appears in the Received chain), or the address comes from To/Cc. Fields below a boundary are never used, so they
/// never carry a provenance; they appear in the envelope's notes.
public struct Provenance: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// The field name in its usual spelling ("X-Original-To", "Delivered-To", "Received", "Return-Path", "To").
    public var header: String
    /// The field's index in the header block, 0 = topmost.
    public var position: Int
    public var trusted: Bool

    public init(header: String, position: Int, trusted: Bool) {
        self.header = header
        self.position = position
        self.trusted = trusted
    }

    /// `X-Original-To (field 2, trusted)`, `Received (field 5, guessed)`: the form reports and the state database
    /// show.
    public var description: String { "\(header) (field \(position), \(trusted ? "trusted" : "guessed"))" }
}

/// An envelope recipient recovered from a trace header (or, as a guess, from To/Cc).
public struct RecoveredRecipient: Sendable, Equatable, Hashable, Codable {
    /// Normalized (lower-cased addr-spec).
    public var address: String
    public var provenance: Provenance
    /// The address as the header wrote it, when recovery changed it (a qmail virtual-domain prefix removed).
    public var original: String?

    public init(address: String, provenance: Provenance, original: String? = nil) {
        self.address = address
        self.provenance = provenance
        self.original = original
    }
}

/// Where the original arrival time came from, best first.
public enum ArrivalSource: String, Sendable, Equatable, Codable, CaseIterable {
    /// The time stamp of the provider's final Received (the topmost one at or above the trust boundary).
    case providerReceived = "provider-received"
    /// No trust boundary: the topmost Received with a usable date (normally still the provider's).
    case topmostReceived = "topmost-received"
    /// The `Date:` field (RFC 5322 §3.6.1): when the sender wrote it, not when it arrived.
    case dateHeader = "date-header"
    /// When mailferry first listed the message: nothing in the header gave a usable time.
    case firstSeen = "first-seen"
}

/// Which trace headers the recipients were taken from.
public enum RecipientSource: String, Sendable, Equatable, Codable, CaseIterable {
    /// X-Original-To, Envelope-To, X-Envelope-To: the recipient(s) as given in RCPT TO, written at delivery.
    case originalRecipient = "original-recipient"
    /// The `for <addr>` clause of a Received field (RFC 5321 §4.4).
    case receivedFor = "received-for"
    /// Delivered-To: the mailbox delivered to (after aliases; qmail writes the virtual-domain form here).
    case deliveredTo = "delivered-to"
    /// Nothing: the router falls back to To/Cc (a guess) or to the fallback mailbox.
    case none
}

/// A mailing list the message came through (RFC 2919 List-Id, RFC 2369 List-Post, or the older Mailing-List and
/// X-Mailing-List); both parts may be nil when the list names neither.
public struct MailingList: Sendable, Equatable, Codable {
    /// The List-Id identifier ("mailinglist.treyresearch.net"), without angle brackets.
    public var id: String?
    /// The posting address from List-Post (`<mailto:…>`), Mailing-List (`list x@y; …`) or X-Mailing-List.
    public var address: String?

    public init(id: String? = nil, address: String? = nil) {
        self.id = id
        self.address = address
    }
}

/// The SMTP envelope as far as the header lets us know it, and how we know it.
public struct RecoveredEnvelope: Sendable, Equatable, Codable {
    /// MAIL FROM: from Return-Path (RFC 5321 §4.4), else X-Envelope-From, else a Received `(envelope-from …)`.
    /// "" is the null sender `<>` (a bounce); nil means unknown.
    public var sender: String?
    public var senderProvenance: Provenance?
    /// The envelope recipients to route, in header order (topmost first), without duplicates.
    public var recipients: [RecoveredRecipient]
    public var recipientSource: RecipientSource
    /// Envelope addresses that were seen and deliberately not used (a lower-precedence header, a Delivered-To of an
    /// alias step, an earlier forwarding hop). For reports; the router ignores them.
    public var alsoSeen: [RecoveredRecipient]
    /// The addresses of To and Cc, always guessed: a last resort for the router, never for list mail.
    public var headerRecipients: [RecoveredRecipient]
    public var mailingList: MailingList?
    /// The original arrival time: IMAP INTERNALDATE and Maildir mtime.
    public var arrival: Date
    /// The zone the arrival time was written in (seconds east of UTC), for INTERNALDATE; nil when unknown.
    public var arrivalZoneOffset: Int?
    public var arrivalSource: ArrivalSource
    /// The field the arrival time was read from (nil for `firstSeen`).
    public var arrivalProvenance: Provenance?
    /// The index of the provider's entry Received: fields at or above it are trusted, fields below are
    /// sender-controlled. Nil when no boundary could be drawn: then everything is a guess.
    public var trustBoundary: Int?
    /// The host named in the `by` clause of the entry Received.
    public var boundaryHost: String?
    /// What recovery decided and why, one sentence each, for the dry run and the report; what the header parser
    /// tolerated comes first, prefixed "header: ".
    public var notes: [String]

    /// True when the recipients are not backed by a trust boundary.
    public var isGuessed: Bool { trustBoundary == nil || recipients.contains { !$0.provenance.trusted } }
}

/// Reads the envelope back out of the trace headers a POP3 maildrop keeps (RFC 5321 §4.4 trace fields, RFC 5322
/// §3.6.7), the way an admin would, and says where every answer came from.
///
/// **The trust boundary.** The provider prepends its trace fields, so everything above its first Received was
/// written by the provider; everything below came with the message and is sender-controlled. The boundary is the
/// provider's *entry hop*: starting from the topmost Received whose `by` host is a trusted host, walk down while
/// the hop came *from* a trusted host (an internal relay, a content filter on loopback, or a local re-injection
/// without a from clause) and the next Received is `by` a trusted or loopback host. The lowest Received reached is
/// the entry hop; it and every field above it are trusted. A Received below it that claims a trusted `by` host is
/// not believed (noted as a possible forgery).
/// Without `trustedHosts`, or when none of them appears, there is no boundary: every field is usable but
/// "guessed", and the envelope says so.
///
/// **Recipients**, by precedence; the first source that names a local domain wins (when none does, the first that
/// names any address), the rest go to `alsoSeen`:
/// 1. X-Original-To, Envelope-To, X-Envelope-To (they name RCPT TO as given, before alias expansion). Fields are
///    grouped into trace blocks (the fields between two Received fields belong to one delivery); one block is
///    used, all its addresses (Exim's Envelope-To lists several: a fan-out).
/// 2. The `for` clause of one Received.
/// 3. One Delivered-To (qmail virtual-domain prefixes removed when `qmailPrefix` says so).
///
/// Which block or field: with a boundary, the *lowest* one that names a local domain (closest to the original
/// RCPT TO; the ones above are the provider's alias and forwarding steps, e.g. several Delivered-To); without a
/// boundary, the *topmost* one that names a local domain (deeper ones may come from other systems or be forged). If
/// none names a local domain, the topmost one.
///
/// **Arrival**: the provider's final Received (the topmost at or above the boundary with a plausible date), else
/// (no boundary) the topmost Received, else `Date:`, else the first-seen time. A date more than a day after
/// first-seen, or before 1970, is implausible and skipped with a note.
public struct EnvelopeRecovery: Sendable, Equatable {
    /// The provider's receiving hosts: exact names or IP addresses, or `.isp.example` for every host under
    /// isp.example. Case-insensitive.
    public var trustedHosts: [String]
    /// The legacy domains of the catch-all ("wingtiptoys.com"), lower-case.
    public var localDomains: [String]
    public var qmailPrefix: QmailPrefix

    /// qmail (and vpopmail, Plesk) write the virtual-domain form of the recipient into Delivered-To:
    /// `wingtiptoys.com-chris@wingtiptoys.com` for chris@wingtiptoys.com. A named option (STYLE.md habit 6): off by
    /// default, so an address is never changed unless the plan says so.
    public enum QmailPrefix: Sendable, Equatable, Codable {
        case off
        /// Remove `<domain>-` from the local part when `<domain>` is the address's own domain and a local domain
        /// (qmail `virtualdomains` entry `wingtiptoys.com:wingtiptoys.com`).
        case domain
        /// Remove the first of these literal prefixes the local part starts with (`wingtip-` for a
        /// `virtualdomains` entry `wingtiptoys.com:wingtip`), for addresses in a local domain.
        case prefixes([String])
    }

    /// Recovery stops collecting after this many addresses per source.
    static let maxAddresses = 1_000

    public init(trustedHosts: [String], localDomains: [String], qmailPrefix: QmailPrefix = .off) {
        self.trustedHosts = trustedHosts.map { $0.lowercased() }.filter { !$0.isEmpty }
        self.localDomains = localDomains.map { $0.lowercased() }
        self.qmailPrefix = qmailPrefix
    }

    /// Whether `host` is one of `trustedHosts` (exact, or under a `.suffix` entry).
    public func isTrusted(host: String) -> Bool { TrustedHosts(trustedHosts).contains(host) }

    /// Whether `address` is in one of `localDomains`.
    public func isLocal(_ address: String) -> Bool {
        localDomains.contains(MailAddress.domain(of: address))
    }

    /// Recovers the envelope of one message. Pure: `firstSeen` is when mailferry first listed it.
    public func recover(_ headers: HeaderBlock, firstSeen: Date) -> RecoveredEnvelope {
        var pass = RecoveryPass(recovery: self, headers: headers, firstSeen: firstSeen)
        return pass.run()
    }
}

/// `EnvelopeRecovery.trustedHosts` made ready for matching once per recovery instead of once per question: a
/// `.suffix` entry as written, an exact entry as a host name (`hostName`: brackets and trailing dots dropped).
private struct TrustedHosts {
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
private let loopbackHosts: Set<String> = ["localhost", "localhost.localdomain", "127.0.0.1", "::1"]

/// Where the fields recovery reads stand in a header block (their positions, topmost first), found in one pass over
/// the field names instead of one per name.
private struct TraceFields {
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
private struct RecoveryPass {
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
    private func text(_ position: Int) -> String { headers.fields[position].text }

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

    // MARK: Trust boundary

    /// Finds the provider's entry hop (see `EnvelopeRecovery`). Returns the `by` host of that hop.
    private mutating func drawBoundary() -> String? {
        guard !recovery.trustedHosts.isEmpty else {
            notes.add("no trustedHosts in the plan: every envelope header is a guess")
            return nil
        }
        guard let start = received.firstIndex(where: { $0.trace.by.map(trusted.contains) ?? false }) else {
            notes.add("no Received field is by a trusted host (\(recovery.trustedHosts.joined(separator: ", "))): "
                + "every envelope header is a guess")
            return nil
        }
        var entry = start
        // Bounded by the number of Received fields.
        while entry + 1 < received.count {
            let hop = received[entry].trace
            let below = received[entry + 1].trace
            // A hop without a from clause is a local submission on the trusted host itself (Postfix "from userid",
            // a forwarding re-injection): what lies below it was already on that host.
            let local = hop.from == nil && hop.fromHost == nil && hop.fromAddress == nil
            let cameFromInside = local || [hop.fromHost, hop.fromAddress].contains { name in
                guard let name else { return false }
                return trusted.contains(name) || loopbackHosts.contains(name)
            }
            let belowIsInside = below.by.map { trusted.contains($0) || loopbackHosts.contains($0) } ?? false
            guard cameFromInside, belowIsInside else { break }
            entry += 1
        }
        let position = received[entry].position
        boundary = position
        let host = received[entry].trace.by ?? ""
        notes.add("trust boundary: Received (field \(position)) by \(host) is the provider's entry hop; fields "
            + "below it are sender-controlled")
        for item in received[(entry + 1)...] {
            if let by = item.trace.by, trusted.contains(by) {
                notes.add("Received (field \(item.position)) below the trust boundary claims to be by \(by): "
                    + "not believed (forged, or a loop through the provider)")
            }
        }
        return host
    }

    /// The provenance the field at `position` gets, or nil when it is below the boundary (and must not be used).
    private func provenance(_ position: Int, as header: String) -> Provenance? {
        guard let boundary else { return Provenance(header: header, position: position, trusted: false) }
        return position <= boundary ? Provenance(header: header, position: position, trusted: true) : nil
    }

    /// The trace block of the field at `position`: how many Received fields stand above it.
    private func block(of position: Int) -> Int {
        received.prefix { $0.position < position }.count
    }

    // MARK: Recipients

    /// One candidate unit: the addresses of one field, or of one trace block for the original-recipient headers.
    private struct Unit {
        var recipients: [RecoveredRecipient]
        var hasLocal: Bool
    }

    private mutating func recoverRecipients() -> ([RecoveredRecipient], RecipientSource, [RecoveredRecipient]) {
        var tiers: [(RecipientSource, [Unit])] = []
        // 1. X-Original-To, Envelope-To, X-Envelope-To, grouped by trace block.
        var blocks: [Int: [RecoveredRecipient]] = [:]
        var blockOrder: [Int] = []
        for (position, name) in fields.originalRecipient {
            guard let origin = usable(position, as: name) else { continue }
            let addresses = MailAddress.list(text(position), limit: EnvelopeRecovery.maxAddresses)
            if addresses.isEmpty { notes.add("\(name) (field \(position)) holds no address") }
            let key = block(of: position)
            if blocks[key] == nil { blockOrder.append(key) }
            blocks[key, default: []] += addresses.map { RecoveredRecipient(address: $0, provenance: origin) }
        }
        tiers.append((.originalRecipient, blockOrder.compactMap { key in
            blocks[key].flatMap { $0.isEmpty ? nil : unit($0) }
        }))
        // 2. The for clause of a Received.
        var forUnits: [Unit] = []
        for item in received where !item.trace.forAddresses.isEmpty {
            let addresses = item.trace.forAddresses
            guard let origin = usable(item.position, as: "Received",
                                      detail: "for " + addresses.map { "<\($0)>" }.joined(separator: ", "))
            else { continue }
            forUnits.append(unit(item.trace.forAddresses.prefix(EnvelopeRecovery.maxAddresses).map {
                RecoveredRecipient(address: $0, provenance: origin)
            }))
        }
        tiers.append((.receivedFor, forUnits))
        // 3. Delivered-To.
        var deliveredUnits: [Unit] = []
        for position in fields.deliveredTo {
            guard let origin = usable(position, as: "Delivered-To") else { continue }
            let found = MailAddress.list(text(position), limit: EnvelopeRecovery.maxAddresses).map { written in
                let address = removingQmailPrefix(written)
                return RecoveredRecipient(address: address, provenance: origin,
                                          original: address == written ? nil : written)
            }
            for recipient in found where recipient.original != nil {
                notes.add("Delivered-To (field \(position)): qmail prefix removed, \(recipient.original ?? "") → "
                    + recipient.address)
            }
            if !found.isEmpty { deliveredUnits.append(unit(found)) }
        }
        tiers.append((.deliveredTo, deliveredUnits))

        // The first source naming a local domain wins; when none does, the first source with any address.
        let winner = tiers.firstIndex { $0.1.contains(where: \.hasLocal) } ?? tiers.firstIndex { !$0.1.isEmpty }
        var chosen: [RecoveredRecipient] = []
        var source = RecipientSource.none
        var alsoSeen: [RecoveredRecipient] = []
        for (position, (tier, units)) in tiers.enumerated() {
            guard position == winner, let pick = choose(units) else {
                alsoSeen += units.flatMap(\.recipients)
                continue
            }
            source = tier
            chosen = pick.recipients
            alsoSeen += units.filter { $0.recipients != pick.recipients }.flatMap(\.recipients)
        }
        chosen = unique(chosen)
        let chosenAddresses = Set(chosen.map(\.address))
        alsoSeen = unique(alsoSeen.filter { !chosenAddresses.contains($0.address) })
        if chosen.isEmpty {
            notes.add("no envelope recipient in the trace headers")
        } else if !alsoSeen.isEmpty {
            notes.add("also seen, not used: " + alsoSeen.map { "\($0.address) (\($0.provenance))" }
                .joined(separator: ", "))
        }
        return (chosen, source, alsoSeen)
    }

    private func unit(_ recipients: [RecoveredRecipient]) -> Unit {
        Unit(recipients: recipients, hasLocal: recipients.contains { recovery.isLocal($0.address) })
    }

    /// With a boundary the lowest unit naming a local domain, without one the topmost; else the topmost unit.
    private func choose(_ units: [Unit]) -> Unit? {
        let local = boundary == nil ? units.first(where: \.hasLocal) : units.last(where: \.hasLocal)
        return local ?? units.first
    }

    /// `usable` with the note for a field below the boundary.
    /// `detail` is made only when the note is written.
    private mutating func usable(_ position: Int, as header: String, detail: @autoclosure () -> String? = nil)
        -> Provenance?
    {
        if let origin = provenance(position, as: header) { return origin }
        let what = detail().map { "\(header) (field \(position)) \($0)" } ?? "\(header) (field \(position))"
        notes.add("\(what) is below the trust boundary: sender-controlled, ignored")
        return nil
    }

    private func removingQmailPrefix(_ address: String) -> String {
        guard recovery.isLocal(address) else { return address }
        let local = MailAddress.localPart(of: address)
        let domain = MailAddress.domain(of: address)
        let prefixes: [String]
        switch recovery.qmailPrefix {
        case .off: return address
        case .domain: prefixes = [domain + "-"]
        case .prefixes(let list): prefixes = list.map { $0.lowercased() }
        }
        guard let prefix = prefixes.first(where: { !$0.isEmpty && local.hasPrefix($0) && local.count > $0.count })
        else { return address }
        return String(local.dropFirst(prefix.count)) + "@" + domain
    }

    private func unique(_ list: [RecoveredRecipient]) -> [RecoveredRecipient] {
        var seen = Set<String>()
        return list.filter { seen.insert($0.address).inserted }
    }

    // MARK: Sender

    private mutating func recoverSender() -> (String?, Provenance?) {
        for position in fields.returnPath {
            guard let origin = usable(position, as: "Return-Path") else { continue }
            let text = text(position).trimmingSpaces()
            if text == "<>" || Self.isNullPath(text) { return ("", origin) }
            if let address = MailAddress.list(text, limit: 1).first { return (address, origin) }
            notes.add("Return-Path (field \(position)) holds no address")
        }
        for position in fields.envelopeFrom {
            guard let origin = usable(position, as: "X-Envelope-From") else { continue }
            let text = text(position)
            if text.trimmingSpaces() == "<>" { return ("", origin) }
            if let address = MailAddress.list(text, limit: 1).first { return (address, origin) }
        }
        for item in received {
            guard let from = item.trace.envelopeFrom, let origin = provenance(item.position, as: "Received") else {
                continue
            }
            return (from, origin)
        }
        notes.add("sender unknown: no usable Return-Path")
        return (nil, nil)
    }

    /// `<>` with spaces anywhere (`< >`): the null sender. On ASCII text, the bytes without the spaces; other text
    /// the general way (Foundation's search, which compares Characters, not bytes).
    private static func isNullPath(_ text: String) -> Bool {
        guard text.isASCIIOnly else { return text.replacingOccurrences(of: " ", with: "") == "<>" }
        return text.utf8.lazy.filter { $0 != 0x20 }.elementsEqual("<>".utf8)
    }

    // MARK: Arrival

    private mutating func recoverArrival() -> (date: Date, zone: Int?, source: ArrivalSource, provenance: Provenance?) {
        let latest = firstSeen.addingTimeInterval(86_400)
        for item in received {
            if let boundary, item.position > boundary { break }
            guard let stamp = item.trace.date else {
                notes.add("Received (field \(item.position)) has no readable date"
                    + (item.trace.dateText.map { ": \"\(sanitizeForDisplay($0, limit: 60))\"" } ?? ""))
                continue
            }
            guard plausible(stamp.date, latest: latest, what: "Received (field \(item.position))") else { continue }
            let origin = Provenance(header: "Received", position: item.position, trusted: boundary != nil)
            return (stamp.date, stamp.zoneOffset, boundary == nil ? .topmostReceived : .providerReceived, origin)
        }
        for position in fields.date {
            let text = text(position)
            guard let stamp = MailDate.parse(text) else {
                notes.add("Date (field \(position)) is not a readable date: \"" + sanitizeForDisplay(text, limit: 60)
                    + "\"")
                continue
            }
            guard plausible(stamp.date, latest: latest, what: "Date (field \(position))") else { continue }
            notes.add("arrival time from the Date field (when it was written, not when it arrived)")
            return (stamp.date, stamp.zoneOffset, .dateHeader, Provenance(header: "Date", position: position,
                                                                           trusted: false))
        }
        notes.add("arrival time unknown: first-seen time used")
        return (firstSeen, nil, .firstSeen, nil)
    }

    private mutating func plausible(_ date: Date, latest: Date, what: String) -> Bool {
        if date > latest {
            notes.add("\(what) is dated after it was first seen; skipped")
            return false
        }
        if date.timeIntervalSince1970 < 0 {
            notes.add("\(what) is dated before 1970; skipped")
            return false
        }
        return true
    }

    // MARK: To/Cc and lists

    private func headerRecipients() -> [RecoveredRecipient] {
        var out: [RecoveredRecipient] = []
        for (position, name) in fields.toCc {
            let origin = Provenance(header: name, position: position, trusted: false)
            for address in MailAddress.list(text(position), limit: EnvelopeRecovery.maxAddresses)
            where out.count < EnvelopeRecovery.maxAddresses && !out.contains(where: { $0.address == address }) {
                out.append(RecoveredRecipient(address: address, provenance: origin))
            }
        }
        return out
    }

    private func mailingList() -> MailingList? {
        var list = MailingList()
        if let position = fields.listID {
            let text = text(position)
            if let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
                list.id = String(text[text.index(after: open)..<close]).lowercased()
            } else {
                list.id = text.trimmingSpaces().lowercased()
            }
        }
        if let position = fields.listPost {
            // RFC 2369 §3.4: <mailto:list@host>, possibly with a query; "NO" when posting is not allowed.
            let lower = text(position).lowercased()
            if let range = lower.range(of: "mailto:") {
                let rest = lower[range.upperBound...].prefix { $0 != ">" && $0 != "?" && $0 != "," && $0 != " " }
                list.address = MailAddress.normalize(rest)
            }
        }
        if list.address == nil, let position = fields.mailingList {
            // Yahoo/ezmlm style: "list trey@lists.example; contact trey-owner@…": the word after "list".
            let words = Self.mailingListWords(text(position))
            if let index = words.firstIndex(where: { $0.equalsIgnoringASCIICase("list") }), index + 1 < words.count {
                list.address = MailAddress.normalize(words[index + 1])
            }
        }
        if list.address == nil, let position = fields.xMailingList {
            list.address = MailAddress.list(text(position), limit: 1).first  // "<linux-kernel@vger.kernel.org>"
        }
        // A list we cannot name is still a list: never routed by its To.
        let present = [fields.listID, fields.listPost, fields.mailingList, fields.xMailingList].contains { $0 != nil }
        return present ? list : nil
    }

    /// The words of a Mailing-List value, split at ';' and ' '. On ASCII text a Character split (each ';' and ' '
    /// is a Character of its own there); other text the general way, through Foundation's replacement.
    private static func mailingListWords(_ text: String) -> [Substring] {
        guard text.isASCIIOnly else { return text.replacingOccurrences(of: ";", with: " ").split(separator: " ") }
        return text.split(whereSeparator: { $0 == ";" || $0 == " " })
    }
}
