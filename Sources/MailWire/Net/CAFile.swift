import COpenSSL
import Foundation
import Glibc
import MailCore
import MailSystem

/// A plan's `caFile`, checked before any connection: what `TLSStream` will hand to OpenSSL must be a PEM bundle with
/// at least one certificate, every one of them readable. A run finds out here, with the file named, instead of at
/// the first handshake of every mailbox ("no certificate or crl found").
public enum CAFile {
    /// Why the file at `path` cannot serve as a CA bundle, or nil when it can (`certificates` of them, all parsed).
    public static func problem(_ path: String) -> String? {
        switch inspect(path) {
        case .success: nil
        case .failure(let problem): problem.text
        }
    }

    public struct Problem: Error, Sendable, Equatable {
        public var text: String
    }

    /// The number of certificates in the bundle, or why it is not one.
    public static func inspect(_ path: String) -> Result<Int, Problem> {
        guard let data = FileManager.default.contents(atPath: path) else {
            let cause = access(path, R_OK) == 0 ? "it is not a readable file" : errnoText()
            return .failure(Problem(text: "cannot read it: \(cause)"))
        }
        let text = String(decoding: data, as: UTF8.self)
        var count = 0
        for (index, block) in blocks(text).enumerated() {
            guard let der = Data(base64Encoded: block.body, options: .ignoreUnknownCharacters), !der.isEmpty,
                parses(der)
            else {
                return .failure(
                    Problem(text: "certificate \(index + 1) (\(block.label)) is not a valid certificate"))
            }
            count += 1
        }
        guard count > 0 else {
            return .failure(
                Problem(
                    text: data.isEmpty
                        ? "the file is empty: it holds no PEM certificate"
                        : "it holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\")"))
        }
        // What the handshake will do with it, so nothing that passes here fails there.
        ERR_clear_error()
        guard let store = X509_STORE_new() else { return .failure(Problem(text: "OpenSSL is out of memory")) }
        defer { X509_STORE_free(store) }
        guard X509_STORE_load_file(store, path) == 1 else {
            let reason = ERR_get_error()
            ERR_clear_error()
            let detail = ERR_reason_error_string(reason).map { String(cString: $0) } ?? "unknown reason"
            return .failure(Problem(text: "OpenSSL cannot load it: \(detail)"))
        }
        return .success(count)
    }

    /// The PEM blocks that hold certificates, in file order: their label and base64 body.
    static func blocks(_ text: String) -> [(label: String, body: String)] {
        var out: [(String, String)] = []
        var label: String?
        var body = ""
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if let current = label {
                if trimmed == "-----END \(current)-----" {
                    out.append((current, body))
                    label = nil
                } else {
                    body += trimmed
                }
            } else if trimmed.hasPrefix("-----BEGIN "), trimmed.hasSuffix("-----") {
                let name = String(trimmed.dropFirst(11).dropLast(5))
                if certificateLabels.contains(name) {
                    label = name
                    body = ""
                }
            }
        }
        if let label { out.append((label, "")) }  // begun, never ended: reported as not valid
        return out
    }

    /// RFC 7468 §5 and OpenSSL's own variants for a certificate (the trusted form carries OpenSSL's aux data).
    static let certificateLabels: Set<String> = ["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"]

    /// True when `der` is one X.509 certificate (with OpenSSL's trust data after it, for the trusted form).
    static func parses(_ der: Data) -> Bool {
        der.withUnsafeBytes { raw -> Bool in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return false }
            var cursor: UnsafePointer<UInt8>? = base
            guard let certificate = d2i_X509_AUX(nil, &cursor, raw.count) else {
                ERR_clear_error()
                return false
            }
            X509_free(certificate)
            return true
        }
    }
}
