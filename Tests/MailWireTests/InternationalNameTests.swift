import Foundation
import Testing

@testable import MailCore
@testable import MailWire

/// Punycode (RFC 3492) against the sample strings of its §7.1, both ways; host names to A-labels (RFC 5890, RFC 5891);
/// and the certificate fingerprints a plan pins.
@Suite struct InternationalNameTests {
    /// RFC 3492 §7.1: label, code points, Punycode. An upper-case "U+" marks a code point the RFC annotates as upper
    /// case; for a basic code point that is simply the upper-case letter.
    static let samples: [(String, String, String)] = [
        (
            "A Arabic (Egyptian)",
            "u+0644 u+064A u+0647 u+0645 u+0627 u+0628 u+062A u+0643 u+0644 u+0645 u+0648 u+0634 u+0639 u+0631 u+0628 "
                + "u+064A u+061F", "egbpdaj6bu4bxfgehfvwxn"
        ),
        (
            "B Chinese (simplified)", "u+4ED6 u+4EEC u+4E3A u+4EC0 u+4E48 u+4E0D u+8BF4 u+4E2D u+6587",
            "ihqwcrb4cv8a8dqg056pqjye"
        ),
        (
            "C Chinese (traditional)", "u+4ED6 u+5011 u+7232 u+4EC0 u+9EBD u+4E0D u+8AAA u+4E2D u+6587",
            "ihqwctvzc91f659drss3x8bo0yb"
        ),
        (
            "D Czech",
            "U+0050 u+0072 u+006F u+010D u+0070 u+0072 u+006F u+0073 u+0074 u+011B u+006E u+0065 u+006D u+006C u+0075 "
                + "u+0076 u+00ED u+010D u+0065 u+0073 u+006B u+0079", "Proprostnemluvesky-uyb24dma41a"
        ),
        (
            "E Hebrew",
            "u+05DC u+05DE u+05D4 u+05D4 u+05DD u+05E4 u+05E9 u+05D5 u+05D8 u+05DC u+05D0 u+05DE u+05D3 u+05D1 u+05E8 "
                + "u+05D9 u+05DD u+05E2 u+05D1 u+05E8 u+05D9 u+05EA", "4dbcagdahymbxekheh6e0a7fei0b"
        ),
        (
            "F Hindi (Devanagari)",
            "u+092F u+0939 u+0932 u+094B u+0917 u+0939 u+093F u+0928 u+094D u+0926 u+0940 u+0915 u+094D u+092F u+094B "
                + "u+0902 u+0928 u+0939 u+0940 u+0902 u+092C u+094B u+0932 u+0938 u+0915 u+0924 u+0947 u+0939 u+0948 "
                + "u+0902", "i1baa7eci9glrd9b2ae1bj0hfcgg6iyaf8o0a1dig0cd"
        ),
        (
            "G Japanese (kanji and hiragana)",
            "u+306A u+305C u+307F u+3093 u+306A u+65E5 u+672C u+8A9E u+3092 u+8A71 u+3057 u+3066 u+304F u+308C u+306A "
                + "u+3044 u+306E u+304B", "n8jok5ay5dzabd5bym9f0cm5685rrjetr6pdxa"
        ),
        (
            "H Korean (Hangul syllables)",
            "u+C138 u+ACC4 u+C758 u+BAA8 u+B4E0 u+C0AC u+B78C u+B4E4 u+C774 u+D55C u+AD6D u+C5B4 u+B97C u+C774 u+D574 "
                + "u+D55C u+B2E4 u+BA74 u+C5BC u+B9C8 u+B098 u+C88B u+C744 u+AE4C",
            "989aomsvi5e83db1d2a355cv1e0vak1dwrv93d5xbh15a0dt30a5jpsd879ccm6fea98c"
        ),
        (
            "I Russian (Cyrillic)",
            "U+043F u+043E u+0447 u+0435 u+043C u+0443 u+0436 u+0435 u+043E u+043D u+0438 u+043D u+0435 u+0433 u+043E "
                + "u+0432 u+043E u+0440 u+044F u+0442 u+043F u+043E u+0440 u+0443 u+0441 u+0441 u+043A u+0438",
            "b1abfaaepdrnnbgefbaDotcwatmq2g4l"
        ),
        (
            "J Spanish",
            "U+0050 u+006F u+0072 u+0071 u+0075 u+00E9 u+006E u+006F u+0070 u+0075 u+0065 u+0064 u+0065 u+006E u+0073 "
                + "u+0069 u+006D u+0070 u+006C u+0065 u+006D u+0065 u+006E u+0074 u+0065 u+0068 u+0061 u+0062 u+006C "
                + "u+0061 u+0072 u+0065 u+006E U+0045 u+0073 u+0070 u+0061 u+00F1 u+006F u+006C",
            "PorqunopuedensimplementehablarenEspaol-fmd56a"
        ),
        (
            "K Vietnamese",
            "U+0054 u+1EA1 u+0069 u+0073 u+0061 u+006F u+0068 u+1ECD u+006B u+0068 u+00F4 u+006E u+0067 u+0074 u+0068 "
                + "u+1EC3 u+0063 u+0068 u+1EC9 u+006E u+00F3 u+0069 u+0074 u+0069 u+1EBF u+006E u+0067 U+0056 u+0069 "
                + "u+1EC7 u+0074", "TisaohkhngthchnitingVit-kjcr8268qyxafd2f1b9g"
        ),
        (
            "L 3<nen>B<gumi><kinpachi><sensei>", "u+0033 u+5E74 U+0042 u+7D44 u+91D1 u+516B u+5148 u+751F",
            "3B-ww4c5e180e575a65lsy2b"
        ),
        (
            "M <amuro><namie>-with-SUPER-MONKEYS",
            "u+5B89 u+5BA4 u+5948 u+7F8E u+6075 u+002D u+0077 u+0069 u+0074 u+0068 u+002D U+0053 U+0055 U+0050 U+0045 "
                + "U+0052 u+002D U+004D U+004F U+004E U+004B U+0045 U+0059 U+0053",
            "-with-SUPER-MONKEYS-pc58ag80a8qai00g7n9n"
        ),
        (
            "N Hello-Another-Way-<sorezore><no><basho>",
            "U+0048 u+0065 u+006C u+006C u+006F u+002D U+0041 u+006E u+006F u+0074 u+0068 u+0065 u+0072 u+002D U+0057 "
                + "u+0061 u+0079 u+002D u+305D u+308C u+305E u+308C u+306E u+5834 u+6240",
            "Hello-Another-Way--fc4qua05auwb3674vfr0b"
        ),
        (
            "O <hitotsu><yane><no><shita>2", "u+3072 u+3068 u+3064 u+5C4B u+6839 u+306E u+4E0B u+0032",
            "2-u9tlzr9756bt3uc0v"
        ),
        (
            "P Maji<de>Koi<suru>5<byou><mae>",
            "U+004D u+0061 u+006A u+0069 u+3067 U+004B u+006F u+0069 u+3059 u+308B u+0035 u+79D2 u+524D",
            "MajiKoi5-783gue6qz075azm5e"
        ),
        ("Q <pafii>de<runba>", "u+30D1 u+30D5 u+30A3 u+30FC u+0064 u+0065 u+30EB u+30F3 u+30D0", "de-jg4avhby1noc0d"),
        ("R <sono><supiido><de>", "u+305D u+306E u+30B9 u+30D4 u+30FC u+30C9 u+3067", "d9juau41awczczp"),
        (
            "S -> $1.00 <-", "u+002D u+003E u+0020 u+0024 u+0031 u+002E u+0030 u+0030 u+0020 u+003C u+002D",
            "-> $1.00 <--"
        ),
    ]

