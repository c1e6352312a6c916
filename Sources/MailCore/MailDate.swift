import Foundation

/// A date-time from a message: the `Date:` field (RFC 5322 §3.6.1) or the time stamp after the last ';' of a
/// Received field (RFC 5321 §4.4, RFC 5322 §3.6.7). Parsed tolerantly: RFC 5322 §3.3 plus the obsolete forms of
/// §4.3 and what real MTAs write.
///
/// Accepted: an optional day name (abbreviated or full); `5 Mar 2019`, `05-Mar-2019` or asctime's `Mar  5 … 2019`;
/// full month names; missing seconds; fractional seconds; two-digit years (00–49 → 20xx, 50–99 → 19xx) and
/// three-digit years (+1900, §4.3); zones `+0100`, `+01:00`, `UT`, `GMT`, `UTC`, `Z`, the US names of §4.3, common
/// European and Asian names, or a name in a comment (`(CET)`) when no other zone is given. A military one-letter
/// zone, `-0000`, an unknown name or no zone at all is read as UTC with `zoneOffset` nil (§4.3: "unknown").
public struct MailDate: Sendable, Equatable, Codable {
    /// The instant.
    public var date: Date
    /// Seconds east of UTC as written; nil when the text gave no usable zone (then `date` assumes UTC).
    public var zoneOffset: Int?

    public init(date: Date, zoneOffset: Int?) {
        self.date = date
        self.zoneOffset = zoneOffset
    }

    /// Parses a date-time; nil when no day, month, year and time can be found. Bounded: at most 40 tokens.
    public static func parse(_ text: String) -> MailDate? {
        var parser = MailDateParser(fast: text.isASCIIWithoutCR)
        return parser.parse(text)
    }

    /// `parse` the general way, Character by Character, whatever the text: the reference the byte-level fast path
    /// of `parse` is tested against (ParsingFastPathTests).
    static func parseGeneral(_ text: String) -> MailDate? {
        var parser = MailDateParser(fast: false)
        return parser.parse(text)
    }

    /// RFC 3501 §9 `date-time` for IMAP APPEND's INTERNALDATE, in the zone the date was written in (UTC when
    /// unknown): `"05-Mar-2019 10:00:00 +0100"`.
    public var imapInternalDate: String {
        let offset = zoneOffset ?? 0
        let local = Int((date.timeIntervalSince1970).rounded(.down)) + offset
        let parts = civil(fromSeconds: local)
        let sign = offset < 0 ? "-" : "+"
        let zone = abs(offset) / 60
        return two(parts.day) + "-" + monthNames[parts.month - 1].capitalized + "-" + String(parts.year) + " "
            + two(parts.hour) + ":" + two(parts.minute) + ":" + two(parts.second) + " " + sign
            + two(zone / 60) + two(zone % 60)
    }

    /// RFC 5322 §3.3 form, for reports: `"Tue, 05 Mar 2019 10:00:00 +0100"` (`-0000` when the zone is unknown).
    public var rfc5322: String {
        let offset = zoneOffset ?? 0
        let local = Int((date.timeIntervalSince1970).rounded(.down)) + offset
        let parts = civil(fromSeconds: local)
        let days = (local >= 0 ? local / 86_400 : (local - 86_399) / 86_400)
        let weekday = dayNames[Int(((days % 7) + 7 + 3) % 7)]  // 1970-01-01 was a Thursday
        let zone = abs(offset) / 60
        let sign = zoneOffset == nil ? "-" : (offset < 0 ? "-" : "+")
        return weekday.capitalized + ", " + two(parts.day) + " " + monthNames[parts.month - 1].capitalized + " "
            + String(parts.year) + " " + two(parts.hour) + ":" + two(parts.minute) + ":" + two(parts.second) + " "
            + sign + two(zone / 60) + two(zone % 60)
    }
}

private func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }

private let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
private let dayNames = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]

/// Zone names (RFC 5322 §4.3 plus the ones legacy European and Asian servers write), in minutes east of UTC.
private let zoneNames: [String: Int] = [
    "ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0,
    "edt": -240, "est": -300, "cdt": -300, "cst": -360, "mdt": -360, "mst": -420, "pdt": -420, "pst": -480,
    "bst": 60, "cet": 60, "met": 60, "mez": 60, "west": 60,
    "cest": 120, "mest": 120, "mesz": 120, "eet": 120, "eest": 180, "msk": 180,
    "hkt": 480, "sgt": 480, "awst": 480, "jst": 540, "kst": 540, "aest": 600, "aedt": 660, "nzst": 720, "nzdt": 780,
]

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let mp = (month + 9) % 12
    let doy = (153 * mp + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}

/// The calendar date and time of a count of seconds since 1970-01-01 00:00:00.
package func civil(fromSeconds seconds: Int) -> (year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
    let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
    let rest = seconds - days * 86_400
    let z = days + 719_468
    let era = (z >= 0 ? z : z - 146_096) / 146_097
    let doe = z - era * 146_097
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
    let mp = (5 * doy + 2) / 153
    let day = doy - (153 * mp + 2) / 5 + 1
    let month = mp < 10 ? mp + 3 : mp - 9
    let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day, rest / 3600, (rest % 3600) / 60, rest % 60)
}

