/// One Received trace field, taken apart (RFC 5321 §4.4 Time-stamp-line, RFC 5322 §3.6.7 `received`):
///
///     Received: from mail.sender.example (mail.sender.example [192.0.2.7])
///             by mx1.wingtip-isp.example (Postfix) with ESMTPS id 4Q1x2y for <chris@wingtiptoys.com>;
///             Tue, 5 Mar 2019 10:00:00 +0100 (CET)
///
/// Clauses are found by keyword (`from`, `by`, `via`, `with`, `id`, `for`) outside comments, in any order; unknown
/// words between them (Exim's `tls TLS_…`) are skipped. The date is what follows the last ';' outside comments.
/// qmail's `(qmail 1234 invoked by uid 89)` is a comment only: no clauses, just the date.
public struct ReceivedHeader: Sendable, Equatable {
    /// The word after `from`, as written (often the HELO name, which the sending side chooses).
    public var from: String?
    /// Who the previous hop was, as the receiving MTA determined it (lower-cased, brackets and trailing dot
    /// dropped): the reverse-DNS name of the TCP-info comment when there is one (Postfix, Sendmail:
    /// `from HELO (RDNS [IP])`), else the `from` word (Exim, qmail, Exchange write the verified name there). Nil
    /// when that is "unknown" or an address literal.
    public var fromHost: String?
    /// The previous hop's IP address when the field gives one.
    public var fromAddress: String?
    /// The host that added this field (lower-cased, brackets and trailing dot dropped).
    public var by: String?
    public var via: String?
    /// The protocol (`ESMTPS`, `SMTP`, `LMTP`, `Microsoft SMTP Server`...).
    public var with: String?
    public var id: String?
    /// The `for` clause: the envelope recipient of this hop when it had exactly one (normalized addresses).
    public var forAddresses: [String]
    /// `(envelope-from <x@y>)` in a comment (Exim, Sendmail); "" for the null sender.
    public var envelopeFrom: String?
    /// The text after the last ';' as written.
    public var dateText: String?
    /// The time stamp in `dateText`. Parsed when asked for, not with the rest of the field: recovery reads the date
    /// of the first usable Received only, and parsing a date costs about as much as taking the rest apart. Nil when
    /// `dateText` is (parsing an empty text gives nil too).
    public var date: MailDate? { dateText.flatMap(MailDate.parse) }

    /// Parses an unfolded Received value. Bounded: at most 200 tokens are looked at.
    public init(parsing value: String) {
        self.init(parsing: value, fast: value.isASCIIWithoutCR)
    }

    /// `init(parsing:)` the general way, Character by Character, whatever the text: the reference the byte-level
    /// fast path is tested against (ParsingFastPathTests).
    init(parsingGeneral value: String) {
        self.init(parsing: value, fast: false)
    }

    /// `fast`: the text is ASCII without CR, so one byte is one Character and the byte-level scans apply.
    private init(parsing value: String, fast: Bool) {
        let scan = fast ? Self.tokenizeASCII(value) : Self.tokenize(value)
        let tokens = scan.tokens
        var clauses = tokens[...]
        if let cut = scan.lastSemicolon, let dateStart = scan.dateStart {
            clauses = tokens[..<cut]
            let written = scan.text[dateStart...].trimmingWhitespace()
            dateText = written.isEmpty ? nil : String(written)
        }
        forAddresses = []
        readClauses(clauses.prefix(200), fast: fast)
        for case .comment(let note) in tokens.prefix(200) where envelopeFrom == nil {
            envelopeFrom = Self.envelopeFrom(in: note)
        }
    }

    private typealias Scan = (text: Substring, tokens: [ReceivedToken], lastSemicolon: Int?, dateStart: String.Index?)