    static func codePoints(_ text: String) -> [UInt32] {
        text.split(separator: " ").map { UInt32($0.dropFirst(2), radix: 16)! }
    }

    @Test(arguments: samples.map(\.0))
    func punycodeEncodesTheRFCSample(name: String) throws {
        let (_, points, expected) = try #require(Self.samples.first { $0.0 == name })
        let encoded = try #require(Punycode.encode(Self.codePoints(points)))
        // (I) carries a mixed-case annotation (RFC 3492 Appendix A) on a non-basic code point, which shows as the
        // upper-case "D"; mailferry never writes annotations (DNS ignores case), so only that vector differs in case.
        #expect(name.hasPrefix("I ") ? encoded == expected.lowercased() : encoded == expected)
    }

    @Test(arguments: samples.map(\.0))
    func punycodeDecodesTheRFCSample(name: String) throws {
        let (_, points, encoded) = try #require(Self.samples.first { $0.0 == name })
        #expect(Punycode.decode(encoded) == Self.codePoints(points))
    }

    @Test func malformedPunycodeIsRefused() {
        #expect(Punycode.decode("ü-abc") == nil)  // not basic before the delimiter
        #expect(Punycode.decode("abc-!") == nil)  // "!" is not a digit
        #expect(Punycode.decode("abc-9") == nil)  // a delta that ends too early
        #expect(Punycode.decode("-a") == [0x80])  // the smallest non-basic code point
        #expect(Punycode.decode("zzzzzzzzzzzzzz") == nil)  // overflow
    }

