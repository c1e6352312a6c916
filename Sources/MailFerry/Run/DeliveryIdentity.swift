import MailCore
import MailStore
import MailSystem
import MailWire

/// The name a delivery leaves in its target, derived from the plan, the mailbox, the UIDL and the message's bytes,
/// never from a clock or the state database: every attempt of the same message names the same Maildir file, and
/// what a lost state had delivered can be recognised from the target alone (`mailferry adopt`).
///
/// Maildir-style: "<arrival>.M<identity>.<content>.mailferry", where arrival is the time recovered from the
/// message's own headers (0 when it has none: a file name may not depend on when mailferry first saw it), identity
/// the first 24 hex digits of SHA-256(plan NUL mailbox NUL UIDL), and content the first 16 of the bytes' SHA-256.
/// Dovecot numbers new files in name order, so a mailbox's messages get IMAP UIDs in arrival order.
struct DeliveryIdentity: Equatable {
    var plan: String
    /// `<source>/<user>`, or for a catch-all's routed delivery `<source>/<user>><address>`.
    var mailboxKey: String
    var uidl: String

    /// The part of every token of this (plan, mailbox, UIDL), whatever the bytes: what `adopt` looks for.
    var identityDigest: String {
        String(SHA256Hasher.hex(Array("\(plan)\u{0}\(mailboxKey)\u{0}\(uidl)".utf8)).prefix(24))
    }

    /// The identity of tokens written before the plan name was part of it ("<first seen>.M<digest>.mailferry",
    /// digest of mailbox NUL UIDL): `adopt` recognises those too.
    var legacyDigest: String {
        String(SHA256Hasher.hex(Array("\(mailboxKey)\u{0}\(uidl)".utf8)).prefix(24))
    }

    func token(sha256: String, arrival envelope: RecoveredEnvelope) -> String {
        let arrival = envelope.arrivalSource == .firstSeen ? 0 : max(0, Int(envelope.arrival.timeIntervalSince1970))
        return "\(arrival).M\(identityDigest).\(sha256.prefix(16)).mailferry"
    }

    /// The identity digest a Maildir file name carries ("<time>.M<digest>…"), or nil for a name mailferry did not
    /// write.
    static func digest(inFileName name: String) -> String? {
        guard name.contains(".mailferry"), let m = name.range(of: ".M") else { return nil }
        let digest = name[m.upperBound...].prefix(24)
        guard digest.count == 24, digest.allSatisfy(\.isHexDigit) else { return nil }
        return String(digest)
    }
}
