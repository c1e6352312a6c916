import Foundation

extension RecoveryPass {
    // MARK: Trust boundary

    /// Finds the provider's entry hop (see `EnvelopeRecovery`). Returns the `by` host of that hop.
    mutating func drawBoundary() -> String? {
        guard !recovery.trustedHosts.isEmpty else {
            notes.add("no trustedHosts in the plan: every envelope header is a guess")
            return nil
        }
        guard let start = received.firstIndex(where: { $0.trace.by.map(trusted.contains) ?? false }) else {
            notes.add(
                "no Received field is by a trusted host (\(recovery.trustedHosts.joined(separator: ", "))): "
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
            let cameFromInside =
                local
                || [hop.fromHost, hop.fromAddress].contains { name in
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
        notes.add(
            "trust boundary: Received (field \(position)) by \(host) is the provider's entry hop; fields "
                + "below it are sender-controlled")
        for item in received[(entry + 1)...] {
            if let by = item.trace.by, trusted.contains(by) {
                notes.add(
                    "Received (field \(item.position)) below the trust boundary claims to be by \(by): "
                        + "not believed (forged, or a loop through the provider)")
            }
        }
        return host
    }

    /// The provenance the field at `position` gets, or nil when it is below the boundary (and must not be used).
    func provenance(_ position: Int, as header: String) -> Provenance? {
        guard let boundary else { return Provenance(header: header, position: position, trusted: false) }
        return position <= boundary ? Provenance(header: header, position: position, trusted: true) : nil
    }

    /// The trace block of the field at `position`: how many Received fields stand above it.
    func block(of position: Int) -> Int {
        received.prefix { $0.position < position }.count
    }
}
