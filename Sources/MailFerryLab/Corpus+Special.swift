/// The special kinds: each one is a message that some POP3 client, server or migration tool has got wrong.
extension Corpus {
    static func dotLines(_ envelope: CorpusEnvelope, _ rng: inout SplitMix64) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        writeHeader(
            &writer, envelope, &rng, subject: "Re: the files in your home directory",
            contentType: ["text/plain; charset=us-ascii"], encoding: "7bit")
        writer.lines([
            "Here is the listing you asked for:",
            "",
            ".profile",
            ".bashrc",
            "..",
            ".",
            "...",
            ".hidden/notes.txt",
            ". a line that starts with a dot and a space",
            " . a dot after a space does not need stuffing",
            "",
            "From the archive: this line starts with \"From \" and mbox would quote it.",
            ">From the archive, quoted once already.",
            "",
        ])
        writer.lines(CorpusText.wrap(CorpusText.paragraph(&rng)))
        writer.lines(["", "The next line is a lone dot, and so is the last line of this message:", ".", ""])
        writer.lines(CorpusText.wrap(CorpusText.paragraph(&rng)))
        writer.line(".")
        return writer.bytes
    }

    /// All-LF or mixed line endings; includes a dot line so dot-stuffing meets a bare LF too.
    static func lineEndings(_ envelope: CorpusEnvelope, _ ending: MessageWriter.LineEnding, _ rng: inout SplitMix64)
        -> [UInt8]
    {
        var writer = MessageWriter(ending: ending, rng: SplitMix64(seed: rng.next()))
        writeHeader(
            &writer, envelope, &rng, contentType: ["text/plain; charset=us-ascii; format=flowed"],
            encoding: "7bit")
        writer.lines(CorpusText.body(targetBytes: rng.int(in: 2_000...6_000), &rng))
        writer.lines(["", ".. and a line that starts with a dot."])
        writer.lines(signature(envelope))
        return writer.bytes
    }

    static func eightBit(_ envelope: CorpusEnvelope, _ rng: inout SplitMix64) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        let marker = boundary(&rng)
        // A raw UTF-8 display name (no RFC 2047 encoding), as broken or RFC 6532 senders write it.
        let from = "Jürgen Müller-Lüdenscheidt <\(envelope.sender.address)>"
        let subject = CorpusEncoding.encodedWord("Grüße aus Köln – Rechnung № \(envelope.index + 1000)")
        writeHeader(
            &writer, envelope, &rng, subject: subject, from: from,
            contentType: ["multipart/mixed;", "boundary=\"\(marker)\""], encoding: "8bit")
        writer.lines([
            "This is a multi-part message in MIME format.",
            "",
            "--\(marker)",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
            "Grüße aus Köln! Das Café an der Straße hat wieder geöffnet.",
            "Prix : 12,50 € — naïve façade, smörgåsbord, Ærø, Łódź, İstanbul.",
            "Ελληνικά, Русский текст, 日本語のテキスト, 한국어, עברית, العربية.",
            "Emoji from a later decade: ✉️ 📎 ✔",
            "",
        ])
        writer.lines(CorpusText.wrap(CorpusText.paragraph(&rng)))
        writer.lines([
            "",
            "--\(marker)",
            "Content-Type: text/plain; charset=iso-8859-1",
            "Content-Transfer-Encoding: 8bit",
            "",
        ])
        // Latin-1: these bytes are not valid UTF-8, so nothing may decode and re-encode them.
        for text in ["Grüße aus München, Größe: ½ m², Preis: £ 100 / ¥ 2000.", "Ça coûte très cher, señor!"] {
            writer.line(raw: text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
        }
        writer.lines(["", "--\(marker)--", ""])
        return writer.bytes
    }

    static func longLine(_ envelope: CorpusEnvelope, _ rng: inout SplitMix64) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        writeHeader(
            &writer, envelope, &rng, subject: "Export from the accounting system",
            contentType: ["text/plain; charset=us-ascii"], encoding: "7bit")
        writer.lines(["The export came out as one line again, sorry:", ""])
        let length = 10_000 + rng.int(in: 1...6_000)
        var row = "id;date;account;amount;currency;reference"
        while row.utf8.count < length {
            row +=
                ";\(rng.int(in: 10_000...99_999));2006-\(rng.int(in: 10...12))-\(rng.int(in: 10...28))"
                + ";\(rng.int(in: 1000...9999));\(rng.int(in: 1...99_999)).\(rng.int(in: 10...99));EUR;INV\(rng.hex(6))"
        }
        writer.line(String(row.prefix(length)))
        writer.lines(["", "Can you import it anyway?"])
        writer.lines(signature(envelope))
        return writer.bytes
    }

    static func htmlAlternative(_ envelope: CorpusEnvelope, _ rng: inout SplitMix64) -> [UInt8] {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        let marker = boundary(&rng)
        writeHeader(
            &writer, envelope, &rng, subject: "Newsletter: \(envelope.topic)",
            contentType: ["multipart/alternative;", "boundary=\"\(marker)\""], encoding: nil)
        let paragraphs = (0..<rng.int(in: 3...8)).map { _ in CorpusText.paragraph(&rng) }
        writer.lines(["This is a multi-part message in MIME format.", "", "--\(marker)"])
        writer.lines(["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", ""])
        var text: [String] = []
        for paragraph in paragraphs {
            text += CorpusText.wrap(paragraph) + [""]
        }
        writer.lines(CorpusEncoding.quotedPrintable(text + ["Preis: 20 € = 2 × 10 €"]))
        writer.lines(["", "--\(marker)"])
        writer.lines(["Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", ""])
        var html = [
            "<!DOCTYPE html PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\">",
            "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head>",
            "<body style=\"font-family: Arial, sans-serif; font-size: 10pt; color: #333333;\">",
            "<h1 style=\"color: #003366;\">\(envelope.topic)</h1>",
        ]
        for paragraph in paragraphs {
            html.append("<p style=\"margin: 0 0 12px 0;\">\(paragraph)</p>")
        }
        html += ["<p>Preis: 20&nbsp;&euro; = 2 &times; 10&nbsp;&euro;</p>", "</body></html>"]
        writer.lines(CorpusEncoding.quotedPrintable(html))
        writer.lines(["", "--\(marker)--", ""])
        return writer.bytes
    }

    /// multipart/mixed with a short note and one base64 attachment of `rawBytes` bytes.
    static func attachment(_ envelope: CorpusEnvelope, rawBytes: Int, pdf: Bool, _ rng: inout SplitMix64)
        -> [UInt8]
    {
        var writer = MessageWriter(ending: .crlf, rng: rng)
        let marker = boundary(&rng)
        writeHeader(
            &writer, envelope, &rng, subject: "\(envelope.topic) (attached)",
            contentType: ["multipart/mixed;", "boundary=\"\(marker)\""], encoding: nil)
        writer.lines(["This is a multi-part message in MIME format.", "", "--\(marker)"])
        writer.lines(["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit", ""])
        writer.lines(["Hello,", ""] + CorpusText.wrap(CorpusText.paragraph(&rng)) + signature(envelope))
        let (type, name, magic): (String, String, [UInt8])
        if pdf {
            (type, name, magic) = ("application/pdf", "scan-\(envelope.index + 1).pdf", Array("%PDF-1.4\n".utf8))
        } else {
            (type, name, magic) = rng.pick([
                ("image/jpeg", "photo-\(envelope.index + 1).jpg", [0xFF, 0xD8, 0xFF, 0xE0]),
                ("application/msword", "minutes.doc", [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
                ("application/zip", "figures.zip", [0x50, 0x4B, 0x03, 0x04]),
            ])
        }
        writer.lines(["", "--\(marker)"])
        writer.folded("Content-Type", ["\(type);", "name=\"\(name)\""])
        writer.header("Content-Transfer-Encoding", "base64")
        writer.folded("Content-Disposition", ["attachment;", "filename=\"\(name)\""])
        writer.line("")
        writer.lines(CorpusEncoding.base64Lines(magic + rng.bytes(max(0, rawBytes - magic.count))))
        writer.lines(["", "--\(marker)--", ""])
        return writer.bytes
    }
}
