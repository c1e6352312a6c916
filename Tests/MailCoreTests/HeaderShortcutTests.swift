import Foundation
import Testing

@testable import MailCore
@testable import MailFerryTestSupport

/// The byte-level shortcuts of the header hot path give the answers of the general code they stand in for.
@Suite struct HeaderShortcutTests {
    /// A CR where a space was sends a Received value through the general (Character) scan, which reads a CR as a
    /// space: both scans must take every corpus Received apart the same way.
    @Test func receivedByteScanMatchesTheCharacterScan() {
        var compared = 0
        for item in EnvelopeCorpus.cases {
            for field in HeaderBlock(parsing: item.message).all("Received") {
                let value = field.text
                guard let space = value.firstIndex(of: " "), let semicolon = value.lastIndex(of: ";"),
                    space < semicolon
                else { continue }
                var general = value
                general.replaceSubrange(space...space, with: "\r")
                #expect(ReceivedHeader(parsing: value) == ReceivedHeader(parsing: general), "\(item.name): \(value)")
                compared += 1
            }
        }
        #expect(compared > 50)
    }

    @Test func asciiShortcutsAnswerAsTheGeneralOperations() {
        for text in ["", "a", "mx1.example", "a@b", "x:y", "é.example", "日本@例え.jp", "K", "\u{212A}"] {
            for needle in [".", "@", ":"] as [Unicode.Scalar] {
                #expect(text.containsASCII(needle) == text.contains(String(needle)), "\(text) \(needle)")
            }
            for name in ["k", "K", "Received", "RECEIVED", "received", "\u{212A}", "é", "É", ""] {
                #expect(
                    text.equalsIgnoringASCIICase(name) == (text.lowercased() == name.lowercased()),
                    "\(text) \(name)")
                #expect(name.equalsIgnoringASCIICase(text) == (text.lowercased() == name.lowercased()))
            }
        }
    }
}

@Suite struct ScalarShortcutTests {
    @Test func asciiLetterIsTheAlphabeticPropertyInASCII() {
        for value in UInt32(0)...0x3FF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            #expect(scalar.isASCIILetter == (scalar.isASCII && scalar.properties.isAlphabetic), "\(value)")
        }
    }

    @Test func certainlyLacksOnlyWhenAbsent() {
        let cases: [(String, Bool)] = [
            ("", true), ("from x", true), ("envelope-from <a@b>", false), ("ENVELOPE-FROM <a@b>", false),
            ("x Envelope-From", false), ("envelope-fro", true), ("envélope-from", false), ("é", false),
        ]
        for (text, lacks) in cases {
            #expect(text.certainlyLacksASCII(caseInsensitive: "envelope-from") == lacks, "\(text)")
            if lacks { #expect(text.lowercased().range(of: "envelope-from") == nil) }
        }
    }
}
