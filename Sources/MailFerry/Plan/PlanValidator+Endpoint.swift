import Foundation
import MailCore
import MailStore
import MailSystem
import MailWire

/// The parts of a server endpoint that need more than a type check: its TLS mode and its CA file.
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
}
