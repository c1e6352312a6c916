/// RFC 2047 encoded-words (`=?charset?B|Q?text?=`), decoded for display only: reports, `route --dry-run`, logs.
/// Nothing decoded here is ever written into a message or used to match an address.
///
/// - B is base64 (RFC 2047 §4.1), Q is quoted-printable with `_` for space (§4.2).
/// - Whitespace between two adjacent encoded-words is dropped (§6.2); adjacent words in the same charset are joined
///   before conversion, so a UTF-8 character split across two words (a common encoder bug) survives.
/// - Charsets: UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15, windows-1252; an RFC 2231 §5 language suffix
///   (`utf-8*en`) is ignored. An encoded-word in any other charset, or malformed, is left as written.
/// - Bytes outside encoded-words: UTF-8 when valid (RFC 6532), else windows-1252 (what 8-bit legacy mail mostly is).
/// - Control characters become visible escapes (`\x1B`), so a subject cannot move a terminal's cursor.
public enum EncodedWords {
    /// Longest encoded-word considered; RFC 2047 §2 allows 75, senders exceed it, 1000 bounds the scan.
    static let maxWordLength = 1000

    public static func decode(_ value: [UInt8]) -> String {
        var out = ""
        var plain: [UInt8] = []
        // Decoded bytes of a run of adjacent encoded-words sharing one charset.
        var pending: (charset: Charset, bytes: [UInt8])?
        var index = 0
        var afterWord = false
        while index < value.count {
            if value[index] == 0x3D, index + 1 < value.count, value[index + 1] == 0x3F,
                let word = parseWord(value, at: index)
            {
                if afterWord, plain.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                    plain.removeAll()  // RFC 2047 §6.2: whitespace between encoded-words is not displayed
                }
                if !plain.isEmpty {
                    flush(&pending, into: &out)
                    out += displayText(plain)
                    plain.removeAll()
                }
                if let current = pending, current.charset != word.charset { flush(&pending, into: &out) }
                pending = (word.charset, (pending?.bytes ?? []) + word.bytes)
                index = word.end
                afterWord = true
                continue
            }
            plain.append(value[index])
            index += 1
        }
        flush(&pending, into: &out)
        if !plain.isEmpty { out += displayText(plain) }
        return out
    }

    private static func flush(_ pending: inout (charset: Charset, bytes: [UInt8])?, into out: inout String) {
        guard let current = pending else { return }
        out += escapingControls(current.charset.decode(current.bytes))
        pending = nil
    }

    /// Text outside encoded-words: UTF-8 if it is valid UTF-8, else windows-1252.
    static func displayText(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return escapingControls(text) }
        return escapingControls(Charset.windows1252.decode(bytes))
    }

    package static func escapingControls(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x09: out += " "
            case 0x00..<0x20, 0x7F..<0xA0:
                out += "\\x" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 2, with: "0")
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private struct Word {
        var charset: Charset
        var bytes: [UInt8]
        var end: Int
    }

    /// Parses `=?charset?encoding?text?=` at `start`; nil when it is not a well-formed word in a known charset.
    private static func parseWord(_ value: [UInt8], at start: Int) -> Word? {
        let limit = min(value.count, start + maxWordLength)
        var index = start + 2
        var parts: [Range<Int>] = []
        var partStart = index
        // charset ? encoding ? text ?=  — three parts, no whitespace inside (RFC 2047 §2, §5).
        while index < limit {
            let byte = value[index]
            if byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A { return nil }
            if byte == 0x3F {
                parts.append(partStart..<index)
                if parts.count == 3 {
                    guard index + 1 < limit, value[index + 1] == 0x3D else { return nil }
                    break
                }
                partStart = index + 1
            }
            index += 1
        }
        guard parts.count == 3, !parts[0].isEmpty, parts[1].count == 1 else { return nil }
        var charsetName = String(decoding: value[parts[0]], as: UTF8.self).lowercased()
        if let star = charsetName.firstIndex(of: "*") { charsetName = String(charsetName[..<star]) }
        guard let charset = Charset(name: charsetName) else { return nil }
        let text = value[parts[2]]
        let decoded: [UInt8]?
        switch value[parts[1].lowerBound] | 0x20 {
        case UInt8(ascii: "b"): decoded = base64(text)
        case UInt8(ascii: "q"): decoded = quoted(text)
        default: decoded = nil
        }
        guard let bytes = decoded else { return nil }
        return Word(charset: charset, bytes: bytes, end: parts[2].upperBound + 2)
    }

    /// RFC 2047 §4.1 (RFC 4648 §4 alphabet); missing padding tolerated.
    static func base64(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text {
            let sextet: UInt8
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): sextet = byte - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): sextet = byte - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): sextet = byte - UInt8(ascii: "0") + 52
            case UInt8(ascii: "+"): sextet = 62
            case UInt8(ascii: "/"): sextet = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = (buffer << 6) | UInt32(sextet)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt32(bits)) & 0xFF))
            }
        }
        return out
    }

    /// RFC 2047 §4.2: `=XX` hex, `_` is space, anything else literal.
    static func quoted(_ text: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "_") {
                out.append(0x20)
            } else if byte == UInt8(ascii: "="), index + 2 < text.endIndex,
                let high = hexValue(text[index + 1]), let low = hexValue(text[index + 2])
            {
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// The charsets legacy European mail uses, decoded without a platform converter (same result on every system).
enum Charset: Equatable, Sendable {
    case utf8, latin1, latin9, windows1252

    init?(name: String) {
        switch name {
        case "utf-8", "utf8": self = .utf8
        case "us-ascii", "ascii": self = .utf8  // a subset of UTF-8; stray 8-bit bytes get U+FFFD
        case "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1": self = .latin1
        case "iso-8859-15", "iso8859-15", "iso_8859-15", "latin9", "latin-9": self = .latin9
        case "windows-1252", "cp1252", "x-cp1252": self = .windows1252
        default: return nil
        }
    }

    func decode(_ bytes: [UInt8]) -> String {
        switch self {
        case .utf8: return String(decoding: bytes, as: UTF8.self)
        case .latin1: return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        case .latin9: return mapped(bytes, Self.latin9Differences)
        case .windows1252: return mapped(bytes, Self.windows1252High)
        }
    }

    private func mapped(_ bytes: [UInt8], _ table: [UInt8: UInt32]) -> String {
        var out = String.UnicodeScalarView()
        for byte in bytes {
            let value = table[byte] ?? UInt32(byte)
            out.append(Unicode.Scalar(value) ?? "\u{FFFD}")
        }
        return String(out)
    }

    /// ISO-8859-15 differs from ISO-8859-1 in eight positions.
    private static let latin9Differences: [UInt8: UInt32] = [
        0xA4: 0x20AC, 0xA6: 0x0160, 0xA8: 0x0161, 0xB4: 0x017D, 0xB8: 0x017E, 0xBC: 0x0152, 0xBD: 0x0153,
        0xBE: 0x0178,
    ]

    /// windows-1252 0x80–0x9F (the five unassigned positions become U+FFFD).
    private static let windows1252High: [UInt8: UInt32] = [
        0x80: 0x20AC, 0x81: 0xFFFD, 0x82: 0x201A, 0x83: 0x0192, 0x84: 0x201E, 0x85: 0x2026, 0x86: 0x2020,
        0x87: 0x2021, 0x88: 0x02C6, 0x89: 0x2030, 0x8A: 0x0160, 0x8B: 0x2039, 0x8C: 0x0152, 0x8D: 0xFFFD,
        0x8E: 0x017D, 0x8F: 0xFFFD, 0x90: 0xFFFD, 0x91: 0x2018, 0x92: 0x2019, 0x93: 0x201C, 0x94: 0x201D,
        0x95: 0x2022, 0x96: 0x2013, 0x97: 0x2014, 0x98: 0x02DC, 0x99: 0x2122, 0x9A: 0x0161, 0x9B: 0x203A,
        0x9C: 0x0153, 0x9D: 0xFFFD, 0x9E: 0x017E, 0x9F: 0x0178,
    ]
}
