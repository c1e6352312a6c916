/// Deterministic test mail that looks like a mailbox kept for fifteen years.
///
/// Migrations break on the unusual messages, so every mailbox starts with one message of each special kind (see
/// `Kind`), in a fixed order, followed by ordinary mail of 1–40 KiB. The same (user, domain, seed) always gives the
/// same bytes; another user, domain or seed gives other messages with other Message-IDs.
public enum Corpus {
    public enum Kind: String, Sendable, CaseIterable {
        /// Body lines starting with "." (".profile", "..", "...") and lines that are only ".", the last body line
        /// among them, plus "From " lines: dot-stuffing (RFC 1939 §3) and mbox quoting traps.
        case dotLines
        /// Every line ends in a bare LF, as Unix MTAs store mail; its virtual size differs from its file size.
        case bareLF
        /// CRLF header, body lines ending in a mix of CRLF and LF.
        case mixedLineEndings
        /// Raw 8-bit text: a UTF-8 display name in From, a UTF-8 part and a latin-1 part (bytes that are not UTF-8).
        case eightBit
        /// One body line longer than 10,000 bytes (RFC 5322 §2.1.1 says 998; legacy mail ignores that).
        case longLine
        /// No Message-ID header at all; tools that deduplicate by Message-ID must still keep it.
        case noMessageID
        /// multipart/alternative: text/plain and text/html, both quoted-printable.
        case htmlAlternative
        /// multipart/mixed with a base64 PDF of about 3 MiB.
        case bigAttachment
        /// Plain notes, replies with quoting and References, list mail, quoted-printable text, small attachments.
        case ordinary
    }

    /// The special kinds in the order a mailbox starts with them; `bigAttachment` follows when asked for.
    public static let specialKinds: [Kind] = [
        .dotLines, .bareLF, .mixedLineEndings, .eightBit, .longLine, .noMessageID, .htmlAlternative,
    ]

    /// The kind of each message `mailbox` returns. With fewer messages than special kinds the list is cut short,
    /// but a requested big attachment is always there (as the last message).
    public static func kinds(count: Int, bigAttachment: Bool) -> [Kind] {
        guard count > 0 else { return [] }
        var kinds = specialKinds + (bigAttachment ? [.bigAttachment] : [])
        if kinds.count > count {
            kinds = Array(kinds.prefix(count))
            if bigAttachment {
                kinds[count - 1] = .bigAttachment
            }
        }
        return kinds + Array(repeating: .ordinary, count: count - kinds.count)
    }

    /// A realistic legacy mailbox for `user@domain`, oldest message first, deterministic for a given seed.
    /// `sentFrom` (unix time) and `spacing` (seconds between messages) place the messages in time; by default they
    /// start somewhere in 2005–2007, ten minutes to three days apart.
    public static func mailbox(
        user: String, domain: String, count: Int, seed: UInt64, bigAttachment: Bool,
        sentFrom: Int64? = nil, spacing: ClosedRange<Int> = 600...(3 * 86_400)
    ) -> [[UInt8]] {
        var rng = SplitMix64(seed: stableSeed(["mailferry corpus", user, domain], seed))
        var sentAt: Int64 = 1_104_537_600 + Int64(rng.int(in: 0...(3 * 365 * 86_400)))
        if let sentFrom { sentAt = sentFrom }
        return kinds(count: count, bigAttachment: bigAttachment).enumerated().map { index, kind in
            sentAt += Int64(rng.int(in: spacing))
            var messageRng = SplitMix64(seed: rng.next())
            let envelope = CorpusEnvelope(
                index: index, user: user, domain: domain, sentAt: sentAt, rng: &messageRng)
            return message(kind, envelope, &messageRng)
        }
    }

    static func message(_ kind: Kind, _ envelope: CorpusEnvelope, _ rng: inout SplitMix64) -> [UInt8] {
        switch kind {
        case .dotLines: dotLines(envelope, &rng)
        case .bareLF: lineEndings(envelope, .lf, &rng)
        case .mixedLineEndings: lineEndings(envelope, .mixed, &rng)
        case .eightBit: eightBit(envelope, &rng)
        case .longLine: longLine(envelope, &rng)
        case .noMessageID: plain(envelope, messageID: false, &rng)
        case .htmlAlternative: htmlAlternative(envelope, &rng)
        case .bigAttachment: attachment(envelope, rawBytes: 2_290_000 + rng.int(in: 0...16_384), pdf: true, &rng)
        case .ordinary: ordinary(envelope, &rng)
        }
    }

    /// The header block shared by all kinds: trace, sometimes a DKIM signature, originator fields, MIME fields.
    static func writeHeader(
        _ writer: inout MessageWriter, _ envelope: CorpusEnvelope, _ rng: inout SplitMix64,
        subject: String? = nil, messageID: Bool = true, from: String? = nil, extra: [(String, [String])] = [],
        contentType: [String], encoding: String?
    ) {
        envelope.writeTrace(&writer, &rng)
        if rng.chance(30) {
            envelope.writeSignature(&writer, &rng)
        }
        envelope.writeOriginator(
            &writer, subject: subject ?? envelope.topic, messageID: messageID, from: from, extra: extra)
        writer.header("MIME-Version", "1.0")
        writer.folded("Content-Type", contentType)
        if let encoding {
            writer.header("Content-Transfer-Encoding", encoding)
        }
        writer.endHeader()
    }

    static func boundary(_ rng: inout SplitMix64) -> String {
        "----=_NextPart_000_\(rng.hex(4))_\(rng.hex(8)).\(rng.hex(8))"
    }

    static func signature(_ envelope: CorpusEnvelope) -> [String] {
        // "-- " with its trailing space is the usenet signature separator; trailing spaces must survive.
        ["", "-- ", envelope.sender.name, envelope.sender.address]
    }
}