    /// Words and comments outside and inside parentheses, and where the text after the last top-level ';' starts
    /// (`lastSemicolon` is the token count there). Bounded: the first 16 KiB characters.
    private static func tokenize(_ value: String) -> Scan {
        let text = Substring(value.prefix(16 * 1024))
        var tokens: [ReceivedToken] = []
        var depth = 0
        var word = ""
        var comment = ""
        var lastSemicolon: Int?  // token count at the last top-level ';'
        var dateStart: String.Index?
        var index = text.startIndex
        func endWord() {
            if !word.isEmpty { tokens.append(.word(Substring(word))) }
            word = ""
        }
        while index < text.endIndex {
            let character = text[index]
            if depth > 0 {
                if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
                if depth == 0 {
                    tokens.append(.comment(Substring(comment)))
                    comment = ""
                } else {
                    comment.append(character)
                }
            } else if character == "(" {
                endWord()
                depth = 1
            } else if character == ";" {
                endWord()
                lastSemicolon = tokens.count
                dateStart = text.index(after: index)
            } else if character == " " || character == "\t" || character == "\r" || character == "\n" {
                endWord()
            } else {
                word.append(character)
            }
            index = text.index(after: index)
        }
        endWord()
        if depth > 0 { tokens.append(.comment(Substring(comment))) }
        return (text, tokens, lastSemicolon, dateStart)
    }

    /// `tokenize` for ASCII text without CR, byte by byte: words and comments are slices of the text, not copies.
    private static func tokenizeASCII(_ value: String) -> Scan {
        let utf8 = value.utf8
        let text = value[..<utf8.index(utf8.startIndex, offsetBy: min(utf8.count, 16 * 1024))]
        var tokens: [ReceivedToken] = []
        var depth = 0
        var wordStart: String.Index?
        var commentStart = text.startIndex
        var lastSemicolon: Int?
        var dateStart: String.Index?
        func endWord(at end: String.Index) {
            if let start = wordStart { tokens.append(.word(text[start..<end])) }
            wordStart = nil
        }
        var index = text.utf8.startIndex
        while index < text.utf8.endIndex {
            let byte = text.utf8[index]
            if depth > 0 {
                if byte == UInt8(ascii: "(") { depth += 1 } else if byte == UInt8(ascii: ")") { depth -= 1 }
                if depth == 0 { tokens.append(.comment(text[commentStart..<index])) }
            } else if byte == UInt8(ascii: "(") {
                endWord(at: index)
                depth = 1
                commentStart = text.utf8.index(after: index)
            } else if byte == UInt8(ascii: ";") {
                endWord(at: index)
                lastSemicolon = tokens.count
                dateStart = text.utf8.index(after: index)
            } else if byte == 0x20 || byte == 0x09 || byte == 0x0A {
                endWord(at: index)
            } else if wordStart == nil {
                wordStart = index
            }
            index = text.utf8.index(after: index)
        }
        endWord(at: text.endIndex)
        if depth > 0 { tokens.append(.comment(text[commentStart...])) }
        return (text, tokens, lastSemicolon, dateStart)
    }

    /// What the words being read belong to: the keyword that opened a clause, or the words after the `from` value
    /// (their comments are the TCP-info: `from HELO (RDNS [IP])`).
    private enum Clause: Equatable {
        case from, fromValue, by, via, with, id, `for`
    }

    private mutating func readClauses(_ tokens: ArraySlice<ReceivedToken>, fast: Bool) {
        var clause: Clause?
        var fromComments: [Substring] = []
        for token in tokens {
            switch token {
            case .comment(let text):
                if clause == .fromValue { fromComments.append(text) }
            case .word(let text):
                let keyword = fast ? Self.clauseKeywordASCII(text) : Self.clauseKeyword(text)
                if clause == .for {
                    if let keyword, keyword != .for {
                        clause = keyword
                        continue
                    }
                    for piece in Self.pieces(of: text, fast: fast) {
                        if let address = MailAddress.normalize(piece), !forAddresses.contains(address) {
                            forAddresses.append(address)
                        }
                    }
                    continue
                }
                if let current = clause, current != .fromValue {
                    switch current {
                    case .from: from = String(text)
                    case .by: by = Self.hostName(text)
                    case .via: via = String(text)
                    case .with: with = String(text)
                    case .id: id = String(text)
                    case .fromValue, .for: break
                    }
                    clause = current == .from ? .fromValue : nil
                    continue
                }
                if let keyword { clause = keyword }
            }
        }
        resolvePreviousHop(fromComments, fast: fast)
    }

