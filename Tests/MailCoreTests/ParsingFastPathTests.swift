import Foundation
import MailFerryLab
import Testing

@testable import MailCore
@testable import MailFerryTestSupport

/// The byte-level fast paths of envelope recovery give exactly the answers of the general code they stand in for,
/// on large seeded sets of odd, generated input: dates and Received fields against their general (Character by
/// Character) twins, and whole envelope recoveries against a fingerprint recorded before the fast paths existed.
@Suite struct ParsingFastPathTests {
    // MARK: Dates

    @Test func dateFastPathMatchesTheGeneralParse() {
        let answers = agreeing(
            seed: 1, cases: 50_000, { $0.dateText() },
            fast: { MailDate.parse($0) }, general: { MailDate.parseGeneral($0) })
        let parsed = answers.filter { $0.answer != nil }.count
        let fast = answers.filter { $0.input.isASCIIWithoutCR }.count
        // The set reaches both paths and both outcomes.
        #expect(parsed > 10_000, "\(parsed) of 50,000 parsed")
        #expect(fast > 35_000 && fast < 50_000, "\(fast) of 50,000 took the fast path")
    }

    @Test func dateFastPathOnHandPickedOddities() {
        let texts = [
            "5--2019 10:00", "-Mar- 5 2019 10:00:00", "Tue, 5 Mar 2019 10:00:00 +-100", "5 Mar 2019 10:00:00 ++12",
            "5 Mar 2019 10:00:00 (  cet\t)", "5 Mar 2019 10:00:00 (c(e)t)", "5 Mar 2019 10:00(x):00 (",
            "Sept. 5 2019 1:2",
            "5 may. 2019 10:00", "5 MARCH 2019 10:00:00 z", "5 Mar 2019 10:00:00 (\u{0B}CET)", "5 Mar 2019 1:00:00.5.6",
            "5 Mar 2019 10:00:00\r\n+0100", "5\r\nMar 2019 10:00", "5 März 2019 10:00:00 +0100", "٥ Mar 2019 10:00",
            "5 \u{212A}ar 2019 10:00", "05-Mar-2019 10:00:00 +01:00", "5-mar-19 7:5:3", "Mar  5 10:00:00 2019",
            String(repeating: "5 ", count: 300) + "Mar 10:00", "(" + String(repeating: "(", count: 500),
        ]
        for text in texts {
            #expect(MailDate.parse(text) == MailDate.parseGeneral(text), "\(text.debugDescription)")
        }
    }

    // MARK: Received

    @Test func receivedFastPathMatchesTheGeneralParse() {
        var generator = Vocabulary(seed: 2)
        var withHost = 0
        var withAddress = 0
        var withRecipient = 0
        var withSender = 0
        for _ in 0..<50_000 {
            let text = generator.receivedText()
            let fast = ReceivedHeader(parsing: text)
            let general = ReceivedHeader(parsingGeneral: text)
            #expect(fast == general, "\(text.debugDescription)")
            if fast.fromHost != nil { withHost += 1 }
            if fast.fromAddress != nil { withAddress += 1 }
            if !fast.forAddresses.isEmpty { withRecipient += 1 }
            if fast.envelopeFrom != nil { withSender += 1 }
        }
        // Every part of the result is reached often.
        for (what, count) in [
            ("fromHost", withHost), ("fromAddress", withAddress), ("for", withRecipient),
            ("envelope-from", withSender),
        ] {
            #expect(count > 2_000, "\(what): \(count) of 50,000")
        }
    }

    /// `date` is read from `dateText` when asked for; it is the general parse of that text.
    @Test func receivedDateIsTheParseOfItsText() {
        var generator = Vocabulary(seed: 3)
        var dated = 0
        for _ in 0..<5_000 {
            let trace = ReceivedHeader(parsing: generator.receivedText())
            #expect(trace.date == trace.dateText.flatMap(MailDate.parseGeneral))
            if trace.date != nil { dated += 1 }
        }
        #expect(ReceivedHeader(parsing: "by x.example;   ").dateText == nil)
        #expect(ReceivedHeader(parsing: "by x.example;   ").date == nil)
        #expect(dated > 500, "\(dated) of 5,000 dated")
    }

