/// The SHA-256 of a certificate's DER bytes: what a plan pins with `tlsFingerprint` and what `check` prints for every
/// TLS connection. Written "sha256:" and 64 hex digits, in pairs separated by colons or not, in either case;
/// `description` gives the form `check` prints (upper case, colons), the one `openssl x509 -fingerprint -sha256`
/// prints too, so an admin can compare them by eye.
public struct CertificateFingerprint: Sendable, Hashable, CustomStringConvertible {
    /// The 32 bytes of the digest.
    public let bytes: [UInt8]

    public init?(sha256 bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// Parses "sha256:AB:CD:…" or "sha256:abcd…"; nil for anything else (`problem` says why).
    public init?(_ text: String) {
        guard case .success(let bytes) = Self.parse(text) else { return nil }
        self.bytes = bytes
    }

    public var description: String {
        "sha256:" + bytes.map { hexString([$0]).uppercased() }.joined(separator: ":")
    }

    /// Why `text` is not a fingerprint, as the end of a sentence about the plan's value; nil when it is one.
    public static func problem(_ text: String) -> String? {
        if case .failure(let reason) = parse(text) { return reason.text }
        return nil
    }

    private struct Reason: Error {
        var text: String
    }

    private static let form =
        "write \"sha256:\" and 64 hex digits (pairs may be separated by colons), as "
        + "`mailferry check` prints it"

    private static func parse(_ text: String) -> Result<[UInt8], Reason> {
        let lower = text.lowercased()
        guard lower.hasPrefix("sha256:") else {
            if lower.hasPrefix("sha1:") || lower.hasPrefix("md5:") {
                return .failure(Reason(text: "names a digest mailferry does not pin with; only SHA-256: " + form))
            }
            return .failure(Reason(text: "is not a certificate fingerprint: " + form))
        }
        let groups = lower.dropFirst(7).split(separator: ":", omittingEmptySubsequences: false)
        let hex: Substring
        if groups.count == 1 {
            hex = groups[0]
        } else if groups.allSatisfy({ $0.utf8.count == 2 }) {
            hex = Substring(groups.joined())
        } else {
            return .failure(Reason(text: "has its colons in the wrong places: " + form))
        }
        let digits = Array(hex.utf8)
        guard digits.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            return .failure(Reason(text: "holds a character that is not a hex digit: " + form))
        }
        guard digits.count == 64 else {
            let hint = digits.count == 40 ? " (40 digits is a SHA-1 fingerprint)" : ""
            return .failure(
                Reason(text: "has \(digits.count) hex digits, a SHA-256 fingerprint has 64\(hint): " + form))
        }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            bytes.append(nibble(digits[index]) << 4 | nibble(digits[index + 1]))
        }
        return .success(bytes)
    }

    private static func nibble(_ digit: UInt8) -> UInt8 {
        digit <= 0x39 ? digit - 0x30 : digit - 0x61 + 10
    }
}
