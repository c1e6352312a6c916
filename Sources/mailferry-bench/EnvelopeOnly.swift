import Foundation
import MailCore
import MailFerry
import MailFerryLab
import MailStore
import MailSystem
import MailWire

/// `--envelope-only N`: the CPU cost of envelope recovery alone, in this process (no lab, no peers): the headers of
/// N bench-corpus messages are parsed once, then their envelopes are recovered (with a trust boundary, as a plan
/// with trustedHosts does) in repeated rounds, and the best round is printed as µs per message. Run it on an idle
/// machine from a release build; it asserts nothing.
enum EnvelopeOnly {
    static func measure(messages: Int) -> String {
        let blocks = Corpus.benchMailbox(user: "u01", domain: "wingtip.example", count: messages, seed: 1, bigEvery: 0)
            .map { HeaderBlock(parsing: Array($0.prefix(HeaderBlock.Limits.default.readBytes))) }
        let recovery = EnvelopeRecovery(
            trustedHosts: ["mail.wingtip.example", "mx1.wingtip.example"],
            localDomains: ["wingtip.example"])
        let firstSeen = Date(timeIntervalSince1970: 1_900_000_000)
        var best = Double.infinity
        var checksum = 0
        // Enough rounds for a steady best on a shared machine, bounded at about five seconds of recovery.
        let started = Date()
        for _ in 0..<50 where Date().timeIntervalSince(started) < 5 {
            let round = Date()
            for block in blocks {
                let envelope = recovery.recover(block, firstSeen: firstSeen)
                checksum &+=
                    envelope.recipients.count &+ envelope.notes.count
                    &+ Int(envelope.arrival.timeIntervalSince1970)
            }
            best = min(best, Date().timeIntervalSince(round))
        }
        let perMessage = best / Double(blocks.count) * 1_000_000
        return String(
            format: "envelope recovery: %.2f µs per message (best round of %d messages)", perMessage,
            blocks.count) + "; results \(fingerprint(blocks, recovery, firstSeen)) \(checksum)"
    }

    /// FNV-1a over the JSON of every recovered envelope: equal before and after a change to recovery when the
    /// change kept every result (notes included).
    static func fingerprint(_ blocks: [HeaderBlock], _ recovery: EnvelopeRecovery, _ firstSeen: Date) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for block in blocks {
            for byte in (try? encoder.encode(recovery.recover(block, firstSeen: firstSeen))) ?? Data() {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        return String(hash, radix: 16)
    }
}
