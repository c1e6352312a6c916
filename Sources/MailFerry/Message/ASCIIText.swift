/// Byte-level shortcuts for the header hot path (envelope recovery runs on every message). Each gives exactly the
/// answer of the general String operation it stands in for, and only takes the shortcut where that is evident
/// (ASCII text); anything else goes the general way.
extension StringProtocol {
    /// Whether every byte is 7-bit ASCII.
    var isASCIIOnly: Bool { utf8.allSatisfy { $0 < 0x80 } }

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
    var isASCIIDigit: Bool { self >= 0x30 && self <= 0x39 }
}

extension Unicode.Scalar {
    /// A–Z or a–z: exactly the ASCII scalars with the Unicode Alphabetic property, without the property lookup.
    var isASCIILetter: Bool { (value | 0x20) >= 0x61 && (value | 0x20) <= 0x7A }
}

extension StringProtocol {
    /// True only when the text is ASCII and holds no `needle` in any letter case (`needle` is lower-case ASCII): a
    /// cheap "certainly not here" before a Foundation search of the lower-cased text.
    func certainlyLacksASCII(caseInsensitive needle: StaticString) -> Bool {
        let wanted = needle.withUTF8Buffer { Array($0) }
        guard let first = wanted.first else { return false }
        let bytes = Array(utf8)
        guard bytes.allSatisfy({ $0 < 0x80 }) else { return false }
        var start = 0
        while start + wanted.count <= bytes.count {
            let byte = bytes[start] >= 0x41 && bytes[start] <= 0x5A ? bytes[start] | 0x20 : bytes[start]
            if byte == first {
                var matched = true
                for offset in 1..<wanted.count {
                    let other = bytes[start + offset]
                    if (other >= 0x41 && other <= 0x5A ? other | 0x20 : other) != wanted[offset] {
                        matched = false
                        break
                    }
                }
                if matched { return false }
            }
            start += 1
        }
        return true
    }
}

extension StringProtocol {
    /// `trimmingCharacters(in: .whitespaces)`, without Foundation when both ends are printable ASCII (nearly every
    /// header value), where there is nothing to trim.
    func trimmingSpaces() -> String {
        let text = String(self)
        if let first = text.utf8.first, let last = text.utf8.last, first > 0x20 && first < 0x7F,
           last > 0x20 && last < 0x7F {
            return text
        }
        return text.trimmingCharacters(in: .whitespaces)
    }
}
