import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerryTestSupport
@testable import MailStore
@testable import MailSystem

/// The C-library UTC dates agree with Foundation's formatters (the reference) wherever reports, the dashboard, run
/// ids and plans use them.
@Suite struct UTCDateTests {
    static func reference(_ format: String) -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = format
        return formatter
    }

    @Test func everyFormMatchesFoundation() {
        let forms: [(UTCDate.Form, String)] = [
            (.day, "yyyy-MM-dd"), (.dayMinute, "yyyy-MM-dd HH:mm"), (.monthDayMinute, "MM-dd HH:mm"),
            (.time, "HH:mm:ss"), (.iso8601, "yyyy-MM-dd'T'HH:mm:ss'Z'"), (.compact, "yyyyMMdd'T'HHmmss.SSS'Z'"),
        ]
        var random = SplitMix64(seed: 20_261_122)
        // Leap days, year ends, the epoch, and a spread of instants from 1970 to 2096 with milliseconds. Each is
        // 0.4 ms past its millisecond: exactly on one, binary floating point may fall either side (Date keeps
        // seconds since 2001), and neither formatter is wrong then.
        var instants: [Double] = [0.0004, 951_782_400.0004, 1_709_164_800.5004, 1_798_761_599.9994]
        for _ in 0..<2_000 { instants.append(Double(random.next() % 4_000_000_000_000) / 1000 + 0.0004) }
        for (form, format) in forms {
            let formatter = Self.reference(format)
            for instant in instants {
                let date = Date(timeIntervalSince1970: instant)
                #expect(UTCDate.string(date, form) == formatter.string(from: date), "\(format) \(instant)")
            }
        }
    }

    @Test func daysParseOnlyWhenTheyExist() {
        #expect(UTCDate.day("2026-12-15") == 1_797_292_800)
        #expect(UTCDate.day("2024-02-29") == 1_709_164_800)
        for bad in [
            "2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "2026-1-05", "2026-01-5", "26-01-05",
            "2026/01/05", "2026-01-05T", " 2026-01-05", "２０２６-01-05", "",
        ] {
            #expect(UTCDate.day(bad) == nil, "\(bad)")
        }
        let reference = Self.reference("yyyy-MM-dd")
        var random = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let date = Date(timeIntervalSince1970: Double(random.next() % 4_000_000_000))
            let text = reference.string(from: date)
            #expect(UTCDate.day(text) == reference.date(from: text)?.timeIntervalSince1970, "\(text)")
        }
    }

    @Test func shardStemsAreRecognisedWithoutPatterns() {
        #expect(StateFiles.shardNumbers("3-of-8") ?? (0, 0) == (3, 8))
        for bad in ["3-of-", "-of-8", "3of8", "3-of-8-of-9", "+3-of-8", "3-of-8x", ""] {
            #expect(StateFiles.shardNumbers(Substring(bad)) == nil, "\(bad)")
        }
    }
}
