import COpenSSL
import Foundation
import Glibc
import MailCore
import MailSystem

/// How a connection is secured. Names match the plan's `tls` key.
public enum TLSMode: String, Sendable, Codable, CaseIterable {
    /// TLS from the first byte (POP3S 995, IMAPS 993, SMTPS 465).
    case implicit
    /// Plain connection upgraded with STLS / STARTTLS; the upgrade is mandatory.
    case starttls
    /// No TLS at all: only with `allowPlaintext` in the plan.
    case none
}

/// What to trust when verifying a server's certificate.
public struct TLSSettings: Sendable, Equatable {
    /// PEM bundle of trusted CAs; nil means the system store.
    public var caFile: String?
    public init(caFile: String? = nil) { self.caFile = caFile }
}

/// What the handshake negotiated, for `check` output and reports.
public struct TLSInfo: Sendable, Equatable {
    public var version: String
    public var cipher: String
    public var peerSubject: String
}

/// TLS over a connected socket (OpenSSL). Certificate chain and host name are always verified; TLS 1.2 is the floor.
final class TLSStream: ByteStream {
    private let ssl: OpaquePointer
    private let context: OpaquePointer
    private let socket: Socket
    private let host: String
    private var closed = false
    let info: TLSInfo

    /// Performs the client handshake on `socket` against `host`; throws `MailError(.tls)` with a readable reason.
    init(socket: Socket, host: String, settings: TLSSettings) throws {
        self.socket = socket
        self.host = host
        guard let ctx = SSL_CTX_new(TLS_client_method()) else {
            throw MailError(.tls, "cannot create TLS context: \(TLSStream.drainErrors())")
        }
        context = ctx
        _ = mf_SSL_CTX_set_min_proto_version(ctx, mf_TLS1_2_VERSION())
        _ = mf_SSL_CTX_set_mode(ctx, mf_SSL_MODE_AUTO_RETRY())
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        if let caFile = settings.caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                SSL_CTX_free(ctx)
                throw MailError(.tls, "cannot load CA file \(caFile): \(TLSStream.drainErrors())")
            }
        } else {
            SSL_CTX_set_default_verify_paths(ctx)
        }
        guard let ssl = SSL_new(ctx) else {
            SSL_CTX_free(ctx)
            throw MailError(.tls, "cannot create TLS session: \(TLSStream.drainErrors())")
        }
        self.ssl = ssl
        SSL_set_fd(ssl, socket.fd)
        if HostName.isIPAddress(host) {
            // An address is matched against the certificate's IP SANs, never sent as SNI (RFC 6066 §3).
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host)
        } else {
            _ = mf_SSL_set_tlsext_host_name(ssl, host)
            SSL_set1_host(ssl, host)
        }
        ERR_clear_error()
        let rc = SSL_connect(ssl)
        if rc != 1 {
            let failure = TLSStream.handshakeFailure(ssl: ssl, rc: rc, host: host)
            SSL_free(ssl)
            SSL_CTX_free(ctx)
            throw failure
        }
        info = TLSStream.describe(ssl)
    }

    deinit {
        close()
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        // Decrypted bytes may already wait inside OpenSSL; only an empty session waits on the socket.
        if SSL_pending(ssl) == 0 { try socket.waitReadable() }
        ERR_clear_error()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if n > 0 { return Int(n) }
        let error = SSL_get_error(ssl, n)
        switch error {
        case SSL_ERROR_ZERO_RETURN:
            return 0
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            // The socket has a receive timeout; OpenSSL reports its EAGAIN this way.
            throw MailError(.transient, "timed out waiting for \(socket.peer)")
        case SSL_ERROR_SYSCALL where errno == EAGAIN || errno == EWOULDBLOCK:
            throw MailError(.transient, "timed out waiting for \(socket.peer)")
        default:
            let detail = TLSStream.drainErrors()
            if detail.contains("unexpected eof") { return 0 }
            throw MailError(.transient, "TLS read from \(socket.peer) failed: \(detail.isEmpty ? errnoText() : detail)")
        }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            ERR_clear_error()
            let chunk = Int32(min(bytes.count - offset, 1 << 20))
            let n = SSL_write(ssl, bytes.baseAddress! + offset, chunk)
            if n > 0 {
                offset += Int(n)
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ {
                throw MailError(.transient, "timed out writing to \(socket.peer)")
            }
            throw MailError(.transient, "TLS write to \(socket.peer) failed: \(TLSStream.drainErrors())")
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        // A bounded, one-sided close_notify; we do not wait for the peer's.
        _ = SSL_shutdown(ssl)
        socket.close()
    }

    // MARK: - Helpers

    /// Turns a failed handshake into "certificate verify failed: hostname mismatch for pop.example"-style errors.
    /// A certificate or protocol refusal is `.tls`; a handshake that stalls or is cut off is the network's fault
    /// (`.transient`, worth retrying), as it would be in clear.
    private static func handshakeFailure(ssl: OpaquePointer, rc: Int32, host: String) -> MailError {
        let verify = SSL_get_verify_result(ssl)
        let queue = drainErrors()
        if verify != X509_V_OK {
            let reason: String
            switch Int32(verify) {
            case X509_V_ERR_HOSTNAME_MISMATCH: reason = "hostname mismatch for \(host)"
            case X509_V_ERR_IP_ADDRESS_MISMATCH: reason = "IP address mismatch for \(host)"
            default: reason = String(cString: X509_verify_cert_error_string(verify))
            }
            return MailError(.tls, "certificate verify failed: \(reason)")
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

    private static func describe(_ ssl: OpaquePointer) -> TLSInfo {
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
        return TLSInfo(version: version, cipher: cipher, peerSubject: subject)
    }
}
