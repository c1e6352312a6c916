import COpenSSL
import Foundation
import Glibc
import MailCore
import MailSystem

/// What the handshake is checked against, and how a failure reads: chain and name (OpenSSL's verification), the
/// plan's pinned fingerprint, and the server's certificate named by its fingerprint in every refusal, so an admin can
/// compare it with what the ISP says and pin it.
extension TLSStream {
    /// Turns a failed handshake into "certificate verify failed: hostname mismatch for pop.example"-style errors.
    /// A certificate or protocol refusal is `.tls`; a handshake that stalls or is cut off is the network's fault
    /// (`.transient`, worth retrying), as it would be in clear.
    static func handshakeFailure(ssl: OpaquePointer, rc: Int32, host: String) -> MailError {
        let verify = SSL_get_verify_result(ssl)
        let queue = drainErrors()
        if verify != X509_V_OK {
            let reason: String
            switch Int32(verify) {
            case X509_V_ERR_HOSTNAME_MISMATCH: reason = "hostname mismatch for \(host)"
            case X509_V_ERR_IP_ADDRESS_MISMATCH: reason = "IP address mismatch for \(host)"
            default: reason = String(cString: X509_verify_cert_error_string(verify))
            }
            let presented = leafFingerprint(ssl).map {
                " (the server presented the certificate \($0); if the ISP confirms it is theirs, the plan can pin it "
                    + "with tlsFingerprint)"
            }
            return MailError(.tls, "certificate verify failed: \(reason)" + (presented ?? ""))
        }
        let error = SSL_get_error(ssl, rc)
        if error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE {
            return MailError(.transient, "TLS handshake with \(host) timed out")
        }
        if queue.isEmpty || queue.contains("unexpected eof") {
            return MailError(.transient, "TLS handshake with \(host) failed: connection closed by the server")
        }
        // The server answered with a version below our floor ("unsupported protocol"), or it found no version in
        // common and said so ("tlsv1 alert protocol version").
        if queue.contains("unsupported protocol") || queue.contains("alert protocol version") {
            return MailError(
                .tls,
                "TLS handshake with \(host) failed: the server offers no TLS 1.2 or newer, "
                    + "which mailferry requires (\(queue))")
        }
        return MailError(.tls, "TLS handshake with \(host) failed: \(queue)")
    }

    /// After a completed handshake: nil when the plan pins nothing or the server presented the pinned certificate,
    /// else the refusal, naming both fingerprints. Checked before a byte of the protocol goes either way.
    static func pinMismatch(ssl: OpaquePointer, settings: TLSSettings) -> MailError? {
        guard let pinned = settings.fingerprint else { return nil }
        let seen = leafFingerprint(ssl)
        guard seen != pinned else { return nil }
        return MailError(
            .tls,
            "certificate fingerprint mismatch: the plan pins \(pinned), the server presented "
                + (seen.map { "\($0)" } ?? "no certificate")
                + "; refusing the connection (if the ISP changed its certificate, check the new one and update "
                + "tlsFingerprint)")
    }

    /// The SHA-256 of the DER bytes of the certificate the server presented (its own, the first of its chain),
    /// verified or not; nil when it presented none.
    static func leafFingerprint(_ ssl: OpaquePointer) -> CertificateFingerprint? {
        guard let leaf = mf_SSL_peer_leaf(ssl) else { return nil }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(leaf, EVP_sha256(), &digest, &length) == 1 else { return nil }
        return CertificateFingerprint(sha256: Array(digest.prefix(Int(length))))
    }

    /// Empties OpenSSL's thread-local error queue into one line.
    static func drainErrors() -> String {
        var parts: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if let reason = ERR_reason_error_string(code) {
                parts.append(String(cString: reason))
            } else {
                parts.append("error \(code)")
            }
        }
        return parts.joined(separator: "; ")
    }

    static func describe(_ ssl: OpaquePointer) -> TLSInfo {
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "?"
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "?"
        var subject = ""
        if let cert = SSL_get1_peer_certificate(ssl) {
            if let name = X509_get_subject_name(cert), let line = X509_NAME_oneline(name, nil, 0) {
                subject = String(cString: line)
                CRYPTO_free(line, #file, #line)
            }
            X509_free(cert)
        }
        return TLSInfo(version: version, cipher: cipher, peerSubject: subject, fingerprint: leafFingerprint(ssl))
    }
}

/// Watches the handshake messages a session receives (OpenSSL's message callback): a HelloRequest after the
/// handshake is a server asking to renegotiate (RFC 5246 §7.4.1.1). OpenSSL refuses it (`SSL_OP_NO_RENEGOTIATION`);
/// the stream then ends the session. One per TLS session, kept alive by the stream that owns the session.
final class HandshakeWatch {
    private(set) var renegotiationRequested = false

    func attach(to ssl: OpaquePointer) {
        SSL_set_msg_callback(ssl) { written, _, contentType, message, length, _, argument in
            // Received (written == 0) handshake records whose first byte, the message type, is hello_request (0).
            guard written == 0, contentType == SSL3_RT_HANDSHAKE, length >= 1, let message, let argument else {
                return
            }
            if message.load(as: UInt8.self) == UInt8(SSL3_MT_HELLO_REQUEST) {
                Unmanaged<HandshakeWatch>.fromOpaque(argument).takeUnretainedValue().renegotiationRequested = true
            }
        }
        _ = mf_SSL_set_msg_callback_arg(ssl, Unmanaged.passUnretained(self).toOpaque())
    }
}