    @Test func ipAddressBytesMatchTheGeneralTest() {
        let answers = agreeing(
            seed: 4, cases: 20_000, { $0.addressWord() }, keep: \.isASCIIWithoutCR,
            fast: { ReceivedHeader.isIPAddressASCII($0[...]) },
            general: { ReceivedHeader.isIPAddress($0) })
        let addresses = answers.filter(\.answer).count
        #expect(addresses > 2_000, "\(addresses) addresses")
    }

    // MARK: Whole recoveries

    /// FNV-1a over the JSON of the envelopes recovered from 3,000 generated header blocks under three plans (with a
    /// trust boundary and qmail prefixes, without trusted hosts, with literal prefixes), recorded with the
    /// implementation before the fast paths (notes, provenance, arrival and all). A deliberate change of what
    /// recovery answers changes it: check that the change is the intended one, then put the printed value here.
    @Test func recoveryAnswersAsBeforeTheFastPaths() throws {
        let recorded = "732d9462afb78594"
        let recoveries = [
            EnvelopeRecovery(
                trustedHosts: ["mx1.wingtip-isp.example", "mail.sender.example", ".google.com"],
                localDomains: ["wingtiptoys.com", "fabrikam.example"], qmailPrefix: .domain),
            EnvelopeRecovery(trustedHosts: [], localDomains: ["wingtiptoys.com"]),
            EnvelopeRecovery(
                trustedHosts: ["LOCALHOST", "[198.51.100.7]", ".example"], localDomains: ["b"],
                qmailPrefix: .prefixes(["wingtip-", "", "WingtipToys.com-"])),
        ]
        let firstSeen = Date(timeIntervalSince1970: 1_763_625_600)  // 2025-11-20 08:00:00 UTC
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        var generator = Vocabulary(seed: 6)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var recipients = 0
        for _ in 0..<3_000 {
            let block = HeaderBlock(parsing: Array(generator.headerBlock().utf8))
            for recovery in recoveries {
                let envelope = recovery.recover(block, firstSeen: firstSeen)
                recipients += envelope.recipients.count
                for byte in try encoder.encode(envelope) { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
            }
        }
        #expect(String(hash, radix: 16) == recorded)
        #expect(recipients > 3_000, "\(recipients) recipients")
    }

    @Test func addressFastPathMatchesTheGeneralNormalize() {
        let answers = agreeing(
            seed: 7, cases: 50_000, { $0.addressText() },
            fast: { MailAddress.normalize($0) }, general: { MailAddress.normalizeGeneral($0) })
        let normalized = answers.filter { $0.answer != nil }.count
        #expect(normalized > 10_000, "\(normalized) of 50,000 normalized")
    }

    @Test func addressListFastPathMatchesTheGeneralScan() {
        let answers = agreeing(
            seed: 9, cases: 30_000,
            { generator in
                (text: generator.addressList(), limit: generator.chance(10) ? 1 : 1_000)
            }, fast: { MailAddress.list($0.text, limit: $0.limit) },
            general: { MailAddress.listGeneral($0.text, limit: $0.limit) })
        let addresses = answers.map(\.answer.count).reduce(0, +)
        let fast = answers.filter { $0.input.text.isASCIIWithoutCR }.count
        #expect(addresses > 20_000, "\(addresses) addresses")
        #expect(fast > 15_000 && fast < 30_000, "\(fast) of 30,000 took the fast path")
    }

    @Test func addressWordByteScanMatchesTheGeneralSplit() {
        let answers = agreeing(
            seed: 8, cases: 20_000,
            { generator in
                generator.joined([
                    generator.pick(["Chris", "\"A, B\"", "x@y", "@", ""]), generator.addressText(),
                    generator.addressText(),
                ])
            }, keep: \.isASCIIWithoutCR, fast: { MailAddress.firstWordWithAt($0, fast: true) },
            general: { MailAddress.firstWordWithAt($0, fast: false) })
        let found = answers.filter { $0.answer != nil }.count
        #expect(found > 5_000, "\(found) words found")
    }

    @Test func hostNameBytesMatchTheGeneralOnes() {
        let answers = agreeing(
            seed: 10, cases: 20_000,
            { generator in
                generator.chance(50)
                    ? generator.addressWord()
                    : generator.pick(Vocabulary.hosts) + generator.pick(["", ".", "..", "]", "[", "\r"])
            }, fast: { ReceivedHeader.hostName($0) }, general: { ReceivedHeader.hostNameGeneral($0) })
        #expect(answers.count == 20_000)
    }

    /// `cases` inputs from a seeded generator through a fast path and its general twin (only those `keep` accepts:
    /// the inputs the fast path is meant for): every pair of answers must be equal. Returns the inputs with their
    /// answers, for the test to check that the inputs exercised what it meant them to.
    private func agreeing<Input, Answer: Equatable>(
        seed: UInt64, cases: Int, _ make: (inout Vocabulary) -> Input, keep: (Input) -> Bool = { _ in true },
        fast: (Input) -> Answer, general: (Input) -> Answer
    ) -> [(input: Input, answer: Answer)] {
        var generator = Vocabulary(seed: seed)
        var answers: [(input: Input, answer: Answer)] = []
        for _ in 0..<cases {
            let input = make(&generator)
            if !keep(input) { continue }
            let answer = fast(input)
            #expect(answer == general(input), "\(String(reflecting: input))")
            answers.append((input, answer))
        }
        return answers
    }

    @Test func addressPartsSplitAtTheLastAtCharacter() {
        var generator = Vocabulary(seed: 11)
        for _ in 0..<20_000 {
            let address = generator.addressText()
            let at = address.lastIndex(of: "@")
            #expect(
                MailAddress.domain(of: address) == at.map { String(address[address.index(after: $0)...]) } ?? "",
                "\(address.debugDescription)")
            #expect(
                MailAddress.localPart(of: address) == at.map { String(address[..<$0]) } ?? address,
                "\(address.debugDescription)")
        }
    }

    @Test func caseInsensitiveSearchShortcutMatchesFoundation() {
        var generator = Vocabulary(seed: 5)
        for _ in 0..<5_000 {
            let text = generator.words(from: Vocabulary.receivedWords + ["envelope-fro", "ENVELOPE-FROM", "m"], 0...4)
            if text.certainlyLacksASCII(caseInsensitive: "envelope-from") {
                #expect(text.lowercased().range(of: "envelope-from") == nil, "\(text.debugDescription)")
            } else if text.isASCIIOnly {
                #expect(text.lowercased().range(of: "envelope-from") != nil, "\(text.debugDescription)")
            }
        }
    }
}

