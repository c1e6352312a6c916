import Foundation

extension RecoveryPass {
    // MARK: Sender

    mutating func recoverSender() -> (String?, Provenance?) {
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
    static func isNullPath(_ text: String) -> Bool {
        guard text.isASCIIOnly else { return text.replacingOccurrences(of: " ", with: "") == "<>" }
        return text.utf8.lazy.filter { $0 != 0x20 }.elementsEqual("<>".utf8)
    }

    // MARK: Arrival

    mutating func recoverArrival() -> (date: Date, zone: Int?, source: ArrivalSource, provenance: Provenance?) {
        let latest = firstSeen.addingTimeInterval(86_400)
        for item in received {
            if let boundary, item.position > boundary { break }
            guard let stamp = item.trace.date else {
                notes.add(
                    "Received (field \(item.position)) has no readable date"
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
                notes.add(
                    "Date (field \(position)) is not a readable date: \"" + sanitizeForDisplay(text, limit: 60)
                        + "\"")
                continue
            }
            guard plausible(stamp.date, latest: latest, what: "Date (field \(position))") else { continue }
            notes.add("arrival time from the Date field (when it was written, not when it arrived)")
            return (
                stamp.date, stamp.zoneOffset, .dateHeader,
                Provenance(
                    header: "Date", position: position,
                    trusted: false)
            )
        }
        notes.add("arrival time unknown: first-seen time used")
        return (firstSeen, nil, .firstSeen, nil)
    }

    mutating func plausible(_ date: Date, latest: Date, what: String) -> Bool {
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

    func headerRecipients() -> [RecoveredRecipient] {
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

    func mailingList() -> MailingList? {
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
    static func mailingListWords(_ text: String) -> [Substring] {
        guard text.isASCIIOnly else { return text.replacingOccurrences(of: ";", with: " ").split(separator: " ") }
        return text.split(whereSeparator: { $0 == ";" || $0 == " " })
    }
}
