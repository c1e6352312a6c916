import Foundation

extension RecoveryPass {
    // MARK: Recipients

    /// One candidate unit: the addresses of one field, or of one trace block for the original-recipient headers.
    struct Unit {
        var recipients: [RecoveredRecipient]
        var hasLocal: Bool
    }

    mutating func recoverRecipients() -> ([RecoveredRecipient], RecipientSource, [RecoveredRecipient]) {
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
        tiers.append(
            (
                .originalRecipient,
                blockOrder.compactMap { key in
                    blocks[key].flatMap { $0.isEmpty ? nil : unit($0) }
                }
            ))
        // 2. The for clause of a Received.
        var forUnits: [Unit] = []
        for item in received where !item.trace.forAddresses.isEmpty {
            let addresses = item.trace.forAddresses
            guard
                let origin = usable(
                    item.position, as: "Received",
                    detail: "for " + addresses.map { "<\($0)>" }.joined(separator: ", "))
            else { continue }
            forUnits.append(
                unit(
                    item.trace.forAddresses.prefix(EnvelopeRecovery.maxAddresses).map {
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
                return RecoveredRecipient(
                    address: address, provenance: origin,
                    original: address == written ? nil : written)
            }
            for recipient in found where recipient.original != nil {
                notes.add(
                    "Delivered-To (field \(position)): qmail prefix removed, \(recipient.original ?? "") → "
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
            notes.add(
                "also seen, not used: "
                    + alsoSeen.map { "\($0.address) (\($0.provenance))" }
                    .joined(separator: ", "))
        }
        return (chosen, source, alsoSeen)
    }

    func unit(_ recipients: [RecoveredRecipient]) -> Unit {
        Unit(recipients: recipients, hasLocal: recipients.contains { recovery.isLocal($0.address) })
    }

    /// With a boundary the lowest unit naming a local domain, without one the topmost; else the topmost unit.
    func choose(_ units: [Unit]) -> Unit? {
        let local = boundary == nil ? units.first(where: \.hasLocal) : units.last(where: \.hasLocal)
        return local ?? units.first
    }

    /// `usable` with the note for a field below the boundary.
    /// `detail` is made only when the note is written.
    mutating func usable(_ position: Int, as header: String, detail: @autoclosure () -> String? = nil)
        -> Provenance?
    {
        if let origin = provenance(position, as: header) { return origin }
        let what = detail().map { "\(header) (field \(position)) \($0)" } ?? "\(header) (field \(position))"
        notes.add("\(what) is below the trust boundary: sender-controlled, ignored")
        return nil
    }

    func removingQmailPrefix(_ address: String) -> String {
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

    func unique(_ list: [RecoveredRecipient]) -> [RecoveredRecipient] {
        var seen = Set<String>()
        return list.filter { seen.insert($0.address).inserted }
    }
}
