/// Mail addresses as envelope recovery and routing compare them: an addr-spec (RFC 5322 §3.4.1), lower-cased.
///
/// Local parts are case-sensitive in theory (RFC 5321 §2.4) and case-insensitive in every mail system this tool
/// migrates from, so the whole address is lower-cased: `Chris@WingtipToys.com` and `chris@wingtiptoys.com` are one
/// recipient.
public enum MailAddress {
    /// Longest address accepted (RFC 5321 §4.5.3.1.3: 256 octets for a path).
    static let maxLength = 320

    /// An addr-spec from one written address: `<chris@x>`, `chris@x`, `<@relay:chris@x>` (RFC 5322 §4.4 obs-route,
    /// dropped), a trailing dot on the domain dropped. Nil for `<>`, text without `@`, whitespace or control
    /// characters outside a quoted local part, or over-long text.
    public static func normalize(_ text: some StringProtocol) -> String? {
        text.isASCIIWithoutCR ? normalizeASCII(Substring(text)) : normalizeGeneral(text)
    }

    /// `normalize` the general way, Character by Character, whatever the text: the reference its byte-level fast
    /// path is tested against (ParsingFastPathTests).
    static func normalizeGeneral(_ text: some StringProtocol) -> String? {
        var candidate = Substring(text).trimmingWhitespace()
        if candidate.hasPrefix("<") && candidate.hasSuffix(">") && candidate.count >= 2 {
            candidate = candidate.dropFirst().dropLast().trimmingWhitespace()
        }
        if candidate.hasPrefix("@"), let colon = candidate.firstIndex(of: ":") {
            candidate = candidate[candidate.index(after: colon)...]
        }
        while candidate.hasSuffix(".") { candidate = candidate.dropLast() }
        guard !candidate.isEmpty, candidate.utf8.count <= maxLength,
            let at = candidate.lastIndex(of: "@")
        else { return nil }
        let local = candidate[..<at]
        let domain = candidate[candidate.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty else { return nil }
        let quoted = local.hasPrefix("\"") && local.hasSuffix("\"") && local.count >= 2
        for scalar in local.unicodeScalars where scalar.value <= 0x20 || scalar.value == 0x7F {
            if !(quoted && scalar == " ") { return nil }
        }
        if !quoted, local.contains(where: { "<>()[],;:\\\"".contains($0) }) { return nil }
        // A domain or an address literal ([192.0.2.1], RFC 5321 §4.1.3).
        let literal = domain.hasPrefix("[") && domain.hasSuffix("]")
        guard
            literal
                || domain.unicodeScalars.allSatisfy({ scalar in
                    scalar.value > 0x7F || scalar.isASCIILetter || ("0"..."9").contains(scalar)
                        || scalar == "-" || scalar == "." || scalar == "_"
                })
        else { return nil }
        return String(candidate).lowercased()
    }

    /// `normalize` for ASCII text without CR, byte by byte (one byte is one Character there), step by step as
    /// `normalizeGeneral`.
    static func normalizeASCII(_ text: Substring) -> String? {
        let whitespace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A }  // no CR here
        func trimmed(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
            let start = bytes.drop(while: whitespace)
            return start[..<(start.lastIndex { !whitespace($0) }.map(start.index(after:)) ?? start.startIndex)]
        }
        var candidate = trimmed(text.utf8)
        if candidate.count >= 2, candidate.first == UInt8(ascii: "<"), candidate.last == UInt8(ascii: ">") {
            candidate = trimmed(candidate.dropFirst().dropLast())
        }
        if candidate.first == UInt8(ascii: "@"), let colon = candidate.firstIndex(of: UInt8(ascii: ":")) {
            candidate = candidate[candidate.index(after: colon)...]
        }
        while candidate.last == UInt8(ascii: ".") { candidate = candidate.dropLast() }
        guard !candidate.isEmpty, candidate.count <= maxLength,
            let at = candidate.lastIndex(of: UInt8(ascii: "@"))
        else { return nil }
        let local = candidate[..<at]
        let domain = candidate[candidate.index(after: at)...]
        guard !local.isEmpty, !domain.isEmpty else { return nil }
        let quoted = local.count >= 2 && local.first == UInt8(ascii: "\"") && local.last == UInt8(ascii: "\"")
        for byte in local where byte <= 0x20 || byte == 0x7F {
            if !(quoted && byte == 0x20) { return nil }
        }
        if !quoted, local.contains(where: { "<>()[],;:\\\"".utf8.contains($0) }) { return nil }
        let literal = domain.first == UInt8(ascii: "[") && domain.last == UInt8(ascii: "]")
        guard
            literal
                || domain.allSatisfy({ byte in
                    byte.isASCIILetter || byte.isASCIIDigit || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                        || byte == UInt8(ascii: "_")
                })
        else { return nil }
        return String(asciiLowercasing: candidate)
    }

