import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerryTestSupport

/// The header parser reads, never writes: raw ranges point into the input, values are unfolded copies, and every
/// odd line ending and broken line of a legacy store is tolerated (RFC 5322 §2.1, §2.2; RFC 2047 for display).
@Suite struct HeaderParserTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func parse(_ text: String, limits: HeaderBlock.Limits = .default) -> HeaderBlock {
        HeaderBlock(parsing: bytes(text), limits: limits)
    }

    @Test func foldedFieldsAreUnfoldedAndRangesPointAtTheRawBytes() {
        let message =
            "Received: from a.example\r\n\tby b.example;\r\n Tue, 5 Mar 2019 10:00:00 +0100\r\n"
            + "Subject:  Hello   \r\nX-Empty:\r\n\r\nbody\r\n"
        let input = bytes(message)
        let block = HeaderBlock(parsing: input)
        #expect(block.fields.map(\.name) == ["Received", "Subject", "X-Empty"])
        #expect(block.fields.map(\.index) == [0, 1, 2])
        #expect(block.fields[0].text == "from a.example\tby b.example; Tue, 5 Mar 2019 10:00:00 +0100")
        #expect(block.fields[1].text == "Hello")
        #expect(block.fields[2].text == "")
        let first = block.fields[0]
        #expect(
            Array(input[first.range])
                == bytes(
                    "Received: from a.example\r\n\tby b.example;\r\n Tue, 5 Mar 2019 "
                        + "10:00:00 +0100\r\n"))
        #expect(
            String(decoding: input[first.valueRange], as: UTF8.self)
                == " from a.example\r\n\tby b.example;\r\n Tue, 5 Mar 2019 10:00:00 +0100")
        #expect(block.bodyOffset == message.utf8.count - 6)
        #expect(Array(input[block.bodyOffset!...]) == bytes("body\r\n"))
        #expect(block.headerEnd == block.bodyOffset! - 2)
        #expect(block.notes.isEmpty, "\(block.notes)")
        #expect(!block.truncated)
    }

    /// Every byte of the header is either inside one field's range or on a skipped line; ranges are in order.
    @Test(arguments: [
        "A: 1\r\nB: 2\r\n\r\nbody",
        "A: 1\nB:\n 2\n\nbody",
        "A: 1\rB: 2\r\rbody",
        "A: 1\r\r\nB: 2\r\r\n\r\r\nbody",
        "From someone@x Mon Jan  1 00:00:00 2001\nA: 1\nnot a header\n\tstray\nB: 2\n\nbody",
        " leading continuation\r\nA: 1\r\n",
        "A: 1\r\nB: 2",
        "",
        "\r\nbody only",
    ])
    func rangesCoverTheHeaderExactly(message: String) {
        let input = bytes(message)
        let block = HeaderBlock(parsing: input)
        var position = 0
        for field in block.fields {
            #expect(field.range.lowerBound >= position)
            #expect(field.range.upperBound <= block.headerEnd)
            #expect(field.valueRange.lowerBound > field.range.lowerBound)
            #expect(field.valueRange.upperBound <= field.range.upperBound)
            position = field.range.upperBound
        }
        #expect(block.headerEnd <= input.count)
        if let body = block.bodyOffset { #expect(body > block.headerEnd && body <= input.count) }
    }

    @Test func bareLineEndsAndTheirSeparators() {
        let lf = parse("A: 1\nB: two\n words\n\nbody\n")
        #expect(lf.fields.map(\.text) == ["1", "two words"])
        #expect(lf.bodyOffset == 20)
        #expect(lf.notes.contains("lines end with a bare LF, not CRLF"))

        let cr = parse("A: 1\rB: 2\r\rbody\r")
        #expect(cr.fields.map(\.name) == ["A", "B"])
        #expect(cr.bodyOffset == 11)
        #expect(cr.notes.contains("lines end with a bare CR, not CRLF"))

        // CR CR LF is one (mangled) line end, not a line end plus an empty line.
        let mangled = parse("A: 1\r\r\nB: 2\r\r\n\r\r\nbody")
        #expect(mangled.fields.map(\.name) == ["A", "B"])
        #expect(mangled.bodyOffset == 17)

        let mixed = parse("A: 1\r\nB: 2\nC: 3\r\n\r\nbody")
        #expect(mixed.fields.map(\.name) == ["A", "B", "C"])
    }

    @Test func missingSeparatorReadsEverythingAsHeader() {
        let block = parse("Subject: no body\r\nX-Note: still header\r\n")
        #expect(block.fields.map(\.name) == ["Subject", "X-Note"])
        #expect(block.bodyOffset == nil)
        #expect(!block.hasSeparator)
        #expect(!block.truncated)
        #expect(block.notes.contains { $0.hasPrefix("no empty line ends the header") })

        let noFinalNewline = parse("Subject: x")
        #expect(noFinalNewline.fields.first?.text == "x")
    }

    @Test func malformedLinesAreSkippedWithANote() {
        let block = parse(
            "From MAILER-DAEMON Tue Mar  5 10:00:00 2019\r\n"
                + " orphan continuation\r\n"
                + "Subject : spaced colon\r\n"
                + "this line has no colon\r\n"
                + "Bad Name: with a space\r\n"
                + ": empty name\r\n"
                + "X-Ok: yes\r\n\r\n")
        #expect(block.fields.map(\.name) == ["Subject", "X-Ok"])
        #expect(block.fields.map(\.index) == [0, 1])
        #expect(block.fields[0].text == "spaced colon")
        #expect(block.notes.contains("line 1: an mbox \"From \" line, not a header field; skipped"))
        #expect(block.notes.contains { $0.contains("continuation line without a field above it") })
        #expect(block.notes.contains { $0.hasPrefix("line 4 (byte ") && $0.contains("no colon; skipped") })
        #expect(block.notes.contains { $0.contains("\"Bad Name\" is not a field name") })
        #expect(block.notes.contains { $0.contains("\"\" is not a field name") })
    }

    @Test func eightBitBytesStayAsTheyAre() {
        // "Subject: Grüße" in ISO-8859-1, and a UTF-8 display name (RFC 6532).
        let input: [UInt8] =
            bytes("Subject: Gr") + [0xFC, 0xDF, 0x65] + bytes("\r\nFrom: J") + [0xC3, 0xBC]
            + bytes("rgen <j@x.example>\r\n\r\n") + [0xFF, 0xFE]
        let block = HeaderBlock(parsing: input)
        #expect(block.fields[0].value == bytes("Gr") + [0xFC, 0xDF, 0x65])
        #expect(block.fields[0].displayValue == "Grüße")
        #expect(block.fields[1].displayValue == "Jürgen <j@x.example>")
        #expect(Array(input[block.bodyOffset!...]) == [0xFF, 0xFE])
    }

    @Test func limitsBoundTheWork() {
        let many = String(repeating: "X-A: 1\r\n", count: 30) + "\r\n"
        let capped = parse(many, limits: .init(fields: 10))
        #expect(capped.fields.count == 10)
        #expect(capped.truncated)
        #expect(capped.notes.contains { $0.hasPrefix("more than 10 header fields") })

        let long = "Subject: " + String(repeating: "a", count: 500) + "\r\n\r\n"
        let short = parse(long, limits: .init(valueBytes: 100))
        #expect(short.fields[0].value.count == 99)  // 100 bytes after the colon, the leading space trimmed
        #expect(short.fields[0].valueTruncated)
        #expect(short.fields[0].range.upperBound == long.utf8.count - 2)  // the raw range is still whole

        let cut = parse("A: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits: .init(bytes: 9))
        #expect(cut.truncated)
        #expect(cut.fields.map(\.name) == ["A", "B"])
        #expect(cut.notes.contains { $0.hasPrefix("no empty line within the first 9 bytes") })

        let noisy = String(repeating: "garbage line\r\n", count: 200)
        let quiet = parse(noisy, limits: .init(notes: 5))
        #expect(quiet.notes.count <= 8)
        #expect(quiet.notes.contains { $0.hasSuffix("more notes like these") })
    }

    @Test func aPrefixParsesLikeTheWholeMessage() {
        let message = bytes("Return-Path: <a@x.example>\r\nSubject: s\r\n\r\n") + [UInt8](repeating: 0x41, count: 5000)
        let whole = HeaderBlock(parsing: message)
        let prefix = HeaderBlock(parsing: Array(message.prefix(200)))
        #expect(whole.fields == prefix.fields)
        #expect(whole.bodyOffset == prefix.bodyOffset)
    }

    @Test func lookupIsCaseInsensitive() {
        let block = parse("delivered-to: a@x\r\nDELIVERED-TO: b@x\r\nSubject: s\r\n\r\n")
        #expect(block.all("Delivered-To").map(\.text) == ["a@x", "b@x"])
        #expect(block.first("subject")?.text == "s")
        #expect(block.fields[0].hasName("Delivered-To"))
    }

    /// Arbitrary bytes never trap, and what comes back stays inside the input.
    @Test func randomBytesAreHandled() {
        var generator = SplitMix64(seed: 0x5EED)
        let alphabet: [UInt8] = [0x0D, 0x0A, 0x20, 0x09, 0x3A, 0x41, 0x42, 0x3D, 0x3F, 0xC3, 0xFF, 0x00]
        for _ in 0..<500 {
            let count = Int(generator.next() % 300)
            let input = (0..<count).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
            let block = HeaderBlock(parsing: input, limits: .init(fields: 50, valueBytes: 64))
            #expect(block.headerEnd <= input.count)
            for field in block.fields {
                #expect(field.range.upperBound <= input.count)
                #expect(field.value.count <= 64)
                _ = field.displayValue
            }
        }
    }

    // MARK: RFC 2047

    @Test(arguments: [
        ("=?UTF-8?B?R3LDvMOfZQ==?=", "Grüße"),
        ("=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_Wien?=", "Grüße aus Wien"),
        ("=?ISO-8859-1?Q?Caf=E9?= au lait", "Café au lait"),
        ("=?iso-8859-15?q?=A4_5?=", "€ 5"),
        ("=?iso-8859-1?q?=A4_5?=", "¤ 5"),
        ("=?windows-1252?Q?=93quoted=94?=", "“quoted”"),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  // RFC 2047 §6.2: space between words dropped
        ("=?utf-8?q?a?=\t =?utf-8?q?b?=", "ab"),
        ("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b"),
        ("=?UTF-8?B?4oK=?= =?UTF-8?B?rA==?=", "€"),  // a character split across two words
        ("=?utf-8*de?q?Hallo?=", "Hallo"),  // RFC 2231 §5 language
        ("=?koi8-r?B?8NLJ18XU?=", "=?koi8-r?B?8NLJ18XU?="),  // unknown charset: left as written
        ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),  // unknown encoding
        ("=?utf-8?q?no end", "=?utf-8?q?no end"),
        ("=?utf-8?B?G1szMW0=?=red", "\\x1B[31mred"),  // control characters made visible
        ("plain text", "plain text"),
        ("Bj\u{F6}rn", "Björn"),
    ])
    func encodedWords(input: String, expected: String) {
        #expect(EncodedWords.decode(bytes(input)) == expected)
    }

    @Test func rawLatin1IsShownAsWindows1252() {
        #expect(EncodedWords.decode([0x4A, 0xFC, 0x72, 0x67, 0x65, 0x6E, 0x20, 0x80]) == "Jürgen €")
    }
}