    /// The clause a word opens: `from`, `by`, `via`, `with`, `id`, `for` in any letter case.
    private static func clauseKeyword(_ word: Substring) -> Clause? {
        switch word.lowercased() {
        case "from": .from
        case "by": .by
        case "via": .via
        case "with": .with
        case "id": .id
        case "for": .for
        default: nil
        }
    }

    /// `clauseKeyword` for an ASCII word, without the lower-cased copy: the same words, compared byte by byte.
    private static func clauseKeywordASCII(_ word: Substring) -> Clause? {
        let bytes = word.utf8
        guard bytes.count >= 2 && bytes.count <= 4 else { return nil }
        for (name, clause) in clauseNames where name.utf8.count == bytes.count {
            if bytes.startsIgnoringASCIICase(with: name.utf8) { return clause }
        }
        return nil
    }

    private static let clauseNames: [(String, Clause)] = [
        ("from", .from), ("by", .by), ("via", .via), ("with", .with), ("id", .id), ("for", .for),
    ]

    /// Sets `fromHost` and `fromAddress` from the `from` word and the comments right after it.
    private mutating func resolvePreviousHop(_ comments: [Substring], fast: Bool) {
        let firstWords = comments.first.map { Self.words(of: $0, fast: fast) } ?? []
        // The first IP address among the comments' words, brackets dropped.
        for (index, comment) in comments.enumerated() where fromAddress == nil {
            for word in index == 0 ? firstWords : Self.words(of: comment, fast: fast) {
                let bare = Self.strippingBrackets(word, fast: fast)
                if Self.isIPAddress(bare, fast: fast) {
                    fromAddress = Self.ipText(bare)
                    break
                }
            }
        }
        let firstWord = firstWords.first
        if let name = firstWord, name.equalsIgnoringASCIICase("unknown") {
            fromHost = nil  // Postfix/Sendmail: the reverse lookup failed; the from word is only the HELO
        } else if let name = firstWord, Self.isHostName(name) {
            fromHost = Self.hostName(name)
        } else if let from, Self.isHostName(from), !from.equalsIgnoringASCIICase("unknown") {
            fromHost = Self.hostName(from)
        } else if let from, fromAddress == nil {
            let bare = Self.strippingBrackets(from[...], fast: fast)
            if Self.isIPAddress(bare, fast: fast) { fromAddress = Self.ipText(bare) }
        }
    }

    /// The comma-separated pieces of a `for` word (`<a@x>,<b@y>`), empty ones left out.
    private static func pieces(of word: Substring, fast: Bool) -> [Substring] {
        guard fast else { return word.split(separator: ",") }
        return word.utf8.split(separator: UInt8(ascii: ",")).map { word[$0.startIndex..<$0.endIndex] }
    }