private struct MailDateParser {
    /// The text is ASCII without CR, so one byte is one Character: tokens are cut and classified byte by byte.
    /// False: Character by Character, the general way (any text; `MailDate.parseGeneral` forces it for the tests).
    let fast: Bool
    var day: Int?
    var month: Int?
    var year: Int?
    var hour = 0, minute = 0, second = 0
    var sawTime = false
    var zoneMinutes: Int?
    var zoneKnown = false
    var commentZone: Int?

    init(fast: Bool) { self.fast = fast }

    mutating func parse(_ text: String) -> MailDate? {
        let tokens = fast ? tokenizeASCII(text) : tokenize(text)
        var numbers: [Substring] = []
        for token in tokens.prefix(40) {
            if !sawTime, token.containsASCII(":"), readTime(token) { continue }
            if sawTime, zoneMinutes == nil, let first = token.first, first == "+" || first == "-",
                let minutes = numericZone(token.dropFirst(), negative: first == "-")
            {
                zoneMinutes = minutes
                zoneKnown = !(minutes == 0 && first == "-")  // RFC 5322 §3.3: -0000 means "unknown"
                continue
            }
            if isNumber(token), length(token) <= 4 {
                numbers.append(token)
                continue
            }
            if month == nil, let index = nameIndex(token, in: monthNames) {
                let lower = token.lowercased()
                if lower.count == 3 || monthFull(lower) {
                    month = index + 1
                    continue
                }
            }
            if nameIndex(token, in: dayNames) != nil { continue }
            if sawTime, zoneMinutes == nil, isLetters(token) {
                let lower = token.lowercased()
                if let minutes = zoneNames[lower] {
                    zoneMinutes = minutes
                    zoneKnown = true
                } else if lower.count == 1 {
                    zoneMinutes = 0  // RFC 5322 §4.3: military zones were defined wrongly; treat as -0000
                }
                continue
            }
        }
        // Day and year: a 3–4 digit number (or one above 31) is the year; otherwise day comes first (RFC order).
        guard numbers.count >= 2, let firstNumber = Int(numbers[0]), let secondNumber = Int(numbers[1]) else {
            return nil
        }
        if length(numbers[0]) >= 3 || firstNumber > 31 {
            (year, day) = (expandYear(firstNumber, digits: length(numbers[0])), secondNumber)
        } else {
            (day, year) = (firstNumber, expandYear(secondNumber, digits: length(numbers[1])))
        }
        if zoneMinutes == nil, let fromComment = commentZone {
            zoneMinutes = fromComment
            zoneKnown = true
        }
        guard sawTime, let day, let month, let year, (1...31).contains(day), year >= 1900, year <= 9999,
            day <= daysIn(month: month, year: year), hour < 24, minute < 60, second <= 60
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let local = days * 86_400 + hour * 3600 + minute * 60 + min(second, 59)
        let offset = (zoneMinutes ?? 0) * 60
        return MailDate(
            date: Date(timeIntervalSince1970: TimeInterval(local - offset)),
            zoneOffset: zoneKnown ? offset : nil)
    }

    // MARK: Reading one token, byte by byte (fast) or Character by Character; both give the same answer.

    /// The number of Characters.
    private func length(_ token: Substring) -> Int { fast ? token.utf8.count : token.count }

    /// Only digits (`Character.isNumber`: in ASCII the digits alone).
    private func isNumber(_ token: Substring) -> Bool {
        fast ? token.utf8.allSatisfy(\.isASCIIDigit) : token.allSatisfy(\.isNumber)
    }

    /// Only letters (`Character.isLetter`: in ASCII A–Z and a–z alone).
    private func isLetters(_ token: Substring) -> Bool {
        fast ? token.utf8.allSatisfy(\.isASCIILetter) : token.allSatisfy(\.isLetter)
    }

    /// The index of the name (lower-case, as in `monthNames`) the lower-cased token starts with.
    private func nameIndex(_ token: Substring, in names: [String]) -> Int? {
        if fast { return names.firstIndex { token.utf8.startsIgnoringASCIICase(with: $0.utf8) } }
        let lower = token.lowercased()
        return names.firstIndex { lower.hasPrefix($0) }
    }

    private func monthFull(_ lower: String) -> Bool {
        let full = [
            "january", "february", "march", "april", "may", "june", "july", "august", "september",
            "october", "november", "december", "sept",
        ]
        return full.contains(lower.trimmingCharacters(in: CharacterSet(charactersIn: ".")))
            || (lower.count == 4 && lower.hasSuffix("."))
    }

    private func expandYear(_ value: Int, digits: Int) -> Int {
        switch digits {
        case 1, 2: value < 50 ? 2000 + value : 1900 + value  // RFC 5322 §4.3
        case 3: 1900 + value  // RFC 5322 §4.3
        default: value
        }
    }

