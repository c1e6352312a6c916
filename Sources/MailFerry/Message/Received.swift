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
    public var date: MailDate?

    /// Parses an unfolded Received value. Bounded: at most 200 tokens are looked at.
    public init(parsing value: String) {
        // Without CR (CR LF is the one ASCII pair that makes a single Character), ASCII text has one Character per
        // byte: the byte scan below reads it exactly as the Character scan does, several times faster.
        let plain = value.utf8.allSatisfy { $0 < 0x80 && $0 != 0x0D }
        let scan = plain ? Self.tokenizeASCII(value) : Self.tokenize(value)
        let tokens = scan.tokens
        let text = scan.text
        var clauses = tokens
        if let cut = scan.lastSemicolon, let dateStart = scan.dateStart {
            clauses = Array(tokens[..<cut])
            let written = text[dateStart...].trimmingWhitespace()
            dateText = written.isEmpty ? nil : String(written)
            date = MailDate.parse(String(written))
        }
        forAddresses = []
        readClauses(Array(clauses.prefix(200)))
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
            if !word.isEmpty { tokens.append(.word(word)) }
            word = ""
        }
        while index < text.endIndex {
            let character = text[index]
            if depth > 0 {
                if character == "(" { depth += 1 } else if character == ")" { depth -= 1 }
                if depth == 0 { tokens.append(.comment(comment)); comment = "" } else { comment.append(character) }
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
        if depth > 0 { tokens.append(.comment(comment)) }
        return (text, tokens, lastSemicolon, dateStart)
    }

    /// `tokenize` for ASCII text without CR, byte by byte: words and comments are slices of the text.
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
            if let start = wordStart { tokens.append(.word(String(text[start..<end]))) }
            wordStart = nil
        }
        var index = text.utf8.startIndex
        while index < text.utf8.endIndex {
            let byte = text.utf8[index]
            if depth > 0 {
                if byte == UInt8(ascii: "(") { depth += 1 } else if byte == UInt8(ascii: ")") { depth -= 1 }
                if depth == 0 { tokens.append(.comment(String(text[commentStart..<index]))) }
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
        if depth > 0 { tokens.append(.comment(String(text[commentStart...]))) }
        return (text, tokens, lastSemicolon, dateStart)
    }

    private mutating func readClauses(_ tokens: [ReceivedToken]) {
        var keyword: String?
        var fromComments: [String] = []
        for token in tokens {
            switch token {
            case .comment(let text):
                if keyword == "from-value" { fromComments.append(text) }
            case .word(let text):
                let lower = text.lowercased()
                if keyword == "for" {
                    if Self.isClauseKeyword(lower), lower != "for" {
                        keyword = lower
                        continue
                    }
                    for piece in text.split(separator: ",") {
                        if let address = MailAddress.normalize(piece), !forAddresses.contains(address) {
                            forAddresses.append(address)
                        }
                    }
                    continue
                }
                if let current = keyword, current != "from-value" {
                    switch current {
                    case "from": from = text
                    case "by": by = Self.hostName(text)
                    case "via": via = text
                    case "with": with = text
                    case "id": id = text
                    default: break
                    }
                    keyword = current == "from" ? "from-value" : nil
                    continue
                }
                if Self.isClauseKeyword(lower) { keyword = lower }
            }
        }
        resolvePreviousHop(fromComments)
    }

    /// `from`, `by`, `via`, `with`, `id`, `for` (lower-cased): the words that open a clause.
    private static func isClauseKeyword(_ lower: String) -> Bool {
        switch lower {
        case "from", "by", "via", "with", "id", "for": true
        default: false
        }
    }

    /// Sets `fromHost` and `fromAddress` from the `from` word and the comments right after it.
    private mutating func resolvePreviousHop(_ comments: [String]) {
        for comment in comments {
            for word in comment.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                let bare = word.stripping("[]")
                if fromAddress == nil, Self.isIPAddress(bare) { fromAddress = Self.ipText(bare) }
            }
        }
        let firstWord = comments.first?.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init)
        if let name = firstWord, name.lowercased() == "unknown" {
            fromHost = nil  // Postfix/Sendmail: the reverse lookup failed; the from word is only the HELO
        } else if let name = firstWord, Self.isHostName(name) {
            fromHost = Self.hostName(name)
        } else if let from, Self.isHostName(from), from.lowercased() != "unknown" {
            fromHost = Self.hostName(from)
        } else if let from, fromAddress == nil, Self.isIPAddress(from.stripping("[]")) {
            fromAddress = Self.ipText(from.stripping("[]"))
        }
    }

    /// "From envelope-from <x@y>" in a Received comment (Exim writes `(envelope-from <x@y>)`).
    static func envelopeFrom(in comment: String) -> String? {
        if comment.certainlyLacksASCII(caseInsensitive: "envelope-from") { return nil }
        let lower = comment.lowercased()
        guard let range = lower.range(of: "envelope-from") else { return nil }
        let rest = comment[range.upperBound...].trimmingWhitespace()
        let word = rest.split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? ""
        if word == "<>" { return "" }
        return MailAddress.normalize(word)
    }

    /// A dotted host name (letters, digits, '-', '.', at least one letter), not an address literal.
    static func isHostName(_ text: String) -> Bool {
        let name = text.hasSuffix(".") ? String(text.dropLast()) : text
        return name.containsASCII(".") && name.unicodeScalars.allSatisfy {
            $0.isASCIILetter || ("0"..."9").contains($0) || $0 == "-" || $0 == "."
                || $0 == "_"
        } && name.unicodeScalars.contains { $0.isASCIILetter }  // all ASCII by now
    }

    static func isIPAddress(_ text: some StringProtocol) -> Bool {
        var bare = Substring(text)
        if bare.lowercased().hasPrefix("ipv6:") { bare = bare.dropFirst(5) }
        let parts = bare.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy(\.isNumber) }) {
            return true
        }
        return bare.containsASCII(":") && bare.count >= 2 && bare.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }

    private static func ipText(_ text: some StringProtocol) -> String {
        var bare = String(text).lowercased()
        if bare.hasPrefix("ipv6:") { bare.removeFirst(5) }
        return bare
    }

    /// Lower-cased, `[...]` and a trailing dot removed.
    static func hostName(_ text: String) -> String {
        var name = text.lowercased()
        if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        if name.hasPrefix("ipv6:") { name.removeFirst(5) }
        while name.hasSuffix(".") { name.removeLast() }
        return name
    }
}

private enum ReceivedToken {
    case word(String)
    case comment(String)
}

private extension String {
    func stripping(_ set: String) -> String {
        var result = Substring(self)
        while let first = result.first, set.contains(first) { result = result.dropFirst() }
        while let last = result.last, set.contains(last) { result = result.dropLast() }
        return String(result)
    }
}

private extension Substring {
    func stripping(_ set: String) -> String { String(self).stripping(set) }
}