    /// The words of a comment, split at spaces and tabs.
    private static func words(of comment: Substring, fast: Bool) -> [Substring] {
        guard fast else { return comment.split(whereSeparator: { $0 == " " || $0 == "\t" }) }
        return comment.utf8.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 }).map {
            comment[$0.startIndex..<$0.endIndex]
        }
    }

    /// The word without the '[' and ']' at either end.
    private static func strippingBrackets(_ word: Substring, fast: Bool) -> Substring {
        var result = word
        if fast {
            let bracket: (UInt8) -> Bool = { $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]") }
            let bytes = result.utf8.drop(while: bracket)
            let end = bytes.lastIndex(where: { !bracket($0) }).map { bytes.index(after: $0) } ?? bytes.startIndex
            return result[bytes.startIndex..<end]
        }
        while let first = result.first, first == "[" || first == "]" { result = result.dropFirst() }
        while let last = result.last, last == "[" || last == "]" { result = result.dropLast() }
        return result
    }

    /// "From envelope-from <x@y>" in a Received comment (Exim writes `(envelope-from <x@y>)`).
    static func envelopeFrom(in note: some StringProtocol) -> String? {
        if note.certainlyLacksASCII(caseInsensitive: "envelope-from") { return nil }
        // A String of its own: the range found in its lower-cased copy is used on it.
        let comment = String(note)
        let lower = comment.lowercased()
        guard let range = lower.range(of: "envelope-from") else { return nil }
        let rest = comment[range.upperBound...].trimmingWhitespace()
        let word = rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? ""
        if word == "<>" { return "" }
        return MailAddress.normalize(word)
    }

    /// A dotted host name (letters, digits, '-', '.', at least one letter), not an address literal.
    static func isHostName(_ text: some StringProtocol) -> Bool {
        let name = text.hasSuffix(".") ? text.dropLast() : text[...]
        return name.containsASCII(".")
            && name.unicodeScalars.allSatisfy {
                $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "-" || $0 == "."
                    || $0 == "_"
            } && name.unicodeScalars.contains { $0.isASCIILetter }  // all ASCII by now
    }

    /// An IPv4 address (four groups of one to three digits) or something IPv6-like (hex digits, ':' and '.', with at
    /// least one ':'), optionally after `IPv6:` (RFC 5321 §4.1.3).
    static func isIPAddress(_ text: some StringProtocol) -> Bool {
        var bare = Substring(text)
        if bare.lowercased().hasPrefix("ipv6:") { bare = bare.dropFirst(5) }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }) {
            return true
        }
        return bare.containsASCII(":") && bare.count >= 2 && bare.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }

    private static func isIPAddress(_ text: Substring, fast: Bool) -> Bool {
        fast ? isIPAddressASCII(text) : isIPAddress(text)
    }

    /// `isIPAddress` for ASCII text without CR, byte by byte (one byte is one Character there).
    static func isIPAddressASCII(_ text: Substring) -> Bool {
        var bare = text.utf8[...]
        if bare.startsIgnoringASCIICase(with: "ipv6:".utf8) { bare = bare.dropFirst(5) }
        // Four dot-separated groups of one to three digits, counted in one pass instead of split into an array.
        var groups = 1
        var groupLength = 0
        var dottedDigits = true
        for byte in bare where dottedDigits {
            if byte == UInt8(ascii: ".") {
                dottedDigits = groupLength >= 1 && groupLength <= 3
                groups += 1
                groupLength = 0
            } else {
                dottedDigits = byte.isASCIIDigit
                groupLength += 1
            }
        }
        if dottedDigits, groups == 4, groupLength >= 1, groupLength <= 3 { return true }
        return bare.contains(UInt8(ascii: ":")) && bare.count >= 2
            && bare.allSatisfy { $0.isASCIIHexDigit || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }
    }

    private static func ipText(_ text: some StringProtocol) -> String {
        var bare = String(text).lowercased()
        if bare.hasPrefix("ipv6:") { bare.removeFirst(5) }
        return bare
    }

    /// Lower-cased, `[...]` and a trailing dot removed.
    static func hostName(_ text: some StringProtocol) -> String {
        text.isASCIIWithoutCR ? hostNameASCII(Substring(text).utf8) : hostNameGeneral(text)
    }

    /// `hostName` the general way, Character by Character: the reference of `hostNameASCII`.
    static func hostNameGeneral(_ text: some StringProtocol) -> String {
        var name = text.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasPrefix("ipv6:") { name.removeFirst(5) }
        while name.hasSuffix(".") { name.removeLast() }
        return name
    }

    /// `hostName` for ASCII text without CR, step by step on bytes, lower-cased once at the end.
    private static func hostNameASCII(_ text: Substring.UTF8View) -> String {
        var name = text
        if name.first == UInt8(ascii: "["), name.last == UInt8(ascii: "]") { name = name.dropFirst().dropLast() }
        if name.startsIgnoringASCIICase(with: "ipv6:".utf8) { name = name.dropFirst(5) }
        while name.last == UInt8(ascii: ".") { name = name.dropLast() }
        return String(asciiLowercasing: name)
    }
}

/// A word or a comment of a Received value: a slice of the value (byte scan) or of a copy (Character scan).
private enum ReceivedToken {
    case word(Substring)
    case comment(Substring)
}