    private func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `hh:mm[:ss][.fff]`, optionally with a zone glued on (`10:00:00+0100`, `10:00:00Z`).
    private mutating func readTime(_ token: Substring) -> Bool {
        var clock = token
        var glued: Substring?
        if let sign = token.firstIndex(where: { $0 == "+" || $0 == "-" || $0 == "Z" || $0 == "z" }) {
            clock = token[..<sign]
            glued = token[sign...]
        }
        let parts = clock.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return false }
        let secondsPart = parts.count == 3 ? parts[2].split(separator: ".").first ?? "" : "0"
        guard let h = Int(parts[0]), let m = Int(parts[1]), let s = Int(secondsPart),
            parts[0].count <= 2, parts[1].count == 2
        else { return false }
        (hour, minute, second) = (h, m, s)
        sawTime = true
        if let glued, let first = glued.first {
            if first == "Z" || first == "z" {
                zoneMinutes = 0
                zoneKnown = true
            } else if let minutes = numericZone(glued.dropFirst(), negative: first == "-") {
                zoneMinutes = minutes
                zoneKnown = !(minutes == 0 && first == "-")
            }
        }
        return true
    }

    /// `hhmm`, `hh:mm`, `hmm` or `hh` after the sign.
    private func numericZone(_ digits: Substring, negative: Bool) -> Int? {
        let plain = digits.filter { $0 != ":" }
        guard !plain.isEmpty, plain.count <= 4, plain.allSatisfy(\.isASCII), let value = Int(plain) else {
            return nil
        }
        let minutes = plain.count <= 2 ? value * 60 : (value / 100) * 60 + value % 100
        guard minutes < 24 * 60 else { return nil }
        return negative ? -minutes : minutes
    }

    /// Splits on whitespace and commas; a `5-Mar-2019` token becomes three; a comment's zone name is remembered.
    /// Comments (nested or not) are left out of the tokens: `10:00(x):00` is one token `10:00:00`.
    private mutating func tokenize(_ text: String) -> [Substring] {
        var plain = ""
        var depth = 0
        var comment = ""
        for character in text.prefix(400) {
            if character == "(" {
                depth += 1
                continue
            }
            if character == ")", depth > 0 {
                depth -= 1
                if depth == 0 {
                    let name = comment.trimmingCharacters(in: .whitespaces).lowercased()
                    if commentZone == nil, let minutes = zoneNames[name] { commentZone = minutes }
                    comment = ""
                }
                continue
            }
            if depth > 0 { comment.append(character) } else { plain.append(character) }
        }
        let pieces = plain.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" || $0 == "\n" })
        return dashSplit(pieces)
    }

    /// `tokenize` for ASCII text without CR, byte by byte; without a comment the tokens are slices of the text.
    private mutating func tokenizeASCII(_ text: String) -> [Substring] {
        let bytes = text.utf8.prefix(400)
        let plain: Substring
        if !bytes.contains(UInt8(ascii: "(")) {
            plain = text[bytes.startIndex..<bytes.endIndex]
        } else {
            var kept: [UInt8] = []
            var comment: [UInt8] = []
            var depth = 0
            for byte in bytes {
                if byte == UInt8(ascii: "(") {
                    depth += 1
                } else if byte == UInt8(ascii: ")"), depth > 0 {
                    depth -= 1
                    if depth == 0 {
                        if commentZone == nil { commentZone = zoneNames[Self.zoneName(comment)] }
                        comment.removeAll(keepingCapacity: true)
                    }
                } else if depth > 0 {
                    comment.append(byte)
                } else {
                    kept.append(byte)
                }
            }
            plain = Substring(String(decoding: kept, as: UTF8.self))
        }
        let pieces = plain.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 || $0 == 0x2C || $0 == 0x0A })
            .map { plain[$0.startIndex..<$0.endIndex] }
        return dashSplit(pieces)
    }

    /// A comment's text as a key of `zoneNames`: `trimmingCharacters(in: .whitespaces).lowercased()`, which on ASCII
    /// trims spaces and tabs (the only ASCII characters in `.whitespaces`) and lower-cases A–Z.
    private static func zoneName(_ comment: [UInt8]) -> String {
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
        guard let first = comment.firstIndex(where: { !blank($0) }), let last = comment.lastIndex(where: { !blank($0) })
        else { return "" }
        return String(asciiLowercasing: comment[first...last])
    }

    /// A `5-Mar-2019` piece (digits, letters, anything) becomes three tokens; other pieces stay whole.
    private func dashSplit(_ pieces: [Substring]) -> [Substring] {
        var tokens: [Substring] = []
        tokens.reserveCapacity(pieces.count)
        for piece in pieces {
            // Without a '-' a piece is one token (the split would give the piece alone).
            guard !fast || piece.utf8.contains(UInt8(ascii: "-")) else {
                tokens.append(piece)
                continue
            }
            let dashed =
                fast
                ? piece.utf8.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
                    .map { piece[$0.startIndex..<$0.endIndex] }
                : piece.split(separator: "-", omittingEmptySubsequences: false)
            if dashed.count == 3, isLetters(dashed[1]), isNumber(dashed[0]) {
                tokens.append(contentsOf: dashed)
            } else {
                tokens.append(piece)
            }
        }
        return tokens
    }
}
