/// Byte-level shortcuts for the header hot path (envelope recovery runs on every message). Each gives exactly the
/// answer of the general String operation it stands in for, and only takes the shortcut where that is evident
/// (ASCII text); anything else goes the general way.
extension StringProtocol {
    /// Whether every byte is 7-bit ASCII.
    var isASCIIOnly: Bool { utf8.allSatisfy { $0 < 0x80 } }

    /// Whether every byte is 7-bit ASCII and none is CR: the condition of the byte-level fast paths of the header
    /// parsers. CR LF is the one pair of ASCII scalars that makes a single Character (grapheme cluster); without a
    /// CR, ASCII text has exactly one Character per byte, so a byte scan reads it exactly as a Character scan does.
    var isASCIIWithoutCR: Bool { utf8.allSatisfy { $0 < 0x80 && $0 != 0x0D } }

    /// `contains(String(needle))` (Foundation's substring search) for a one-byte ASCII needle: on ASCII text a
    /// plain byte search gives the same answer without the search machinery.
    func containsASCII(_ needle: Unicode.Scalar) -> Bool {
        let byte = UInt8(needle.value)
        var ascii = true
        for unit in utf8 {
            if unit == byte { return true }
            if unit >= 0x80 { ascii = false }
        }
        return ascii ? false : contains(String(needle))
    }

    /// `lowercased() == other.lowercased()` for a field name against a name in the code: ASCII text compared
    /// byte by byte with ASCII case folding; other text the general way (Unicode lower-casing can map a non-ASCII
    /// letter, the Kelvin sign, onto an ASCII one).
    func equalsIgnoringASCIICase(_ other: some StringProtocol) -> Bool {
        guard isASCIIOnly, other.isASCIIOnly else { return lowercased() == other.lowercased() }
        guard utf8.count == other.utf8.count else { return false }
        for (a, b) in zip(utf8, other.utf8) where a != b {
            let foldedA = a >= 0x41 && a <= 0x5A ? a | 0x20 : a
            let foldedB = b >= 0x41 && b <= 0x5A ? b | 0x20 : b
            if foldedA != foldedB { return false }
        }
        return true
    }
}

extension UInt8 {
    /// An ASCII digit, 0–9.
    package var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }

    /// A–Z or a–z. On ASCII text this is `Character.isLetter` (no other ASCII character is a letter).
    var isASCIILetter: Bool { (self | 0x20) >= 0x61 && (self | 0x20) <= 0x7A }

    /// 0–9, a–f, A–F. On ASCII text this is `Character.isHexDigit`.
    var isASCIIHexDigit: Bool { isASCIIDigit || ((self | 0x20) >= 0x61 && (self | 0x20) <= 0x66) }

    /// A–Z mapped to a–z, every other byte unchanged: what `lowercased()` does to ASCII.
    var asciiLowercased: UInt8 { self >= 0x41 && self <= 0x5A ? self | 0x20 : self }
}

extension String {
    /// ASCII bytes as a lower-cased String: `String(decoding: bytes, as: UTF8.self).lowercased()` in one step,
    /// without the copy in between.
    init(asciiLowercasing bytes: some Collection<UInt8>) {
        self.init(unsafeUninitializedCapacity: bytes.count) { buffer in
            var count = 0
            for byte in bytes {
                buffer[count] = byte.asciiLowercased
                count += 1
            }
            return count
        }
    }
}

extension Sequence<UInt8> {
    /// Whether these bytes (ASCII) start with `prefix` (lower-case ASCII), ignoring ASCII letter case: `lowercased()
    /// .hasPrefix(prefix)` without making the lower-cased copy.
    func startsIgnoringASCIICase(with prefix: some Sequence<UInt8>) -> Bool {
        var bytes = makeIterator()
        for wanted in prefix {
            guard let byte = bytes.next(), byte.asciiLowercased == wanted else { return false }
        }
        return true
    }
}

extension Unicode.Scalar {
    /// A–Z or a–z: exactly the ASCII scalars with the Unicode Alphabetic property, without the property lookup.
    var isASCIILetter: Bool { (value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A }
}

extension StringProtocol {
    /// True only when the text is ASCII and holds no `needle` in any letter case (`needle` is lower-case ASCII): a
    /// cheap "certainly not here" before a Foundation search of the lower-cased text.
    func certainlyLacksASCII(caseInsensitive needle: StaticString) -> Bool {
        guard isASCIIOnly else { return false }
        return needle.withUTF8Buffer { wanted in
            guard let first = wanted.first else { return false }
            let bytes = utf8
            var start = bytes.startIndex
            while start != bytes.endIndex {
                if bytes[start].asciiLowercased == first, bytes[start...].startsIgnoringASCIICase(with: wanted) {
                    return false
                }
                bytes.formIndex(after: &start)
            }
            return true
        }
    }
}

extension StringProtocol {
    /// `trimmingCharacters(in: .whitespaces)`, without Foundation when both ends are printable ASCII (nearly every
    /// header value), where there is nothing to trim.
    package func trimmingSpaces() -> String {
        let text = String(self)
        if let first = text.utf8.first, let last = text.utf8.last, first > 0x20 && first < 0x7F,
            last > 0x20 && last < 0x7F
        {
            return text
        }
        return text.trimmingCharacters(in: .whitespaces)
    }
}
