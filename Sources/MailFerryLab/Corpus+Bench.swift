extension Corpus {
    /// A mailbox for benchmarks: the special kinds first (dot lines, bare LF, mixed line ends, 8-bit, a long line,
    /// no Message-ID, HTML), then ordinary mail of 1–40 KiB (median about 8 KiB), with every `bigEvery`-th message a
    /// multipart/mixed with a base64 PDF of about 3 MiB. Deterministic for a given (user, domain, seed).
    public static func benchMailbox(user: String, domain: String, count: Int, seed: UInt64, bigEvery: Int = 50)
        -> [[UInt8]]
    {
        var kinds = kinds(count: count, bigAttachment: false)
        for index in kinds.indices where index >= specialKinds.count && bigEvery > 0 && index % bigEvery == 0 {
            kinds[index] = .bigAttachment
        }
        var rng = SplitMix64(seed: stableSeed(["mailferry bench corpus", user, domain], seed))
        var sentAt: Int64 = 1_104_537_600 + Int64(rng.int(in: 0...(3 * 365 * 86_400)))
        return kinds.enumerated().map { index, kind in
            sentAt += Int64(rng.int(in: 600...(3 * 86_400)))
            var messageRng = SplitMix64(seed: rng.next())
            let envelope = CorpusEnvelope(index: index, user: user, domain: domain, sentAt: sentAt, rng: &messageRng)
            return message(kind, envelope, &messageRng)
        }
    }

    /// One message with an attachment of `bytes` (its base64 part about 4/3 of that): the "someone mailed a video"
    /// case, for memory bounds.
    public static func hugeMessage(user: String, domain: String, attachmentBytes bytes: Int, seed: UInt64 = 1)
        -> [UInt8]
    {
        var rng = SplitMix64(seed: stableSeed(["mailferry huge message", user, domain], seed))
        let envelope = CorpusEnvelope(index: 0, user: user, domain: domain, sentAt: 1_300_000_000, rng: &rng)
        return attachment(envelope, rawBytes: bytes, pdf: false, &rng)
    }
}
