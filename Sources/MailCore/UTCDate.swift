import Foundation
import Glibc

/// Dates written and read in UTC with the C library (gmtime_r, timegm) instead of `DateFormatter`, whose first use
/// loads ICU's calendar and time-zone data: that alone cost a cron run with nothing to do about 10 ms. Only the fixed
/// numeric forms the reports, the dashboard and the plans use.
package enum UTCDate {
    package enum Form {
        /// 2026-12-20
        case day
        /// 2026-12-20 14:03
        case dayMinute
        /// 12-20 14:03
        case monthDayMinute
        /// 14:03:07
        case time
        /// 2026-12-20T14:03:07Z
        case iso8601
        /// 2026-12-20T14:03:07.123Z (`run --log-format json`)
        case iso8601Milliseconds
        /// 20261220T140307.123Z (run ids: sortable, unique to the millisecond)
        case compact
    }

    package static func string(_ date: Date, _ form: Form) -> String {
        // Whole milliseconds first (as Foundation does), then the second they fall in.
        let millisecondsSinceEpoch = (date.timeIntervalSince1970 * 1000).rounded(.down)
        let whole = (millisecondsSinceEpoch / 1000).rounded(.down)
        var time = time_t(whole)
        var parts = tm()
        gmtime_r(&time, &parts)
        let year = pad(Int(parts.tm_year) + 1900, 4)
        let month = pad(Int(parts.tm_mon) + 1, 2)
        let day = pad(Int(parts.tm_mday), 2)
        let hour = pad(Int(parts.tm_hour), 2)
        let minute = pad(Int(parts.tm_min), 2)
        let second = pad(Int(parts.tm_sec), 2)
        switch form {
        case .day: return "\(year)-\(month)-\(day)"
        case .dayMinute: return "\(year)-\(month)-\(day) \(hour):\(minute)"
        case .monthDayMinute: return "\(month)-\(day) \(hour):\(minute)"
        case .time: return "\(hour):\(minute):\(second)"
        case .iso8601: return "\(year)-\(month)-\(day)T\(hour):\(minute):\(second)Z"
        case .iso8601Milliseconds:
            let millis = Int(millisecondsSinceEpoch - whole * 1000)
            return "\(year)-\(month)-\(day)T\(hour):\(minute):\(second).\(pad(millis, 3))Z"
        case .compact:
            let millis = Int(millisecondsSinceEpoch - whole * 1000)
            return "\(year)\(month)\(day)T\(hour)\(minute)\(second).\(pad(millis, 3))Z"
        }
    }

    /// Midnight UTC of a YYYY-MM-DD day, as unix time; nil unless `text` is exactly such a day that exists
    /// (2026-02-30 is not).
    package static func day(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte.isASCIIDigit else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        let time = timegm(&parts)
        // timegm normalises an impossible day (Feb 30 → Mar 2): only a day that round-trips exists.
        guard parts.tm_mday == Int32(day), parts.tm_mon == Int32(month - 1) else { return nil }
        return Double(time)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
