import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The parts of a server endpoint that need more than a type check: its TLS mode, its CA file and pinned certificate,
/// and an international host name.
extension PlanValidator {
    /// The endpoint's `tls` mode: the service's default, or one it offers (no implicit TLS for LMTP).
    mutating func tlsMode(_ s: [String: JSONValue], at: String, service: Service) -> TLSMode {
        guard let text = string(s, "tls", at: at) else { return service.defaultTLS }
        let allowed = service.implicitPort == nil ? ["starttls", "none"] : ["implicit", "starttls", "none"]
        if let mode = TLSMode(rawValue: text), allowed.contains(text) { return mode }
        if text == "implicit" {
            problem(PlanPath.member(at, "tls"), "\(service.name) has no implicit TLS; use \"starttls\" or \"none\"")
        } else {
            problem(
                PlanPath.member(at, "tls"),
                "unknown value \"\(sanitizeForDisplay(text, limit: 40))\"; use "
                    + allowed.map { "\"\($0)\"" }.joined(separator: ", ") + suggestion(text, among: allowed))
        }
        return service.defaultTLS
    }

    /// The endpoint's `caFile`, resolved against the plan's folder: readable, and only where TLS has a certificate.
    mutating func caFile(_ s: [String: JSONValue], at: String, tls: TLSMode) -> String? {
        let caFile = nonEmptyString(s, "caFile", at: at).map(resolve)
        if let caFile {
            if tls == .none {
                problem(PlanPath.member(at, "caFile"), "is set but tls is \"none\": there is no certificate to check")
            } else if !FileManager.default.isReadableFile(atPath: caFile) {
                problem(
                    PlanPath.member(at, "caFile"),
                    "cannot read \(caFile)"
                        + (FileManager.default.fileExists(atPath: caFile) ? "" : ": no such file"))
            }
        }
        return caFile
    }

    /// The endpoint's `tlsFingerprint`: the SHA-256 of the one certificate the server may present (`TLSSettings`),
    /// only where TLS has a certificate.
    mutating func tlsFingerprint(_ s: [String: JSONValue], at: String, tls: TLSMode) -> CertificateFingerprint? {
        guard let text = nonEmptyString(s, "tlsFingerprint", at: at) else { return nil }
        if tls == .none {
            problem(PlanPath.member(at, "tlsFingerprint"), "is set but tls is \"none\": there is no certificate to pin")
            return nil
        }
        if let why = CertificateFingerprint.problem(text) {
            problem(PlanPath.member(at, "tlsFingerprint"), "\"\(sanitizeForDisplay(text, limit: 120))\" \(why)")
            return nil
        }
        return CertificateFingerprint(text)
    }

    /// A host with Unicode in it must have an A-label form (RFC 5890), which is what DNS, SNI and the certificate
    /// check use (`HostName.ascii`).
    mutating func internationalHost(_ host: String, at: String) {
        do {
            _ = try HostName.ascii(host)
        } catch {
            problem(PlanPath.member(at, "host"), "is not a valid international domain name: it \(error.reason)")
        }
    }
}