    @Test func unicodeHostsBecomeALabels() throws {
        #expect(try HostName.ascii("bücher.example") == "xn--bcher-kva.example")
        #expect(try HostName.ascii("BÜCHER.Example") == "xn--bcher-kva.example")
        // Decomposed ü (u + U+0308) is the same name after NFC.
        #expect(try HostName.ascii("bu\u{0308}cher.example") == "xn--bcher-kva.example")
        // The ideographic full stop and full-width letters (RFC 5895).
        #expect(try HostName.ascii("bücher\u{3002}ｅｘａｍｐｌｅ") == "xn--bcher-kva.example")
        #expect(try HostName.ascii("mail.münchen.de") == "mail.xn--mnchen-3ya.de")
        #expect(try HostName.ascii("他们为什么不说中文.example") == "xn--ihqwcrb4cv8a8dqg056pqjye.example")
        #expect(try HostName.ascii("bücher.example.") == "xn--bcher-kva.example.")
        // ASCII names and addresses are left exactly as written.
        for host in ["Mail.Example.COM", "127.0.0.1", "::1", "xn--bcher-kva.example", "pop_3.example"] {
            #expect(try HostName.ascii(host) == host)
        }
    }

    @Test(arguments: [
        ("bü cher.example", "contains U+0020"),
        ("bücher..example", "empty label"),
        ("-bücher.example", "hyphen"),
        ("bü\u{202E}cher.example", "contains U+202E"),
        ("\u{0308}bcher.example", "combining mark"),
        ("bü--cher.example", "third and fourth"),
        ("bücher☃.example", "contains U+2603"),
        (String(repeating: "ü", count: 60) + ".example", "DNS allows 63"),
    ])
    func impossibleHostsAreRefused(host: String, reason: String) {
        do {
            let ascii = try HostName.ascii(host)
            Issue.record("\(host) was accepted as \(ascii)")
        } catch {
            #expect(error.reason.contains(reason), "\(error.reason)")
        }
    }

    /// The endpoint connects by the A-label; a host that has none is a readable error before any connection.
    @Test func endpointNamesTheHostItCannotConvert() {
        let endpoint = ServerEndpoint(host: "bü cher.example", port: 995, tls: .implicit)
        let error = #expect(throws: MailError.self) { try endpoint.asciiHost() }
        #expect(error?.message.contains("contains U+0020") == true)
        #expect(ServerEndpoint(host: "bücher.example", port: 995, tls: .implicit).dnsName == "xn--bcher-kva.example")
    }

    static let digest = (0..<32).map { UInt8($0 * 7 & 0xFF) }
    static let upper = "sha256:" + digest.map { String(format: "%02X", $0) }.joined(separator: ":")

    @Test func fingerprintsParseInEveryWrittenForm() throws {
        let fingerprint = try #require(CertificateFingerprint(sha256: Self.digest))
        #expect(fingerprint.description == Self.upper)
        for text in [
            Self.upper, Self.upper.lowercased(), "SHA256:" + Self.upper.dropFirst(7),
            "sha256:" + Self.upper.dropFirst(7).replacingOccurrences(of: ":", with: ""),
        ] {
            #expect(CertificateFingerprint(text) == fingerprint, "\(text)")
            #expect(CertificateFingerprint.problem(text) == nil)
        }
    }

    @Test(arguments: [
        ("AB:CD", "is not a certificate fingerprint"),
        ("sha1:" + String(repeating: "ab", count: 20), "only SHA-256"),
        ("sha256:" + String(repeating: "ab", count: 20), "40 digits is a SHA-1 fingerprint"),
        ("sha256:" + String(repeating: "ab", count: 31), "has 62 hex digits"),
        ("sha256:" + String(repeating: "zz", count: 32), "not a hex digit"),
        ("sha256:abc:d" + String(repeating: ":ab", count: 30), "colons in the wrong places"),
    ])
    func malformedFingerprintsSayWhy(text: String, reason: String) {
        #expect(CertificateFingerprint(text) == nil)
        #expect(
            CertificateFingerprint.problem(text)?.contains(reason) == true,
            "\(CertificateFingerprint.problem(text) ?? "")")
    }
}