/// Seeded random text from the vocabulary of dates and Received fields, with stray punctuation, odd letter case, a
/// few non-ASCII characters and CRs (which send the fast paths to the general code). Uses `next() % n`, not
/// `random(in:)`, so a seed gives the same text with every toolchain.
private struct Vocabulary {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func number(_ bound: Int) -> Int { Int(rng.next() % UInt64(bound)) }
    mutating func chance(_ percent: Int) -> Bool { number(100) < percent }
    mutating func pick(_ choices: [String]) -> String { choices[number(choices.count)] }

    /// A word in one of the letter cases mail software writes, now and then in a random one.
    mutating func cased(_ word: String) -> String {
        switch number(6) {
        case 0: return word.uppercased()
        case 1: return word.lowercased()
        case 2: return String(word.map { number(2) == 0 ? Character($0.uppercased()) : $0 })
        default: return word
        }
    }

    mutating func digits(_ count: ClosedRange<Int>) -> String {
        let length = count.lowerBound + number(count.count)
        return String((0..<length).map { _ in Character(String(number(10))) })
    }

    static let separators = [" ", " ", " ", "  ", "\t", ", ", ",", "", "\n", " ,", "\r", "\r\n", "\u{0B}", "\u{A0}"]
    static let oddities = [
        ".", ";", ":", "-", "--", "[", "]", "(", ")", "()", "\"", "<", ">", "@", "+", "é", "März",
        "\u{212A}", "١٢", "e\u{301}", "日本", "\u{FF11}",
    ]
    static let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Tuesday", "Thurs", "Sunday,"]
    static let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "March",
        "Sept.", "Sept", "may.", "June", "Decem", "Marc", "Ma", "Mars",
    ]
    static let zones = [
        "+0100", "-0000", "+0000", "-0500", "+01:00", "-8", "+530", "+-100", "++12", "+2400", "+12345",
        "GMT", "UT", "UTC", "Z", "EST", "edt", "CET", "MEZ", "J", "z", "XYZT", "nzdt", "(CET)",
        "( cet )", "(\tCET\t)", "(PST)", "(c (e) t)", "(", ")", "(GMT", "(\u{0B}CET)",
        "(Central European Time)",
    ]

    mutating func time() -> String {
        switch number(9) {
        case 0: return digits(1...2) + ":" + digits(1...3)
        case 1: return digits(1...2) + ":" + digits(2...2) + ":" + digits(2...2) + "." + digits(1...4)
        case 2:
            return digits(2...2) + ":" + digits(2...2) + ":" + digits(2...2)
                + pick([
                    "Z", "z", "+0100", "-0000",
                    "+01:00", "-", "+x",
                ])
        case 3: return digits(0...3) + ":" + digits(0...3) + ":" + digits(0...3) + ":" + digits(0...2)
        case 4: return digits(2...2) + "::" + digits(2...2)
        default: return digits(2...2) + ":" + digits(2...2) + (chance(70) ? ":" + digits(2...2) : "")
        }
    }

    /// One date-ish token.
    mutating func dateToken() -> String {
        switch number(12) {
        case 0: return cased(pick(Self.days))
        case 1, 2: return cased(pick(Self.months))
        case 3, 4: return digits(1...5)
        case 5, 6: return time()
        case 7: return cased(pick(Self.zones))
        case 8: return digits(1...2) + "-" + cased(pick(Self.months)) + "-" + digits(2...4)
        case 9: return pick(Self.oddities)
        case 10: return "(" + cased(pick(Self.zones + Self.days)) + (chance(80) ? ")" : "")
        default: return digits(1...2) + pick(["-", "--", "-x-", "-Mar", "-1-"]) + digits(0...4)
        }
    }

    /// A date: mostly the RFC 5322 shape with parts changed, sometimes tokens in any order.
    mutating func dateText() -> String {
        var tokens: [String]
        if chance(60) {
            let day = String(1 + number(31))
            let year = chance(80) ? String(1960 + number(80)) : digits(2...3)
            let clock = chance(70) ? "\(number(24)):\(10 + number(50)):\(10 + number(50))" : time()
            tokens = [
                cased(pick(Self.days)) + ",", day, cased(pick(Self.months)), year, clock, cased(pick(Self.zones)),
            ]
            for _ in 0..<(chance(40) ? 0 : number(3)) {
                let position = number(tokens.count + 1)
                if chance(50), position < tokens.count {
                    tokens.remove(at: position)
                } else {
                    tokens.insert(dateToken(), at: position)
                }
            }
        } else {
            tokens = (0..<(1 + number(8))).map { _ in dateToken() }
        }
        return joined(tokens)
    }

    mutating func joined(_ tokens: [String]) -> String {
        var text = chance(10) ? pick(Self.separators) : ""
        for (index, token) in tokens.enumerated() {
            if index > 0 { text += chance(85) ? pick(Array(Self.separators.prefix(6))) : pick(Self.separators) }
            text += token
        }
        return text
    }

    mutating func words(from vocabulary: [String], _ count: ClosedRange<Int>) -> String {
        joined((0..<(count.lowerBound + number(count.count))).map { _ in cased(pick(vocabulary)) })
    }

    static let receivedWords = [
        "from", "by", "via", "with", "id", "for", "FROM", "By", "fro", "form", "byy", "ESMTPS",
        "SMTP", "LMTP", "Microsoft", "tls", "TLS1.3", "(Postfix)", "(Exim 4.96)", "localhost",
        "unknown", "Frontend", "Transport", "multiple", "recipients",
    ]
    static let hosts = [
        "mail.sender.example", "MX1.Wingtip-ISP.example.", "mx.qmail_isp.example", "laptop", "unknown",
        "UNKNOWN", "localhost", "localhost.localdomain", "a.b", "1.2.3.example", "-.-", "x..y",
        "bn8nam12ft012.eop-nam12.prod.protection.outlook.com", "mail-sor-f41.google.com.", "é.example",
        "[mx.example]", "host.example..",
    ]

    mutating func addressWord() -> String {
        switch number(12) {
        case 0: return [digits(1...3), digits(1...3), digits(1...3), digits(1...3)].joined(separator: ".")
        case 1: return "[" + [digits(1...3), digits(1...4), digits(0...3), digits(1...3)].joined(separator: ".") + "]"
        case 2: return cased("IPv6:") + pick(["2001:db8::1", "::1", "2603:10B6:408:e1:cafe::1", "fe80::g", ":", ""])
        case 3: return "[" + cased("ipv6:") + pick(["2001:DB8::1", "::", "1:2:3:4:5:6:7:8", "x:y"]) + "]"
        case 4:
            return pick([
                "2001:db8::1", "::1", "::", ":", "a:", "1.2.3.4:25", "1.2.3", "1.2.3.4.5", "1..2.3",
                "١.٢.٣.٤", "1.2.3.\u{FF14}", "ab:cd:ef", "AB:CD:EG", "[[1.2.3.4]]", "[]", "[",
                "1.2.3.4]",
            ])
        case 5: return "127.0.0.1"
        case 6: return pick(Self.hosts)
        default: return "198.51.100." + digits(1...3)
        }
    }

    mutating func address() -> String {
        let local = pick(["chris", "Chris", "kelly.x", "\"q u\"", "a+b", "wingtiptoys.com-chris", "", "x y", "x<y"])
        let domain = pick([
            "WingtipToys.com", "fabrikam.example", "[192.0.2.1]", "b.", "", "bad domain", "x_y.z",
            "例え.jp",
        ])
        let at = local + "@" + domain
        switch number(6) {
        case 0: return "<" + at + ">"
        case 1: return at + "," + pick(["a@b.example", "<c@d.example>", "", "x"])
        case 2: return "<@relay.example:" + at + ">"
        case 3: return pick(["<>", "multiple", "<a@b.example> <c@d.example>", at + "."])
        default: return "<" + at + ">"
        }
    }

    /// An address as written in any header, with what surrounds it there, and broken in the usual ways.
    mutating func addressText() -> String {
        var text = address()
        for _ in 0..<number(3) {
            let piece = pick(
                Self.oddities + Self.separators + [
                    "<", ">", "@", "@@", ".", "..", "\"", "\u{7F}", "\u{01}",
                    "@relay:", "x", "ü", "\r\n", " ", "\u{301}",
                ])
            let offset = number(text.count + 1)
            text.insert(contentsOf: piece, at: text.index(text.startIndex, offsetBy: offset))
        }
        return text
    }

    /// An address list as To, Cc or Envelope-To hold them: display names, quotes with escapes, comments, groups,
    /// missing commas, and the damage `addressText` does.
    mutating func addressList() -> String {
        var elements: [String] = []
        for _ in 0..<(1 + number(4)) {
            switch number(8) {
            case 0:
                elements.append(
                    pick(["Chris", "\"Kelly, X\"", "\"a\\\"b\"", "Ann (sales)", "=?utf-8?q?J=C3=BC?=", ""])
                        + " " + address())
            case 1: elements.append(pick(["undisclosed-recipients:;", "team: a@b.example, c@d.example;", "x:"]))
            case 2:
                elements.append(
                    address() + " (" + pick(["comment", "nested (x) y", "a\\)b", "unclosed"])
                        + (chance(80) ? ")" : ""))
            case 3: elements.append(addressText())
            default: elements.append(address())
            }
        }
        return elements.joined(separator: pick([", ", ",", " ", "; ", ",\r\n ", ", "]))
    }

    mutating func comment() -> String {
        switch number(9) {
        case 0: return "(" + pick(Self.hosts) + " [" + addressWord() + "])"
        case 1: return "(" + pick(Self.hosts) + " " + addressWord() + ")"
        case 2: return "(" + addressWord() + ")"
        case 3: return "(" + cased("envelope-from") + pick([" ", "\t", "", "  "]) + address() + ")"
        case 4: return "(" + cased("HELO") + " " + pick(Self.hosts) + ")"
        case 5: return "(qmail " + digits(1...5) + " invoked by uid " + digits(1...3) + ")"
        case 6: return "(a (b " + addressWord() + ") c)"
        case 7: return "(" + words(from: Self.receivedWords, 0...3) + (chance(70) ? ")" : "")
        default: return "(using TLSv1 with cipher DHE-RSA-AES256-SHA (256/256 bits))"
        }
    }

    static let lists = [
        ("List-Id", ["<trey.lists.example>", "Trey <Trey.Lists.Example>", "x", "<a<b>", ">x<"]),
        (
            "List-Post",
            [
                "<mailto:Trey@Lists.example>", "<mailto:a@b.example?subject=x>", "NO", "MAILTO:x@y.example, <z>",
                "<mailto:>",
            ]
        ),
        (
            "Mailing-List",
            [
                "list trey@lists.example; contact trey-owner@lists.example", "LIST;x@y.example", "list",
                "contact a@b.example; list c@d.example", "list  <e@f.example>;",
            ]
        ),
        ("X-Mailing-List", ["<linux-kernel@vger.kernel.org>", "x", ""]),
    ]

    /// One field of a header block, named in an odd letter case now and then.
    mutating func headerField() -> String {
        let (name, value): (String, String)
        switch number(16) {
        case 0, 1, 2, 3: (name, value) = ("Received", receivedText())
        case 4:
            (name, value) = (
                "Return-Path",
                chance(40) ? pick(["<>", "< >", " <> ", "<  >", "", "junk"]) : address()
            )
        case 5: (name, value) = ("X-Envelope-From", chance(30) ? pick(["<>", " <> ", "< >"]) : address())
        case 6: (name, value) = ("Delivered-To", chance(30) ? "wingtiptoys.com-chris@WingtipToys.com" : address())
        case 7:
            (name, value) = (
                pick(["X-Original-To", "Envelope-To", "X-Envelope-To"]),
                [address(), address()].prefix(1 + number(2)).joined(separator: pick([", ", " "]))
            )
        case 8, 9:
            (name, value) = (
                pick(["To", "Cc"]),
                pick([
                    "Chris <chris@wingtiptoys.com>, ", "undisclosed:;",
                    "\"A, B\" <ab@fabrikam.example> ", "",
                ]) + address()
            )
        case 10, 11: (name, value) = ("Date", dateText())
        case 12, 13:
            let list = Self.lists[number(Self.lists.count)]
            (name, value) = (list.0, pick(list.1))
        default: (name, value) = (pick(["Subject", "Message-ID", "X-Spam"]), words(from: Self.receivedWords, 0...4))
        }
        return cased(name) + ":" + (chance(90) ? " " : "") + value
    }

    /// A header block with a body: the provider's trace fields on top, then whatever came with the message.
    mutating func headerBlock() -> String {
        var fields: [String] = []
        for _ in 0..<(2 + number(12)) { fields.append(headerField()) }
        return fields.joined(separator: "\r\n") + "\r\n\r\nbody\r\n"
    }

    /// A Received value: clauses in the usual order with changes, sometimes words in any order, and a date.
    mutating func receivedText() -> String {
        var tokens: [String] = []
        if chance(75) {
            tokens += [cased("from"), chance(80) ? pick(Self.hosts) : addressWord()]
            for _ in 0..<number(3) { tokens.append(comment()) }
            tokens += [cased("by"), chance(85) ? pick(Self.hosts) : addressWord()]
            if chance(50) { tokens.append(comment()) }
            if chance(70) { tokens += [cased("with"), pick(["ESMTPS", "SMTP", "LMTP", "Microsoft SMTP Server"])] }
            if chance(50) { tokens += [cased("id"), digits(1...5) + pick(["", "abc", "-x"])] }
            if chance(20) { tokens += [cased("via"), pick(["Frontend", "Transport", ""])] }
            if chance(60) { tokens += [cased("for"), address()] }
            for _ in 0..<number(3) {
                let position = number(tokens.count + 1)
                let extra = chance(40) ? comment() : chance(50) ? cased(pick(Self.receivedWords)) : pick(Self.oddities)
                if chance(30), position < tokens.count {
                    tokens.remove(at: position)
                } else {
                    tokens.insert(extra, at: position)
                }
            }
        } else {
            for _ in 0..<(1 + number(10)) {
                switch number(5) {
                case 0: tokens.append(comment())
                case 1: tokens.append(address())
                case 2: tokens.append(addressWord())
                case 3: tokens.append(pick(Self.oddities))
                default: tokens.append(cased(pick(Self.receivedWords)))
                }
            }
        }
        var text = joined(tokens)
        if chance(85) { text += pick([";", "; ", ";\t", ";\n ", " ; "]) + dateText() }
        if chance(5) { text += ";" + pick(["", " ", "x;y"]) }
        return text
    }
}