    /// The addr-specs of an address list (RFC 5322 §3.4: `To`, `Cc`, `Envelope-To`, ...), tolerant: display names,
    /// quoted strings, nested comments, groups (`undisclosed-recipients:;`), angle brackets, missing commas between
    /// bracketed addresses. Items that are not addresses are skipped. At most `limit` addresses.
    public static func list(_ text: String, limit: Int = 1_000) -> [String] {
        guard text.isASCIIWithoutCR else { return listGeneral(text, limit: limit) }
        var scan = AddressListScan<UInt8>(limit: limit)
        return scan.run(text.utf8.prefix(64 * 1024))
    }

    /// `list` the general way, Character by Character, whatever the text: the reference its byte-level fast path is
    /// tested against (ParsingFastPathTests).
    static func listGeneral(_ text: String, limit: Int = 1_000) -> [String] {
        var scan = AddressListScan<Character>(limit: limit)
        return scan.run(text.prefix(64 * 1024))
    }

    /// The first word of `text` (split at spaces and tabs) that holds an '@'. `fast`: the text is ASCII without CR
    /// (one byte is one Character), so words are found byte by byte without an array of all of them.
    static func firstWordWithAt(_ text: String, fast: Bool) -> Substring? {
        guard fast else {
            return text.split(whereSeparator: { $0 == " " || $0 == "\t" }).first(where: { $0.containsASCII("@") })
        }
        let bytes = text.utf8
        var wordStart: String.Index?
        var sawAt = false
        var index = bytes.startIndex
        // Bounded by the length of the text; one step past the end closes the last word.
        while true {
            let byte: UInt8? = index == bytes.endIndex ? nil : bytes[index]
            if byte == nil || byte == 0x20 || byte == 0x09 {
                if let start = wordStart, sawAt { return text[start..<index] }
                wordStart = nil
                sawAt = false
                if byte == nil { return nil }
            } else {
                if wordStart == nil { wordStart = index }
                if byte == UInt8(ascii: "@") { sawAt = true }
            }
            bytes.formIndex(after: &index)
        }
    }

    /// The part after the last '@' (the address is already normalized).
    static func domain(of address: String) -> String {
        guard let at = lastAt(address) else { return "" }
        return String(address[address.index(after: at)...])
    }

    /// The part before the last '@'.
    static func localPart(of address: String) -> String {
        guard let at = lastAt(address) else { return address }
        return String(address[..<at])
    }

    /// The last '@' Character: in ASCII text the last '@' byte (there every '@' is a Character of its own; elsewhere
    /// a combining mark may join it).
    private static func lastAt(_ address: String) -> String.Index? {
        address.isASCIIOnly ? address.utf8.lastIndex(of: UInt8(ascii: "@")) : address.lastIndex(of: "@")
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" || first == "\r" || first == "\n" {
            result = result.dropFirst()
        }
        while let last = result.last, last == " " || last == "\t" || last == "\r" || last == "\n" {
            result = result.dropLast()
        }
        return result
    }
}

