import Foundation
import Glibc

/// Host names as a plan or a server gives them.
public enum HostName {
    /// Whether `host` is an IPv4 or IPv6 address literal rather than a domain name: TLS matches such a host against the
    /// certificate's IP addresses and never sends it as SNI (RFC 6066 §3), and the plan accepts it where a domain is
    /// expected.
    public static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    /// Why a host name cannot be written in ASCII for DNS: a sentence for the plan validator and error messages.
    public struct Invalid: Error, Sendable, Equatable {
        public var reason: String
    }

    /// The host as DNS, SNI and certificate matching need it (RFC 5890, RFC 6125 §6.4.2): an internationalized
    /// domain name with each Unicode label as its A-label ("bücher.example" → "xn--bcher-kva.example").
    ///
    /// An ASCII name or an address is returned as it is, so nothing changes for the hosts plans have always had. A
    /// name with Unicode in it is first mapped as RFC 5895 proposes for IDNA 2008 (the ideographic and full-width
    /// full stops become dots, full-width letters and digits their usual form, then lower case and NFC), then each
    /// label is checked against the IDNA 2008 rules this needs (RFC 5891 §4.2: letters, marks and digits only, no
    /// leading combining mark, no hyphen at either end, no "--" in the third and fourth places) and encoded with
    /// Punycode (RFC 3492). Labels are at most 63 octets, the name at most 253.
    public static func ascii(_ host: String) throws(Invalid) -> String {
        if host.utf8.allSatisfy({ $0 < 0x80 }) { return host }
        let mapped = String(
            String.UnicodeScalarView(
                host.unicodeScalars.map { scalar -> Unicode.Scalar in
                    switch scalar.value {
                    case 0x3002, 0xFF0E, 0xFF61: "."
                    // Full-width forms of the ASCII characters (RFC 5895 §2 step 2, width mapping).
                    case 0xFF01...0xFF5E: Unicode.Scalar(scalar.value - 0xFEE0) ?? scalar
                    default: scalar
                    }
                })
        ).lowercased().precomposedStringWithCanonicalMapping
        var labels = mapped.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let rooted = labels.count > 1 && labels.last == ""
        if rooted { labels.removeLast() }
        let encoded = try labels.map { label throws(Invalid) in try aLabel(label) }
        let name = encoded.joined(separator: ".")
        guard name.utf8.count <= 253 else {
            throw Invalid(reason: "is \(name.utf8.count) characters long in ASCII (\(name)); DNS allows 253")
        }
        return name + (rooted ? "." : "")
    }

    /// One label in ASCII: an ASCII label as it is, a Unicode one as "xn--" and its Punycode.
    private static func aLabel(_ label: String) throws(Invalid) -> String {
        guard !label.isEmpty else { throw Invalid(reason: "has an empty label (two dots in a row)") }
        let scalars = Array(label.unicodeScalars)
        if scalars.allSatisfy(\.isASCII) { return label }
        for scalar in scalars where !allowedInLabel(scalar) {
            throw Invalid(
                reason: "contains U+\(String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4, with: "0")), "
                    + "which a domain name cannot hold (IDNA 2008)")
        }
        if let first = scalars.first, first.properties.generalCategory.isMark {
            throw Invalid(reason: "has a label that starts with a combining mark (RFC 5891 §4.2.3.2)")
        }
        if scalars.first == "-" || scalars.last == "-" {
            throw Invalid(reason: "has a label that starts or ends with a hyphen (RFC 5891 §4.2.3.1)")
        }
        if scalars.count >= 4 && scalars[2] == "-" && scalars[3] == "-" {
            throw Invalid(reason: "has a label with \"--\" in its third and fourth places (RFC 5891 §4.2.3.1)")
        }
        guard let code = Punycode.encode(scalars.map(\.value)) else {
            throw Invalid(reason: "has a label too long to encode")
        }
        let result = "xn--" + code
        guard result.utf8.count <= 63 else {
            throw Invalid(reason: "has a label that is \(result.utf8.count) characters long in ASCII; DNS allows 63")
        }
        return result
    }

    /// Letters, combining marks and decimal digits, and the hyphen: what IDNA 2008 lets a label hold, near enough
    /// (its PVALID set is derived from these categories; symbols, punctuation, spaces, controls and format characters
    /// such as the bidi overrides are all refused).
    private static func allowedInLabel(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.isASCII {
            return (0x61...0x7A).contains(scalar.value) || (0x30...0x39).contains(scalar.value) || scalar == "-"
        }
        switch scalar.properties.generalCategory {
        case .lowercaseLetter, .otherLetter, .modifierLetter, .nonspacingMark, .spacingMark, .decimalNumber:
            return true
        default:
            return false
        }
    }
}

extension Unicode.GeneralCategory {
    fileprivate var isMark: Bool { self == .nonspacingMark || self == .spacingMark || self == .enclosingMark }
}
