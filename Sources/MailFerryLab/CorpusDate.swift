/// RFC 5322 §3.3 dates, computed by hand: `DateFormatter` depends on locale and time-zone databases, and a corpus
/// must come out byte-identical everywhere.
struct CorpusDate {
    /// Seconds since 1970-01-01T00:00:00Z.
    var epochSeconds: Int64
    /// The sender's zone, e.g. +60 for +0100.
    var offsetMinutes: Int

    private static let weekdays = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// "Tue, 14 Apr 2009 10:15:30 +0200"
    var rfc5322: String {
        let local = epochSeconds + Int64(offsetMinutes * 60)
        let days = Int(floorDiv(local, 86_400))
        let seconds = Int(local - Int64(days) * 86_400)
        let (year, month, day) = Self.civil(fromDays: days)
        let weekday = Self.weekdays[((days % 7) + 7) % 7]
        let sign = offsetMinutes < 0 ? "-" : "+"
        let zone = sign + two(abs(offsetMinutes) / 60) + two(abs(offsetMinutes) % 60)
        let time = two(seconds / 3600) + ":" + two(seconds / 60 % 60) + ":" + two(seconds % 60)
        return "\(weekday), \(day) \(Self.months[month - 1]) \(year) \(time) \(zone)"
    }

    /// "20090414101530", UTC, for Message-IDs and queue ids.
    var compact: String {
        let days = Int(floorDiv(epochSeconds, 86_400))
        let seconds = Int(epochSeconds - Int64(days) * 86_400)
        let (year, month, day) = Self.civil(fromDays: days)
        return "\(year)" + two(month) + two(day) + two(seconds / 3600) + two(seconds / 60 % 60) + two(seconds % 60)
    }

    func adding(seconds: Int) -> CorpusDate {
        CorpusDate(epochSeconds: epochSeconds + Int64(seconds), offsetMinutes: offsetMinutes)
    }

    func inZone(_ offsetMinutes: Int) -> CorpusDate {
        CorpusDate(epochSeconds: epochSeconds, offsetMinutes: offsetMinutes)
    }

    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
    private static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private func two(_ value: Int) -> String {
        value < 10 ? "0\(value)" : "\(value)"
    }

    private func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
    }
}