/// What `MailAddress.list` reads one step at a time: a Character (any text), or a byte of ASCII text without CR,
/// where one byte is one Character. The scan is written once over this; bytes only spare it grapheme breaking and
/// String appends.
private protocol AddressListUnit: Equatable {
    /// Where an element's text is gathered.
    associatedtype Buffer: RangeReplaceableCollection where Buffer.Element == Self
    /// The unit of an ASCII character.
    static func ascii(_ scalar: Unicode.Scalar) -> Self
    static func text(_ buffer: Buffer) -> String
    /// Whether the text holds an '@' (`containsASCII("@")`).
    static func holdsAt(_ buffer: Buffer) -> Bool
}

extension Character: AddressListUnit {
    fileprivate static func ascii(_ scalar: Unicode.Scalar) -> Character { Character(scalar) }
    fileprivate static func text(_ buffer: String) -> String { buffer }
    fileprivate static func holdsAt(_ buffer: String) -> Bool { buffer.containsASCII("@") }
}

extension UInt8: AddressListUnit {
    fileprivate static func ascii(_ scalar: Unicode.Scalar) -> UInt8 { UInt8(scalar.value) }
    fileprivate static func text(_ buffer: [UInt8]) -> String { String(decoding: buffer, as: UTF8.self) }
    fileprivate static func holdsAt(_ buffer: [UInt8]) -> Bool { buffer.contains(UInt8(ascii: "@")) }
}

/// The scan behind `MailAddress.list`: elements split at ',' and ';' outside quotes, comments and angle brackets.
private struct AddressListScan<Unit: AddressListUnit> {
    let limit: Int
    var out: [String] = []
    var item = Unit.Buffer()  // the current element outside comments
    var angle: Unit.Buffer?  // text inside <...> of the current element
    var inAngle = false
    var inQuote = false
    var escaped = false
    var depth = 0

    init(limit: Int) { self.limit = limit }

    mutating func run(_ units: some Sequence<Unit>) -> [String] {
        let backslash = Unit.ascii("\\")
        let quote = Unit.ascii("\"")
        let open = Unit.ascii("(")
        let close = Unit.ascii(")")
        let less = Unit.ascii("<")
        let greater = Unit.ascii(">")
        let comma = Unit.ascii(",")
        let semicolon = Unit.ascii(";")
        let colon = Unit.ascii(":")
        for unit in units {
            if out.count >= limit { break }
            if escaped {
                escaped = false
                append(unit)
                continue
            }
            if inQuote {
                if unit == backslash { escaped = true } else if unit == quote { inQuote = false }
                append(unit)
                continue
            }
            if depth > 0 {
                if unit == open {
                    depth += 1
                } else if unit == close {
                    depth -= 1
                } else if unit == backslash {
                    escaped = true
                }
                continue
            }
            if unit == open {
                depth += 1
            } else if unit == quote {
                inQuote = true
                append(unit)
            } else if unit == less {
                if angle != nil { finish() }  // "<a@x> <b@y>": a missing comma
                inAngle = true
                angle = Unit.Buffer()
            } else if unit == greater {
                inAngle = false
            } else if (unit == comma || unit == semicolon) && !inAngle {
                finish()
            } else if unit == colon && !inAngle && angle == nil && !Unit.holdsAt(item) {
                item = Unit.Buffer()  // a group's display name (RFC 5322 §3.4)
            } else {
                append(unit)
            }
        }
        finish()
        return out
    }

    private mutating func append(_ unit: Unit) {
        if inAngle { angle?.append(unit) } else { item.append(unit) }
    }

    private mutating func finish() {
        let candidate = Unit.text(angle ?? item)
        // Without brackets, the element may still carry a display name: keep the word with an '@'.
        if angle == nil, let word = MailAddress.firstWordWithAt(candidate, fast: candidate.isASCIIWithoutCR) {
            if let address = MailAddress.normalize(word), out.count < limit, !out.contains(address) {
                out.append(address)
            }
        } else if let address = MailAddress.normalize(candidate), out.count < limit, !out.contains(address) {
            out.append(address)
        }
        item = Unit.Buffer()
        angle = nil
    }
}
