import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// The dot-unstuffing reader must give the same bytes however the input is split (STYLE.md habit 3).
@Suite struct DotUnstufferTests {
    /// Feeds `input` in pieces of `chunk` bytes; returns the decoded body and how many bytes were consumed.
    func decode(_ input: [UInt8], chunk: Int) -> (body: [UInt8], consumed: Int, finished: Bool) {
        var decoder = DotUnstuffer()
        var body: [UInt8] = []
        var offset = 0
        while offset < input.count && !decoder.finished {
            let end = min(offset + chunk, input.count)
            let used = input[offset..<end].withUnsafeBytes { piece in
                decoder.feed(piece) { body.append(contentsOf: $0) }
            }
            offset += used
        }
        return (body, offset, decoder.finished)
    }

    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    static let cases: [(wire: String, body: String)] = [
        ("Subject: x\r\n\r\nhello\r\n.\r\n", "Subject: x\r\n\r\nhello\r\n"),
        ("a\r\n..\r\nb\r\n.\r\n", "a\r\n.\r\nb\r\n"),  // a line that is only "."
        ("..leading dot\r\n...two\r\n.\r\n", ".leading dot\r\n..two\r\n"),
        (".\r\n", ""),  // empty message
        ("x.\r\n.y\r\n.\r\n", "x.\r\ny\r\n"),  // unstuffed dot is still dropped
        ("bare\nlf\n..\n.\n", "bare\nlf\n.\n"),  // bare LF line ends
        ("cr\rinside\r\n.\r\n", "cr\rinside\r\n"),
        (".\rx\r\n.\r\n", "\rx\r\n"),  // ".\r" not followed by LF
        ("no final newline\r\n.\r\n", "no final newline\r\n"),
    ]

    @Test(arguments: 0..<cases.count)
    func decodesEverySplit(index: Int) {
        let (wire, expected) = Self.cases[index]
        let next = bytes("+OK next reply\r\n")
        let input = bytes(wire) + next
        for chunk in [1, 2, 3, 7, input.count] {
            let result = decode(input, chunk: chunk)
            #expect(result.finished, "chunk \(chunk)")
            #expect(result.body == bytes(expected), "chunk \(chunk): \(String(decoding: result.body, as: UTF8.self))")
            // The next reply's bytes are not consumed.
            #expect(result.consumed == bytes(wire).count, "chunk \(chunk)")
        }
    }

    @Test func longLinesPassUnchanged() {
        let line = [UInt8](repeating: 65, count: 300_000)
        let input = line + bytes("\r\n.\r\n")
        for chunk in [1000, 65536, input.count] {
            let result = decode(input, chunk: chunk)
            #expect(result.finished)
            #expect(result.body == line + bytes("\r\n"))
        }
    }

    @Test func unterminatedBodyIsNotFinished() {
        let result = decode(bytes("a\r\nb\r\n"), chunk: 2)
        #expect(!result.finished)
        #expect(result.body == bytes("a\r\nb\r\n"))
    }
}
