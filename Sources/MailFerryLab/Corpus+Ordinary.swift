/// Ordinary mail, 1–40 KiB: the bulk of any mailbox, varied enough that size- and structure-dependent bugs show.
extension Corpus {
    static func ordinary(_ envelope: CorpusEnvelope, _ rng: inout SplitMix64) -> [UInt8] {
        let target = rng.logUniform(1_024, 40 * 1_024)
        switch rng.int(in: 0...99) {
        case 0..<40: return plain(envelope, messageID: true, targetBytes: target, &rng)
        case 40..<60: return reply(envelope, targetBytes: target, &rng)
        case 60..<75: return listMail(envelope, targetBytes: target, &rng)
        case 75..<85: return quotedPrintable(envelope, targetBytes: target, &rng)
        default: return attachment(envelope, rawBytes: max(256, target * 7 / 10 * 3 / 4), pdf: false, &rng)
        }
    }

    static func plain(
        _ envelope: CorpusEnvelope, messageID: Bool, targetBytes: Int? = nil, _ rng: inout SplitMix64
    ) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        writeHeader(
            &writer, envelope, &rng, messageID: messageID, contentType: ["text/plain; charset=us-ascii"],
            encoding: "7bit")
        let target = targetBytes ?? rng.logUniform(1_024, 8 * 1_024)
        writer.lines(["Hi \(envelope.user.capitalizedFirst),", ""])
        writer.lines(CorpusText.body(targetBytes: max(100, target - writer.count), &rng))
        writer.lines(signature(envelope))
        return writer.bytes
    }

    /// A reply: In-Reply-To, References folded one message id per line, and two levels of quoting.
    static func reply(_ envelope: CorpusEnvelope, targetBytes: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        let earlier = (0..<rng.int(in: 1...5)).map { _ in "<\(rng.hex(16)).\(rng.hex(6))@\(envelope.sender.host)>" }
        writeHeader(
            &writer, envelope, &rng, subject: "Re: \(envelope.topic)",
            extra: [("In-Reply-To", [earlier[earlier.count - 1]]), ("References", earlier)],
            contentType: ["text/plain; charset=us-ascii"], encoding: "7bit")
        writer.lines(CorpusText.wrap(CorpusText.paragraph(&rng)))
        writer.lines(["", "On \(envelope.sent.adding(seconds: -86_400).rfc5322), \(envelope.recipientHeader) wrote:"])
        let quoted = CorpusText.body(targetBytes: max(100, targetBytes - writer.count - 300), &rng)
        for (offset, line) in quoted.enumerated() {
            let depth = offset > quoted.count / 2 ? ">> " : "> "
            writer.line(line.isEmpty ? ">" : depth + line)
        }
        writer.lines(signature(envelope))
        return writer.bytes
    }

    /// Mailing-list mail: List-* headers (RFC 2369, RFC 2919), Precedence, a Sender, and a footer.
    static func listMail(_ envelope: CorpusEnvelope, targetBytes: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        let list = rng.pick(CorpusText.lists)
        let host = "lists.example.org"
        writeHeader(
            &writer, envelope, &rng, subject: "[\(list)] \(envelope.topic)",
            extra: [
                ("Sender", ["\(list)-bounces@\(host)"]),
                ("List-Id", ["\(list.capitalizedFirst) discussion <\(list).\(host)>"]),
                (
                    "List-Unsubscribe",
                    [
                        "<https://\(host)/mailman/options/\(list)>,", "<mailto:\(list)-request@\(host)>",
                    ]
                ),
                ("Precedence", ["list"]),
            ],
            contentType: ["text/plain; charset=us-ascii"], encoding: "7bit")
        writer.lines(CorpusText.body(targetBytes: max(100, targetBytes - writer.count - 250), &rng))
        writer.lines([
            "", "_______________________________________________", "\(list) mailing list", "\(list)@\(host)",
            "https://\(host)/mailman/listinfo/\(list)",
        ])
        return writer.bytes
    }

    /// UTF-8 text in quoted-printable with soft line breaks (RFC 2045 §6.7).
    static func quotedPrintable(_ envelope: CorpusEnvelope, targetBytes: Int, _ rng: inout SplitMix64) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        writeHeader(
            &writer, envelope, &rng, contentType: ["text/plain; charset=utf-8;", "format=flowed"],
            encoding: "quoted-printable")
        var lines = ["Liebe Grüße aus Zürich — the café réunion is on the agenda again.", ""]
        // Long paragraphs as single lines, so the encoder has to break them softly.
        var size = 0
        while size < max(100, targetBytes - writer.count) {
            let paragraph = CorpusText.paragraph(&rng) + " Façade, naïve, smörgåsbord, 5 € = 5,00 €."
            lines += [paragraph, ""]
            size += paragraph.utf8.count * 5 / 4
        }
        writer.lines(CorpusEncoding.quotedPrintable(lines + signature(envelope)))
        return writer.bytes
    }
}
