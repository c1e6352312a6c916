import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailSystem
@testable import MailWire

/// The byte parser of LIST and UIDL lines, against what `Int(String)` on space-split words accepted before.
@Suite struct ListingLineTests {
    func parse(_ text: String) -> (Int?, String) {
        let (number, rest) = POP3Client.leadingNumber(Array(text.utf8)[...])
        return (number, String(decoding: rest, as: UTF8.self))
    }

    @Test func numbersAndWhatFollows() {
        #expect(parse("1 1234") == (1, "1234"))
        #expect(parse("17   abc def") == (17, "abc def"))
        #expect(parse("  3 x") == (3, "x"))
        #expect(parse("42") == (42, ""))
        #expect(parse("999999999999999999 x") == (999_999_999_999_999_999, "x"))
    }

    @Test func notANumber() {
        for bad in ["", " ", "x 1", "1x 2", "-1 2", "+1 2", "1\t2", "1234567890123456789 x", "１ 2"] {
            #expect(parse(bad).0 == nil, "\(bad)")
        }
    }
}
